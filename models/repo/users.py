"""Data functions for users: create, find, list and update (password hashes come from the caller)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.records import ROLES, User
from models.repo import audit
from models.repo.errors import DuplicateRecord, RecordNotFound

UPDATABLE = ("full_name", "role", "active", "ui_language", "password_hash")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    password_hash: str,
    full_name: str = "",
    ui_language: str = "ru",
    active: bool = True,
    actor: str = "system:cli",
    actor_id: int | None = None,
) -> User:
    """Add a user; DuplicateRecord if the username is taken."""
    _check_role(role)
    if not username or len(username) > 64:
        raise ValueError("a username has 1 to 64 characters")
    user = User(
        username=username,
        role=role,
        password_hash=password_hash,
        full_name=full_name,
        ui_language=ui_language,
        active=active,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise DuplicateRecord(f"user {username!r} already exists") from exc
    audit.record(
        session,
        actor=actor,
        user_id=actor_id,
        entity="user",
        entity_id=user.id,
        action="create",
        after={"username": username, "role": role, "full_name": full_name, "active": active},
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
    """The user called ``username``, if any."""
    return session.scalars(select(User).where(User.username == username)).first()


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


def update_user(
    session: Session, *, user_id: int, changes: dict[str, Any], actor: str, actor_id: int | None = None
) -> User:
    """Change a user's name, role, active flag, UI language or password hash (audited; hashes never logged)."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"fields that cannot be set on a user: {', '.join(sorted(unknown))}")
    if "role" in changes:
        _check_role(changes["role"])
    user = get_user(session, user_id=user_id)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in changes.items():
        old = getattr(user, key)
        if old == value:
            continue
        setattr(user, key, value)
        shown_old, shown_new = ("***", "(changed)") if key == "password_hash" else (old, value)
        before[key], after[key] = shown_old, shown_new
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
