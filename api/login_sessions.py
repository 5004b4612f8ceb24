"""Login sessions behind access tokens: one is opened at each login and named in the token (``sid``); a request
is answered only while its session is open, so logout and an admin's change end a token at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.security import create_access_token
from core.config import Settings
from models.base import utcnow
from models.records import AuthSession, User
from models.repo import sessions

# Why a session ended, as the sentence a refused request gets (by auth_sessions.revoked_reason).
ENDED_BECAUSE = {
    "logout": "You logged out of this session; log in again.",
    "password_changed": "Your password was changed; log in again.",
    "deactivated": "Your account was disabled; ask an administrator.",
    "role_changed": "Your role was changed; log in again.",
    "admin": "An administrator ended this session; log in again.",
}
# How long an expired session row is kept (its token is refused as expired by its own signature by then).
KEEP_EXPIRED = timedelta(days=1)


def start_session(db: Session, *, user: User, settings: Settings, client: str | None) -> str:
    """Open a login session for ``user`` (from address ``client``) and return its signed access token."""
    now = utcnow()
    sessions.prune_ended(db, before=now - KEEP_EXPIRED)
    opened = sessions.open_session(
        db, user_id=user.id, expires_at=now + timedelta(minutes=settings.token_ttl_minutes), client=client
    )
    return create_access_token(
        user_id=user.id,
        role=user.role,
        session_id=opened.id,
        secret=settings.secret_key,
        ttl_minutes=settings.token_ttl_minutes,
    )


def session_refusal(login: AuthSession | None, *, user_id: int, now: datetime | None = None) -> str | None:
    """Why a token naming session ``login`` of user ``user_id`` is refused, as a sentence; None while it is open."""
    if login is None or login.user_id != user_id:
        return "This login session no longer exists; log in again."
    if login.revoked_at is not None:
        return ENDED_BECAUSE.get(login.revoked_reason or "", "This login session was ended; log in again.")
    if login.expires_at <= (now or utcnow()):
        return "Your session has expired; log in again."
    return None
