"""The organisations admin page in a real browser, in Russian and Kazakh: with the Astana sample stored and a heating
card handed to the heat company, an admin edits the heating fallback rule in the editor, checks it (the card that
would move is listed, Apply opens only now), applies, and the tables show the change; a bad file shows its
problems with their lines and cannot be applied."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from classifier.address import StreetIndex
from core.taxonomy import bundled_path
from handover.assignment import route_for
from handover.directory import import_directory
from handover.orgfile import read_directory
from models.handover import Organisation, RoutingRule
from models.records import AuditEvent, Card
from models.repo import cards
from models.repo.cards import Actor
from tests.web.conftest import Web
from tests.web.harness import external_requests, shot, text_of, wait_for

pytestmark = pytest.mark.browser

# In the exported YAML (block style), the heating fallback's organisation line.
FALLBACK_HEATING = "- code: fallback-heating\n  organisation: "
CHROME = {
    "ru": {
        "check": "Проверить",
        "apply": "Применить",
        "moves": "ушли бы в другую организацию",
        "bad": "Файл не принят",
    },
    "kk": {"check": "Тексеру", "apply": "Қолдану", "moves": "Басқа ұйымға кететін", "bad": "Файл қабылданбады"},
}


def _store_sample(web: Web) -> None:
    text = bundled_path("orgs-astana.sample.yaml").read_text(encoding="utf-8")
    streets = [s.name for s in StreetIndex.load().streets]
    directory = read_directory(text, fmt="yaml", taxonomy=web.ctx.taxonomy, streets=streets)
    with web.ctx.sessionmaker() as s:
        import_directory(s, directory, actor="system:test")


def _routed_heating_card(web: Web) -> Card:
    with web.ctx.sessionmaker() as s:
        draft = cards.create_card(
            s,
            actor=Actor("aigerim", None),
            values={"topic": "heating", "service": "heating_utility", "district": "yesil", "summary": "суық"},
        )
        card = cards.confirm_card(s, card_id=draft.id, actor=Actor("aigerim", None), due_hours=24, router=route_for)
        s.expunge_all()
        return card


def _org(web: Web, code: str) -> Organisation:
    with web.ctx.sessionmaker() as s:
        org = s.query(Organisation).filter_by(code=code).one()
        s.expunge_all()
        return org


def _retype(browser: WebDriver, after: str, old: str, new: str) -> None:
    """Select ``old`` where it follows ``after`` in the editor and type ``new`` over it from the keyboard."""
    browser.execute_script(
        """const ta = document.getElementById('dir-text');
        const at = ta.value.indexOf(arguments[0]) + arguments[0].length;
        if (ta.value.slice(at, at + arguments[1].length) !== arguments[1]) throw new Error('not found');
        ta.focus(); ta.setSelectionRange(at, at + arguments[1].length);""",
        after,
        old,
    )
    ActionChains(browser).send_keys(new).perform()


def _org_cell(browser: WebDriver, code: str, cell: str) -> str:
    return text_of(browser, f'#orgs tr[data-code="{code}"] td.{cell}')


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_an_admin_edits_a_rule_checks_the_moving_card_and_applies(lang: str, web: Web, browser: WebDriver) -> None:
    _store_sample(web)  # the heating fallback goes to the heat company again
    card = _routed_heating_card(web)
    heat, koktal = _org(web, "astana-teplotranzit"), _org(web, "zhylu-koktal")
    assert card.status == "routed" and card.organisation_id == heat.id
    name = (lambda o: o.name_kk) if lang == "kk" else (lambda o: o.name_ru)

    web.login(browser, "admin", "/admin/directory")
    wait_for(browser, lambda d: d.execute_script("return window.__directory && window.__directory.ready"), what="ready")
    if lang == "kk":
        browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="kk"]').click()
    words = CHROME[lang]
    wait_for(browser, lambda d: text_of(d, "#dir-check") == words["check"], what=f"the page in {lang}")
    assert _org_cell(browser, "astana-teplotranzit", "rules") == "1"
    assert _org_cell(browser, "zhylu-koktal", "rules") == "2"
    assert text_of(browser, '#rules tr[data-code="fallback-heating"] td.org') == name(heat)
    assert browser.find_element(By.ID, "dir-apply").get_attribute("disabled") is not None

    # A bad edit first: an unknown service is refused with its line, and Apply stays closed; reload the file.
    _retype(browser, "name_ru: ТОО «Астана Лифт» (образец)\n  services:\n  - ", "housing_inspection", "lift_magic")
    text = browser.find_element(By.ID, "dir-text").get_attribute("value") or ""
    line = text.splitlines().index("- code: astana-lift") + 1
    browser.find_element(By.ID, "dir-check").click()
    wait_for(browser, lambda d: words["bad"] in text_of(d, "#dir-problems"), what="the problems")
    problem = text_of(browser, f'#problem-list li[data-line="{line}"]')
    assert "(astana-lift): unknown service 'lift_magic'" in problem, text_of(browser, "#problem-list")
    assert browser.find_element(By.ID, "dir-apply").get_attribute("disabled") is not None
    browser.find_element(By.ID, "dir-reload").click()
    wait_for(
        browser,
        lambda d: "lift_magic" not in (d.find_element(By.ID, "dir-text").get_attribute("value") or ""),
        what="reload",
    )

    # The real edit: the heating fallback goes to the Koktal company.
    _retype(browser, FALLBACK_HEATING, "astana-teplotranzit", "zhylu-koktal")
    browser.find_element(By.ID, "dir-check").click()
    row = f'#moves tr[data-card="{card.id}"]'
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), what="the moving card")
    assert words["moves"] in text_of(browser, "#dir-moves h3")
    assert text_of(browser, f"{row} td.from") == name(heat) and text_of(browser, f"{row} td.to") == name(koktal)
    assert card.reg_number is not None and card.reg_number in text_of(browser, row)
    assert browser.find_element(By.CSS_SELECTOR, '#change-list li[data-code="fallback-heating"]').is_displayed()
    apply = browser.find_element(By.ID, "dir-apply")
    assert apply.get_attribute("disabled") is None and apply.text == words["apply"]
    shot(browser, f"directory-checked-{lang}")

    apply.click()
    wait_for(browser, lambda d: _org_cell(d, "zhylu-koktal", "rules") == "3", what="the table shows the change")
    assert _org_cell(browser, "astana-teplotranzit", "rules") == "0"
    assert text_of(browser, '#rules tr[data-code="fallback-heating"] td.org') == name(koktal)
    assert browser.find_element(By.ID, "dir-apply").get_attribute("disabled") is not None
    shot(browser, f"directory-applied-{lang}")
    with web.ctx.sessionmaker() as s:
        rule = s.query(RoutingRule).filter_by(code="fallback-heating").one()
        assert rule.organisation_id == koktal.id
        event = s.query(AuditEvent).filter_by(entity="routing_rule", entity_id=rule.id).order_by(AuditEvent.id.desc())
        assert event.first() is not None and event.first().actor == "admin"  # type: ignore[union-attr]
        stored = s.get(Card, card.id)
        assert stored is not None and stored.organisation_id == heat.id  # the card stays: for monitoring to decide
    assert external_requests(browser, web.url) == []
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="ru"]').click()
