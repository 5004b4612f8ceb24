"""The QA rules and scorecards over HTTP, on SQLite and PostgreSQL: QA leads save versions (invalid rules: 422,
nothing written), a call's scorecard follows the record rules of reading the call, and a correction rescores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from models.quality import QaRuleSet, QaScorecard
from models.records import AuditEvent, TranscriptSegment
from models.repo import calls
from qa.rules import default_rule_set
from tests.qa.stored_calls import T0, store_fire_call

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)


def _headers(token_for: Any, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


def _count(ctx: Any, model: Any) -> int:
    with ctx.sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@BOTH
def test_rules_default_then_saved_versions(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    lead = _headers(token_for, make_user("qa"))
    first = client.get("/api/qa/rules", headers=lead).json()
    assert first["version"] == 0 and first["source"] == "default"
    assert [r["id"] for r in first["rules"]] == [r.id for r in default_rule_set().rules]
    rules = first["rules"]
    rules[3]["parameters"]["longer_than_s"] = 7
    saved = client.put("/api/qa/rules", json={"rules": rules, "note": "7 s silences"}, headers=lead)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["note"] == "7 s silences"
    now = client.get("/api/qa/rules", headers=_headers(token_for, make_user("supervisor"))).json()
    assert now["version"] == 1 and now["source"] == "saved" and now["rules"][3]["parameters"]["longer_than_s"] == 7
    assert client.put("/api/qa/rules", json={"rules": rules}, headers=lead).json()["version"] == 2
    with ctx.sessionmaker() as s:
        assert [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.entity == "qa_rules"))] == [
            "save",
            "save",
        ]


@BOTH
@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (lambda r: r[0]["parameters"].update(within_s=0), "rule 1 (greeting): parameters.within_s"),
        (lambda r: r[6].update(kind="rudeness"), "kind 'rudeness' is not a check there is"),
        (lambda r: r[1].update(id="greeting"), "the id greeting is used by more than one rule"),
        (lambda r: r[6]["phrases"].update(kk=[], ru=[]), "list at least one forbidden phrase"),
    ],
)
def test_invalid_rules_are_refused_and_nothing_written(
    client: Any, ctx: Any, make_user: Any, token_for: Any, change: Any, sentence: str
) -> None:
    rules = default_rule_set().as_json()
    change(rules)
    headers = _headers(token_for, make_user("admin"))
    events = _count(ctx, AuditEvent)
    answer = client.put("/api/qa/rules", json={"rules": rules}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("The rules were not saved: ") and sentence in answer.json()["detail"]
    assert _count(ctx, QaRuleSet) == 0 and _count(ctx, AuditEvent) == events


@BOTH
def test_scorecard_rescore_read_and_wrong_ids(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    operator = make_user("operator")
    with ctx.sessionmaker() as s:
        recent = datetime.now(UTC) - timedelta(minutes=5)  # operators read their calls for some hours
        call_id = store_fire_call(s, operator_id=operator.id, t0=recent).id
    qa = _headers(token_for, make_user("qa"))
    missing = client.get(f"/api/calls/{call_id}/scorecard", headers=qa)
    assert missing.status_code == 404 and "has not been scored yet" in missing.json()["detail"]
    for method in ("GET", "POST"):
        wrong = client.request(method, "/api/calls/987654/scorecard", headers=qa)
        assert wrong.status_code == 404 and wrong.json()["detail"] == "Call 987654 does not exist."
    made = client.post(f"/api/calls/{call_id}/scorecard", headers=qa)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["rule_set_version"] == 0 and (body["checks"], body["failed"]) == (7, 0)
    greeting = next(r for r in body["results"] if r["rule"] == "greeting")
    assert greeting["name_kk"].startswith("Оператор") and "здоровается" in greeting["name_ru"]
    assert greeting["outcome"] == "passed" and greeting["at_s"] == pytest.approx(1.7)
    # the operator who took the call reads its scorecard; another operator may not
    own = client.get(f"/api/calls/{call_id}/scorecard", headers=_headers(token_for, operator))
    assert own.status_code == 200 and own.json()["id"] == body["id"]
    other = client.get(f"/api/calls/{call_id}/scorecard", headers=_headers(token_for, make_user("operator")))
    assert other.status_code == 403
    refused = client.post(f"/api/calls/{call_id}/scorecard", headers=_headers(token_for, make_user("supervisor")))
    assert refused.status_code == 403 and _count(ctx, QaScorecard) == 1


@BOTH
def test_a_correction_rescores_the_call(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    with ctx.sessionmaker() as s:
        call_id = store_fire_call(s).id
        greeting = s.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.call_id == call_id, TranscriptSegment.speaker == "operator")
            .order_by(TranscriptSegment.start_s)
        ).first()
        assert greeting is not None
        greeting_id = greeting.id
    qa = _headers(token_for, make_user("qa"))
    assert client.post(f"/api/calls/{call_id}/scorecard", headers=qa).json()["failed"] == 0
    corrected = client.post(
        f"/api/segments/{greeting_id}/corrections", json={"text": "алло слушаю не знаю"}, headers=qa
    )
    assert corrected.status_code == 201, corrected.text
    after = client.get(f"/api/calls/{call_id}/scorecard", headers=qa).json()
    outcomes = {r["rule"]: r["outcome"] for r in after["results"]}
    assert outcomes["greeting"] == "failed" and outcomes["forbidden_phrase"] == "failed"
    assert after["failed"] == 2 and _count(ctx, QaScorecard) == 2


@BOTH
def test_a_live_call_is_not_rescored(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="live.9", started_at=T0)
        calls.mark_answered(s, uniqueid="live.9", at=T0)
        call_id = call.id
    answer = client.post(f"/api/calls/{call_id}/scorecard", headers=_headers(token_for, make_user("qa")))
    assert answer.status_code == 409 and "still in progress" in answer.json()["detail"]
    assert _count(ctx, QaScorecard) == 0
