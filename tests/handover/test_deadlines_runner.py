"""Deadline control on a clock the test sets, on SQLite and PostgreSQL: cards confirmed with short deadlines move
through due_soon, overdue, reminded and escalated once each, in order, each with its webhook event and audit
event; a restart between sweeps repeats nothing; a card resolved meanwhile is left alone; the periodic runner
sweeps on its own and stops cleanly."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handover.deadline_runner import DeadlineRunner, steps_from_hours
from handover.lifecycle import Lifecycle
from models.db import make_engine, make_sessionmaker
from models.handover import WebhookDelivery
from models.records import AuditEvent
from models.repo import cards
from tests.handover.webhook_harness import NOW, OP, confirm, make_org, until

# due in 1 h; due soon 30 min before; reminded 15 min after; escalated 30 min after
STEPS = steps_from_hours(due_soon=0.5, remind_after=0.25, escalate_after=0.5)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> Clock:
        self.now = NOW + timedelta(minutes=minutes)
        return self


async def moved_at(runner: DeadlineRunner, clock: Clock, minutes: float) -> dict[str, int]:
    """Set the clock to ``minutes`` after NOW and sweep: what moved."""
    clock.at(minutes)
    return (await runner.run_once()).moved


def _events(sessions: sessionmaker[Session], card_id: int) -> list[tuple[str, str | None]]:
    with sessions() as s:
        rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.card_id == card_id).order_by(WebhookDelivery.id))
        return [(r.event, json.loads(r.body)["reason"]) for r in rows]


def _audited(sessions: sessionmaker[Session], card_id: int) -> list[tuple[str, object, object]]:
    with sessions() as s:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "card", AuditEvent.entity_id == card_id, AuditEvent.action == "deadline")
            .order_by(AuditEvent.id)
        )
        return [(e.actor, (e.after or {}).get("deadline_stage"), (e.after or {}).get("reason")) for e in rows]


async def test_sweeps_move_each_card_once_in_order_across_a_restart(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        org = make_org(s, "heat", "http://127.0.0.1:9/hook", "k")
        watched = confirm(s, org.id, now=NOW, due_hours=1)
        resolved = confirm(s, org.id, now=NOW, due_hours=1)
        later = confirm(s, org.id, now=NOW, due_hours=5)
    clock = Clock(NOW)
    runner = DeadlineRunner(sessions=sessions, steps=STEPS, clock=clock)

    assert (await runner.run_once()).moved == {}
    assert await moved_at(runner, clock, 31) == {"due_soon": 2}
    with sessions() as s:  # the organisation reports this one done: deadline control leaves it alone
        cards.organisation_step(
            s, card_id=resolved.id, actor=OP, step="done", comment="Жөнделді", organisation_id=org.id
        )
    assert await moved_at(runner, clock, 61) == {"overdue": 1}
    engine.dispose()

    # a restart: a new engine and a new runner over the same database, at the same moment, repeat nothing
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    runner = DeadlineRunner(sessions=sessions, steps=STEPS, clock=clock)
    assert (await runner.run_once()).moved == {}
    assert await moved_at(runner, clock, 76) == {"reminded": 1}
    assert await moved_at(runner, clock, 95) == {"escalated": 1}
    assert await moved_at(runner, clock, 500) == {"escalated": 1}, "the 5 h card, at once"
    assert (await runner.run_once()).moved == {}

    assert _events(sessions, watched.id) == [
        ("card.routed", None),
        ("card.due_soon", "due_soon"),
        ("card.overdue", "overdue"),
        ("card.overdue", "reminded"),
        ("card.overdue", "escalated"),
    ]
    assert _audited(sessions, watched.id) == [
        ("system:deadlines", "due_soon", "due_soon"),
        ("system:deadlines", "overdue", "overdue"),
        ("system:deadlines", "reminded", "reminded"),
        ("system:deadlines", "escalated", "escalated"),
    ]
    assert [e for e, _ in _events(sessions, resolved.id)] == ["card.routed", "card.due_soon", "card.updated"]
    assert [stage for _, stage, _ in _audited(sessions, resolved.id)] == ["due_soon"]
    assert _events(sessions, later.id) == [("card.routed", None), ("card.overdue", "escalated")]
    with sessions() as s:
        assert cards.get_card(s, card_id=watched.id).deadline_stage == "escalated"
        assert (
            cards.get_card(s, card_id=resolved.id).deadline_stage == "due_soon"
            and cards.get_card(s, card_id=resolved.id).status == "resolved"
        )
    engine.dispose()


async def test_the_periodic_runner_sweeps_by_itself_and_stops(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        org = make_org(s, "heat", "http://127.0.0.1:9/hook", "k")
        card = confirm(s, org.id, now=NOW, due_hours=1)
    clock = Clock(NOW).at(62)
    runner = DeadlineRunner(sessions=sessions, steps=STEPS, interval_s=0.05, clock=clock)
    await runner.start()
    assert runner.state is Lifecycle.RUNNING

    def stage() -> str:
        with sessions() as s:
            return cards.get_card(s, card_id=card.id).deadline_stage

    try:
        await until(lambda: stage() == "overdue", within=20, what="the first periodic sweep")
        clock.at(100)
        await until(lambda: stage() == "escalated", within=20, what="a later periodic sweep")
        sweeps = runner.sweeps
        await until(lambda: runner.sweeps >= sweeps + 3, within=20, what="more sweeps")
    finally:
        await runner.stop()
    assert runner.state is Lifecycle.STOPPED and runner.failures == 0
    assert [e for e, _ in _events(sessions, card.id)] == ["card.routed", "card.overdue", "card.overdue"]
    engine.dispose()
