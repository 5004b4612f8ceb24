"""A street heard but not the house number: the desk asks the operator to ask the caller, in Russian and Kazakh,
until a house is typed; the QA page says the same beside the proposed address."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from models.records import Call, Card
from tests.web.conftest import Web
from tests.web.harness import Line, shot, text_of, wait_for

pytestmark = pytest.mark.browser

HINT_RU = "Улица расслышана, номер дома — нет. Уточните у звонящего"
HINT_KK = "Көше естілді, үй нөмірі анық емес. Қоңырау шалушыдан сұраңыз"
# "двенацать": a numeral with a letter lost, 12 or 13; the classifier (or its keyword stand-in) will not guess.
UNSURE_HOUSE = [
    Line("здравствуйте у нас нет горячей воды уже третий день", seconds=2.0),
    Line("улица Абая дом двенацать квартира пять", seconds=2.0),
]


def _card_of(web: Web, uniqueid: str) -> Card | None:
    with web.ctx.sessionmaker() as s:
        call = s.query(Call).filter_by(uniqueid=uniqueid).one_or_none()
        card = s.query(Card).filter_by(call_id=call.id).one_or_none() if call is not None else None
        s.expunge_all()
        return card


def _hint(driver: WebDriver) -> str:
    return text_of(driver, "#p-house #house-ask")


def test_an_unsure_house_number_asks_the_operator_to_check_it(web: Web, browser: WebDriver) -> None:
    web.login(browser, "operator", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    uid = web.start_call("+77015550701", UNSURE_HOUSE)
    wait_for(browser, lambda d: d.find_element(By.ID, "call-caller").text == "+77015550701", what="call opens")
    web.say(uid, 2.1)
    wait_for(browser, lambda d: (c := _card_of(web, uid)) is not None and c.proposed_topic, what="first proposal")
    web.say(uid, 2.1)

    card = wait_for(
        browser,
        lambda d: (c := _card_of(web, uid)) is not None and c.proposed_house_status == "uncertain" and c,
        what="the stored proposal says the house is unsure",
    )
    assert card.proposed_street and card.proposed_house is None, (web.proposer_path, card.proposed_street)
    # The live proposal shows the hint beside the empty house field, in the operator's Russian ...
    wait_for(browser, lambda d: _hint(d) == HINT_RU, what="the Russian hint")
    assert browser.find_element(By.ID, "f-house").get_attribute("value") == ""
    assert browser.find_element(By.ID, "f-street").get_attribute("value") == card.proposed_street
    # ... in Kazakh ...
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="kk"]').click()
    wait_for(browser, lambda d: _hint(d) == HINT_KK, what="the Kazakh hint")
    shot(browser, "desk-house-unsure-kk")
    # ... and after a reload, from the card as the API gives it.
    browser.refresh()
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk again")
    wait_for(browser, lambda d: _hint(d) == HINT_KK, what="the hint from the stored card")
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="ru"]').click()
    wait_for(browser, lambda d: _hint(d) == HINT_RU, what="the Russian hint again")

    # The operator asks the caller and types the house: the hint goes.
    browser.find_element(By.ID, "f-house").send_keys("12")
    wait_for(browser, lambda d: not d.find_elements(By.ID, "house-ask"), what="the hint gone")
    assert browser.find_element(By.ID, "f-house").get_attribute("value") == "12"
    shot(browser, "desk-house-typed")
    web.end_call(uid)

    # QA sees that the house was not heard beside the proposed address.
    call_id = web.call_id(uid)
    web.login(browser, "qa", f"/qa/{call_id}")
    wait_for(
        browser,
        lambda d: text_of(d, '#cmp tr[data-field="address"] #qa-house-uncertain') == " · номер дома не расслышан",
        what="the QA note on the proposed address",
    )
