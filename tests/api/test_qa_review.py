"""QA review of the automatic checks on hand-made scorecards: the queue's order and filters, the weekly sample
(idempotent, reproducible, topped up), verdicts and the precision they measure, per-operator trends; on SQLite
and PostgreSQL. Bad input answers 4xx and writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from models.quality import QaJudgment, QaRuleSet, QaSample, QaScorecard
from models.records import Call
from models.repo import qa_sampling
from models.repo.qa_sampling import IsoWeek

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
ALMATY = ZoneInfo("Asia/Almaty")
RULES = [
    {"id": "greeting", "name_kk": "Сәлемдесу", "name_ru": "Приветствие"},
    {"id": "silence", "name_kk": "Ұзақ үнсіздік", "name_ru": "Долгая тишина"},
]


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _call(s: Any, *, operator_id: int | None, started_at: datetime, ended: bool = True) -> int:
    call = Call(
        uniqueid=uuid.uuid4().hex,
        caller_number="+77015550000",
        state="ended" if ended else "live",
        started_at=started_at,
        answered_at=started_at,
        ended_at=started_at + timedelta(minutes=3) if ended else None,
        operator_id=operator_id,
    )
    s.add(call)
    s.flush()
    return int(call.id)


def _result(rule: str, outcome: str, at_s: float | None = None, evidence: str = "") -> dict[str, Any]:
    return {"rule": rule, "outcome": outcome, "at_s": at_s, "evidence": evidence}


def _scorecard(
    s: Any,
    call_id: int,
    operator_id: int | None,
    results: list[dict[str, Any]],
    *,
    emergency: str | None = None,
    conf: float | None = 0.9,
    version: int = 1,
) -> int:
    card = QaScorecard(
        call_id=call_id,
        operator_id=operator_id,
        rule_set_version=version,
        asr_model_version="vosk-small-ru-0.22",
        classifier_model_version="test-1",
        results=results,
        checks=len(results),
        failed=sum(1 for r in results if r["outcome"] == "failed"),
        asr_confidence=conf,
        emergency=emergency,
    )
    s.add(card)
    s.flush()
    return int(card.id)


def _count(ctx: Any, model: Any) -> int:
    with ctx.sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# ------------------------------------------------------------------------------------------------- queue


@BOTH
def test_queue_is_worst_first_with_filters_and_paging(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    a, b = make_user("operator", full_name="Айгерім"), make_user("operator", full_name="Данияр")
    qa = _h(token_for(make_user("qa")))
    day = datetime(2026, 12, 9, 6, 0, tzinfo=UTC)
    with ctx.sessionmaker() as s:
        s.add(QaRuleSet(version=1, rules=RULES))
        c = {n: _call(s, operator_id=a.id if n % 2 else b.id, started_at=day + timedelta(hours=n)) for n in range(1, 7)}
        _scorecard(s, c[1], a.id, [_result("greeting", "failed"), _result("silence", "failed")], conf=0.9)
        _scorecard(
            s, c[2], b.id, [_result("greeting", "failed"), _result("silence", "failed")], emergency="101", conf=0.95
        )
        _scorecard(s, c[3], a.id, [_result("greeting", "passed")], conf=0.3)
        _scorecard(s, c[4], b.id, [_result("greeting", "passed")], conf=None)
        # c5: an older scorecard with 3 failures is no longer in force; the newest has 1 ("greeting").
        _scorecard(s, c[5], a.id, [_result("readback", "failed"), _result("silence", "failed"), _result("x", "failed")])
        _scorecard(s, c[5], a.id, [_result("greeting", "failed"), _result("readback", "passed")], conf=0.5)
        _scorecard(s, c[6], b.id, [_result("readback", "failed")], conf=0.4)
        s.add(QaSample(week="2026-W50", operator_id=a.id, call_id=c[3]))
        s.commit()

    r = client.get("/api/qa/queue", headers=qa)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 6
    assert [i["call_id"] for i in body["items"]] == [c[2], c[1], c[6], c[5], c[3], c[4]]
    first = body["items"][0]
    assert first["failed"] == 2 and first["emergency"] == "101" and first["operator_name"] == "Данияр"
    assert first["failed_rules"] == [
        {"id": "greeting", "name_kk": "Сәлемдесу", "name_ru": "Приветствие"},
        {"id": "silence", "name_kk": "Ұзақ үнсіздік", "name_ru": "Долгая тишина"},
    ]
    # A rule the rule set does not name keeps its id as its name.
    assert body["items"][2]["failed_rules"] == [{"id": "readback", "name_kk": "readback", "name_ru": "readback"}]
    assert body["items"][4]["sample_state"] == "pending" and body["items"][4]["sample_week"] == "2026-W50"

    def ids(**query: Any) -> list[int]:
        answer = client.get("/api/qa/queue", params=query, headers=qa)
        assert answer.status_code == 200, answer.text
        return [i["call_id"] for i in answer.json()["items"]]

    assert ids(operator_id=a.id) == [c[1], c[5], c[3]]
    assert ids(failed_rule="greeting") == [c[2], c[1], c[5]]
    assert ids(failed_rule="readback") == [c[6]], "c5's readback failure is in an old scorecard only"
    assert ids(sampled="true") == [c[3]]
    assert ids(date_from=(day + timedelta(hours=3)).isoformat(), date_to=(day + timedelta(hours=5)).isoformat()) == [
        c[3],
        c[4],
    ]
    page = client.get("/api/qa/queue", params={"limit": 2, "offset": 2}, headers=qa).json()
    assert page["total"] == 6 and [i["call_id"] for i in page["items"]] == [c[6], c[5]]

    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"date_from": "yesterday"}, {"operator_id": 0}):
        answer = client.get("/api/qa/queue", params=bad, headers=qa)
        assert answer.status_code == 422 and "detail" in answer.json(), bad
    assert client.get("/api/qa/queue", headers=_h(token_for(make_user("operator")))).status_code == 403


# ---------------------------------------------------------------------------------------------- sampling


def _week_calls(ctx: Any, a: int, b: int) -> dict[str, list[int]]:
    """2026-W50 (7-13 Dec, Almaty): 7 ended calls of a, 3 of b, one without an operator, one of a still live;
    one of a ended in W49."""
    monday = datetime.combine(date(2026, 12, 7), time(9), tzinfo=ALMATY)
    out: dict[str, list[int]] = {"a": [], "b": [], "other": []}
    with ctx.sessionmaker() as s:
        for n in range(7):
            out["a"].append(_call(s, operator_id=a, started_at=monday + timedelta(hours=n * 20)))
        for n in range(3):
            out["b"].append(_call(s, operator_id=b, started_at=monday + timedelta(hours=n * 30)))
        out["other"].append(_call(s, operator_id=None, started_at=monday))
        out["other"].append(_call(s, operator_id=a, started_at=monday, ended=False))
        out["other"].append(_call(s, operator_id=a, started_at=monday - timedelta(days=2)))
        s.commit()
    return out


def _drawn(ctx: Any) -> dict[int, list[int]]:
    with ctx.sessionmaker() as s:
        rows = s.execute(select(QaSample.operator_id, QaSample.call_id).order_by(QaSample.id)).all()
    out: dict[int, list[int]] = {}
    for operator_id, call_id in rows:
        out.setdefault(int(operator_id), []).append(int(call_id))
    return out


@BOTH
def test_sampling_tops_up_is_reproducible_and_never_duplicates(ctx: Any, make_user: Any) -> None:
    a, b = make_user("operator"), make_user("operator")
    calls = _week_calls(ctx, a.id, b.id)
    week = IsoWeek.parse("2026-W50")
    with ctx.sessionmaker() as s:
        first = qa_sampling.draw(s, week, per_operator=2, zone=ALMATY)
    assert first.totals == {a.id: 2, b.id: 2} and len(first.added) == 4
    with ctx.sessionmaker() as s:
        again = qa_sampling.draw(s, week, per_operator=2, zone=ALMATY)
    assert again.added == [] and again.totals == {a.id: 2, b.id: 2}
    with ctx.sessionmaker() as s:
        topped = qa_sampling.draw(s, week, per_operator=5, zone=ALMATY)
    assert topped.totals == {a.id: 5, b.id: 3} and len(topped.added) == 4  # a: +3; b has only 3 calls: +1
    stepwise = _drawn(ctx)
    assert sorted(stepwise[a.id]) != [] and set(stepwise[a.id]) <= set(calls["a"])
    assert sorted(stepwise[b.id]) == sorted(calls["b"])
    assert len({c for cs in stepwise.values() for c in cs}) == 8, "no call drawn twice"
    # Reproducible: the same calls drawn again from nothing give the same sample, and topping 2 up to 5 drew what
    # drawing 5 at once draws (the seeded order of the operator's calls).
    assert stepwise[a.id] == qa_sampling.draw_order(week, a.id, calls["a"])[:5]
    with ctx.sessionmaker() as s:
        s.execute(delete(QaSample))
        s.commit()
        qa_sampling.draw(s, week, per_operator=5, zone=ALMATY)
    assert {k: sorted(v) for k, v in _drawn(ctx).items()} == {k: sorted(v) for k, v in stepwise.items()}
    # Another week's seed orders the same calls differently (a different sample, not a fixed one).
    assert qa_sampling.draw_order(IsoWeek.parse("2026-W51"), a.id, calls["a"]) != qa_sampling.draw_order(
        week, a.id, calls["a"]
    )


@BOTH
def test_cli_draws_the_weeks_sample(ctx: Any, make_user: Any, api_db: str) -> None:
    from click.testing import CliRunner

    from callcard.cli import cli

    a, b = make_user("operator"), make_user("operator")
    calls = _week_calls(ctx, a.id, b.id)
    bad = CliRunner().invoke(cli, ["qa-sample", "--week", "2026-W60", "--url", api_db])
    assert bad.exit_code == 2 and "2026 has no ISO week 60" in bad.output
    assert _count(ctx, QaSample) == 0
    first = CliRunner().invoke(cli, ["qa-sample", "--week", "2026-W50", "--per-operator", "2", "--url", api_db])
    assert first.exit_code == 0, first.output
    assert "2026-W50: 4 calls added, 2 per operator" in first.output
    again = CliRunner().invoke(cli, ["qa-sample", "--week", "2026-W50", "--per-operator", "2", "--url", api_db])
    assert "2026-W50: 0 calls added" in again.output
    assert _drawn(ctx)[a.id] == qa_sampling.draw_order(IsoWeek.parse("2026-W50"), a.id, calls["a"])[:2]


@BOTH
def test_sample_routes_draw_list_review_and_refuse_bad_weeks(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    a, b = make_user("operator"), make_user("operator")
    calls = _week_calls(ctx, a.id, b.id)
    reviewer = make_user("supervisor")
    sup = _h(token_for(reviewer))
    for bad in ({"week": "2026-W54"}, {"week": "2026-50"}, {"week": "W50"}, {"week": 50}, {"weeks": "2026-W50"}):
        answer = client.post("/api/qa/samples", json=bad, headers=sup)
        assert answer.status_code == 422 and "detail" in answer.json(), bad
    assert client.get("/api/qa/samples", params={"week": "2026-W00"}, headers=sup).status_code == 422
    assert _count(ctx, QaSample) == 0

    r = client.post("/api/qa/samples", json={"week": "2026-W50"}, headers=sup)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["per_operator"] == 5 and len(body["added"]) == 8
    assert body["totals"] == sorted(
        [{"operator_id": a.id, "calls": 5}, {"operator_id": b.id, "calls": 3}], key=lambda x: x["operator_id"]
    )
    assert client.post("/api/qa/samples", json={"week": "2026-W50"}, headers=sup).json()["added"] == []
    assert _count(ctx, QaSample) == 8

    listed = client.get("/api/qa/samples", params={"week": "2026-W50"}, headers=sup).json()
    assert listed["week"] == "2026-W50" and len(listed["samples"]) == 8
    assert {s["call_id"] for s in listed["samples"]} <= set(calls["a"] + calls["b"])
    assert all(s["state"] == "pending" for s in listed["samples"])
    sample_id = listed["samples"][0]["id"]
    done = client.post(f"/api/qa/samples/{sample_id}/reviewed", headers=sup)
    assert done.status_code == 200 and done.json()["state"] == "reviewed"
    assert done.json()["reviewed_by_id"] == reviewer.id
    later = client.post(f"/api/qa/samples/{sample_id}/reviewed", headers=_h(token_for(make_user("qa"))))
    assert later.json()["reviewed_by_id"] == reviewer.id and later.json()["reviewed_at"] == done.json()["reviewed_at"]
    assert client.post("/api/qa/samples/999999/reviewed", headers=sup).status_code == 404
    assert client.post("/api/qa/samples/0/reviewed", headers=sup).status_code == 422
    operator = _h(token_for(make_user("operator")))
    assert client.post("/api/qa/samples", json={"week": "2026-W51"}, headers=operator).status_code == 403
    assert client.get("/api/qa/samples", params={"week": "2026-W51"}, headers=sup).json()["samples"] == []


# -------------------------------------------------------------------------------------- verdicts, precision


@BOTH
def test_verdicts_measure_each_rules_precision(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    op = make_user("operator")
    q1, q2 = make_user("qa"), make_user("qa")
    h1, h2 = _h(token_for(q1)), _h(token_for(q2))
    start = datetime(2026, 12, 9, 6, 0, tzinfo=UTC)
    with ctx.sessionmaker() as s:
        s.add(QaRuleSet(version=1, rules=RULES))
        calls = [_call(s, operator_id=op.id, started_at=start + timedelta(minutes=n)) for n in range(4)]
        sc1 = _scorecard(
            s, calls[0], op.id, [_result("greeting", "failed", 4.5, "«алло»"), _result("silence", "failed")]
        )
        sc2 = _scorecard(s, calls[1], op.id, [_result("greeting", "failed"), _result("silence", "passed")])
        sc3 = _scorecard(s, calls[2], op.id, [_result("greeting", "passed"), _result("silence", "not_applicable")])
        sc4 = _scorecard(s, calls[3], op.id, [_result("greeting", "failed")], version=2)
        s.commit()

    def judge(headers: dict[str, str], sc: int, rule: str, verdict: str, **extra: Any) -> Any:
        return client.post(
            f"/api/qa/scorecards/{sc}/judgments", json={"rule": rule, "verdict": verdict, **extra}, headers=headers
        )

    # Refusals first: none of them writes.
    assert judge(h1, 999999, "greeting", "agree").status_code == 404
    missing = judge(h1, sc1, "readback", "agree")
    assert missing.status_code == 404 and "readback" in missing.json()["detail"]
    assert judge(h1, sc1, "greeting", "maybe").status_code == 422
    assert judge(h1, sc1, "greeting", "agree", extra=1).status_code == 422
    assert judge(h1, sc1, "", "agree").status_code == 422
    assert judge(h1, sc1, "greeting", "agree", note="x" * 1001).status_code == 422
    assert judge(_h(token_for(make_user("supervisor"))), sc1, "greeting", "agree").status_code == 403
    assert judge(_h(token_for(op)), sc1, "greeting", "agree").status_code == 403
    assert _count(ctx, QaJudgment) == 0

    r = judge(h1, sc1, "greeting", "agree", note="оператор сказал «алло»")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "failed" and r.json()["verdict"] == "agree" and r.json()["user_id"] == q1.id
    assert judge(h2, sc1, "greeting", "agree").status_code == 200
    assert judge(h1, sc2, "greeting", "agree").status_code == 200
    assert judge(h1, sc2, "greeting", "disagree", note="сәлеметсіз бе деді").status_code == 200  # changed, not added
    assert judge(h1, sc3, "greeting", "agree").status_code == 200
    assert judge(h2, sc1, "silence", "disagree").status_code == 200
    assert judge(h1, sc2, "silence", "disagree").status_code == 200
    assert judge(h2, sc2, "silence", "agree").status_code == 200
    assert judge(h1, sc3, "silence", "agree").status_code == 200  # not_applicable: stored, not in precision
    assert judge(h1, sc4, "greeting", "disagree").status_code == 200
    assert _count(ctx, QaJudgment) == 9
    with ctx.sessionmaker() as s:
        changed = s.scalars(
            select(QaJudgment).where(QaJudgment.scorecard_id == sc2, QaJudgment.rule == "greeting")
        ).one()
        assert changed.verdict == "disagree" and changed.note == "сәлеметсіз бе деді"

    precision = client.get("/api/qa/rules/precision", headers=h1).json()["rules"]
    by_rule = {row["rule"]: row for row in precision}
    greeting = by_rule["greeting"]
    assert greeting["name_kk"] == "Сәлемдесу" and greeting["name_ru"] == "Приветствие"
    # greeting failed: sc1 agree x2, sc2 disagree, sc4 disagree -> 2 of 4; passed: sc3 agree -> 1 of 1
    assert greeting["failed"] == {"judged": 4, "agreed": 2, "share": 0.5}
    assert greeting["passed"] == {"judged": 1, "agreed": 1, "share": 1.0}
    # silence failed: sc1 disagree -> 0 of 1; passed: sc2 disagree + agree -> 1 of 2
    assert by_rule["silence"]["failed"] == {"judged": 1, "agreed": 0, "share": 0.0}
    assert by_rule["silence"]["passed"] == {"judged": 2, "agreed": 1, "share": 0.5}
    v1 = client.get("/api/qa/rules/precision", params={"rule_set_version": 1}, headers=h1).json()["rules"]
    assert {r["rule"]: r["failed"] for r in v1}["greeting"] == {"judged": 3, "agreed": 2, "share": 2 / 3}
    assert client.get("/api/qa/rules/precision", params={"rule_set_version": 0}, headers=h1).status_code == 422

    review = client.get(f"/api/qa/calls/{calls[1]}/review", headers=h1).json()
    assert review["scorecard"]["id"] == sc2 and review["sample"] is None
    results = {x["rule"]: x for x in review["scorecard"]["results"]}
    assert results["greeting"]["my_verdict"] == "disagree" and results["greeting"]["my_note"] == "сәлеметсіз бе деді"
    assert results["silence"]["agreed"] == 1 and results["silence"]["disagreed"] == 1
    first = client.get(f"/api/qa/calls/{calls[0]}/review", headers=h2).json()["scorecard"]["results"][0]
    assert first["at_s"] == 4.5 and first["evidence"] == "«алло»" and first["name_ru"] == "Приветствие"
    assert first["my_verdict"] == "agree" and first["agreed"] == 2
    assert client.get("/api/qa/calls/999999/review", headers=h1).status_code == 404


@BOTH
def test_evidence_with_personal_numbers_is_masked_for_supervisors_and_logged_for_qa(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    from models.privacy import AccessLogEntry

    op = make_user("operator")
    with ctx.sessionmaker() as s:
        call = _call(s, operator_id=op.id, started_at=datetime(2026, 12, 9, 6, 0, tzinfo=UTC))
        _scorecard(s, call, op.id, [_result("forbidden", "failed", 12.0, "перезвоните на 8 701 123 45 67 пожалуйста")])
        s.commit()
    sup = client.get(f"/api/qa/calls/{call}/review", headers=_h(token_for(make_user("supervisor")))).json()
    assert sup["scorecard"]["results"][0]["evidence"] == "перезвоните на <phone> пожалуйста"
    assert _count(ctx, AccessLogEntry) == 0
    qa = client.get(f"/api/qa/calls/{call}/review", headers=_h(token_for(make_user("qa")))).json()
    assert qa["scorecard"]["results"][0]["evidence"] == "перезвоните на 8 701 123 45 67 пожалуйста"
    with ctx.sessionmaker() as s:
        logged = s.scalars(select(AccessLogEntry)).all()
        assert [(e.kind, e.call_id, e.role) for e in logged] == [("unmasked_transcript", call, "qa")]


# ------------------------------------------------------------------------------------------------ trends


def _wednesday_noon(weeks_ago: int) -> datetime:
    today = datetime.now(UTC).astimezone(ALMATY).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks_ago)
    return datetime.combine(monday + timedelta(days=2), time(12), tzinfo=ALMATY)


@BOTH
def test_trends_per_operator_per_week(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    a, b = make_user("operator", full_name="Айгерім"), make_user("operator", full_name="Данияр")
    this, last, old = _wednesday_noon(0), _wednesday_noon(1), _wednesday_noon(3)
    with ctx.sessionmaker() as s:
        s.add(QaRuleSet(version=1, rules=RULES))
        # a, this week: 3 calls, one with a failed check; greeting failed 1 of 3, silence applied twice, failed 0.
        c = _call(s, operator_id=a.id, started_at=this)
        _scorecard(s, c, a.id, [_result("greeting", "failed"), _result("silence", "failed")])  # superseded below
        _scorecard(s, c, a.id, [_result("greeting", "failed"), _result("silence", "passed")])
        c = _call(s, operator_id=a.id, started_at=this + timedelta(hours=1))
        _scorecard(s, c, a.id, [_result("greeting", "passed"), _result("silence", "not_applicable")])
        c = _call(s, operator_id=a.id, started_at=this + timedelta(hours=2))
        _scorecard(s, c, a.id, [_result("greeting", "passed"), _result("silence", "passed")])
        # a, last week: 2 calls, both failed silence.
        for n in range(2):
            c = _call(s, operator_id=a.id, started_at=last + timedelta(hours=n))
            _scorecard(s, c, a.id, [_result("greeting", "passed"), _result("silence", "failed")])
        # a, three weeks ago: outside a 2-week window.
        c = _call(s, operator_id=a.id, started_at=old)
        _scorecard(s, c, a.id, [_result("greeting", "failed")])
        # b, this week: 1 call, greeting failed. A call without operator is in nobody's row.
        c = _call(s, operator_id=b.id, started_at=this)
        _scorecard(s, c, b.id, [_result("greeting", "failed")])
        c = _call(s, operator_id=None, started_at=this)
        _scorecard(s, c, None, [_result("greeting", "failed")])
        s.commit()
    this_week, last_week = str(IsoWeek.of(this, ALMATY)), str(IsoWeek.of(last, ALMATY))

    r = client.get(
        "/api/stats/operators/qa-trends", params={"weeks": 2}, headers=_h(token_for(make_user("supervisor")))
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weeks"] == [last_week, this_week]
    assert body["rules"] == RULES
    rows = {o["name"]: o for o in body["operators"]}
    assert sorted(rows) == ["Айгерім", "Данияр"]
    a_last, a_this = rows["Айгерім"]["weeks"]
    assert (a_this["calls"], a_this["with_failed"], a_this["failed_share"]) == (3, 1, 1 / 3)
    assert a_this["rules"]["greeting"] == {"failed": 1, "applicable": 3, "rate": 1 / 3}
    assert a_this["rules"]["silence"] == {"failed": 0, "applicable": 2, "rate": 0.0}
    assert (a_last["calls"], a_last["with_failed"], a_last["failed_share"]) == (2, 2, 1.0)
    assert a_last["rules"]["silence"] == {"failed": 2, "applicable": 2, "rate": 1.0}
    b_last, b_this = rows["Данияр"]["weeks"]
    assert b_last == {"week": last_week, "calls": 0, "with_failed": 0, "failed_share": None, "rules": {}}
    assert (b_this["calls"], b_this["failed_share"]) == (1, 1.0)
    wide = client.get("/api/stats/operators/qa-trends", params={"weeks": 4}, headers=_h(token_for(make_user("qa"))))
    assert sum(w["calls"] for w in {o["name"]: o for o in wide.json()["operators"]}["Айгерім"]["weeks"]) == 6

    # An operator sees only their own row.
    own = client.get("/api/stats/operators/qa-trends", params={"weeks": 2}, headers=_h(token_for(a))).json()
    assert [o["operator_id"] for o in own["operators"]] == [a.id]
    assert own["operators"][0]["weeks"][1]["calls"] == 3
    assert client.get("/api/stats/operators/qa-trends", headers=_h(token_for(make_user("executor")))).status_code == 403
    sup = _h(token_for(make_user("admin")))
    for bad in (0, 27, "x"):
        answer = client.get("/api/stats/operators/qa-trends", params={"weeks": bad}, headers=sup)
        assert answer.status_code == 422 and "detail" in answer.json()
