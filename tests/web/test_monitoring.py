"""The monitoring department's page in a real browser, in Russian and Kazakh: a card an organisation returned as
"not ours" (through its inbox) waits in the queue with its reason and is routed to another organisation; a
supervisor closes one resolved card and reopens another; the dashboard's table shows an organisation's numbers
against the 90% on-time goal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from models.records import Card
from models.repo import cards
from models.repo.cards import Actor
from tests.web.conftest import Web
from tests.web.harness import external_requests, shot, text_of, wait_for
from tests.web.test_inbox import click_step, login, make_card, make_orgs, make_user, set_lang, shown_regs, stored

pytestmark = pytest.mark.browser


def _done(web: Web, card: Card, text: str) -> None:
    with web.ctx.sessionmaker() as s:
        cards.organisation_step(
            s, card_id=card.id, actor=Actor("executor"), step="done", comment=text, organisation_id=card.organisation_id
        )


def _item(driver: WebDriver, list_id: str, card: Card) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'#{list_id} li[data-id="{card.id}"]')


def test_a_returned_card_is_routed_to_another_organisation(web: Web, browser: WebDriver) -> None:
    orgs = make_orgs(web, "mo1")
    make_user(web, "zhylu-m1", "executor", orgs.heat)
    make_user(web, "monitor-1", "supervisor")
    card = make_card(web, orgs.heat, summary="Нет горячей воды, подъезд 3")
    unrouted = make_card(web, None, status="confirmed", summary="Адрес не распознан")

    # The organisation returns it through its inbox: the reason is required.
    login(web, browser, "zhylu-m1", "/inbox")
    wait_for(browser, lambda d: card.reg_number in shown_regs(d), what="the card in the inbox")
    click_step(browser, card, "return")
    reason = "Бұл үй біздің желіге қосылмаған"
    wait_for(browser, lambda d: d.find_element(By.ID, f"c-{card.id}"), what="reason field").send_keys(reason)
    browser.find_element(By.CSS_SELECTOR, f"#card-{card.id} form.step button[type=submit]").click()
    wait_for(browser, lambda d: stored(web, card.id).status == "returned", what="returned in the database")
    assert stored(web, card.id).return_count == 1

    # The supervisor lands on the registry and opens the monitoring page from the top bar.
    login(web, browser, "monitor-1", "/registry")
    browser.find_element(By.CSS_SELECTOR, '.topnav a[href="/monitoring"]').click()
    wait_for(
        browser, lambda d: d.execute_script("return window.__monitoring && window.__monitoring.ready"), what="page"
    )
    item = wait_for(browser, lambda d: _item(d, "queue", card), what="the returned card in the queue")
    assert item.find_element(By.CSS_SELECTOR, ".why").text == f"Вернула «Городские тепловые сети mo1»: {reason}"
    assert item.find_element(By.CSS_SELECTOR, ".badge").text == "возвращено"
    assert _item(browser, "queue", unrouted).find_element(By.CSS_SELECTOR, ".badge").text == "зарегистрировано"

    # In Kazakh: the choice offers the organisations serving the service, not the one that returned it.
    set_lang(browser, "kk")
    item = wait_for(browser, lambda d: _item(d, "queue", card), what="the queue in Kazakh")
    wait_for(
        browser, lambda d: "қайтарды" in _item(d, "queue", card).find_element(By.CSS_SELECTOR, ".why").text, what="kk"
    )
    assert text_of(browser, "#queue-h") == "Жіберуді күтуде"
    select = Select(wait_for(browser, lambda d: d.find_element(By.ID, f"org-{card.id}"), what="the choice"))
    wait_for(browser, lambda d: len(select.options) > 1, what="organisations listed")
    names = [o.text for o in select.options[1:]]
    assert "Астана су арнасы mo1" in names and "Қалалық жылу жүйесі mo1" not in names
    # Routing without a choice is refused in the page.
    _item(browser, "queue", card).find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert _item(browser, "queue", card).find_element(By.CSS_SELECTOR, ".problem").text == "Ұйымды таңдаңыз."
    select.select_by_visible_text("Астана су арнасы mo1")
    shot(browser, "monitoring-route-kk")
    _item(browser, "queue", card).find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: stored(web, card.id).status == "routed", what="routed in the database")
    assert stored(web, card.id).organisation_id == orgs.water
    wait_for(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, f'#queue li[data-id="{card.id}"]'), what="gone")
    assert "жіберілді" in text_of(browser, "#toast")
    assert external_requests(browser, web.url) == []
    set_lang(browser, "ru")


def test_a_supervisor_closes_one_resolved_card_and_reopens_another(web: Web, browser: WebDriver) -> None:
    orgs = make_orgs(web, "mo2")
    make_user(web, "monitor-2", "supervisor")
    fixed = make_card(web, orgs.heat)
    not_fixed = make_card(web, orgs.heat, summary="Снова нет воды")
    _done(web, fixed, "Заменили задвижку")
    _done(web, not_fixed, "Су берілді")

    login(web, browser, "monitor-2", "/monitoring", path="/monitoring")
    item = wait_for(browser, lambda d: _item(d, "resolved", fixed), what="the resolved card")
    assert "Заменили задвижку" in item.find_element(By.CSS_SELECTOR, ".why").text
    assert "Городские тепловые сети mo2" in item.find_element(By.CSS_SELECTOR, ".org").text
    item.find_element(By.CSS_SELECTOR, 'button[data-act="close"]').click()
    wait_for(browser, lambda d: stored(web, fixed.id).status == "closed", what="closed in the database")
    wait_for(
        browser, lambda d: not d.find_elements(By.CSS_SELECTOR, f'#resolved li[data-id="{fixed.id}"]'), what="gone"
    )

    set_lang(browser, "kk")
    item = wait_for(browser, lambda d: _item(d, "resolved", not_fixed), what="the other resolved card")
    wait_for(
        browser,
        lambda d: (
            _item(d, "resolved", not_fixed).find_element(By.CSS_SELECTOR, 'button[data-act="reopen"]').text
            == "Қайта жұмысқа"
        ),
        what="kk",
    )
    _item(browser, "resolved", not_fixed).find_element(By.CSS_SELECTOR, 'button[data-act="reopen"]').click()
    field = wait_for(browser, lambda d: d.find_element(By.ID, f"why-{not_fixed.id}"), what="the reason field")
    _item(browser, "resolved", not_fixed).find_element(By.CSS_SELECTOR, "form.reopen button[type=submit]").click()
    problem = _item(browser, "resolved", not_fixed).find_element(By.CSS_SELECTOR, "form.reopen .problem")
    assert problem.text == "Өтініш берушінің не айтқанын жазыңыз."
    assert stored(web, not_fixed.id).status == "resolved"
    said = "Өтініш беруші қайта қоңырау шалды: су әлі жоқ"
    field.send_keys(said)
    _item(browser, "resolved", not_fixed).find_element(By.CSS_SELECTOR, "form.reopen button[type=submit]").click()
    wait_for(browser, lambda d: stored(web, not_fixed.id).status == "routed", what="reopened in the database")
    reopened = stored(web, not_fixed.id)
    assert reopened.reopen_count == 1 and reopened.status_notes == said and reopened.organisation_id == orgs.heat
    wait_for(browser, lambda d: "қайта жұмысқа жіберілді" in text_of(d, "#toast"), what="the toast in Kazakh")
    set_lang(browser, "ru")


def test_the_dashboard_table_shows_an_organisations_numbers(web: Web, browser: WebDriver) -> None:
    orgs = make_orgs(web, "mo3")
    make_user(web, "monitor-3", "supervisor")
    now = datetime.now(UTC)
    # Organisation heat: 3 resolved, 2 on time (67%: below the goal), 1 in hand and overdue, 1 returned.
    for due in (timedelta(hours=5), timedelta(hours=6), timedelta(hours=-1)):
        card = make_card(web, orgs.heat)
        with web.ctx.sessionmaker() as s:
            cards.organisation_step(
                s, card_id=card.id, actor=Actor("x"), step="done", comment="ok", organisation_id=orgs.heat, now=now
            )
            row = s.get(Card, card.id)
            assert row is not None
            row.due_at = now + due
            s.commit()
    make_card(web, orgs.heat, due_in=timedelta(hours=-2), stage="overdue")
    make_card(web, orgs.heat, status="returned", return_note="не наше")
    # Organisation water: 1 resolved on time (100%: the goal met).
    water = make_card(web, orgs.water)
    _done(web, water, "ok")

    login(web, browser, "monitor-3", "/dashboard", path="/dashboard")
    row_css = 'table.orgs tr.org[data-code="heat-mo3"]'
    row = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, row_css), what="the organisation's row")

    def cell(code: str, col: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'table.orgs tr.org[data-code="{code}"] td[data-col="{col}"]').text

    assert row.find_element(By.CSS_SELECTOR, "th").text == "Городские тепловые сети mo3"
    assert cell("heat-mo3", "handed_over") == "5"
    assert cell("heat-mo3", "resolved") == "3"
    assert cell("heat-mo3", "on_time_share").split() == ["67%", "ниже", "цели"]
    assert cell("heat-mo3", "median_hours_to_resolve") == "1"
    assert cell("heat-mo3", "returned") == "1"
    assert cell("heat-mo3", "backlog") == "1"
    assert cell("heat-mo3", "overdue") == "1"
    assert cell("water-mo3", "on_time_share").split() == ["100%", "цель", "достигнута"]
    assert "Цель: 90% в срок" in text_of(browser, "#organisations .goal-line")
    topic_row = browser.find_element(
        By.CSS_SELECTOR, 'table.orgs tr.topic[data-code="heat-mo3"][data-topic="hot_water"]'
    )
    assert topic_row.find_element(By.CSS_SELECTOR, "td").text == "Нет горячей воды"
    shot(browser, "dashboard-organisations-ru")

    set_lang(browser, "kk")
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, row_css + " th").text == "Қалалық жылу жүйесі mo3", what="kk"
    )
    assert cell("heat-mo3", "on_time_share").split() == ["67%", "мақсаттан", "төмен"]
    assert "Мақсат: 90% мерзімінде" in text_of(browser, "#organisations .goal-line")
    assert text_of(browser, "#orgs-h") == "Ұйымдар: орындалуы"
    set_lang(browser, "ru")
