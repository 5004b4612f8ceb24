"""The operator's own voice on the desk in a real browser: live operator lines and partials are labelled, small
and grey, never take the place of the caller's line in progress, and a reload shows the same from the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from calls.messages import LiveSegment, LiveWord, TranscriptFinalMessage, TranscriptPartialMessage
from core.types import Speaker
from models.records import TranscriptSegment
from tests.web.conftest import Web
from tests.web.harness import Line, shot, texts_of, wait_for

pytestmark = pytest.mark.browser

CALLER = [
    Line("сәлеметсіз бе үйімізде ыстық су жоқ", language="kk", seconds=2.4),
    Line("Абай көшесі мектептің жанында", language="kk", seconds=2.0),
]
OPERATOR_SAYS = "қай көшеде тұрасыз"

STYLE = """
return [...document.querySelectorAll(arguments[0])].map((el) => {
  const tx = el.querySelector('.tx');
  const cs = getComputedStyle(tx);
  return {speaker: el.dataset.speaker, cls: el.className, size: parseFloat(cs.fontSize), color: cs.color,
          label: el.querySelector('.spk')?.textContent || '', text: tx.textContent};
});
"""


def _lines(driver: WebDriver, css: str) -> list[dict[str, Any]]:
    return list(driver.execute_script(STYLE, css))


def _publish(web: Web, message: Any) -> None:
    web.server.soon(web.ctx.hub.publish, message)  # the hub is not thread-safe: publish on the server's loop


def _store_operator_segment(web: Web, call_id: int, start: float, end: float) -> LiveSegment:
    """The operator's final utterance as the live pipeline stores it, then publishes it."""
    tokens = OPERATOR_SAYS.split()
    step = (end - start) / len(tokens)
    live = tuple(
        LiveWord(tok, round(start + i * step, 3), round(start + (i + 0.85) * step, 3), 0.9)
        for i, tok in enumerate(tokens)
    )
    words = [{"word": w.word, "start": w.start, "end": w.end, "conf": w.conf} for w in live]
    with web.ctx.sessionmaker() as s:
        seg = TranscriptSegment(
            call_id=call_id,
            speaker="operator",
            language="kk",
            start_s=start,
            end_s=end,
            text=OPERATOR_SAYS,
            words=words,
            confidence=0.9,
            source="live",
            engine="scripted",
            model_version="script-1",
        )
        s.add(seg)
        s.commit()
        seg_id = int(seg.id)
    return LiveSegment(
        id=seg_id,
        start=start,
        end=end,
        text=OPERATOR_SAYS,
        language="kk",
        confidence=0.9,
        words=live,
        speaker=Speaker.OPERATOR,
    )


def test_operator_lines_are_small_grey_and_leave_the_callers_partial_alone(web: Web, browser: WebDriver) -> None:
    web.login(browser, "operator", "/desk")
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk ready")
    uid = web.start_call("+77015550310", CALLER)
    web.say(uid, 1.3)  # half of the caller's first utterance: the caller's partial line
    wait_for(browser, lambda d: _lines(d, "#transcript .line.partial"), what="caller's partial")
    call_id = web.call_id(uid)

    # The operator speaks over the caller: a second partial line, the operator's, beside the caller's.
    _publish(
        web,
        TranscriptPartialMessage(
            call_key=uid, call_id=call_id, text="қай көшеде", language="kk", start=0.8, speaker=Speaker.OPERATOR
        ),
    )
    wait_for(browser, lambda d: len(_lines(d, "#transcript .line.partial")) == 2, what="two partial lines")
    caller_p, operator_p = _lines(browser, "#transcript .line.partial")
    assert caller_p["speaker"] == "caller" and caller_p["label"] == "" and caller_p["text"].startswith("сәлеметсіз")
    assert operator_p["speaker"] == "operator" and operator_p["label"] == "Оператор"
    assert operator_p["text"] == "қай көшеде…"
    assert operator_p["size"] < caller_p["size"]
    shot(browser, "desk-operator-partial")

    # The operator's final: a small grey labelled line; the caller's utterance in progress is still shown.
    seg = _store_operator_segment(web, call_id, 0.8, 2.2)
    _publish(web, TranscriptFinalMessage(call_key=uid, call_id=call_id, segment=seg, stored_at=datetime.now(UTC)))
    wait_for(browser, lambda d: _lines(d, "#transcript .line.operator:not(.partial)"), what="operator's line")
    # The partial lines are redrawn on the next frame (desk.js `later`): wait for it, then the caller's is the one left.
    wait_for(
        browser,
        lambda d: [p["speaker"] for p in _lines(d, "#transcript .line.partial")] == ["caller"],
        what="the operator's final leaves the caller's partial",
    )
    partials = _lines(browser, "#transcript .line.partial")
    assert partials[0]["text"].startswith("сәлеметсіз")
    (op,) = _lines(browser, "#transcript .line.operator:not(.partial)")
    assert op["text"] == OPERATOR_SAYS and op["label"] == "Оператор"
    assert op["size"] <= 12 and op["color"] == "rgb(107, 118, 133)", op

    # A caller's partial that follows keeps replacing only the caller's line.
    web.say(uid, 0.6)
    wait_for(
        browser,
        lambda d: (
            [p["speaker"] for p in _lines(d, "#transcript .line.partial")] == ["caller"]
            and _lines(d, "#transcript .line.partial")[0]["text"].count(" ") >= 3
        ),
        what="caller's partial grows",
    )

    # The caller's lines are as before: full size, dark, no label, after the operator's in time order.
    web.say(uid, 2.6)
    wait_for(browser, lambda d: len(_lines(d, "#transcript .line:not(.partial)")) == 3, what="three lines")
    lines = _lines(browser, "#transcript .line:not(.partial)")
    assert [x["speaker"] for x in lines] == ["caller", "operator", "caller"]
    for caller_line in (lines[0], lines[2]):
        assert caller_line["label"] == "" and caller_line["size"] == 15 and caller_line["color"] != op["color"]
    assert lines[0]["text"] == CALLER[0].text and lines[2]["text"] == CALLER[1].text
    wait_for(browser, lambda d: texts_of(d, "#transcript .line.partial") == [], what="no partial line left")
    shot(browser, "desk-operator-lines")

    # A reload draws the operator's stored line the same way (from GET /api/calls/{id}: the hub's snapshot holds
    # only the caller's last final).
    browser.refresh()
    wait_for(browser, lambda d: d.execute_script("return window.__desk && window.__desk.ready"), what="desk again")
    wait_for(browser, lambda d: len(_lines(d, "#transcript .line:not(.partial)")) == 3, what="lines after reload")
    again = _lines(browser, "#transcript .line:not(.partial)")
    assert [x["speaker"] for x in again] == ["caller", "operator", "caller"]
    assert again[1]["label"] == "Оператор" and again[1]["size"] <= 12 and again[1]["color"] == op["color"]
    assert again[1]["text"] == OPERATOR_SAYS
    web.end_call(uid)
