"""The operators' live feed (WS /api/live?token=): live call messages for as long as the user may see them."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api.context import ApiContext
from api.deps import user_from_token
from api.errors import ApiError
from api.personal_data import masked_live
from api.policy import (
    SEES_EVERY_CALL,
    CallFacts,
    PersonalDataView,
    Role,
    Surface,
    Viewer,
    appellant_number_shown,
    personal_data_view,
)
from api.security import InvalidToken, decode_access_token
from calls.hub import Subscription
from calls.messages import CallClaimedMessage, CallEndedMessage, CallKey, CallStartedMessage, LiveMessage, encode
from models.records import Call

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

# WebSocket close codes the server ends the live feed with (each after a final {"type":"error","detail":...}).
CLOSE_TOO_BIG = 1009  # the client sent a message larger than ws_max_message_bytes
CLOSE_UNAUTHORIZED = 4401  # no valid token, or no longer: expired, logged out, disabled, password or role changed
CLOSE_FORBIDDEN = 4403  # a valid login that may not have this feed as it is: the page must reload (role changed)
CLOSE_TOO_MANY = 4429  # the user already has live_max_sockets_per_user sockets open
_NOT_CLAIMED = 0
_PONG = '{"type":"pong"}'


@dataclass(frozen=True, slots=True)
class _Listener:
    """Who holds a live socket, as its token and the database said at the last check."""

    user_id: int
    role: str
    username: str
    expires_at: float  # the token's "exp", in seconds since the epoch


@dataclass(frozen=True, slots=True)
class _Closing:
    """Why the server ends a live socket: the close code, its short reason, and the sentence (and the error's
    ``code``, if it has one, e.g. ``password_change_required``) sent before it."""

    code: int
    reason: str
    detail: str
    error_code: str | None = None


def _log_in_again(detail: str) -> _Closing:
    return _Closing(CLOSE_UNAUTHORIZED, "log in again", detail)


def _refused(exc: ApiError) -> _Closing:
    """The closing for a refused token check: 401 is "log in again" (4401); 403 (e.g. a password change is
    due) is "reload the page" (4403), where the page learns what to do."""
    if exc.status_code == 403:
        code = exc.extra.get("code")
        return _Closing(CLOSE_FORBIDDEN, "reload the page", exc.detail, code if isinstance(code, str) else None)
    return _log_in_again(exc.detail)


def _who(ctx: ApiContext, token: str | None) -> _Listener:
    """The token's user and the token's expiry, checked as every HTTP route checks them; ApiError 401 otherwise."""
    with ctx.sessionmaker() as session:
        user = user_from_token(ctx, session, token)
        user_id, role, username = user.id, user.role, user.username
    try:
        claims = decode_access_token(token or "", secret=ctx.settings.secret_key)
    except InvalidToken as exc:  # it expired since user_from_token looked at it
        raise ApiError(401, "Your session has expired; log in again.") from exc
    return _Listener(user_id, role, username, float(claims["exp"]))


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
    """Which calls' messages one subscriber gets: everything for qa/supervisor/admin; for an operator, the calls
    nobody has claimed and the calls they claimed. A claim by someone else is passed on once (so the
    desk drops the call) and the call's messages stop. (A role change closes the socket, so the role is fixed.)"""

    def __init__(self, user_id: int, role: str, owners: dict[CallKey, int], live: list[CallKey] | None = None) -> None:
        self.user_id = user_id
        self.everything = Role(role) in SEES_EVERY_CALL  # api.policy: who sees every call
        self.owners = owners
        self.viewer = Viewer(user_id, Role(role))
        self.live = set(live or ())

    def shown(self, message: LiveMessage) -> LiveMessage | None:
        """``message`` with personal data as api.policy.personal_data_view says for this subscriber (the operator
        holding the live call: as said; everyone else, and everyone after the hang-up: masked); None: not sent."""
        key = message.call_key
        if key is not None:
            if isinstance(message, CallStartedMessage):
                self.live.add(key)
            elif isinstance(message, CallEndedMessage):
                self.live.discard(key)
        live = key is not None and key in self.live
        now = datetime.now(UTC)
        facts = CallFacts(
            "live" if live else "ended", self.owners.get(key) if key is not None else None, None if live else now
        )
        if personal_data_view(self.viewer, facts, now, Surface.LIVE_FEED) is PersonalDataView.UNMASKED:
            return message
        return masked_live(message, keep_number=appellant_number_shown(self.viewer, facts, now, Surface.LIVE_FEED))

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


@dataclass
class LiveSockets:
    """How many live sockets each user has open in this process (one per application, on app.state)."""

    per_user: dict[int, int] = field(default_factory=dict)

    def take(self, user_id: int, limit: int) -> bool:
        """Count one more socket of ``user_id``; False (nothing counted) when they already hold ``limit``."""
        held = self.per_user.get(user_id, 0)
        if held >= limit:
            return False
        self.per_user[user_id] = held + 1
        return True

    def release(self, user_id: int) -> None:
        """One socket of ``user_id`` has ended."""
        held = self.per_user.get(user_id, 0) - 1
        if held > 0:
            self.per_user[user_id] = held
        else:
            self.per_user.pop(user_id, None)


def _sockets(ws: WebSocket) -> LiveSockets:
    """The application's LiveSockets, made on first use (everything here runs on the event loop: no lock)."""
    state = ws.app.state
    sockets = getattr(state, "live_sockets", None)
    if not isinstance(sockets, LiveSockets):
        sockets = LiveSockets()
        state.live_sockets = sockets
    return sockets


def _encode(message: LiveMessage | dict[str, Any]) -> str:
    data = message if isinstance(message, dict) else encode(message)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


async def _send(ws: WebSocket, seen: _Visibility, message: LiveMessage) -> None:
    """Send ``message`` as ``seen``'s subscriber may see its personal data (or not at all)."""
    shown = seen.shown(message)
    if shown is not None:
        await ws.send_text(_encode(shown))


async def _close(ws: WebSocket, closing: _Closing) -> None:
    """Send the final {"type":"error"} and close with the closing's code (quietly, if the client is gone)."""
    error: dict[str, Any] = {"type": "error", "detail": closing.detail}
    if closing.error_code is not None:
        error["code"] = closing.error_code
    try:
        await ws.send_text(_encode(error))
        await ws.close(code=closing.code, reason=closing.reason)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def _read(ws: WebSocket, max_bytes: int) -> _Closing | None:
    """Read what the client sends until it goes away (None); answer {"type":"ping"} with a pong. A message of
    more than ``max_bytes`` ends the socket (1009): the desk only ever sends small pings."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return None
        text = msg.get("text")
        size = len(text.encode()) if text is not None else len(msg.get("bytes") or b"")
        if size > max_bytes:
            detail = f"The live feed takes messages of at most {max_bytes} bytes (pings); this one had {size}."
            return _Closing(CLOSE_TOO_BIG, "message too big", detail)
        if text and '"ping"' in text:
            await ws.send_text(_PONG)


async def _recheck(ctx: ApiContext, token: str, first: _Listener) -> _Closing:
    """Re-run the HTTP routes' token check every ``live_recheck_interval_s`` until it fails (logout, disabled,
    password or role changed: the login session is ended, 4401) or the user's role is no longer ``first.role``
    while the login stays open (4403). While the database cannot be asked the socket stays open (the live desk
    keeps working through an outage; the token's expiry still ends it)."""
    interval = ctx.settings.live_recheck_interval_s
    unreachable = False
    while True:
        await asyncio.sleep(interval)
        try:
            now = await run_in_threadpool(_who, ctx, token)
        except ApiError as exc:
            return _refused(exc)
        except SQLAlchemyError as exc:
            if not unreachable:
                logger.warning(
                    "live feed of %s: the database cannot be asked (%s); the socket stays open on its token",
                    first.username,
                    type(exc).__name__,
                )
            unreachable = True
            continue
        if unreachable:
            logger.info("live feed of %s: the database answers again", first.username)
            unreachable = False
        if now.role != first.role:
            return _Closing(
                CLOSE_FORBIDDEN,
                "reload the page",
                f"Your role changed from {first.role} to {now.role}; reload the page.",
            )


async def _expiry(expires_at: float) -> _Closing:
    """Wait until the token's expiry (exactly), then end the socket."""
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    return _log_in_again("Your session has expired; log in again.")


async def _forward(
    ws: WebSocket, sub: Subscription, seen: _Visibility, enders: set[asyncio.Task[Any]]
) -> _Closing | None:
    """Send the hub's messages ``seen`` lets through until one of ``enders`` finishes; what it says (None: the
    client went away). Nothing more is sent once an ender has finished."""
    while True:
        getter = asyncio.ensure_future(sub.get())
        await asyncio.wait({getter, *enders}, return_when=asyncio.FIRST_COMPLETED)
        finished = [task for task in enders if task.done()]
        if finished:
            getter.cancel()
            answers = [task.result() for task in finished]
            return next((answer for answer in answers if answer is not None), None)
        message = getter.result()
        if seen.allows(message):
            await _send(ws, seen, message)
        while not sub.queue.empty() and not any(task.done() for task in enders):  # a burst, without re-arming
            message = sub.queue.get_nowait()
            if seen.allows(message):
                await _send(ws, seen, message)


async def _feed(ws: WebSocket, ctx: ApiContext, token: str, listener: _Listener) -> None:
    """The snapshot, "ready", then live messages until the client goes or the server ends the socket."""
    async with ctx.hub.subscribe() as sub:
        live_ids = ctx.hub.live_calls()
        owners = await run_in_threadpool(_owners, ctx, live_ids)
        seen = _Visibility(listener.user_id, listener.role, owners, live_ids)
        closing: _Closing | None = None
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
                        await _send(ws, seen, message)
                        if isinstance(message, CallStartedMessage):
                            shown.append(key)
            await ws.send_text(_encode({"type": "ready", "live_calls": shown}))
            logger.info("live feed opened for %s (%s), %d live calls", listener.username, listener.role, len(shown))
            enders = {
                asyncio.create_task(_read(ws, ctx.settings.ws_max_message_bytes), name=f"live-read-{listener.user_id}"),
                asyncio.create_task(_recheck(ctx, token, listener), name=f"live-recheck-{listener.user_id}"),
                asyncio.create_task(_expiry(listener.expires_at), name=f"live-expiry-{listener.user_id}"),
            }
            try:
                closing = await _forward(ws, sub, seen, enders)
            finally:
                for task in enders:
                    task.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass
    if closing is not None:
        logger.info("live feed of %s ended by the server: %s (%d)", listener.username, closing.reason, closing.code)
        await _close(ws, closing)
    else:
        logger.info("live feed closed for %s", listener.username)


@router.websocket("/live")
async def live(ws: WebSocket, token: str | None = None) -> None:
    """Live call messages as JSON (their schema: ``LiveMessage`` in the OpenAPI components): first the snapshot
    of every live call the user may see, then {"type":"ready","live_calls":[call keys]}, then each message as
    it is published. Calls are named by ``call_key``; ``call_id`` is null until the database has the call.
    Operators get the calls nobody has claimed and their own; qa, supervisors and admins get every call.
    The client may send {"type":"ping"} (answered {"type":"pong"}); nothing else is read.

    The user and token are checked when the socket opens and again every ``live_recheck_interval_s`` seconds
    (the check every HTTP route makes); the socket closes exactly when the token expires. While the database
    cannot be asked, an open socket stays open until its token expires. The server ends the socket with a
    final {"type":"error","detail":"<sentence>"}, then one of these close codes:

    - 4401: log in again — no valid token, or no longer: expired, logged out, account disabled, password or role
      changed (each of these ends the login session).
    - 4403: reload the page — the user's role changed while the login stayed open, or the login may not be used
      as it is (a password change is due: the error then has ``"code": "password_change_required"``).
    - 4429: the user already has ``live_max_sockets_per_user`` live sockets open; this one is refused.
    - 1009: the client sent a message over ``ws_max_message_bytes`` (the server itself refuses larger frames).
    """
    ctx: ApiContext = ws.app.state.ctx
    await ws.accept()
    try:
        listener = await run_in_threadpool(_who, ctx, token)
    except ApiError as exc:
        await _close(ws, _refused(exc))
        return
    assert token is not None  # user_from_token refuses a missing token
    sockets = _sockets(ws)
    limit = ctx.settings.live_max_sockets_per_user
    if not sockets.take(listener.user_id, limit):
        logger.warning("live feed refused for %s: %d live sockets are open already", listener.username, limit)
        detail = f"You already have {limit} live feeds open; close another desk tab or window and try again."
        await _close(ws, _Closing(CLOSE_TOO_MANY, "too many live feeds", detail))
        return
    try:
        await _feed(ws, ctx, token, listener)
    finally:
        sockets.release(listener.user_id)
