"""The personal-data access log: who listened to which recording, read which unmasked transcript or exported
which masked recording, and when (append-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.privacy import ACCESS_KINDS, AccessLogEntry


@dataclass(frozen=True, slots=True)
class Accessor:
    """Who accessed: the user's id, name and role, and the client address they asked from."""

    user_id: int
    actor: str
    role: str
    client: str | None = None


def record(
    session: Session,
    *,
    who: Accessor,
    kind: str,
    call_id: int | None,
    detail: str | None = None,
    at: datetime | None = None,
) -> AccessLogEntry:
    """Write one entry and commit it; raises (SQLAlchemyError) when it cannot be written, so the caller refuses
    the access instead of serving it unlogged."""
    if kind not in ACCESS_KINDS:
        raise ValueError(f"unknown access kind {kind!r}")
    entry = AccessLogEntry(
        user_id=who.user_id,
        actor=who.actor[:64],
        role=who.role,
        call_id=call_id,
        kind=kind,
        detail=detail,
        client=who.client[:64] if who.client else None,
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    session.commit()
    return entry


def list_entries(
    session: Session,
    *,
    call_id: int | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[AccessLogEntry]:
    """Entries, newest first, filtered by call, user and time."""
    stmt = select(AccessLogEntry)
    if call_id is not None:
        stmt = stmt.where(AccessLogEntry.call_id == call_id)
    if user_id is not None:
        stmt = stmt.where(AccessLogEntry.user_id == user_id)
    if since is not None:
        stmt = stmt.where(AccessLogEntry.at >= since)
    stmt = stmt.order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))
