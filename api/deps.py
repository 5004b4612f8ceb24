"""Route dependencies: the context, one session per request, the logged-in user, role checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import anyio.from_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.context import ApiContext
from api.errors import ApiError
from api.login_sessions import session_refusal
from api.policy import ROLE_RULES, Action
from api.security import InvalidToken, decode_access_token
from calls.messages import LiveMessage
from models.records import User
from models.repo import sessions
from models.repo.cards import Actor

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/auth/login")

LOGIN_HINT = "send 'Authorization: Bearer <token>' with a token from POST /api/auth/login"


def get_ctx(request: Request) -> ApiContext:
    """The ApiContext create_app stored on the application."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[ApiContext, Depends(get_ctx)]


async def get_session(ctx: CtxDep) -> AsyncIterator[Session]:
    """One session per request, closed afterwards (data functions commit their own work).

    A route must not return with a transaction open (call ``end_reads(session)`` after its last read): on
    SQLite every transaction holds the write lock (BEGIN IMMEDIATE). Under load, threads waiting for that lock
    fill the worker thread pool, so a holder that needs another worker thread to finish never gets one (a
    deadlock until the busy timeout). For the same reason this dependency is async: the session is closed on
    the event loop (a quick rollback of whatever is left), never queued behind blocked worker threads.
    """
    session = ctx.sessionmaker()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def end_reads(session: Session) -> None:
    """End the session's read transaction (loaded objects stay usable: expire_on_commit is off)."""
    session.commit()


_REFUSED = {"WWW-Authenticate": "Bearer"}
PASSWORD_CHANGE_REQUIRED = "password_change_required"  # the "code" of the 403 a pending password change gets


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A request's user and the login session (``sid``) its token names."""

    user: User
    session_id: str


def _signed_in(ctx: ApiContext, session: Session, token: str | None, *, password_change_pending_ok: bool) -> SignedIn:
    """The user and login session a token names: ApiError 401 unless the token is signed by us and unexpired,
    names an open login session of an active user; 403 (code ``password_change_required``) while the user must
    change their password, unless ``password_change_pending_ok``. The role is the database's, not the token's."""
    if not token:
        raise ApiError(401, f"You need to log in: {LOGIN_HINT}.", headers=_REFUSED)
    try:
        claims = decode_access_token(token, secret=ctx.settings.secret_key)
    except InvalidToken as exc:
        raise ApiError(401, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", headers=_REFUSED) from exc
    session_id = claims.get("sid")
    if not isinstance(session_id, str) or not session_id:
        raise ApiError(
            401,
            "This access token names no login session (it is from an older version); log in again.",
            headers=_REFUSED,
        )
    user_id = int(claims["sub"])
    user = session.get(User, user_id)
    login = sessions.get_session(session, session_id=session_id[:64])
    # End the read transaction now: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE), and a
    # route may hand work to other sessions (threads) while this one would otherwise sit idle in a transaction.
    session.commit()
    refusal = session_refusal(login, user_id=user_id)
    if refusal is not None:
        raise ApiError(401, refusal, headers=_REFUSED)
    if user is None or not user.active:
        raise ApiError(401, "This account does not exist or is disabled; log in again.", headers=_REFUSED)
    if user.must_change_password and not password_change_pending_ok:
        raise ApiError(
            403,
            "You must change your password before you can do anything else: send PATCH /api/auth/me with "
            "current_password and a new password.",
            code=PASSWORD_CHANGE_REQUIRED,
        )
    return SignedIn(user=user, session_id=session_id)


def user_from_token(ctx: ApiContext, session: Session, token: str | None) -> User:
    """The active user a token names; ApiError 401 otherwise, 403 while they must change their password (also
    used by WebSockets with ?token=)."""
    return _signed_in(ctx, session, token, password_change_pending_ok=False).user


def request_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The request's bearer token. GET/HEAD requests may carry it in the same-site ``callcard_token`` cookie
    instead (set by the login page), so an <audio> element's Range requests for a recording are signed in."""
    token = credentials.credentials if credentials else None
    if token is None and request.method in ("GET", "HEAD"):
        token = request.cookies.get("callcard_token") or None
    return token


def get_signed_in(
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SignedIn:
    """The logged-in user and session, also while a password change is pending (for /api/auth/me and logout)."""
    return _signed_in(ctx, session, request_token(request, credentials), password_change_pending_ok=True)


def get_current_user(
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The logged-in user: 401 without a valid bearer token (or cookie, see ``request_token``), 403 with
    ``"code": "password_change_required"`` until a user who must change their password has done so."""
    return user_from_token(ctx, session, request_token(request, credentials))


CurrentUser = Annotated[User, Depends(get_current_user)]
SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


# Who may move a live caller to an emergency service (api.policy: Action.TRANSFER_CALL).
TRANSFER_ROLES = frozenset(str(role) for role in ROLE_RULES[Action.TRANSFER_CALL])


@dataclass(frozen=True, slots=True)
class EmergencyCaller:
    """Who asks for an emergency transfer. ``verified`` is False when the database could not be asked: then the
    signed, unexpired token alone vouches for the user (an emergency transfer never waits for the database)."""

    user_id: int
    username: str
    role: str
    verified: bool


def emergency_caller(
    ctx: CtxDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> EmergencyCaller:
    """The operator (or admin) asking for an emergency transfer; 401/403 as everywhere else.

    The one exception to "every request checks the user in the database": while the database is unreachable,
    a valid signed token of the operator or admin role is accepted for this route alone, and the acceptance is
    logged. Deactivation and password changes take effect as soon as the database answers again.
    """
    token = credentials.credentials if credentials is not None else None
    try:
        with ctx.sessionmaker() as session:
            user = _signed_in(ctx, session, token, password_change_pending_ok=True).user
        who = EmergencyCaller(user.id, user.username, user.role, verified=True)
    except SQLAlchemyError as exc:
        try:
            claims = decode_access_token(token or "", secret=ctx.settings.secret_key)
        except InvalidToken as bad:
            sentence = f"{str(bad)[:1].upper()}{str(bad)[1:]}."
            raise ApiError(401, sentence, headers={"WWW-Authenticate": "Bearer"}) from bad
        who = EmergencyCaller(int(claims["sub"]), f"user:{claims['sub']}", str(claims.get("role", "")), verified=False)
        logger.warning(
            "database unreachable (%s): emergency transfer accepted on the signed token of user %s (%s)",
            type(exc).__name__,
            who.user_id,
            who.role,
        )
    if who.role not in TRANSFER_ROLES:
        raise ApiError(403, f"Your role ({who.role}) may not do this; it needs {' or '.join(sorted(TRANSFER_ROLES))}.")
    return who


EmergencyUser = Annotated[EmergencyCaller, Depends(emergency_caller)]


def actor_of(user: User) -> Actor:
    """The audit actor for a user."""
    return Actor(name=user.username, user_id=user.id)


def publish(ctx: ApiContext, message: LiveMessage) -> None:
    """Publish on the hub from a sync route (worker thread) or from the event loop."""
    try:
        anyio.from_thread.run_sync(ctx.hub.publish, message)
    except RuntimeError:  # not in a worker thread: we are on the loop already
        ctx.hub.publish(message)
