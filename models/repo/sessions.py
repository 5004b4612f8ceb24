"""Data functions for login sessions: open one per login, check it on every request, revoke it."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.records import REVOKE_REASONS, AuthSession


def open_session(session: Session, *, user_id: int, expires_at: datetime, client: str | None) -> AuthSession:
    """A new login session of ``user_id`` (commits); its id goes into the access token as ``sid``."""
    row = AuthSession(
        id=secrets.token_hex(16), user_id=user_id, expires_at=expires_at, client=(client or None) and client[:64]
    )
    session.add(row)
    session.commit()
    return row


def get_session(session: Session, *, session_id: str) -> AuthSession | None:
    """The login session ``session_id``, if it exists."""
    return session.get(AuthSession, session_id)


def revoke(session: Session, *, session_id: str, reason: str) -> bool:
    """End one login session (commits); False when it was already ended or does not exist."""
    _check(reason)
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_all_for_user(session: Session, *, user_id: int, reason: str, commit: bool = True) -> int:
    """End every open login session of ``user_id``; how many were ended. With ``commit=False`` the caller's
    transaction (e.g. the user change that causes it) commits both together."""
    _check(reason)
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if commit:
        session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune_ended(session: Session, *, before: datetime) -> int:
    """Delete login sessions that expired before ``before`` (commits); how many. A token never outlives its
    session's expiry, so these rows can no longer answer anything but "expired"."""
    result = session.execute(
        delete(AuthSession).where(AuthSession.expires_at < before).execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def _check(reason: str) -> None:
    if reason not in REVOKE_REASONS:
        raise ValueError(f"a session ends for one of {', '.join(REVOKE_REASONS)}, not {reason!r}")
