"""POST /api/live/{call_key}/transfer: an emergency transfer by the call's key, through callcard's real telephony
(AriTransfer against the ARI peer), with the database up and with it really down (SQLite file gone, PostgreSQL
refusing connections). Nothing is recorded as done unless the caller was seen at the service, and a transfer made
during an outage is recorded once the database is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.context import ApiContext
from api.login_sessions import start_session
from api.security import create_access_token, hash_password
from calls.registry import CallRegistry
from calls.spool import Spool
from models.db import make_sessionmaker
from models.records import AuditEvent, Call, Card
from models.repo import calls, users
from telephony.ari import AriClient
from tests.api.ari_thread import ThreadedPeer
from tests.calls.conftest import Outage

SECRET = "test-secret-key-with-enough-length-0123456789"


@pytest.fixture
def stack(outage: Outage, settings: Any, taxonomy: Any, ari: ThreadedPeer, tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from calls.hub import CardHub

    engine = outage.engine()
    sessions = make_sessionmaker(engine)
    registry = CallRegistry(sessions, Spool(tmp_path / "spool"), retry_interval=0.1)
    ctx = ApiContext(
        settings=settings.model_copy(update={"secret_key": SECRET}),
        sessionmaker=sessions,
        taxonomy=taxonomy,
        hub=CardHub(),
        transfer=ari.transfer(),
        writer=registry,
    )
    with TestClient(create_app(ctx)) as client:
        client.portal.call(registry.start)
        yield client, ctx, registry
        client.portal.call(registry.stop)
        client.portal.call(ctx.transfer.client.aclose)  # type: ignore[union-attr]
    engine.dispose()


def _caller(ari: ThreadedPeer, ctx: ApiContext, number: str) -> tuple[str, dict[str, str]]:
    """A caller handed to the operators (out of Stasis), its call row, and an operator's headers."""
    uid = ari.run(lambda p: p.new_call(number))

    async def to_operators() -> None:
        client = AriClient(ari.peer.url, ari.peer.user, ari.peer.password, "callcard")
        await client.continue_in_dialplan(uid, context="operators", extension="s")
        await client.aclose()
        deadline = time.monotonic() + 2
        while ari.peer.channels[uid].json["dialplan"]["context"] != "operators":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

    ari.call(to_operators())
    with ctx.sessionmaker() as s:
        calls.get_or_create_call(s, uniqueid=uid, caller_number=number)
        calls.mark_answered(s, uniqueid=uid, at=datetime.now(UTC))
        user = users.create_user(s, username=f"op-{uid[-4:]}", role="operator", password_hash=hash_password("pw-1"))
        token = start_session(s, user=user, settings=ctx.settings, client="test")
    return uid, {"Authorization": f"Bearer {token}"}


def _until(predicate: Any, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _record(ctx: ApiContext, uid: str) -> tuple[str | None, str | None, list[str]]:
    with ctx.sessionmaker() as s:
        call = s.scalars(select(Call).where(Call.uniqueid == uid)).one()
        card = s.scalars(select(Card).where(Card.call_id == call.id)).first()
        if card is None:
            return call.transferred_to, None, []
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "card", AuditEvent.entity_id == card.id)
        ).all()
        return call.transferred_to, card.emergency_transferred_to, [a for a in actions if a.startswith("transfer")]


def test_transfer_by_key_is_seen_done_and_recorded(stack: Any, ari: ThreadedPeer) -> None:
    client, ctx, registry = stack
    uid, headers = _caller(ari, ctx, "+77017770101")
    started = time.monotonic()
    r = client.post(f"/api/live/{uid}/transfer", json={"code": "101"}, headers=headers)
    assert time.monotonic() - started < 2.0
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["code"], body["destination"], body["recorded"]) == ("101", "emergency,101,1", True)
    assert ari.where(uid) == ("emergency", "101")
    assert _record(ctx, uid) == ("101", "101", ["transfer_attempt", "transfer"])
    # Bad input is a clear 4xx and moves no one.
    assert client.post("/api/live/x%00y/transfer", json={"code": "101"}, headers=headers).status_code == 422
    assert client.post(f"/api/live/{uid}/transfer", json={"code": "109"}, headers=headers).status_code == 422
    assert client.post(f"/api/live/{uid}/transfer", json={"code": "101"}).status_code == 401


def test_a_transfer_during_a_database_outage_happens_and_is_recorded_after(
    stack: Any, ari: ThreadedPeer, outage: Outage
) -> None:
    client, ctx, registry = stack
    uid, headers = _caller(ari, ctx, "+77017770102")
    gone = ari.run(lambda p: p.new_call("+77017770103"))
    ari.run(lambda p: p.channels.pop(gone, None))  # a caller that hung up meanwhile
    with outage.down():
        started = time.monotonic()
        r = client.post(f"/api/live/{uid}/transfer", json={"code": "103"}, headers=headers)
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert took < 2.0
        assert (r.json()["call_id"], r.json()["recorded"]) == (None, False)
        assert ari.where(uid) == ("emergency", "103")
        failed = client.post(f"/api/live/{gone}/transfer", json={"code": "103"}, headers=headers)
        assert failed.status_code == 502 and failed.json()["dial_by_hand"] == "103"
        assert registry.spooling
        # A forged token is still refused: only a validly signed one stands in for the database.
        forged = create_access_token(user_id=1, role="operator", secret="another-secret-0123456789-0123456789",
                                     ttl_minutes=5, session_id="0" * 32)
        bad = client.post(f"/api/live/{uid}/transfer", json={"code": "103"},
                          headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401
    _until(lambda: not registry.spooling)
    assert _record(ctx, uid) == ("103", "103", ["transfer_attempt", "transfer"])
    # The vanished caller's attempt and failure name a call the database never had: set aside, kept, logged.
    assert registry.rejected == 2 and registry.spool.empty
    assert "caller_gone" in registry.spool.rejected_path.read_text()
