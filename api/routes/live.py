"""The operators' live feed (WS /api/live?token=) and claiming a call (POST /api/calls/{id}/claim)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import or_, select, update
from starlette.concurrency import run_in_threadpool

from api.context import ApiContext
from api.deps import CtxDep, OperatorUser, SessionDep, publish, user_from_token
from api.errors import ApiError
from api.schemas import CallPublic
from calls.messages import CallClaimedMessage, CallKey, CallStartedMessage, LiveMessage, encode
from models.records import Call, Card
from models.repo import audit

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

CLOSE_UNAUTHORIZED = 4401  # WebSocket close code: no valid token (the page goes to the login)
_NOT_CLAIMED = 0


def _who(ctx: ApiContext, token: str | None) -> tuple[int, str, str]:
    """(user id, role, username) of the token's user; ApiError 401 otherwise."""
    with ctx.sessionmaker() as session:
        user = user_from_token(ctx, session, token)
        return user.id, user.role, user.username


def _owners(ctx: ApiContext, keys: list[CallKey]) -> dict[CallKey, int]:
    """Which operator handles each of the calls ``keys`` (calls nobody has claimed are left out)."""
    if not keys:
        return {}
    with ctx.sessionmaker() as session:
        rows = session.execute(
            select(Call.uniqueid, Call.operator_id).where(Call.uniqueid.in_(keys), Call.operator_id.is_not(None))
        ).all()
    return {str(key): int(op) for key, op in rows if op is not None}


class _Visibility:
    """Which calls' messages one subscriber gets: everything for qa/admin; for an operator, the calls
    nobody has claimed and the calls they claimed. A claim by someone else is passed on once (so the
    desk drops the call) and the call's messages stop."""

    def __init__(self, user_id: int, role: str, owners: dict[CallKey, int]) -> None:
        self.user_id = user_id
        self.everything = role != "operator"
        self.owners = owners

    def allows(self, message: LiveMessage) -> bool:
        key = message.call_key
        if key is None:
            return self.everything
        if isinstance(message, CallClaimedMessage):
            before = self.owners.get(key, _NOT_CLAIMED)
            self.owners[key] = message.operator_id
            return self.everything or before in (_NOT_CLAIMED, self.user_id)
        if self.everything:
            return True
        return self.owners.get(key, _NOT_CLAIMED) in (_NOT_CLAIMED, self.user_id)


def _encode(message: LiveMessage | dict[str, Any]) -> str:
    data = message if isinstance(message, dict) else encode(message)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away; answer {"type":"ping"} with a pong."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        text = msg.get("text")
        if text and '"ping"' in text:
            await ws.send_text('{"type":"pong"}')


@router.websocket("/live")
async def live(ws: WebSocket, token: str | None = None) -> None:
    """Live call messages as JSON (their schema: ``LiveMessage`` in the OpenAPI components): first the snapshot
    of every live call the user may see, then {"type":"ready","live_calls":[call keys]}, then each message as
    it is published. Calls are named by ``call_key``; ``call_id`` is null until the database has the call.

    A missing or bad token is answered with a JSON error and close code 4401.
    """
    ctx: ApiContext = ws.app.state.ctx
    await ws.accept()
    try:
        user_id, role, username = await run_in_threadpool(_who, ctx, token)
    except ApiError as exc:
        await ws.send_text(_encode({"type": "error", "detail": exc.detail}))
        await ws.close(code=CLOSE_UNAUTHORIZED, reason="log in again")
        return
    async with ctx.hub.subscribe() as sub:
        live_ids = ctx.hub.live_calls()
        seen = _Visibility(user_id, role, await run_in_threadpool(_owners, ctx, live_ids))
        try:
            shown = []
            for key in live_ids:
                snapshot = ctx.hub.snapshot(key)
                started = [m for m in snapshot if isinstance(m, CallStartedMessage)]
                if not started:  # e.g. a card confirmed after its call ended: not a live call
                    continue
                rest = [m for m in snapshot if not isinstance(m, CallStartedMessage)]
                for message in started + rest:
                    if seen.allows(message):
                        await ws.send_text(_encode(message))
                        if isinstance(message, CallStartedMessage):
                            shown.append(key)
            await ws.send_text(_encode({"type": "ready", "live_calls": shown}))
            logger.info("live feed opened for %s (%s), %d live calls", username, role, len(shown))
            reader = asyncio.create_task(_drain(ws), name=f"live-read-{user_id}")
            try:
                while not reader.done():
                    getter = asyncio.ensure_future(sub.get())
                    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        break
                    message = getter.result()
                    if seen.allows(message):
                        await ws.send_text(_encode(message))
                    while not sub.queue.empty():  # flush a burst without re-arming the wait
                        message = sub.queue.get_nowait()
                        if seen.allows(message):
                            await ws.send_text(_encode(message))
            finally:
                reader.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass
        logger.info("live feed closed for %s", username)


@router.post("/calls/{call_id}/claim", response_model=CallPublic)
def claim_call(call_id: int, ctx: CtxDep, session: SessionDep, user: OperatorUser) -> CallPublic:
    """Take a call: it becomes this operator's, and other operators' desks stop showing it.

    Claiming a call one already has is harmless; a call another operator has is refused with 409.
    """
    current = session.scalar(select(Call.operator_id).where(Call.id == call_id))
    if current == user.id:  # already this operator's: nothing changes, nothing to announce
        call = session.get(Call, call_id)
        assert call is not None
        return CallPublic.of(call, session.scalar(select(Card.id).where(Card.call_id == call_id)))
    result = session.execute(
        update(Call)
        .where(Call.id == call_id, or_(Call.operator_id.is_(None), Call.operator_id == user.id))
        .values(operator_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        call = session.get(Call, call_id)
        if call is None:
            raise ApiError(404, f"Call {call_id} does not exist.")
        raise ApiError(409, f"Call {call_id} is already being handled by another operator.")
    audit.record(
        session,
        actor=user.username,
        user_id=user.id,
        entity="call",
        entity_id=call_id,
        action="claim",
        after={"operator_id": user.id},
    )
    session.commit()
    call = session.get(Call, call_id)
    assert call is not None
    session.refresh(call)
    card_id = session.scalar(select(Card.id).where(Card.call_id == call_id))
    publish(
        ctx, CallClaimedMessage(call_key=call.uniqueid, call_id=call_id, operator_id=user.id, operator=user.username)
    )
    return CallPublic.of(call, card_id)
