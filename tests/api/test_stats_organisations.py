"""GET /api/stats/organisations: per organisation and topic, of the cards handed over in a period, against numbers
worked out by hand, on SQLite and PostgreSQL; the backlog now; the period's edges; who may ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.handover import Organisation
from models.records import Card

T = datetime(2026, 3, 10, tzinfo=UTC)  # every card of the period is handed over at this moment
H = timedelta(hours=1)
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}


def _org(s: Any, code: str, *, active: bool = True) -> int:
    org = Organisation(
        code=code,
        name_kk=f"{code} ұйымы",
        name_ru=f"организация {code}",
        services=["heating_utility"],
        receives=["inbox"],
        deadline_hours={},
        active=active,
    )
    s.add(org)
    s.flush()
    return int(org.id)


def _card(s: Any, org: int, topic: str, status: str, **kw: Any) -> None:
    s.add(Card(organisation_id=org, topic=topic, status=status, priority="normal", **kw))


def _seed(ctx: Any) -> dict[str, int]:
    now = datetime.now(UTC)
    with ctx.sessionmaker() as s:
        a, b, c = _org(s, "a-water"), _org(s, "b-heat"), _org(s, "c-idle")
        _org(s, "d-closed", active=False)
        # Organisation a.
        _card(s, a, "hot_water", "resolved", routed_at=T, due_at=T + 24 * H, resolved_at=T + 10 * H)  # on time, 10 h
        _card(s, a, "hot_water", "closed", routed_at=T, due_at=T + 24 * H, resolved_at=T + 30 * H)  # late, 30 h
        _card(s, a, "heating", "resolved", routed_at=T, due_at=T + 24 * H, resolved_at=T + 20 * H, reopen_count=1)
        _card(s, a, "heating", "in_progress", routed_at=T, due_at=now - H, deadline_stage="escalated")  # overdue
        _card(s, a, "hot_water", "returned", routed_at=T, due_at=T + 24 * H, return_count=1)  # returned, not in hand
        old = datetime(2026, 1, 5, tzinfo=UTC)  # handed over before the period: backlog only
        _card(s, a, "hot_water", "routed", routed_at=old, due_at=now + 2 * H, deadline_stage="due_soon")
        later = datetime(2026, 4, 2, tzinfo=UTC)  # handed over after the period and resolved: not counted
        _card(s, a, "hot_water", "resolved", routed_at=later, due_at=later + 24 * H, resolved_at=later + H)
        _card(s, a, "hot_water", "draft", routed_at=T)  # a draft is nobody's work
        # Organisation b: both on time.
        _card(s, b, "hot_water", "resolved", routed_at=T, due_at=T + 48 * H, resolved_at=T + 5 * H)
        _card(s, b, "hot_water", "closed", routed_at=T, due_at=T + 48 * H, resolved_at=T + 7 * H)
        s.commit()
    return {"a": a, "b": b, "c": c}


# The numbers of a row, in the order the expectations below list them.
KEYS = (
    "handed_over",
    "resolved",
    "resolved_on_time",
    "on_time_share",
    "median_hours_to_resolve",
    "returned",
    "reopened",
    "reopen_rate",
    "backlog",
    "overdue",
    "due_soon",
    "escalated",
)


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in KEYS}


def _expect(*values: Any) -> dict[str, Any]:
    return dict(zip(KEYS, values, strict=True))


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_numbers_per_organisation_and_topic(client: Any, ctx: Any, auth_headers: Any) -> None:
    ids = _seed(ctx)
    r = client.get("/api/stats/organisations", params=PERIOD, headers=auth_headers("supervisor"))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["on_time_goal"] == 0.9
    assert data["date_from"].startswith("2026-03-01T00:00:00") and data["date_to"].startswith("2026-04-01T00:00:00")
    rows = {row["organisation"]["code"]: row for row in data["organisations"]}
    assert list(rows) == ["a-water", "b-heat", "c-idle"]  # active ones, by code; the inactive one has no cards
    a, b, c = rows["a-water"], rows["b-heat"], rows["c-idle"]
    assert a["organisation"] == {
        "id": ids["a"],
        "code": "a-water",
        "name_kk": "a-water ұйымы",
        "name_ru": "организация a-water",
    }
    #          handed resolved on_time share median returned reopened rate backlog overdue due_soon escalated
    assert _numbers(a) == _expect(5, 3, 2, 2 / 3, 20.0, 1, 1, 1 / 3, 2, 1, 1, 1)
    assert a["meets_goal"] is False
    topics = {t["topic"]: t for t in a["topics"]}
    assert list(topics) == ["heating", "hot_water"]
    assert _numbers(topics["heating"]) == _expect(2, 1, 1, 1.0, 20.0, 0, 1, 1.0, 1, 1, 0, 1)
    assert _numbers(topics["hot_water"]) == _expect(3, 2, 1, 0.5, 20.0, 1, 0, 0.0, 1, 0, 1, 0)
    assert _numbers(b) == _expect(2, 2, 2, 1.0, 6.0, 0, 0, 0.0, 0, 0, 0, 0)
    assert b["meets_goal"] is True
    assert _numbers(c) == _expect(0, 0, 0, None, None, 0, 0, None, 0, 0, 0, 0)
    assert c["meets_goal"] is None and c["topics"] == []
    assert _numbers(data["totals"]) == _expect(7, 5, 4, 0.8, 10.0, 1, 1, 0.2, 2, 1, 1, 1)


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_the_default_period_is_the_last_30_days(client: Any, ctx: Any, auth_headers: Any) -> None:
    now = datetime.now(UTC)
    with ctx.sessionmaker() as s:
        org = _org(s, "e-now")
        _card(s, org, "heating", "resolved", routed_at=now - 2 * H, due_at=now + H, resolved_at=now - H)
        _card(s, org, "heating", "resolved", routed_at=now - timedelta(days=31), due_at=now, resolved_at=now - H)
        s.commit()
    r = client.get("/api/stats/organisations", headers=auth_headers("operator"))
    assert r.status_code == 200, r.text
    [row] = [x for x in r.json()["organisations"] if x["organisation"]["code"] == "e-now"]
    assert (row["handed_over"], row["resolved"], row["median_hours_to_resolve"], row["meets_goal"]) == (1, 1, 1.0, True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01"}, "from"),
        ({"from": "2026-03-05T10:00:00Z", "to": "2026-03-05T10:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "31.03.2026"}, "to"),
    ],
)
def test_a_bad_period_is_refused_with_a_sentence(client: Any, auth_headers: Any, params: Any, field: str) -> None:
    r = client.get("/api/stats/organisations", params=params, headers=auth_headers("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["detail"].endswith(".")


def test_an_executor_may_not_read_the_organisations_numbers(client: Any, auth_headers: Any) -> None:
    r = client.get("/api/stats/organisations", headers=auth_headers("executor"))
    assert r.status_code == 403
    assert "executor" in r.json()["detail"]
