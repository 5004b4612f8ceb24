"""Log in (username and password -> bearer token) and who am I."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from api.deps import CtxDep, CurrentUser, SessionDep, end_reads
from api.errors import ApiError
from api.schemas import LoginIn, MeUpdate, Token, UserPublic
from api.security import LoginThrottle, create_access_token, hash_password, verify_password
from models.repo import users

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=Token)
def login(body: LoginIn, request: Request, ctx: CtxDep, session: SessionDep) -> Token:
    """Exchange a username and password for an access token (too many failures lock the username for a while)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    wait = throttle.blocked_for(body.username)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        raise ApiError(
            429,
            f"Too many failed logins for this username; try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = users.find_by_username(session, username=body.username)
    end_reads(session)  # never hold the database during the (deliberately slow) password check
    ok = verify_password(user.password_hash if user else None, body.password)
    if user is None or not ok or not user.active:
        throttle.failed(body.username)
        logger.info("failed login for a username of %d characters", len(body.username))
        raise ApiError(401, "Wrong username or password.", headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(body.username)
    token = create_access_token(
        user_id=user.id,
        role=user.role,
        secret=ctx.settings.secret_key,
        ttl_minutes=ctx.settings.token_ttl_minutes,
        password_hash=user.password_hash,
    )
    return Token(access_token=token, user=UserPublic.of(user))


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    """The logged-in user."""
    return UserPublic.of(user)


@router.patch("/me", response_model=UserPublic)
def update_me(body: MeUpdate, session: SessionDep, user: CurrentUser) -> UserPublic:
    """Change your own name, interface language or password (the password needs ``current_password``)."""
    changes: dict[str, object] = {}
    if body.full_name is not None:
        changes["full_name"] = body.full_name
    if body.ui_language is not None:
        changes["ui_language"] = body.ui_language
    if body.password is not None:
        if not body.current_password or not verify_password(user.password_hash, body.current_password):
            raise ApiError(403, "To set a new password, send your current password too (current_password).")
        changes["password_hash"] = hash_password(body.password)
    if not changes:
        raise ApiError(422, "Nothing to change: send full_name, ui_language or password.")
    updated = users.update_user(session, user_id=user.id, changes=changes, actor=user.username, actor_id=user.id)
    return UserPublic.of(updated)
