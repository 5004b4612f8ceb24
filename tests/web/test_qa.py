"""QA review in a real browser: the recording plays, a click on a word seeks to it, corrections and error
marks are stored beside the original; an operator is refused the QA page and API."""

from __future__ import annotations

import shutil
import time
import wave
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from models.records import AuditEvent, TranscriptSegment
from tests.peers.speech import speech_wav
from tests.web.conftest import NAMES, PASSWORDS, Web
from tests.web.harness import Line, external_requests, shot, text_of, texts_of, wait_for

pytestmark = pytest.mark.browser

FIRST = "здравствуйте у нас во дворе открытый люк"
SECOND = "улица Сарыарка дом семь рядом со школой"


def _recorded_call(web: Web, caller: str) -> tuple[str, int, float]:
    """A finished call with a real recording (espeak-ng speech), its transcript and its card."""
    from telephony.events import RecordingFinished

    source = speech_wav(f"{FIRST}. {SECOND}", "ru")
    with wave.open(str(source), "rb") as w:
        duration = w.getnframes() / w.getframerate()
    split = duration * 0.48
    uid = web.start_call(caller, [Line(FIRST, seconds=split, low=(5,)), Line(SECOND, seconds=duration - split)])
    target = web.ctx.settings.recordings_path / f"{uid}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    web.say(uid, duration + 0.05)
    web.end_call(uid)
    web.server.call(
        web.manager.on_event(
            RecordingFinished(uniqueid=uid, path=str(target), duration_s=duration, size_bytes=target.stat().st_size)
        )
    )
    call_id = web.call_id(uid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with web.ctx.sessionmaker() as s:
            if s.query(TranscriptSegment).filter_by(call_id=call_id).count() >= 2:
                break
        time.sleep(0.05)
    return uid, call_id, duration


def _token(web: Web, who: str) -> str:
    r = httpx.post(f"{web.url}/api/auth/login", json={"username": NAMES[who][0], "password": PASSWORDS[who]})
    r.raise_for_status()
    return str(r.json()["access_token"])


def _js(driver: WebDriver, script: str) -> Any:
    return driver.execute_script(script)


def test_qa_plays_the_recording_and_a_click_on_a_word_seeks(web: Web, browser: WebDriver) -> None:
    _uid, call_id, duration = _recorded_call(web, "+77015550200")
    web.login(browser, "qa", f"/qa/{call_id}")
    wait_for(browser, lambda d: _js(d, "return !!(window.__qa && window.__qa.ready)"), what="QA page ready")
    wait_for(
        browser,
        lambda d: _js(d, "return document.getElementById('player').readyState >= 1"),
        what="audio metadata (Range-served WAV)",
    )
    assert abs(_js(browser, "return document.getElementById('player').duration") - duration) < 0.1
    assert texts_of(browser, "#qa-transcript .w.lowconf") == ["открытый"]

    words = browser.find_elements(By.CSS_SELECTOR, ".seg:nth-child(2) .w")
    target = words[2]  # "дом" in the second utterance
    start = float(target.get_attribute("data-start"))
    assert start > 0.5
    target.click()
    wait_for(
        browser, lambda d: _js(d, "const a = document.getElementById('player'); return !a.paused"), what="playback"
    )
    now = _js(browser, "return document.getElementById('player').currentTime")
    assert start - 0.05 <= now <= start + 1.0, (start, now)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".w.now"), what="spoken word highlighted")
    shot(browser, "qa-review-playing")
    _js(browser, "document.getElementById('player').pause()")

    # Correct the first segment from the keyboard: the original stays, the correction sits beside it.
    browser.find_element(By.CSS_SELECTOR, ".seg:nth-child(1) .edit").click()
    area = wait_for(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".seg:nth-child(1) textarea"), what="correction box"
    )[0]
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys("здравствуйте у нас во дворе открыт люк канализации")
    area.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".seg:nth-child(1) .corr-tag"), what="corrected")
    with web.ctx.sessionmaker() as s:
        segs = s.query(TranscriptSegment).filter_by(call_id=call_id).order_by(TranscriptSegment.id).all()
        original = next(x for x in segs if x.source == "live" and x.text == FIRST)
        fixed = [x for x in segs if x.source == "qa"]
        assert len(fixed) == 1 and fixed[0].corrects_id == original.id
        assert fixed[0].text == "здравствуйте у нас во дворе открыт люк канализации"
        assert original.text == FIRST, "the original is never overwritten"
        assert s.query(AuditEvent).filter_by(entity="transcript", entity_id=fixed[0].id, action="correct").count() == 1

    # Mark a classification error on the topic.
    browser.find_element(By.CSS_SELECTOR, 'tr[data-field="topic"] button').click()
    note = browser.switch_to.active_element
    assert note.get_attribute("id") == "mark-note"
    note.send_keys("это открытый люк, а не справка")
    note.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "открытый люк" in text_of(d, 'tr[data-mark-of="topic"]'), what="mark shown")
    shot(browser, "qa-review-corrected")
    assert external_requests(browser, web.url) == []

    # Confirmed, the card and its corrected transcript feed the classifier's retraining.
    admin = {"Authorization": f"Bearer {_token(web, 'admin')}"}
    call = httpx.get(f"{web.url}/api/calls/{call_id}", headers=admin).json()
    r = httpx.post(
        f"{web.url}/api/cards/{call['card']['id']}/confirm",
        headers=admin,
        json={"topic": "open_manhole", "service": "monitoring_coordination"},
    )
    assert r.status_code == 200, r.text
    lines = httpx.get(
        f"{web.url}/api/training/export.jsonl", headers={"Authorization": f"Bearer {_token(web, 'qa')}"}
    ).text.splitlines()
    assert any("открыт люк канализации" in line and '"open_manhole"' in line for line in lines)


def test_an_operator_is_refused_the_qa_page_and_api(web: Web, browser: WebDriver) -> None:
    _uid, call_id, _ = _recorded_call(web, "+77015550201")
    web.login(browser, "operator", "/desk")
    browser.get(f"{web.url}/qa/{call_id}")
    wait_for(browser, lambda d: d.find_elements(By.ID, "forbidden"), what="refusal")
    assert "Доступ запрещён" in browser.find_element(By.ID, "forbidden").text
    assert not browser.find_elements(By.ID, "player")
    shot(browser, "qa-refused-operator")

    op = {"Authorization": f"Bearer {_token(web, 'operator')}"}
    assert httpx.get(f"{web.url}/api/calls/{call_id}", headers=op).status_code == 403
    assert httpx.get(f"{web.url}/api/calls/{call_id}/audio", headers=op).status_code == 403
    with web.ctx.sessionmaker() as s:
        seg = s.query(TranscriptSegment).filter_by(call_id=call_id).first()
        assert seg is not None
        seg_id = seg.id
    r = httpx.post(f"{web.url}/api/segments/{seg_id}/corrections", headers=op, json={"text": "подмена"})
    assert r.status_code == 403 and "detail" in r.json()
    assert httpx.get(f"{web.url}/api/training/export.jsonl", headers=op).status_code == 403
    with web.ctx.sessionmaker() as s:
        assert s.query(TranscriptSegment).filter_by(call_id=call_id, source="qa").count() == 0
