"""Login throttling in the database: a growing delay per username, per address and per pair, counted before the
password check, lasting across application instances and restarts, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from api.throttle import Backoff, LoginKeys, LoginLimits
from models.base import utcnow
from models.records import LoginThrottle

LOOSE = Backoff(free=1000, cap_s=60)


def _try(client: Any, username: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def _rows(ctx: Any) -> dict[str, LoginThrottle]:
    with ctx.sessionmaker() as s:
        return {row.key: row for row in s.scalars(select(LoginThrottle)).all()}


def _let_the_waits_pass(ctx: Any) -> None:
    """As if the throttle's waits were over (the window is not): no test sleeps through them."""
    with ctx.sessionmaker() as s:
        s.execute(update(LoginThrottle).values(next_try_at=utcnow() - timedelta(seconds=1)))
        s.commit()


def _retry_after(answer: Any) -> int:
    assert answer.status_code == 429, answer.text
    assert answer.json()["detail"].startswith("Too many failed logins") and answer.json()["detail"].endswith(".")
    return int(answer.headers["retry-after"])


def test_the_delay_grows_from_free_attempts_to_a_cap() -> None:
    delays = [Backoff(free=3, cap_s=60)(n).total_seconds() for n in range(1, 13)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    defaults = LoginLimits()
    assert defaults.username(10**6) < defaults.pair(10**6) == defaults.client(10**6) == timedelta(seconds=60)
    assert defaults.username(10**6) <= timedelta(seconds=15)  # nobody keeps a user out for long


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_failures_of_a_pair_make_it_wait_longer_and_longer(client: Any, ctx: Any, make_user: Any) -> None:
    client.app.state.login_throttle = LoginLimits(
        username=LOOSE, client=LOOSE, pair=Backoff(free=2, first_s=30, cap_s=45)
    )
    make_user("operator", username="saule", password="right-password")
    assert [_try(client, "saule", "guess").status_code for _ in range(3)] == [401, 401, 401]  # the 3rd: wait 30 s
    assert 25 <= _retry_after(_try(client, "SAULE", "right-password")) <= 30  # any form of the name, any password
    _let_the_waits_pass(ctx)
    assert _try(client, "saule", "guess").status_code == 401  # the 4th failure: 60 s, capped at 45
    assert 40 <= _retry_after(_try(client, "saule", "guess")) <= 45
    _let_the_waits_pass(ctx)
    assert _try(client, "saule", "right-password").status_code == 200
    assert set(_rows(ctx)) == {LoginKeys.of("saule", "testclient").client}  # success forgot the name and the pair


def test_an_address_is_throttled_across_usernames(client: Any, ctx: Any, make_user: Any) -> None:
    client.app.state.login_throttle = LoginLimits(
        username=LOOSE, client=Backoff(free=3, first_s=30, cap_s=60), pair=LOOSE
    )
    make_user("qa", username="dinara", password="dinara-password")
    assert [_try(client, f"junk-{i}", "x").status_code for i in range(4)] == [401] * 4
    assert 25 <= _retry_after(_try(client, "dinara", "dinara-password")) <= 30
    other = TestClient(client.app, client=("192.0.2.7", 50000))  # another address is not affected
    assert _try(other, "dinara", "dinara-password").status_code == 200


def test_a_username_is_throttled_across_addresses_but_gently(client: Any, ctx: Any, make_user: Any) -> None:
    client.app.state.login_throttle = LoginLimits(
        username=Backoff(free=2, first_s=5, cap_s=10), client=LOOSE, pair=LOOSE
    )
    make_user("admin", username="chief", password="chief-password")
    addresses = iter(TestClient(client.app, client=(f"198.51.100.{i}", 40000)) for i in range(20))
    assert [_try(next(addresses), "chief", "guess").status_code for _ in range(3)] == [401, 401, 401]
    waits = []
    for _ in range(3):
        waits.append(_retry_after(_try(next(addresses), "chief", "guess")))  # a new address waits as well
        _let_the_waits_pass(ctx)
        assert _try(next(addresses), "chief", "guess").status_code == 401
    assert 0 < waits[0] <= 5 and 5 < waits[1] <= 10 and 5 < waits[2] <= 10, waits  # capped at the gentle 10 s
    assert 5 < _retry_after(_try(client, "chief", "chief-password")) <= 10
    _let_the_waits_pass(ctx)
    assert _try(client, "chief", "chief-password").status_code == 200


def test_a_success_takes_back_its_attempt_from_the_address(client: Any, ctx: Any, make_user: Any) -> None:
    client.app.state.login_throttle = LoginLimits(username=LOOSE, client=Backoff(free=2, cap_s=60), pair=LOOSE)
    for name in ("office-1", "office-2", "office-3", "office-4"):
        make_user("operator", username=name, password="office-password")
    # four people behind one address log in: their successes do not use up the address's free failures
    assert [_try(client, f"office-{i}", "office-password").status_code for i in range(1, 5)] == [200] * 4
    assert _rows(ctx)[LoginKeys.of("x", "testclient").client].failures == 0


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_the_count_outlives_the_application(ctx: Any, make_user: Any) -> None:
    make_user("operator", username="restart", password="restart-password")
    limits = LoginLimits(username=LOOSE, client=LOOSE, pair=Backoff(free=1, cap_s=60, first_s=30))
    with TestClient(create_app(ctx)) as first:
        first.app.state.login_throttle = limits
        assert [_try(first, "restart", "guess").status_code for _ in range(2)] == [401, 401]
    with TestClient(create_app(ctx)) as second:  # another process, or the same after a restart
        second.app.state.login_throttle = limits
        refused = _try(second, "restart", "restart-password")
    assert refused.status_code == 429 and 28 <= int(refused.headers["retry-after"]) <= 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_thirty_parallel_guesses_are_not_all_checked(ctx: Any, make_user: Any) -> None:
    make_user("admin", username="target", password="target-password")
    app = create_app(ctx)
    app.state.login_throttle = LoginLimits(pair=Backoff(free=5, first_s=30, cap_s=60))  # no wait ends meanwhile
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(30)

    def guess(i: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            barrier.wait()
            answer = http.post("/api/auth/login", json={"username": "target", "password": f"guess-{i}"})
        with lock:
            statuses[answer.status_code] += 1

    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        workers = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    # 5 free failures per username and address; the 6th makes the pair wait: 24 guesses are never checked
    assert statuses == {401: 6, 429: 24}, statuses
    assert _rows(ctx)[LoginKeys.of("target", "127.0.0.1").pair].failures == statuses[401]
