"""Data functions for users: create, find, list and update (password hashes come from the caller).

A change that takes away what a login was granted (a new password, deactivation, another role) ends the user's
login sessions in the same transaction, and the last active admin can be neither demoted nor deactivated.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.handover import Organisation
from models.records import ROLES, User
from models.repo import audit, sessions
from models.repo.errors import DuplicateRecord, InvalidTransition, RecordNotFound
from models.repo.usernames import (
    MAX_KEY_LENGTH,
    looks_alike,
    normalise_username,
    provisional_key_prefix,
    username_key,
)

logger = logging.getLogger(__name__)

UPDATABLE = ("full_name", "role", "active", "ui_language", "password_hash", "must_change_password", "organisation_id")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _check_membership(session: Session, role: str, organisation_id: int | None) -> None:
    """An executor belongs to exactly one active organisation; the hotline's own people to none."""
    if role == "executor":
        if organisation_id is None:
            raise ValueError("an executor needs the organisation they work for (organisation_id)")
        org = session.get(Organisation, organisation_id)
        if org is None or not org.active:
            raise ValueError(f"organisation {organisation_id} does not exist or is not active")
    elif organisation_id is not None:
        raise ValueError("only executors belong to an organisation; the hotline's own people do not")


def _checked_username(username: str) -> str:
    """``username`` normalised; ValueError when it is empty, too long or holds control characters."""
    name = normalise_username(username)
    if not name or len(name) > 64:
        raise ValueError("a username has 1 to 64 characters")
    if any(not ch.isprintable() or ch.isspace() for ch in name):
        raise ValueError("a username has no spaces, line breaks or other invisible characters")
    if len(username_key(name)) > MAX_KEY_LENGTH:
        raise ValueError("this username is too long once normalised; choose a shorter one")
    return name


def _refuse_lookalike(session: Session, name: str) -> None:
    """DuplicateRecord when an existing user's name is ``name`` in another letter case or with look-alike
    letters (compared on the names themselves, so rows whose stored key is still provisional count too)."""
    for other in session.scalars(select(User.username)).all():
        if other == name:
            raise DuplicateRecord(f"user {name!r} already exists")
        if looks_alike(other, name):
            raise DuplicateRecord(
                f"user {other!r} already exists and {name!r} looks the same to a person (letter case or look-alike "
                "letters); choose a username that cannot be mistaken for it"
            )


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    password_hash: str,
    full_name: str = "",
    ui_language: str = "ru",
    active: bool = True,
    must_change_password: bool = False,
    organisation_id: int | None = None,
    actor: str = "system:cli",
    actor_id: int | None = None,
) -> User:
    """Add a user (the name NFKC-normalised and trimmed); DuplicateRecord if the name, or one a person could
    mistake for it, is taken."""
    _check_role(role)
    _check_membership(session, role, organisation_id)
    name = _checked_username(username)
    _refuse_lookalike(session, name)
    user = User(
        username=name,
        username_key=username_key(name),
        role=role,
        password_hash=password_hash,
        full_name=full_name,
        ui_language=ui_language,
        active=active,
        must_change_password=must_change_password,
        organisation_id=organisation_id,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same or a look-alike name
        session.rollback()
        raise DuplicateRecord(f"user {name!r} (or a name that looks the same) already exists") from exc
    audit.record(
        session,
        actor=actor,
        user_id=actor_id,
        entity="user",
        entity_id=user.id,
        action="create",
        after={
            "username": name,
            "role": role,
            "full_name": full_name,
            "active": active,
            "must_change_password": must_change_password,
        },
    )
    session.commit()
    return user


def get_user(session: Session, *, user_id: int) -> User:
    """The user with ``user_id``."""
    user = session.get(User, user_id)
    if user is None:
        raise RecordNotFound(f"user {user_id} does not exist")
    return user


def find_by_username(session: Session, *, username: str) -> User | None:
    """The user called ``username`` in any letter case or form (found by its key), if any.

    Rows whose key is still the migration's provisional one are found by their exact name or provisional key.
    """
    name = normalise_username(username)
    if not name or "\x00" in name:
        return None
    key = username_key(name)
    rows = session.scalars(
        select(User).where(
            or_(
                User.username_key == key,
                User.username == name,
                User.username_key.startswith(provisional_key_prefix(name), autoescape=True),
            )
        )
    ).all()
    exact = [u for u in rows if u.username_key == key] or [u for u in rows if u.username == name] or list(rows)
    return exact[0] if len(exact) == 1 else None


def settle_username_keys(session: Session, *, user_ids: list[int] | None = None) -> int:
    """Recompute stored username keys that differ from today's (the provisional keys of migration 0003, or a
    newer look-alike table); commits and returns how many changed. A key that another user already holds is
    left as it is (logged): that user still logs in by the exact name."""
    stmt = select(User).order_by(User.id)
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(user_ids))
    changed = 0
    for user in session.scalars(stmt).all():
        key = username_key(user.username)
        if user.username_key == key:
            continue
        holder = session.scalar(select(User.id).where(User.username_key == key, User.id != user.id))
        if holder is not None:
            logger.warning("users %s and %s have look-alike names; user %s keeps its old key", holder, user.id, user.id)
            continue
        user.username_key = key
        changed += 1
    session.commit()
    return changed


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)).all())


def count_users(session: Session, *, role: str | None = None, active: bool | None = None) -> int:
    """How many users (of ``role``, active or not) exist."""
    stmt = select(func.count()).select_from(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active == active)
    return int(session.scalar(stmt) or 0)


def _lock_active_admins(session: Session) -> list[int]:
    """The active admins' ids, their rows locked until the transaction ends (SELECT ... FOR UPDATE, in id
    order so two changers never wait for each other crosswise). On SQLite every transaction already holds the
    write lock (BEGIN IMMEDIATE), which serialises the check the same way."""
    return list(
        session.scalars(
            select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).with_for_update()
        ).all()
    )


def _revoke_reason(after: dict[str, Any]) -> str | None:
    """Why a change ends the user's login sessions, if it does."""
    if after.get("active") is False:
        return "deactivated"
    if "role" in after or "organisation_id" in after:
        return "role_changed"
    if "password_hash" in after:
        return "password_changed"
    return None


def update_user(
    session: Session, *, user_id: int, changes: dict[str, Any], actor: str, actor_id: int | None = None
) -> User:
    """Change a user's name, role, active flag, UI language, password hash or must-change-password flag
    (audited; hashes never logged). A new password, deactivation or another role ends every login session of
    the user in the same transaction. InvalidTransition when the change would leave no active admin."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"fields that cannot be set on a user: {', '.join(sorted(unknown))}")
    if "role" in changes:
        _check_role(changes["role"])
    may_remove_admin = changes.get("role", "admin") != "admin" or changes.get("active") is False
    # Lock the active admins before reading the user, so the check below sees every committed change.
    admins = _lock_active_admins(session) if may_remove_admin else []
    user = session.get(User, user_id, populate_existing=True, with_for_update=True)
    if user is None:
        session.rollback()
        raise RecordNotFound(f"user {user_id} does not exist")
    if may_remove_admin and user.id in admins and admins == [user.id]:
        session.rollback()
        raise InvalidTransition("this is the last active admin; make another admin first")
    role = changes.get("role", user.role)
    organisation_id = changes["organisation_id"] if "organisation_id" in changes else user.organisation_id
    if role != "executor" and "organisation_id" not in changes:
        organisation_id = None  # leaving the executor role leaves the organisation
        changes = {**changes, "organisation_id": None}
    try:
        _check_membership(session, role, organisation_id)
    except ValueError:
        session.rollback()
        raise
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in changes.items():
        old = getattr(user, key)
        if old == value:
            continue
        setattr(user, key, value)
        shown_old, shown_new = ("***", "(changed)") if key == "password_hash" else (old, value)
        before[key], after[key] = shown_old, shown_new
    reason = _revoke_reason(after)
    if reason is not None:
        sessions.revoke_all_for_user(session, user_id=user.id, reason=reason, commit=False)
    if after:
        audit.record(
            session,
            actor=actor,
            user_id=actor_id,
            entity="user",
            entity_id=user.id,
            action="update",
            before=before,
            after=after,
        )
    session.commit()
    return user
