"""Users (admin only): list, read, create (with a generated password if none), update."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminUser, SessionDep, end_reads
from api.errors import ApiError
from api.schemas import UserCreate, UserCreated, UserPublic, UsersPublic, UserUpdate
from api.security import generate_password, hash_password
from models.repo import users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=UsersPublic)
def list_users(session: SessionDep, _admin: AdminUser) -> UsersPublic:
    """Every user."""
    rows = users.list_users(session)
    end_reads(session)
    return UsersPublic(data=[UserPublic.of(u) for u in rows], count=len(rows))


@router.get("/{user_id}", response_model=UserPublic)
def get_user(user_id: int, session: SessionDep, _admin: AdminUser) -> UserPublic:
    """One user."""
    user = users.get_user(session, user_id=user_id)
    end_reads(session)
    return UserPublic.of(user)


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, admin: AdminUser) -> UserCreated:
    """Add a user; when no password is sent, one is generated and returned in this answer only."""
    password = body.password or generate_password()
    user = users.create_user(
        session,
        username=body.username,
        role=body.role,
        full_name=body.full_name,
        ui_language=body.ui_language,
        password_hash=hash_password(password),
        actor=admin.username,
        actor_id=admin.id,
    )
    public = UserPublic.of(user).model_dump()
    return UserCreated(**public, password=None if body.password else password)


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(user_id: int, body: UserUpdate, session: SessionDep, admin: AdminUser) -> UserPublic:
    """Change a user's name, role, active flag, UI language or password."""
    target = users.get_user(session, user_id=user_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set if k != "password"}
    changes = {k: v for k, v in changes.items() if v is not None}
    if body.password is not None:
        changes["password_hash"] = hash_password(body.password)
    losing_admin = target.role == "admin" and (
        changes.get("role", "admin") != "admin" or changes.get("active") is False
    )
    if losing_admin and target.active and users.count_users(session, role="admin", active=True) <= 1:
        end_reads(session)
        raise ApiError(409, "This is the last active admin; make another admin first.")
    user = users.update_user(session, user_id=user_id, changes=changes, actor=admin.username, actor_id=admin.id)
    return UserPublic.of(user)
