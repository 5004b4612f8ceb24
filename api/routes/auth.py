"""Log in (username and password -> bearer token of a new login session), log out, and who am I."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Request, Response, status

from api.deps import CtxDep, SessionDep, SignedInDep, end_reads
from api.errors import ApiError
from api.login_sessions import start_session
from api.passwords import password_problem
from api.schemas import LoginIn, MeUpdate, Token, UserPublic
from api.security import hash_password, verify_password
from api.throttle import LoginKeys, LoginLimits, login_failed, login_succeeded, reserve_login
from models.repo import sessions, users
from models.repo.usernames import normalise_username, username_key

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])

INITIAL_ADMIN_NOTE = "initial-admin.txt"  # written by `callcard serve` for the first admin, in data_dir


@router.post("/login", response_model=Token)
def login(body: LoginIn, request: Request, ctx: CtxDep, session: SessionDep) -> Token:
    """Exchange a username (any letter case) and password for an access token. Failed logins make the next
    attempt for that username, from that address, or both, wait a little longer (429 with Retry-After).
    ``user.must_change_password`` in the answer: the user must change their password before anything else."""
    rules: LoginLimits = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    name = normalise_username(body.username)
    keys = LoginKeys.of(name, client)
    reserve_login(session, rules, keys)  # before the slow password check: parallel guesses cannot all run
    user = users.find_by_username(session, username=name)
    end_reads(session)  # never hold the database during the (deliberately slow) password check
    ok = verify_password(user.password_hash if user else None, body.password)  # as slow for unknown names
    if user is None or not ok or not user.active:
        login_failed(session, rules)
        logger.info("failed login for a username of %d characters", len(body.username))
        raise ApiError(401, "Wrong username or password.", headers={"WWW-Authenticate": "Bearer"})
    login_succeeded(session, rules, keys)
    if user.username_key != username_key(user.username):  # a key from before look-alike checks: recompute it
        users.settle_username_keys(session, user_ids=[user.id])
    token = start_session(session, user=user, settings=ctx.settings, client=client)
    return Token(access_token=token, user=UserPublic.of(user))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(session: SessionDep, signed_in: SignedInDep) -> Response:
    """End this token's login session; the token is refused from now on."""
    sessions.revoke(session, session_id=signed_in.session_id, reason="logout")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPublic)
def me(signed_in: SignedInDep) -> UserPublic:
    """The logged-in user (answered also while a password change is pending)."""
    return UserPublic.of(signed_in.user)


@router.patch("/me", response_model=UserPublic)
def update_me(body: MeUpdate, ctx: CtxDep, session: SessionDep, signed_in: SignedInDep) -> UserPublic:
    """Change your own name, interface language or password (the password needs ``current_password``; it may
    be neither a common password nor your username). A new password ends all your login sessions, this one
    too: log in again with it."""
    user = signed_in.user
    changes: dict[str, object] = {}
    if body.full_name is not None:
        changes["full_name"] = body.full_name
    if body.ui_language is not None:
        changes["ui_language"] = body.ui_language
    if body.password is not None:
        if not body.current_password or not verify_password(user.password_hash, body.current_password):
            raise ApiError(403, "To set a new password, send your current password too (current_password).")
        if body.password == body.current_password:
            raise ApiError(422, "The new password is the current one; choose a different password.")
        problem = password_problem(body.password, username=user.username)
        if problem is not None:
            raise ApiError(422, problem)
        changes["password_hash"] = hash_password(body.password)
        changes["must_change_password"] = False
    if not changes:
        raise ApiError(422, "Nothing to change: send full_name, ui_language or password.")
    updated = users.update_user(session, user_id=user.id, changes=changes, actor=user.username, actor_id=user.id)
    if "password_hash" in changes:
        _forget_initial_password(ctx.settings.data_dir / INITIAL_ADMIN_NOTE, username=updated.username)
    return UserPublic.of(updated)


def _forget_initial_password(note: Path, *, username: str) -> None:
    """Delete the first admin's password note once that admin has chosen their own password."""
    try:
        lines = note.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    named = next((line.partition(":")[2].strip() for line in lines if line.startswith("username:")), None)
    if named is None or username_key(named) == username_key(username):
        note.unlink(missing_ok=True)
        logger.info("deleted %s: its user has chosen a new password", note)
