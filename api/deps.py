"""Route dependencies: the context, one session per request, the logged-in user, role checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

import anyio.from_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.context import ApiContext
from api.errors import ApiError
from api.security import InvalidToken, decode_access_token, password_stamp
from calls.messages import LiveMessage
from models.records import User
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


def user_from_token(ctx: ApiContext, session: Session, token: str | None) -> User:
    """The active user a token names; ApiError 401 otherwise (also used by WebSockets with ?token=)."""
    if not token:
        raise ApiError(401, f"You need to log in: {LOGIN_HINT}.", headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = decode_access_token(token, secret=ctx.settings.secret_key)
    except InvalidToken as exc:
        raise ApiError(401, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", headers={"WWW-Authenticate": "Bearer"}) from exc
    user = session.get(User, int(claims["sub"]))
    # End the read transaction now: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE), and a
    # route may hand work to other sessions (threads) while this one would otherwise sit idle in a transaction.
    session.commit()
    if user is None or not user.active:
        raise ApiError(
            401, "This account does not exist or is disabled; log in again.", headers={"WWW-Authenticate": "Bearer"}
        )
    if "pws" in claims and claims["pws"] != password_stamp(user.password_hash):
        raise ApiError(401, "Your password was changed; log in again.", headers={"WWW-Authenticate": "Bearer"})
    return user


def get_current_user(
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The logged-in user (401 without a valid bearer token).

    GET/HEAD requests may carry the token in the same-site ``callcard_token`` cookie instead (set by the
    login page), so an <audio> element's Range requests for a recording are signed in.
    """
    token = credentials.credentials if credentials else None
    if token is None and request.method in ("GET", "HEAD"):
        token = request.cookies.get("callcard_token") or None
    return user_from_token(ctx, session, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str) -> Callable[..., User]:
    """A dependency that lets through users of ``roles`` (admins always), 403 for everyone else."""

    def check(user: CurrentUser) -> User:
        if user.role == "admin" or user.role in roles:
            return user
        allowed = " or ".join([*roles, "admin"])
        raise ApiError(403, f"Your role ({user.role}) may not do this; it needs {allowed}.")

    check.__name__ = f"require_{'_'.join(roles) or 'admin'}"
    return check


OperatorUser = Annotated[User, Depends(require_role("operator"))]
QaUser = Annotated[User, Depends(require_role("qa"))]
AdminUser = Annotated[User, Depends(require_role())]
StaffUser = Annotated[User, Depends(require_role("operator", "qa"))]


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
            user = user_from_token(ctx, session, token)
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
    if who.role not in ("operator", "admin"):
        raise ApiError(403, f"Your role ({who.role}) may not do this; it needs operator or admin.")
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
