"""The operator desk in a real browser: a live call fills the card, the keyboard confirms it, an emergency
banner transfers the caller through telephony, and the stored-to-shown latency of transcript lines."""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from datetime import datetime

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from models.records import AuditEvent, Call, Card
from tests.web.conftest import PASSWORDS, Web
from tests.web.harness import ROOT, Line, external_requests, shot, text_of, texts_of, wait_for

pytestmark = pytest.mark.browser

HOT_WATER = [
    Line("здравствуйте у нас в доме нет горячей воды уже третий день", seconds=2.4, low=(9,)),
    Line("улица Кенесары дом 12 квартира 45", seconds=1.8),
    Line("пожалуйста примите заявку", seconds=1.2),
]
GAS = [
    Line("алло срочно в подъезде сильно пахнет газом", seconds=2.0),
    Line("улица Жубанова дом 5", seconds=1.5),
]


def _value(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).get_attribute("value") or "")


def _lines(driver: WebDriver) -> int:
    return int(driver.execute_script("return document.querySelectorAll('#transcript .line:not(.partial)').length"))


def _card_of(web: Web, uniqueid: str) -> Card:
    with web.ctx.sessionmaker() as s:
        call = s.query(Call).filter_by(uniqueid=uniqueid).one()
        card = s.query(Card).filter_by(call_id=call.id).one()
        s.expunge_all()
        return card


def test_live_card_fills_in_and_is_confirmed_from_the_keyboard(web: Web, browser: WebDriver) -> None:
    web.login(browser, "operator", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    tax = web.ctx.taxonomy

    uid = web.start_call("+77015550101", HOT_WATER)
    web.say(uid, 1.2)  # half of the first utterance: a partial line
    wait_for(browser, lambda d: d.find_element(By.ID, "call-caller").text == "+77015550101", what="call opens")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .line.partial"), what="partial line")
    web.say(uid, 1.3)  # the first utterance ends: a stored line and a proposal
    wait_for(browser, lambda d: _lines(d) == 1, what="first final line")
    wait_for(browser, lambda d: _value(d, "f-topic"), what="proposed topic")
    web.say(uid, 3.2)
    wait_for(browser, lambda d: _lines(d) == 3, what="three lines")
    proposed = _card_of(web, uid)
    assert proposed.proposed_topic, "the classifier proposed a topic"
    # Every proposed field the operator has not touched shows the model's latest proposal.
    wait_for(
        browser,
        lambda d: (
            _value(d, "f-topic") == tax.topics[_card_of(web, uid).proposed_topic].ru
            and _value(d, "f-street") == (_card_of(web, uid).proposed_street or "")
        ),
        what="latest proposal shown",
    )
    proposed = _card_of(web, uid)
    assert _value(browser, "f-service") == tax.services[proposed.proposed_service].ru
    assert _value(browser, "f-house") == (proposed.proposed_house or "")
    assert texts_of(browser, "#transcript .w.lowconf") == ["третий"], "the low-confidence word is marked"
    assert text_of(browser, "#p-topic .conf").endswith("%")
    shot(browser, "desk-live-card")

    # The operator corrects the topic by typing (Kazakh-folding type-ahead), the apartment, and confirms.
    new_topic, typed = ("heating", "жылу жок") if proposed.proposed_topic != "heating" else ("hot_water", "ыстык су")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ALT, "k")  # Alt+K: to the card
    topic = browser.switch_to.active_element
    assert topic.get_attribute("id") == "f-topic"
    topic.send_keys(Keys.ARROW_DOWN)  # the list opens with the model's choice first
    first = wait_for(browser, lambda d: text_of(d, "#f-topic + ul li[role=option]"), what="topic list")
    assert first == tax.topics[proposed.proposed_topic].ru
    topic.send_keys(Keys.ESCAPE)
    topic.send_keys(typed)  # "жок"/"ыстык" fold onto "жоқ"/"ыстық": Kazakh names typed on a Russian keyboard
    wait_for(
        browser,
        lambda d: d.find_element(By.ID, "f-topic").get_attribute("aria-expanded") == "true",
        what="topic options",
    )
    topic.send_keys(Keys.ENTER)
    assert _value(browser, "f-topic") == tax.topics[new_topic].ru
    assert _value(browser, "f-service") == tax.services[tax.service_for(new_topic)].ru  # follows the topic
    topic.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "f-service"
    apt = browser.find_element(By.ID, "f-apartment")
    apt.click()
    apt.send_keys(Keys.CONTROL, "a")
    apt.send_keys("46")
    # A reload (a crash of the tab, an accidental F5) keeps the operator's unconfirmed edits.
    browser.refresh()
    wait_for(
        browser,
        lambda d: _value(d, "f-apartment") == "46" and _value(d, "f-topic") == tax.topics[new_topic].ru,
        what="edits kept across a reload",
    )
    apt = browser.find_element(By.ID, "f-apartment")
    apt.click()
    apt.send_keys(Keys.CONTROL, Keys.ENTER)
    # Read through the DOM, not a held element: a card event may re-render the panel meanwhile.
    reg = wait_for(browser, lambda d: text_of(d, "#reg-number"), what="registration number")
    assert re.fullmatch(r"109-\d{4}-\d{6}", reg), reg
    assert text_of(browser, "#due-at").strip()
    shot(browser, "desk-confirmed")

    card = _card_of(web, uid)
    assert card.status == "confirmed" and card.reg_number == reg
    assert (card.topic, card.service, card.apartment) == (new_topic, tax.service_for(new_topic), "46")
    assert card.street == proposed.proposed_street, "untouched fields keep the proposal"
    assert card.proposed_topic == proposed.proposed_topic, "the model's proposal is kept beside the operator's"
    with web.ctx.sessionmaker() as s:
        actions = [e.action for e in s.query(AuditEvent).filter_by(entity="card", entity_id=card.id)]
        assert "confirm" in actions
    assert external_requests(browser, web.url) == []
    web.end_call(uid)


def test_emergency_banner_transfers_the_caller_through_telephony(web: Web, browser: WebDriver) -> None:
    web.login(browser, "operator2", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    uid = web.start_call("+77015550104", GAS)
    web.say(uid, 2.1)
    wait_for(
        browser,
        lambda d: "104" in d.execute_script("return document.getElementById('em-banner')?.textContent || ''"),
        what="emergency banner with 104",
    )
    assert browser.find_element(By.ID, "em-transfer").is_displayed()
    shot(browser, "desk-emergency-banner")

    # One key moves the caller: Alt+T.
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ALT, "t")
    wait_for(browser, lambda d: d.find_elements(By.ID, "em-done"), what="transfer done")
    shot(browser, "desk-emergency-transferred")
    card = _card_of(web, uid)
    assert card.emergency_transferred_to == "104"
    if web.peer is not None:
        calls = [(m, p) for m, p, *_ in web.peer.requests if p.endswith(f"/channels/{uid}/continue")]
        assert calls, f"no ARI continue for {uid}: {web.peer.requests[-5:]}"
    else:
        assert (uid, "104") in web.ctx.transfer.done
    with web.ctx.sessionmaker() as s:
        assert s.query(Call).filter_by(uniqueid=uid).one().transferred_to == "104"
    web.end_call(uid)


def test_dismissing_an_emergency_asks_for_a_reason(web: Web, browser: WebDriver) -> None:
    web.login(browser, "operator2", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    uid = web.start_call("+77015550105", [Line("алло в подъезде пахнет газом", seconds=2.0)])
    web.say(uid, 2.1)
    wait_for(browser, lambda d: d.find_elements(By.ID, "em-transfer"), what="emergency banner")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ALT, "x")
    reason = wait_for(browser, lambda d: d.find_elements(By.ID, "em-reason"), what="reason box")[0]
    assert browser.switch_to.active_element == reason
    reason.send_keys(Keys.ENTER)  # empty: refused, nothing stored
    assert reason.get_attribute("aria-invalid") == "true"
    assert _card_of(web, uid).emergency_dismissed_reason is None
    reason.send_keys("соседи готовят, запаха газа нет")
    reason.send_keys(Keys.ENTER)
    wait_for(
        browser,
        lambda d: d.execute_script("return document.querySelector('#em-banner.dismissed') !== null"),
        what="dismissed banner",
    )
    card = _card_of(web, uid)
    assert card.emergency_dismissed_reason == "соседи готовят, запаха газа нет"
    assert card.emergency == "none"
    web.end_call(uid)


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(p99, 1),
        "min_ms": round(ordered[0], 1),
        "max_ms": round(ordered[-1], 1),
    }


class _FeedListener(threading.Thread):
    """A bare WebSocket client on /api/live (no browser): when each transcript_final arrives over the wire.

    It is the baseline measured in the same run: stored -> received, against the desk's stored -> shown.
    """

    def __init__(self, url: str, token: str, want: int) -> None:
        super().__init__(name="live-feed-listener", daemon=True)
        self.url = url.replace("http", "ws", 1) + f"/api/live?token={token}"
        self.want = want
        self.received: list[float] = []
        self.ready = threading.Event()

    def run(self) -> None:
        from websockets.sync.client import connect

        with connect(self.url, open_timeout=10) as ws:
            while len(self.received) < self.want:
                msg = json.loads(ws.recv(timeout=30))
                now = time.time() * 1000
                if msg.get("type") == "ready":
                    self.ready.set()
                elif msg.get("type") == "transcript_final" and "строка номер" in msg["segment"]["text"]:
                    stored = datetime.fromisoformat(msg["stored_at"]).timestamp() * 1000
                    self.received.append(now - stored)


def test_transcript_line_latency_from_stored_to_shown(web: Web, browser: WebDriver) -> None:
    """p50/p99 of (line shown on the desk) - (segment stored: stored_at of transcript_final), 60 segments,
    beside the same segments' stored -> received-over-the-WebSocket by a bare client (the baseline)."""
    n = 60
    web.login(browser, "operator", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    browser.execute_script("window.__desk.shown = []")
    qa_token = httpx.post(f"{web.url}/api/auth/login", json={"username": "saule", "password": PASSWORDS["qa"]}).json()[
        "access_token"
    ]
    listener = _FeedListener(web.url, qa_token, n)
    listener.start()
    assert listener.ready.wait(10)
    script = [Line(f"строка номер {i} у нас во дворе не убран снег", seconds=0.4) for i in range(n)]
    uid = web.start_call("+77015550160", script)
    wait_for(browser, lambda d: d.find_element(By.ID, "call-caller").text == "+77015550160", what="call opens")
    for _ in range(n):
        web.say(uid, 0.4)
        time.sleep(0.1)  # ten utterances a second: faster than any caller speaks
    wait_for(
        browser, lambda d: len(d.execute_script("return window.__desk.shown")) >= n, timeout=30, what=f"{n} lines shown"
    )
    listener.join(30)
    shown = browser.execute_script("return window.__desk.shown")
    desk = [float(s["shown"]) - float(s["stored"]) for s in shown]
    wire = listener.received
    assert len(wire) == n
    result = {
        "segments": len(desk),
        "desk_stored_to_shown": _percentiles(desk),
        "baseline_stored_to_websocket_client": _percentiles(wire),
        "proposer": web.proposer_path,
        "desk_in_order_ms": [round(x) for x in desk],
    }
    result["ratio_p50"] = round(
        result["desk_stored_to_shown"]["p50_ms"] / max(0.1, result["baseline_stored_to_websocket_client"]["p50_ms"]), 2
    )
    out = ROOT / "test-artifacts" / "desk-latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    shot(browser, "desk-latency-run")
    assert min(desk) > -50, "stored_at is taken before the line can show (clock sanity)"
    assert result["desk_stored_to_shown"]["p99_ms"] < 1000, result
    web.end_call(uid)
