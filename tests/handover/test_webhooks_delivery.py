"""The webhook worker against a real HTTP receiver on a real socket, on SQLite and PostgreSQL: the receiver is down
(connection refused), then flaky (500s and timeouts at random), then fine; every event ends delivered, signed with
its organisation's secret, with the stored body byte for byte, under one delivery id (retries of the same id are
at-least-once duplicates and are counted); the database going down and coming back loses nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from sqlalchemy.orm import Session, sessionmaker

from handover.lifecycle import Lifecycle
from handover.webhook_outbox import on_new_rows
from handover.webhook_signing import USER_AGENT
from models.db import make_engine, make_sessionmaker
from models.repo import cards
from tests.calls.conftest import Outage
from tests.handover.webhook_harness import OP, Mode, Receiver, confirm, fast_worker, make_org, rows, states, until

SECRETS = {"heat": "heat-secret-" + "a" * 20, "water": "water-secret-" + "b" * 20}


def _assert_delivered_once_each(receiver: Receiver, sessions: sessionmaker[Session]) -> Counter[str]:
    stored = rows(sessions)
    assert stored and all(r.state == "delivered" for r in stored), Counter(r.state for r in stored)
    arrived = receiver.ids()
    # exactly the stored delivery ids arrived, no other id for any event; repeats are the same id
    assert set(arrived) == {r.delivery_id for r in stored}
    by_id = {r.delivery_id: r for r in stored}
    for got in receiver.got:
        row = by_id[got.delivery_id]
        assert got.signed, f"signature of {got.delivery_id} does not verify"
        assert got.body == row.body.encode("utf-8"), "the POSTed body is the stored body, byte for byte"
        assert got.event == row.event == json.loads(got.body)["event"]
        assert json.loads(got.body)["delivery_id"] == got.delivery_id
        assert got.user_agent == USER_AGENT and got.content_type == "application/json"
    return arrived


async def test_down_then_flaky_then_fine_delivers_every_event_under_one_id(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    receiver = Receiver(secrets=SECRETS, mode=Mode.FLAKY, hang_s=1.0)
    worker = fast_worker(sessions)
    woken: list[int] = []

    def wake() -> None:
        woken.append(1)
        worker.notify()

    on_new_rows(sessions, wake)
    with sessions() as s:
        heat = make_org(s, "heat", receiver.url, SECRETS["heat"])
        water = make_org(s, "water", receiver.url, SECRETS["water"])
    await worker.start()
    assert worker.state is Lifecycle.RUNNING
    try:
        # receiver down: every attempt is refused, rows stay pending with the error
        def write_events() -> None:
            with sessions() as s:
                for n in range(12):
                    card = confirm(s, heat.id if n % 2 else water.id, summary=f"Жылу жоқ №{n}")
                    if n % 3 == 0:
                        cards.organisation_step(s, card_id=card.id, actor=OP, step="note", comment="бригада жолда")

        await asyncio.to_thread(write_events)
        assert len(woken) == 16  # one wake-up per committed change that wrote rows
        await until(lambda: all(r.attempts >= 2 for r in rows(sessions)), what="two refused attempts of every event")
        assert all(r.state == "pending" and r.last_status is None for r in rows(sessions))
        assert any("Connect" in (r.last_error or "") for r in rows(sessions))
        assert receiver.got == []

        # flaky: some 500s, some answers slower than the 0.3 s timeout
        await receiver.start()
        await until(lambda: receiver.answered[500] >= 3 and len(receiver.ids()) >= 8, what="a flaky stretch")
        receiver.mode = Mode.FINE
        await until(lambda: states(sessions) == Counter(delivered=16), what="every event delivered")
    finally:
        await worker.stop()
        await receiver.stop()
        engine.dispose()
    assert worker.state is Lifecycle.STOPPED
    arrived = _assert_delivered_once_each(receiver, sessions)
    assert receiver.answered[500] >= 3
    duplicates = sum(n - 1 for n in arrived.values())
    print(f"16 events, {len(receiver.got)} requests, {duplicates} duplicate arrivals of the same id")  # noqa: T201
    assert all(r.attempts >= 3 for r in rows(sessions)), "each was refused twice before it could arrive"


def confirm_some(sessions: sessionmaker[Session], org_id: int, n: int) -> None:
    with sessions() as s:
        for _ in range(n):
            confirm(s, org_id)


@pytest.fixture
def outage(db_url: str, request: pytest.FixtureRequest, tmp_path: object) -> Outage:
    import shutil
    from pathlib import Path

    if db_url.startswith("sqlite"):
        folder = Path(str(tmp_path)) / "db"
        folder.mkdir()
        path = folder / "callcard.db"
        shutil.copyfile(db_url.split("///", 1)[1], path)
        return Outage(f"sqlite:///{path}")
    return Outage(db_url, str(request.getfixturevalue("pg_admin_url")))


async def test_the_worker_keeps_going_while_the_database_is_down(outage: Outage) -> None:
    engine = outage.engine()
    sessions = make_sessionmaker(engine)
    receiver = Receiver(secrets=SECRETS)
    await receiver.start()
    worker = fast_worker(sessions)
    with sessions() as s:
        heat = make_org(s, "heat", receiver.url, SECRETS["heat"])
    await worker.start()
    try:
        await asyncio.to_thread(confirm_some, sessions, heat.id, 1)
        await until(lambda: states(sessions) == Counter(delivered=1), what="the first event delivered")
        with outage.down():
            errors = worker.db_errors
            await until(lambda: worker.db_errors >= errors + 2, what="the worker noticing the outage")
            assert worker.state is Lifecycle.RUNNING
        await asyncio.to_thread(confirm_some, sessions, heat.id, 3)
        await until(lambda: states(sessions) == Counter(delivered=4), what="events after the outage delivered")
    finally:
        await worker.stop()
        await receiver.stop()
        engine.dispose()
    _assert_delivered_once_each(receiver, sessions)
