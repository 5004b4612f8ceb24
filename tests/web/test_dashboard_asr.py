"""The dashboard's recognition-quality section in chromium: QA sees WER per language and per speaker; an operator
never sees the section."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from models.records import Call, TranscriptSegment
from tests.web.conftest import Web
from tests.web.harness import shot, text_of, wait_for

pytestmark = pytest.mark.browser


def _seed(web: Web) -> None:
    now = datetime.now(UTC)
    with web.ctx.sessionmaker() as s:
        call = Call(uniqueid="dash-asr-1", state="ended", started_at=now, ended_at=now, language="kk")
        s.add(call)
        s.flush()
        lines = [
            ("caller", "kk", "жарық жок үйде", [0.9, 0.3, 0.9], "Жарық жоқ үйде"),  # 1 of 3 wrong, marked
            ("operator", "ru", "слушаю вас", [0.9, 0.9], "Слушаю вас."),  # right
        ]
        for i, (speaker, language, text, confs, fixed) in enumerate(lines):
            words = [
                {"word": w, "start": i + j * 0.3, "end": i + j * 0.3 + 0.2, "conf": c}
                for j, (w, c) in enumerate(zip(text.split(), confs, strict=True))
            ]
            seg = TranscriptSegment(
                call_id=call.id,
                speaker=speaker,
                language=language,
                start_s=float(i),
                end_s=i + 0.9,
                text=text,
                words=words,
                source="live",
                model_version="m-small",
            )
            s.add(seg)
            s.flush()
            s.add(
                TranscriptSegment(
                    call_id=call.id,
                    speaker=speaker,
                    language=language,
                    start_s=seg.start_s,
                    end_s=seg.end_s,
                    text=fixed,
                    words=[],
                    source="qa",
                    corrects_id=seg.id,
                )
            )
        s.commit()


def _cell(driver: WebDriver, group: str, col: str) -> str:
    return text_of(driver, f'#asr-table tr[data-group="{group}"] td[data-col="{col}"]')


def test_qa_sees_recognition_quality_and_an_operator_does_not(web: Web, browser: WebDriver) -> None:
    _seed(web)
    web.login(browser, "qa", "/dashboard")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#asr-table tr[data-group="kk"]'), what="kk row")
    assert browser.find_element(By.ID, "asr-quality").is_displayed()
    assert _cell(browser, "kk", "wer").replace("\u00a0", " ").startswith("33")  # 1 of 3 words
    assert _cell(browser, "ru", "wer").startswith("0")
    assert _cell(browser, "kk", "mark_precision").startswith("100")
    Select(browser.find_element(By.ID, "asr-by")).select_by_value("speaker")
    wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, '#asr-table tr[data-group="operator"]'),
        what="rows per speaker",
    )
    assert text_of(browser, '#asr-table tr[data-group="caller"] th') == "Заявитель"
    shot(browser, "dashboard-asr-quality")

    web.login(browser, "operator", "/dashboard")
    wait_for(browser, lambda d: d.execute_script("return !!(window.__dash && window.__dash.ready)"), what="dashboard")
    assert not browser.find_element(By.ID, "asr-quality").is_displayed()
