"""The QA page's scorecard panel in chromium: QA agrees with a failed automatic result and the verdict is stored;
the call is listed in the QA queue on the same page; the dashboard shows the operator's trend."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from models.quality import QaJudgment, QaRuleSet, QaScorecard
from models.records import Call
from tests.web.conftest import Web
from tests.web.harness import shot, text_of, wait_for

pytestmark = pytest.mark.browser

GREETING = {"id": "greeting", "name_kk": "Сәлемдесу", "name_ru": "Приветствие"}
READBACK = {"id": "readback", "name_kk": "Тіркеу нөмірін қайталау", "name_ru": "Номер регистрации повторён"}


def _scored_call(web: Web) -> tuple[int, int]:
    operator = web.users["operator"]
    start = datetime.now(UTC) - timedelta(minutes=3)
    with web.ctx.sessionmaker() as s:
        if s.scalar(select(QaRuleSet).where(QaRuleSet.version == 1)) is None:
            s.add(QaRuleSet(version=1, rules=[GREETING, READBACK]))
        call = Call(
            uniqueid=uuid.uuid4().hex,
            caller_number="+77015550300",
            state="ended",
            started_at=start,
            answered_at=start,
            ended_at=start + timedelta(minutes=2),
            operator_id=operator.id,
        )
        s.add(call)
        s.flush()
        results = [
            {"rule": "greeting", "outcome": "failed", "at_s": 3.5, "evidence": "«алло» без приветствия"},
            {"rule": "readback", "outcome": "passed", "at_s": 41.0, "evidence": "Номер 109-2026-00017 повторён"},
        ]
        card = QaScorecard(
            call_id=call.id,
            operator_id=operator.id,
            rule_set_version=1,
            results=results,
            checks=2,
            failed=1,
            asr_confidence=0.71,
        )
        s.add(card)
        s.commit()
        return int(call.id), int(card.id)


def _js(driver: WebDriver, script: str) -> Any:
    return driver.execute_script(script)


def test_qa_agrees_with_a_failed_check_and_the_verdict_is_stored(web: Web, browser: WebDriver) -> None:
    call_id, scorecard_id = _scored_call(web)
    web.login(browser, "qa", f"/qa/{call_id}")
    wait_for(browser, lambda d: _js(d, "return !!(window.__qaScorecard && window.__qaScorecard.ready)"), what="panel")
    row = 'tr.qa-result[data-rule="greeting"]'
    assert text_of(browser, f"{row} th") == "Приветствие"
    assert text_of(browser, f"{row} .qa-outcome") == "не пройдено"
    assert text_of(browser, f"{row} .qa-at") == "0:03"
    assert "«алло» без приветствия" in text_of(browser, f"{row} .qa-evidence")

    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-verdict="agree"]').click()
    wait_for(
        browser,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, f'{row} button[data-verdict="agree"]').get_attribute("aria-pressed")
            == "true"
        ),
        what="the agree button shows the stored verdict",
    )
    with web.ctx.sessionmaker() as s:
        stored = s.scalars(select(QaJudgment).where(QaJudgment.scorecard_id == scorecard_id)).all()
    assert [(j.rule, j.outcome, j.verdict, j.user_id) for j in stored] == [
        ("greeting", "failed", "agree", web.users["qa"].id)
    ]
    # The queue on the same page lists the call with its failed rule.
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#qa-queue tr[data-call="{call_id}"]'), what="queue")
    assert "Приветствие" in text_of(browser, f'#qa-queue tr[data-call="{call_id}"]')
    shot(browser, "qa-scorecard")

    # The operator's trend on the dashboard: one call scored this week, all of it with a failed check.
    browser.get(f"{web.url}/dashboard")
    operator_id = web.users["operator"].id
    cell = f'#dash-qa-table tr[data-operator="{operator_id}"] td:last-child'
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, cell), what="the dashboard's QA trends")
    assert text_of(browser, cell).startswith("100%")
