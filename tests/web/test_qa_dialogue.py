"""The QA page shows a two-voice call as a dialogue in a real browser: each turn labelled with its speaker and
time, the operator's turns set apart from the caller's, talk-over marked, a click on an operator's word seeks
the recording to it, and a correction of an operator's turn is stored as the operator's."""

from __future__ import annotations

import math
import struct
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from models.records import AuditEvent, Call, Recording, TranscriptSegment
from tests.web.conftest import Web
from tests.web.harness import shot, texts_of, wait_for

pytestmark = pytest.mark.browser

RATE = 8000
# (speaker, start, end, text): the operator greets, the caller answers, the operator asks while the caller is still
# speaking (talk-over), the caller goes on after the operator has finished.
DIALOGUE = [
    ("operator", 0.4, 2.6, "сәлеметсіз бе қалалық қызмет тыңдап тұр"),
    ("caller", 2.9, 6.4, "сәлеметсіз бе үйімізде ыстық су жоқ"),
    ("operator", 5.6, 7.8, "қай көшеде тұрасыз"),
    ("caller", 8.2, 10.6, "Абай көшесі мектептің жанында"),
]


def _tone_wav(path: Path, seconds: float, hz: float) -> Path:
    """A real 8 kHz mono 16-bit WAV: a quiet sine tone ``seconds`` long."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * hz * i / RATE))) for i in range(int(RATE * seconds))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return path


def _words(text: str, start: float, end: float) -> list[dict[str, Any]]:
    tokens = text.split()
    step = (end - start) / len(tokens)
    return [
        {"word": tok, "start": round(start + i * step, 3), "end": round(start + (i + 0.85) * step, 3), "conf": 0.9}
        for i, tok in enumerate(tokens)
    ]


def _two_voice_call(web: Web, kinds: tuple[str, ...]) -> tuple[int, dict[str, int]]:
    """A finished call with the dialogue's segments and recordings of ``kinds`` (each a 12 s WAV)."""
    uid = f"dlg-{uuid.uuid4().hex[:12]}"
    started = datetime.now(UTC) - timedelta(minutes=5)
    recs: dict[str, int] = {}
    with web.ctx.sessionmaker() as s:
        call = Call(
            uniqueid=uid,
            caller_number="+77015550300",
            dialled_number="109",
            state="ended",
            language="kk",
            started_at=started,
            answered_at=started,
            ended_at=started + timedelta(seconds=12),
        )
        s.add(call)
        s.flush()
        for n, kind in enumerate(kinds):
            path = _tone_wav(web.ctx.settings.recordings_path / f"{uid}-{kind}.wav", 12.0 + n, 300 + 100 * n)
            rec = Recording(
                call_id=call.id,
                kind=kind,
                path=str(path),
                format="wav",
                sample_rate=RATE,
                duration_s=12.0 + n,
                size_bytes=path.stat().st_size,
                complete=True,
            )
            s.add(rec)
            s.flush()
            recs[kind] = rec.id
        for speaker, start, end, text in DIALOGUE:
            s.add(
                TranscriptSegment(
                    call_id=call.id,
                    speaker=speaker,
                    language="kk",
                    start_s=start,
                    end_s=end,
                    text=text,
                    words=_words(text, start, end),
                    confidence=0.9,
                    source="live",
                    engine="scripted",
                    model_version="script-1",
                )
            )
        s.commit()
        return int(call.id), recs


def _js(driver: WebDriver, script: str) -> Any:
    return driver.execute_script(script)


def _open(web: Web, browser: WebDriver, call_id: int) -> None:
    web.login(browser, "qa", f"/qa/{call_id}")
    wait_for(browser, lambda d: _js(d, "return !!(window.__qa && window.__qa.ready)"), what="QA page ready")
    wait_for(browser, lambda d: _js(d, "return document.getElementById('player').readyState >= 1"), what="metadata")


def _operator_word(browser: WebDriver) -> tuple[Any, float]:
    """The last word of the operator's talk-over turn ("тұрасыз") and its start in seconds."""
    word = browser.find_elements(By.CSS_SELECTOR, ".seg:nth-child(3) .w")[-1]
    assert word.text == "тұрасыз"
    return word, float(word.get_attribute("data-start") or "nan")


def test_a_two_voice_call_reads_as_a_dialogue_and_an_operator_word_seeks(web: Web, browser: WebDriver) -> None:
    call_id, recs = _two_voice_call(web, ("mixed", "caller", "operator"))
    _open(web, browser, call_id)

    # Both voices in time order, each turn labelled with its speaker and its time.
    assert [s.get_attribute("data-speaker") for s in browser.find_elements(By.CSS_SELECTOR, ".seg")] == [
        "operator",
        "caller",
        "operator",
        "caller",
    ]
    assert texts_of(browser, ".seg .who .spk") == ["Оператор", "Звонящий", "Оператор", "Звонящий"]
    assert texts_of(browser, ".seg .who .when") == ["0:00–0:02", "0:02–0:06", "0:05–0:07", "0:08–0:10"]
    assert texts_of(browser, ".seg:nth-child(2) .w")[2] == "үйімізде"
    # The two voices are set apart: the operator's turns stand in from the left, the caller's do not.
    margins = _js(
        browser,
        "return [...document.querySelectorAll('.seg')].map((s) => parseFloat(getComputedStyle(s).marginLeft))",
    )
    assert margins[0] > 20 and margins[2] > 20 and margins[1] == 0 and margins[3] == 0, margins
    # Only the operator's question, begun while the caller was still speaking, is talk-over.
    flagged = _js(browser, "return [...document.querySelectorAll('.seg')].map((s) => s.classList.contains('overlap'))")
    assert flagged == [False, False, True, False]
    assert texts_of(browser, ".seg .talkover") == ["говорят одновременно"]
    shot(browser, "qa-dialogue")

    # The page plays the mixed recording: both voices on one clock. A click on the operator's word seeks to it.
    assert f"recording_id={recs['mixed']}" in _js(browser, "return document.getElementById('player').src")
    word, start = _operator_word(browser)
    assert start > 6.5
    word.click()
    wait_for(browser, lambda d: _js(d, "return !document.getElementById('player').paused"), what="playback")
    now = _js(browser, "return document.getElementById('player').currentTime")
    _js(browser, "document.getElementById('player').pause()")
    assert start - 0.05 <= now <= start + 1.0, (start, now)
    assert f"recording_id={recs['mixed']}" in _js(browser, "return document.getElementById('player').src")

    # A QA correction of the operator's turn is stored beside it, as the operator's.
    browser.find_element(By.CSS_SELECTOR, ".seg:nth-child(3) .edit").click()
    area = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".seg:nth-child(3) textarea"), what="box")[0]
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys("қай көшеде тұрасыз үйіңіздің нөмірі қандай")
    area.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".seg:nth-child(3) .corr-tag"), what="corrected")
    assert browser.find_element(By.CSS_SELECTOR, ".seg:nth-child(3)").get_attribute("data-speaker") == "operator"
    with web.ctx.sessionmaker() as s:
        original = s.query(TranscriptSegment).filter_by(call_id=call_id, text="қай көшеде тұрасыз").one()
        fixed = s.query(TranscriptSegment).filter_by(call_id=call_id, source="qa").one()
        assert (fixed.corrects_id, fixed.speaker) == (original.id, "operator")
        assert fixed.text == "қай көшеде тұрасыз үйіңіздің нөмірі қандай"
        assert original.text == "қай көшеде тұрасыз", "the original is never overwritten"
        assert s.query(AuditEvent).filter_by(entity="transcript", entity_id=fixed.id, action="correct").count() == 1

    # In Kazakh the labels and the talk-over mark are Kazakh.
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/static/js/i18n.js').then((m) => { m.setLang('kk'); done(); });"
    )
    wait_for(browser, lambda d: texts_of(d, ".seg .who .spk")[1] == "Қоңырау шалушы", what="Kazakh labels")
    assert texts_of(browser, ".seg .who .spk") == ["Оператор", "Қоңырау шалушы", "Оператор", "Қоңырау шалушы"]
    assert texts_of(browser, ".seg .talkover") == ["бір мезгілде сөйлейді"]
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/static/js/i18n.js').then((m) => { m.setLang('ru'); done(); });"
    )


def test_without_a_mixed_recording_an_operator_word_plays_the_operator_leg(web: Web, browser: WebDriver) -> None:
    call_id, recs = _two_voice_call(web, ("caller", "operator"))
    _open(web, browser, call_id)
    src = "return document.getElementById('player').src"
    assert f"recording_id={recs['caller']}" in _js(browser, src), "the caller's leg plays first"

    word, start = _operator_word(browser)
    word.click()
    wait_for(
        browser,
        lambda d: (
            f"recording_id={recs['operator']}" in _js(d, src)
            and not _js(d, "return document.getElementById('player').paused")
        ),
        what="the operator's leg playing",
    )
    now = _js(browser, "return document.getElementById('player').currentTime")
    _js(browser, "document.getElementById('player').pause()")
    assert start - 0.05 <= now <= start + 1.0, (start, now)
    # The operator's leg is 13 s long, the caller's 12 s: the player really loaded the other file.
    assert abs(_js(browser, "return document.getElementById('player').duration") - 13.0) < 0.1
