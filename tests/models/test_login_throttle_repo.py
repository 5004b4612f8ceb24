"""The login throttle's rows (models.repo.throttle): atomic reservations under parallel attempts, a window that
forgets, pruning that never frees a key still waiting. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from api.throttle import Backoff
from models.base import utcnow
from models.records import LoginThrottle
from models.repo import throttle

WINDOW = timedelta(minutes=15)
SLOW = Backoff(free=5, first_s=30, cap_s=60)


def _row(session: Session, key: str) -> LoginThrottle | None:
    session.expire_all()
    row = session.get(LoginThrottle, key)
    session.commit()
    return row


def test_thirty_parallel_reservations_let_through_only_the_free_ones_and_one(
    sessionmaker: sessionmaker[Session],
) -> None:
    barrier, lock, waits = threading.Barrier(30), threading.Lock(), []

    def attempt() -> None:
        with sessionmaker() as s:
            barrier.wait()
            wait = throttle.reserve(s, keys={"user:x": SLOW, "client:1": SLOW}, now=utcnow(), window=WINDOW)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(w == timedelta(0) for w in waits) == 6  # 5 free, and the 6th that starts the wait
    assert all(timedelta(seconds=25) < w < timedelta(seconds=31) for w in waits if w)  # clocks read in parallel
    with sessionmaker() as s:
        assert _row(s, "user:x").failures == _row(s, "client:1").failures == 6  # type: ignore[union-attr]


def test_a_refused_attempt_counts_nothing_and_old_failures_are_forgotten(session: Session) -> None:
    keys = {"pair:a": Backoff(free=1, first_s=30, cap_s=60), "client:b": SLOW}
    start = utcnow() - timedelta(hours=1)
    assert throttle.reserve(session, keys=keys, now=start, window=WINDOW) == timedelta(0)
    assert throttle.reserve(session, keys=keys, now=start, window=WINDOW) == timedelta(0)  # 2nd: wait 30 s
    assert throttle.reserve(session, keys=keys, now=start + timedelta(seconds=10), window=WINDOW) == timedelta(
        seconds=20
    )
    assert (_row(session, "pair:a").failures, _row(session, "client:b").failures) == (2, 2)  # type: ignore[union-attr]
    # after a quiet window the count starts again
    assert throttle.reserve(session, keys=keys, now=start + WINDOW * 2, window=WINDOW) == timedelta(0)
    assert (_row(session, "pair:a").failures, _row(session, "client:b").failures) == (1, 1)  # type: ignore[union-attr]


def test_pruning_ten_thousand_junk_keys_never_frees_a_waiting_key(session: Session) -> None:
    now = utcnow()
    old = now - WINDOW - timedelta(minutes=1)
    session.execute(
        insert(LoginThrottle),
        [{"key": f"user:junk-{i}", "failures": 1, "last_failure_at": old, "next_try_at": old} for i in range(10_000)],
    )
    session.add_all(
        [  # still waiting, although its last failure is older than the window
            LoginThrottle(key="user:admin", failures=40, last_failure_at=old, next_try_at=now + timedelta(seconds=30)),
            # within the window: its count still matters
            LoginThrottle(key="client:10.0.0.1", failures=3, last_failure_at=now, next_try_at=now - WINDOW),
        ]
    )
    session.commit()
    assert throttle.prune(session, now=now, window=WINDOW) == 10_000
    assert sorted(session.scalars(select(LoginThrottle.key)).all()) == ["client:10.0.0.1", "user:admin"]
    wait = throttle.reserve(session, keys={"user:admin": SLOW}, now=now, window=WINDOW)
    assert timedelta(seconds=29) < wait <= timedelta(seconds=30)  # the wait survived


def test_a_refund_never_lengthens_a_wait(session: Session) -> None:
    rule = Backoff(free=1, first_s=30, cap_s=60)
    now = utcnow()
    # 3 failures: the 3rd made the key wait 60 s
    session.add(LoginThrottle(key="k", failures=3, last_failure_at=now, next_try_at=now + rule(3)))
    session.commit()
    throttle.refund(session, keys={"k": rule}, now=now, window=WINDOW)
    after = _row(session, "k")
    assert after is not None and after.failures == 2 and after.next_try_at == now + timedelta(seconds=30)
    for _ in range(3):
        throttle.refund(session, keys={"k": rule}, now=now, window=WINDOW)
    after = _row(session, "k")
    assert after is not None and after.failures == 0 and after.next_try_at < now
    throttle.refund(session, keys={"missing": rule}, now=now, window=WINDOW)  # nothing to take back
