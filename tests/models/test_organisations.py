"""models.repo.organisations on SQLite and PostgreSQL: the directory replaced by code, audited, idempotent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.handover import Organisation, RoutingRule
from models.records import AuditEvent
from models.repo import organisations as repo

ACTOR = "system:test"


def org(code: str, **values: Any) -> dict[str, Any]:
    base = {
        "code": code,
        "name_kk": f"{code} kk",
        "name_ru": f"{code} ru",
        "services": ["heating_utility"],
        "phone": None,
        "email": None,
        "address": None,
        "working_hours": {"mon": "08:00-18:00"},
        "receives": ["inbox"],
        "active": True,
    }
    return base | values


def rule(code: str, organisation: str, **values: Any) -> dict[str, Any]:
    base = {
        "code": code,
        "organisation": organisation,
        "services": ["heating_utility"],
        "topics": [],
        "districts": [],
        "street": None,
        "houses": [],
        "named_object": None,
        "fallback": False,
        "active": True,
        "note": None,
    }
    return base | values


def audit_trail(session: Session) -> list[tuple[str, str, str | None]]:
    rows = session.execute(select(AuditEvent.entity, AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.id))
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_sync_creates_then_changes_nothing_on_the_same_input(session: Session) -> None:
    orgs = [org("heat-east"), org("heat-west", services=["heating_utility", "water_utility"])]
    rules = [
        rule("east", "heat-east", districts=["yesil"], houses=["1-99 odd"], street="проспект Абая"),
        rule("fallback", "heat-west", fallback=True),
    ]
    changes = repo.sync_directory(session, organisations=orgs, rules=rules, actor=ACTOR)
    session.commit()
    assert [(c.entity, c.code, c.action) for c in changes] == [
        ("organisation", "heat-east", "create"),
        ("organisation", "heat-west", "create"),
        ("routing_rule", "east", "create"),
        ("routing_rule", "fallback", "create"),
    ]
    stored = repo.list_rules(session)
    assert [(r.code, r.position, r.organisation.code) for r in stored] == [
        ("east", 1, "heat-east"),
        ("fallback", 2, "heat-west"),
    ]
    assert stored[0].houses == ["1-99 odd"] and stored[0].districts == ["yesil"] and stored[1].fallback
    west = repo.get_organisation(session, code="heat-west")
    assert west.services == ["heating_utility", "water_utility"] and west.working_hours == {"mon": "08:00-18:00"}
    assert west.created_at.tzinfo is not None
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.entity, e.action, e.actor) for e in events] == [
        ("organisation", "create", ACTOR),
        ("organisation", "create", ACTOR),
        ("routing_rule", "create", ACTOR),
        ("routing_rule", "create", ACTOR),
    ]
    assert events[2].after is not None and events[2].after["organisation"] == "heat-east"
    assert events[2].entity_id == stored[0].id

    again = repo.sync_directory(session, organisations=orgs, rules=rules, actor=ACTOR)
    session.commit()
    assert again == []
    assert len(audit_trail(session)) == 4


def test_sync_updates_moves_deletes_and_deactivates(session: Session) -> None:
    repo.sync_directory(
        session,
        organisations=[org("a"), org("b"), org("c")],
        rules=[
            rule("r1", "a", districts=["yesil"]),
            rule("r2", "b", districts=["nura"]),
            rule("r3", "c", fallback=True),
        ],
        actor=ACTOR,
    )
    session.commit()
    changes = repo.sync_directory(
        session,
        organisations=[org("a", phone="+7 7172 000000"), org("b")],
        rules=[rule("r2", "a", districts=["nura"]), rule("r1", "a", districts=["yesil"])],
        actor=ACTOR,
        user_id=None,
    )
    session.commit()
    summary = {(c.entity, c.code, c.action): c.after for c in changes}
    assert summary[("organisation", "a", "update")] == {"phone": "+7 7172 000000"}
    assert summary[("organisation", "c", "deactivate")] == {"active": False}
    assert ("routing_rule", "r3", "delete") in summary
    assert summary[("routing_rule", "r2", "update")] == {"position": 1, "organisation": "a"}
    assert summary[("routing_rule", "r1", "update")] == {"position": 2}
    assert len(changes) == 5
    assert [(r.code, r.organisation.code) for r in repo.list_rules(session)] == [("r2", "a"), ("r1", "a")]
    c = repo.get_organisation(session, code="c")
    assert c.active is False  # kept, not deleted
    assert session.scalar(select(RoutingRule).where(RoutingRule.code == "r3")) is None
    deleted = session.scalars(select(AuditEvent).where(AuditEvent.action == "delete")).one()
    assert deleted.entity == "routing_rule" and deleted.before is not None and deleted.before["organisation"] == "c"


def test_a_rolled_back_sync_leaves_nothing(session: Session) -> None:
    repo.sync_directory(session, organisations=[org("a")], rules=[rule("r1", "a", fallback=True)], actor=ACTOR)
    session.rollback()
    assert session.scalars(select(Organisation)).all() == []
    assert session.scalars(select(AuditEvent)).all() == []
