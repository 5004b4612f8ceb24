"""Where a card goes, at the desk in a real browser: with the Astana sample organisations imported, a live call's
card shows the organisation the routing rules give (in Russian and Kazakh), the operator picks another from the
keyboard, confirms, and the API shows the card with that organisation and the audit event of the choice."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from classifier.address import StreetIndex
from core.taxonomy import bundled_path
from handover.assignment import route_for
from handover.directory import import_directory
from handover.orgfile import read_directory
from models.handover import Organisation
from models.records import Call, Card
from tests.web.conftest import PASSWORDS, Web
from tests.web.harness import Line, external_requests, shot, text_of, wait_for

pytestmark = pytest.mark.browser

HOT_WATER = [
    Line("здравствуйте у нас в доме нет горячей воды уже третий день", seconds=2.4),
    Line("улица Кенесары дом 12 квартира 45", seconds=1.8),
]


def _import_sample(web: Web) -> None:
    text = bundled_path("orgs-astana.sample.yaml").read_text(encoding="utf-8")
    streets = [s.name for s in StreetIndex.load().streets]
    directory = read_directory(text, fmt="yaml", taxonomy=web.ctx.taxonomy, streets=streets)
    with web.ctx.sessionmaker() as s:
        import_directory(s, directory, actor="system:test")


def _card(web: Web, uniqueid: str) -> Card:
    with web.ctx.sessionmaker() as s:
        call = s.query(Call).filter_by(uniqueid=uniqueid).one()
        card = s.query(Card).filter_by(call_id=call.id).one()
        s.expunge_all()
        return card


def _rules_choice(web: Web, uniqueid: str) -> Organisation | None:
    """The organisation the routing rules give for the card's stored working fields (the proposal, untouched)."""
    with web.ctx.sessionmaker() as s:
        call = s.query(Call).filter_by(uniqueid=uniqueid).one()
        card = s.query(Card).filter_by(call_id=call.id).one()
        routing = route_for(s, card)
        org = s.get(Organisation, routing.organisation_id) if routing.organisation_id is not None else None
        s.expunge_all()
        return org


def test_the_desk_shows_where_the_card_goes_and_the_operator_chooses_another(web: Web, browser: WebDriver) -> None:
    _import_sample(web)
    web.login(browser, "operator", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    uid = web.start_call("+77015550301", HOT_WATER)
    web.say(uid, 2.6)
    web.say(uid, 2.0)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .line:not(.partial)"), what="a line")
    wait_for(browser, lambda d: _card(web, uid).proposed_service, what="a proposal with a service")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#transcript .line:not(.partial)")) == 2, what="2")

    # The routing rules' organisation for the proposal, in Russian, with its rule.
    expected = wait_for(browser, lambda d: _rules_choice(web, uid), what="the rules route the proposal")
    wait_for(browser, lambda d: text_of(d, "#route-org") == expected.name_ru, what="the organisation in Russian")
    assert text_of(browser, "#route-target .lbl") == "Куда передать"
    assert "по правилу" in text_of(browser, "#route-why")
    assert text_of(browser, "#route-reason"), "the engine's reason is shown"
    # ... and in Kazakh.
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="kk"]').click()
    wait_for(browser, lambda d: text_of(d, "#route-org") == expected.name_kk, what="the organisation in Kazakh")
    assert text_of(browser, "#route-target .lbl") == "Қайда жіберіледі"
    assert "ережесі бойынша" in text_of(browser, "#route-why")
    shot(browser, "desk-routing-kk")

    # The choice lists the organisations serving the card's service, in Kazakh; the operator picks another one
    # from the keyboard (Tab from the summary, arrow down in the list).
    select = browser.find_element(By.ID, "f-organisation")
    card = _card(web, uid)
    with web.ctx.sessionmaker() as s:
        serving = [o for o in s.query(Organisation).filter_by(active=True) if card.service in o.services]
    listed = [o.text for o in Select(select).options[1:]]
    assert sorted(listed) == sorted(o.name_kk for o in serving) and len(listed) >= 2
    browser.find_element(By.ID, "f-summary").click()
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "f-organisation"
    other = next(o for o in serving if o.id != expected.id)
    target = next(i for i, o in enumerate(Select(select).options) if o.get_attribute("value") == str(other.id))
    for _ in range(target):
        browser.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    assert select.get_attribute("value") == str(other.id)
    wait_for(browser, lambda d: text_of(d, "#route-org") == other.name_kk, what="the chosen organisation")
    assert "оператор таңдады" in text_of(browser, "#route-why")

    browser.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
    reg = wait_for(browser, lambda d: text_of(d, "#reg-number"), what="registration number")
    assert text_of(browser, "#route-org") == other.name_kk
    shot(browser, "desk-routing-confirmed")

    token = httpx.post(
        f"{web.url}/api/auth/login", json={"username": "aigerim", "password": PASSWORDS["operator"]}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    stored = httpx.get(f"{web.url}/api/cards/{card.id}", headers=headers).json()
    assert stored["reg_number"] == reg and stored["status"] == "routed", "handed over at once"
    assert stored["organisation"]["code"] == other.code and stored["organisation"]["name_kk"] == other.name_kk
    assert stored["routing_rule"] is None and stored["routing_reason"] == "chosen by aigerim"
    events = httpx.get(f"{web.url}/api/cards/{card.id}/audit", headers=headers).json()["data"]
    [confirm] = [e for e in events if e["action"] == "confirm"]
    assert confirm["actor"] == "aigerim"
    assert confirm["after"]["organisation_id"] == other.id
    assert confirm["after"]["routing_reason"] == "chosen by aigerim"
    assert external_requests(browser, web.url) == []
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="ru"]').click()
    web.end_call(uid)
