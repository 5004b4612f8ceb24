"""Data functions for the login throttle (table login_throttle): reserve an attempt, refund or clear it, prune.

An attempt is counted BEFORE the password is checked, atomically per key (INSERT ... ON CONFLICT DO UPDATE ...
WHERE next_try_at <= now RETURNING): of many parallel guesses only those the keys still allow get through, the
rest are refused without being counted. How long a key then waits is the caller's rule (``Backoff``), given
the key's failures within the window. The rows live in the database, so the count holds across processes and
restarts, on SQLite (every transaction holds the write lock) and PostgreSQL (the upsert locks the row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.records import LoginThrottle

# failures within the window -> how long the key must wait after this attempt before the next one
Backoff = Callable[[int], timedelta]


def _upsert(session: Session) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"the login throttle needs SQLite or PostgreSQL, not {name}")


def reserve(session: Session, *, keys: Mapping[str, Backoff], now: datetime, window: timedelta) -> timedelta:
    """Count one attempt against every key of ``keys`` and set when each may be tried next (commits); zero.

    When any key must still wait, nothing is counted (rolled back) and the longest wait is returned. Failures
    older than ``window`` are forgotten: a key's count starts again at 1 after a quiet window. A key that need
    not wait keeps a ``next_try_at`` in the past, so that parallel attempts whose clocks read a little earlier
    are not refused.
    """
    insert = _upsert(session)
    waits: list[timedelta] = []
    counted: dict[str, int] = {}
    for key in sorted(keys):  # one lock order for every caller: no deadlocks between parallel logins
        stmt = (
            insert(LoginThrottle)
            .values(key=key, failures=1, last_failure_at=now, next_try_at=now - window)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case(
                        (LoginThrottle.last_failure_at < now - window, 1), else_=LoginThrottle.failures + 1
                    ),
                    "last_failure_at": now,
                },
                where=LoginThrottle.next_try_at <= now,
            )
            .returning(LoginThrottle.failures)
        )
        failures = session.scalar(stmt)
        if failures is None:
            next_try = session.scalar(select(LoginThrottle.next_try_at).where(LoginThrottle.key == key))
            waits.append((next_try - now) if next_try is not None else timedelta(0))
        else:
            counted[key] = int(failures)
    if waits:
        session.rollback()
        return max(max(waits), timedelta(microseconds=1))
    for key, failures in counted.items():
        wait = keys[key](failures)
        if wait > timedelta(0):  # a free attempt leaves next_try_at in the past: parallel logins never queue
            session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(next_try_at=now + wait))
    session.commit()
    return timedelta(0)


def refund(session: Session, *, keys: Mapping[str, Backoff], now: datetime, window: timedelta) -> None:
    """Take back one reserved attempt of each key (the login succeeded), never lengthening a wait (commits)."""
    for key in sorted(keys):
        row = session.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).first()
        if row is None or row.failures <= 0:
            continue
        row.failures -= 1
        wait = keys[key](row.failures)
        row.next_try_at = min(row.next_try_at, now + wait if wait > timedelta(0) else now - window)
    session.commit()


def clear(session: Session, *, keys: list[str]) -> None:
    """Forget ``keys`` (the login succeeded: its username and its username-and-address pair) (commits)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    session.commit()


def prune(session: Session, *, now: datetime, window: timedelta) -> int:
    """Delete the rows that no longer matter: their wait is over AND their last failure is older than the window
    (a key that still makes someone wait is never deleted). Commits; how many rows went."""
    result = session.execute(
        delete(LoginThrottle)
        .where(and_(LoginThrottle.next_try_at <= now, LoginThrottle.last_failure_at < now - window))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
