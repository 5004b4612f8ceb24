"""Scoring a stored call on SQLite and PostgreSQL: turns with QA's corrections, facts from the audit trail, the
scorecard row with its versions, and the rule set in force."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.quality import QaScorecard
from models.repo import calls, qa_scoring
from qa.rules import default_rule_set
from qa.stored import score_stored
from tests.qa.stored_calls import ASR, T0, store_fire_call

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


def test_stored_call_reads_corrections_and_audit_times(session: Session) -> None:
    call = store_fire_call(session)
    data = qa_scoring.stored_call(session, call.id)
    assert data is not None
    texts = [t.text for t in data.turns]
    assert "ваше обращение зарегистрировано номер сто двадцать три" in texts
    assert not any("ну мир" in t for t in texts)
    assert (data.answered_s, data.ended_s, data.caller_language) == (0.0, 23.0, "ru")
    assert (data.emergency_code, data.emergency_s) == ("101", 12.0)
    assert (data.transfer_s, data.transfer_code) == (16.0, "101")  # the attempt that succeeded
    assert data.reg_number == "109-2026-000123" and data.rule_set_version is None


def test_score_call_stores_the_scorecard_with_its_versions(session: Session) -> None:
    call = store_fire_call(session)
    row = qa_scoring.score_call(session, call.id, scorer=score_stored)
    assert row is not None
    session.expire_all()
    stored = session.get(QaScorecard, row.id)
    assert stored is not None
    assert stored.rule_set_version == 0
    assert stored.asr_model_version == ASR and stored.classifier_model_version == "clf-2026.12"
    assert stored.emergency == "101"
    outcomes = {r["rule"]: r["outcome"] for r in stored.results}
    assert outcomes == {
        "greeting": "passed",
        "readback": "passed",  # only QA's correction has the number
        "emergency_transfer": "passed",
        "silence": "passed",
        "talk_over": "passed",
        "repeated_question": "passed",
        "forbidden_phrase": "passed",
    }
    assert (stored.checks, stored.failed) == (7, 0)
    assert stored.asr_confidence is not None and 0.4 < stored.asr_confidence < 0.9


def test_a_saved_rule_set_is_in_force_and_stored_calls_rescore(session: Session) -> None:
    call = store_fire_call(session)
    rules = default_rule_set().as_json()
    rules[4]["parameters"]["instance_s"] = 0.1  # the caller's "ага" now counts as talking over
    saved = qa_scoring.save_rule_set(session, rules=rules, note="stricter talk-over", user_id=None, actor="test")
    assert saved.version == 1
    row = qa_scoring.score_call(session, call.id, scorer=score_stored)
    assert row is not None and row.rule_set_version == 1
    assert {r["rule"]: r["outcome"] for r in row.results}["talk_over"] == "failed"
    assert row.failed == 1
    again = qa_scoring.save_rule_set(session, rules=rules, note=None, user_id=None, actor="test")
    assert again.version == 2
    assert qa_scoring.latest_scorecard(session, call.id).id == row.id  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(QaScorecard)) == 1


def test_live_and_unknown_calls_are_not_scored(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="live.1", started_at=T0)
    calls.mark_answered(session, uniqueid="live.1", at=T0)
    assert qa_scoring.score_call(session, call.id, scorer=score_stored) is None
    assert qa_scoring.score_call(session, 999_999, scorer=score_stored) is None
    assert session.scalar(select(func.count()).select_from(QaScorecard)) == 0
