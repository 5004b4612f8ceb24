"""GET /api/stats/dashboard: volumes per hour and day, top topics, acceptance per field, emergencies, FCR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.repo import cards
from models.repo.cards import Actor
from tests.api.web_data import PROPOSAL, confirm, make_call


def test_dashboard_counts(client: Any, ctx: Any, operator_headers: Any) -> None:
    # Accepted unchanged; changed topic and service; an emergency transferred; one dismissed.
    _, _, a = make_call(ctx, caller="+77010000001", proposal=PROPOSAL)
    _, _, b = make_call(ctx, caller="+77010000002", proposal=PROPOSAL)
    _, _, c = make_call(
        ctx,
        caller="+77010000003",
        proposal={**PROPOSAL, "emergency": "104", "topic": "gas_supply", "service": "gas_utility"},
    )
    _, _, d = make_call(ctx, caller="+77010000004", proposal={**PROPOSAL, "emergency": "103"})
    make_call(ctx, caller="+77010000005")  # a call without a card
    assert a and b and c and d
    confirm(ctx, a)
    confirm(ctx, b, topic="heating", service="heating_utility")
    with ctx.sessionmaker() as s:
        cards.record_transfer(s, card_id=c, actor=Actor("op"), code="104")
        cards.dismiss_emergency(s, card_id=d, actor=Actor("op"), reason="соседи жарят")
    confirm(ctx, c)
    with ctx.sessionmaker() as s:
        cards.resolve_card(s, card_id=a, actor=Actor("op"), resolution="done", first_call_resolution=True)
        cards.resolve_card(s, card_id=b, actor=Actor("op"), resolution="done", first_call_resolution=False)

    r = client.get("/api/stats/dashboard", headers=operator_headers)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["timezone"] == ctx.settings.local_timezone
    assert len(data["per_hour"]) == 24 and len(data["per_day"]) == 7
    assert sum(h["calls"] for h in data["per_hour"]) == 5 == data["totals"]["calls_24h"]
    assert sum(d["cards"] for d in data["per_day"]) == 4 == data["totals"]["cards"]
    assert data["totals"]["confirmed"] == 3
    assert {t["topic"]: t["count"] for t in data["top_topics"]} == {"hot_water": 1, "heating": 1, "gas_supply": 1}
    acc = data["accepted_unchanged"]
    assert acc["topic"] == {"share": 2 / 3, "n": 3}
    assert acc["service"]["share"] == 1.0  # heating and hot_water share heating_utility
    assert acc["address"]["share"] == 1.0
    assert data["emergency"] == {"proposed": 2, "transferred": 1, "dismissed": 1, "by_code": {"103": 1, "104": 1}}
    # a: flagged yes, b: flagged no, c: unflagged, too young to know -> left out.
    assert data["first_call_resolution"] == {"share": 0.5, "n": 2}


def test_repeat_callers_count_against_first_call_resolution(client: Any, ctx: Any, qa_headers: Any) -> None:
    old = datetime.now(UTC) - timedelta(days=5)
    _, _, first = make_call(ctx, caller="+77010000009", proposal=PROPOSAL, started_at=old)
    _, _, again = make_call(ctx, caller="+77010000009", proposal=PROPOSAL)
    assert first and again
    with ctx.sessionmaker() as s:
        from models.records import Card

        s.get(Card, first).created_at = old
        s.commit()
    confirm(ctx, first)
    data = client.get("/api/stats/dashboard?days=30", headers=qa_headers).json()
    assert len(data["per_day"]) == 30
    assert data["first_call_resolution"] == {"share": 0.0, "n": 1}  # the caller called back within 7 days


def test_dashboard_refuses_bad_input_and_strangers(client: Any, operator_headers: Any) -> None:
    assert client.get("/api/stats/dashboard").status_code == 401
    r = client.get("/api/stats/dashboard?days=0", headers=operator_headers)
    assert r.status_code == 422 and "days" in r.json()["detail"]
    assert client.get("/api/stats/dashboard?days=abc", headers=operator_headers).status_code == 422
