"""WS /api/live keeps checking who listens: re-checks close a disabled, logged-out or re-roled user's socket,
the token's expiry closes it on the second, a database outage does not, each user holds a bounded number of
sockets, and clients cannot send big messages. Real uvicorn on loopback, real websockets clients, real SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
import websockets
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from api.app import create_app
from api.context import ApiContext
from api.login_sessions import start_session
from api.security import hash_password
from calls.hub import CardHub
from calls.messages import CallStartedMessage, LiveMessage, TranscriptFinalMessage, decode
from models.db import make_sessionmaker
from models.records import User
from models.repo import sessions, users
from tests.calls.conftest import Outage

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave the test process's signal handlers alone
        yield


class _Served:
    """create_app(ctx) under uvicorn on 127.0.0.1 in a thread with its own loop, configured as `serve` does."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.port = _free_port()
        config = uvicorn.Config(
            create_app(ctx),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws_max_size=ctx.settings.ws_max_message_bytes,
        )
        self.server = _QuietServer(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self.server.serve()), daemon=True)

    def __enter__(self) -> _Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        if not self.thread.is_alive():
            self.loop.close()

    def publish(self, message: LiveMessage) -> None:
        """Publish on the server's loop (the hub is not thread-safe)."""
        self.loop.call_soon_threadsafe(self.ctx.hub.publish, message)

    def subscribers(self) -> int:
        return asyncio.run_coroutine_threadsafe(_subscribers(self.ctx), self.loop).result(5)

    def live(self, token: str) -> ClientConnection:
        return connect(
            f"ws://127.0.0.1:{self.port}/api/live?token={token}",
            open_timeout=5,
            close_timeout=2,
            ping_interval=None,
            proxy=None,
        )


async def _subscribers(ctx: ApiContext) -> int:
    return ctx.hub.subscribers


def _started(key: str) -> LiveMessage:
    return CallStartedMessage(call_key=key, call_id=None, caller_number="+77015550123", started_at=datetime.now(UTC))


def _final(key: str, seg: int) -> LiveMessage:
    segment = {"id": seg, "start": 0.0, "end": 1.0, "text": "су жоқ", "language": "kk", "confidence": 0.9, "words": []}
    message = decode(
        {
            "type": "transcript_final",
            "call_key": key,
            "call_id": None,
            "stored_at": "2026-11-22T03:00:01+00:00",
            "segment": segment,
        }
    )
    assert isinstance(message, TranscriptFinalMessage)
    return message


def _until_ready(ws: ClientConnection) -> list[dict[str, Any]]:
    got = []
    while (msg := json.loads(ws.recv(timeout=5)))["type"] != "ready":
        got.append(msg)
    return got


def _until_closed(ws: ClientConnection, within: float) -> tuple[list[dict[str, Any]], int, float]:
    """Every message until the server closes (within ``within`` s), the close code, and when the last came."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    last = time.time()
    while True:
        try:
            got.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
            last = time.time()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server must close with a code"
            return got, closed.rcvd.code, last
        except TimeoutError:
            pytest.fail(f"the socket was still open after {within} s; got {got[-3:]}")


def _short_token(ctx: ApiContext, user: Any, seconds: float) -> tuple[str, float]:
    """The token of a real login session of ``user`` that ends in about ``seconds``; and the token's exp."""
    short = ctx.settings.model_copy(update={"token_ttl_minutes": seconds / 60})  # timedelta takes the fraction
    with ctx.sessionmaker() as s:
        token = start_session(s, user=user, settings=short, client="test")
    return token, float(_claims(token)["exp"])


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@contextlib.contextmanager
def _publishing(server: _Served, key: str, every: float = 0.02) -> Iterator[None]:
    """Publish a transcript line of ``key`` every ``every`` seconds in the background."""
    stop = threading.Event()

    def run() -> None:
        seg = 100
        while not stop.wait(every):
            seg += 1
            server.publish(_final(key, seg))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _until(predicate: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# ----------------------------------------------------------------------------------------- re-checks


def _cut_off(s: Session, user: Any, token: str, how: str) -> None:
    """End what ``token`` was granted, as the application does: logout, deactivation, new password, new role."""
    if how == "logout":
        assert sessions.revoke(s, session_id=_claims(token)["sid"], reason="logout")
        return
    changes: dict[str, Any] = {
        "deactivated": {"active": False},
        "password-changed": {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$another"},
        "role-changed": {"role": "qa"},
    }[how]
    users.update_user(s, user_id=user.id, changes=changes, actor="test")


@pytest.mark.parametrize("api_db", BOTH, indirect=True)
@pytest.mark.parametrize(
    ("how", "sentence"),
    [
        ("logout", "logged out"),
        ("deactivated", "disabled"),
        ("password-changed", "password was changed"),
        ("role-changed", "role was changed"),
    ],
)
def test_a_cut_off_user_loses_the_feed_within_the_recheck_interval(
    api_db: str, make_ctx: Any, make_user: Any, token_for: Any, how: str, sentence: str
) -> None:
    ctx = make_ctx(live_recheck_interval_s=0.5)
    user = make_user("operator")
    token = token_for(user)
    with _Served(ctx) as server, server.live(token) as ws:
        _until_ready(ws)
        server.publish(_started("1796651909.1"))
        assert json.loads(ws.recv(timeout=5))["type"] == "call_started"
        with _publishing(server, "1796651909.1"):
            with ctx.sessionmaker() as s:
                _cut_off(s, user, token, how)
            changed = time.monotonic()
            got, code, _ = _until_closed(ws, within=3)
            elapsed = time.monotonic() - changed
        assert code == 4401
        assert got[-1]["type"] == "error" and sentence in got[-1]["detail"], got[-1]
        assert {m["type"] for m in got[:-1]} <= {"transcript_final"}, "the error is the last thing sent"
        assert elapsed < 0.5 + 0.5, f"closed {elapsed:.2f} s after the change; the interval is 0.5 s"
        _until(lambda: server.subscribers() == 0)
        # The same token is refused at once from now on.
        with server.live(token) as again:
            got, code, _ = _until_closed(again, within=3)
        assert code == 4401 and got == [{"type": "error", "detail": got[0]["detail"]}]


@pytest.mark.parametrize("api_db", BOTH, indirect=True)
@pytest.mark.parametrize(("before", "after"), [("operator", "qa"), ("supervisor", "operator")])
def test_a_role_changed_under_an_open_login_closes_the_feed_with_4403(
    api_db: str, make_ctx: Any, make_user: Any, token_for: Any, before: str, after: str
) -> None:
    """users.update_user ends the login with the role change (4401 above); a role changed by any other path
    (here plain SQL) leaves the login open, and the feed, filtered for the old role, still closes."""
    ctx = make_ctx(live_recheck_interval_s=0.3)
    user = make_user(before)
    with _Served(ctx) as server, server.live(token_for(user)) as ws:
        _until_ready(ws)
        with ctx.sessionmaker() as s:
            s.execute(update(User).where(User.id == user.id).values(role=after))
            s.commit()
        got, code, _ = _until_closed(ws, within=2)
    assert code == 4403
    assert got == [{"type": "error", "detail": f"Your role changed from {before} to {after}; reload the page."}]


def test_a_login_that_must_change_its_password_gets_4403_with_the_code(
    client: Any, make_user: Any, token_for: Any
) -> None:
    with client.websocket_connect(
        f"/api/live?token={token_for(make_user('operator', must_change_password=True))}"
    ) as ws:
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == "password_change_required"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 4403


def test_the_feed_closes_exactly_when_the_token_expires(make_ctx: Any, make_user: Any) -> None:
    ctx = make_ctx(live_recheck_interval_s=60.0)  # no re-check in this test's time: only the expiry ends it
    user = make_user("qa")
    token, exp = _short_token(ctx, user, 2.5)
    with _Served(ctx) as server, server.live(token) as ws:
        _until_ready(ws)
        ws.send('{"type":"ping"}')
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
        got, code, at = _until_closed(ws, within=5)
    assert code == 4401
    assert got == [{"type": "error", "detail": "Your session has expired; log in again."}]
    assert exp - 0.05 <= at <= exp + 0.5, f"closed {at - exp:+.2f} s from the token's expiry"


# ---------------------------------------------------------------------------------- database outage


def test_a_database_outage_keeps_the_feed_open_until_the_token_expires(
    outage: Outage, settings: Any, taxonomy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = outage.engine()
    sessions = make_sessionmaker(engine)
    ctx = ApiContext(
        settings=settings.model_copy(update={"live_recheck_interval_s": 0.2}),
        sessionmaker=sessions,
        taxonomy=taxonomy,
        hub=CardHub(),
    )
    with sessions() as s:
        user = users.create_user(s, username="aigerim", role="operator", password_hash=hash_password("pw-op-123"))
    caplog.set_level(logging.INFO, logger="api.routes.live")
    try:
        with _Served(ctx) as server:
            token, exp = _short_token(ctx, user, 4.0)
            with server.live(token) as ws:
                _until_ready(ws)
                with outage.down():
                    time.sleep(1.0)  # several re-checks fail to reach the database
                    server.publish(_started("1796651909.9"))
                    assert json.loads(ws.recv(timeout=5))["call_key"] == "1796651909.9", "the desk keeps working"
                    ws.send('{"type":"ping"}')
                    assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
                    got, code, at = _until_closed(ws, within=exp - time.time() + 2)
            assert code == 4401 and got == [{"type": "error", "detail": "Your session has expired; log in again."}]
            assert exp - 0.05 <= at <= exp + 0.5
    finally:
        engine.dispose()
    warnings = [r for r in caplog.records if "cannot be asked" in r.getMessage()]
    assert len(warnings) == 1, "logged once per outage, not at every re-check"
    assert warnings[0].levelno == logging.WARNING and "aigerim" in warnings[0].getMessage()
    assert "OperationalError" in warnings[0].getMessage()


# ---------------------------------------------------------------------------------- limits


def test_each_user_holds_at_most_the_configured_number_of_feeds(
    make_ctx: Any, make_user: Any, token_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_ctx(live_max_sockets_per_user=2)
    user, other = make_user("operator"), make_user("operator")
    caplog.set_level(logging.INFO, logger="api.routes.live")
    with _Served(ctx) as server, server.live(token_for(user)) as first, server.live(token_for(user)) as second:
        _until_ready(first)
        _until_ready(second)
        with server.live(token_for(user)) as third:
            got, code, _ = _until_closed(third, within=3)
        assert code == 4429
        assert got == [
            {
                "type": "error",
                "detail": "You already have 2 live feeds open; close another desk tab or window and try again.",
            }
        ]
        assert any("live feed refused for" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
        with server.live(token_for(other)) as theirs:  # the cap is per user
            _until_ready(theirs)
        server.publish(_started("1796651909.5"))
        assert json.loads(first.recv(timeout=5))["type"] == "call_started", "the refusal left the others alone"
        first.close()
        # A closed feed frees its place.
        deadline = time.monotonic() + 5
        while True:
            with server.live(token_for(user)) as again:
                msg = json.loads(again.recv(timeout=5))
                if msg["type"] != "error":
                    break
            assert time.monotonic() < deadline, "the closed feed's place was not freed"
            time.sleep(0.05)


def test_a_big_client_message_closes_the_feed_with_1009(make_ctx: Any, make_user: Any, token_for: Any) -> None:
    ctx = make_ctx()
    token = token_for(make_user("operator"))
    limit = ctx.settings.ws_max_message_bytes
    with _Served(ctx) as server:
        with server.live(token) as ws:
            _until_ready(ws)
            ws.send('{"type":"ping","pad":"' + "x" * (limit - 40) + '"}')
            assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}, "a message up to the limit is fine"
            ws.send("x" * (limit + 1))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        _until(lambda: server.subscribers() == 0)


def test_the_route_itself_refuses_big_messages_whatever_the_server(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    """Behind a server without a frame limit (the TestClient has none), the route closes with 1009 itself."""
    with client.websocket_connect(f"/api/live?token={token_for(make_user('operator'))}") as ws:
        while ws.receive_json()["type"] != "ready":
            pass
        ws.send_bytes(b"\0" * (ctx.settings.ws_max_message_bytes + 1))
        error = ws.receive_json()
        assert error["type"] == "error" and f"at most {ctx.settings.ws_max_message_bytes} bytes" in error["detail"]
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1009
    assert ctx.hub.subscribers == 0


async def test_the_running_service_refuses_a_16_mib_message_without_buffering_it(tmp_path: Path) -> None:
    """`callcard serve`'s uvicorn (run_services) drops a 16 MiB client message at its frame header: 1009."""
    from callcard.app import build_services, run_services
    from core.config import Settings
    from models import migrations

    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        secret_key="test-secret-" + "x" * 32,
        api_bind=f"127.0.0.1:{_free_port()}",
        ari_enabled=False,
        audiosocket_enabled=False,
        agi_enabled=False,
        asr_enabled=False,
    )
    settings.data_dir.mkdir(parents=True)
    migrations.upgrade(settings.database_url)
    services = build_services(settings)
    with services.sessions() as session:
        user = users.create_user(session, username="aigerim", role="operator", password_hash=hash_password("pw-1"))
        token = start_session(session, user=user, settings=settings, client="test")
    stop = asyncio.Event()
    task = asyncio.create_task(run_services(services, stop=stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://{settings.api_bind}") as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/api/health")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        async with websockets.connect(
            f"ws://{settings.api_bind}/api/live?token={token}", max_size=None, proxy=None, compression=None
        ) as ws:
            while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "ready":
                pass
            started = time.monotonic()
            # Exactly 16 MiB: uvicorn's default limit would take (and buffer) it for the route to refuse; the
            # service's limit refuses it at the frame header, so the route never sees it (no JSON error first).
            with contextlib.suppress(ConnectionClosed, OSError):
                await asyncio.wait_for(ws.send(b"\0" * (16 * 1024 * 1024)), 10)
            got = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    got.append(await asyncio.wait_for(ws.recv(), 5))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            assert got == [], "closed by the server's frame limit, not by the route after buffering the message"
            assert time.monotonic() - started < 5
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
