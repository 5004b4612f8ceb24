"""Users (admin only): list, read, create (with a generated password if none), update (a password set here
must be changed at the next login)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.access import AdminUser
from api.deps import SessionDep, end_reads
from api.errors import ApiError
from api.params import RecordId
from api.passwords import password_problem
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
def get_user(user_id: RecordId, session: SessionDep, _admin: AdminUser) -> UserPublic:
    """One user."""
    user = users.get_user(session, user_id=user_id)
    end_reads(session)
    return UserPublic.of(user)


def _checked_password(password: str, *, username: str) -> str:
    """The argon2 hash of ``password``; ApiError 422 with the reason when the password may not be chosen."""
    problem = password_problem(password, username=username)
    if problem is not None:
        raise ApiError(422, problem)
    return hash_password(password)


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, admin: AdminUser) -> UserCreated:
    """Add a user; when no password is sent, one is generated and returned in this answer only. Either way the
    user must choose their own password at the first login (``must_change_password``). The username
    is stored NFKC-normalised; 409 when it, or a name a person could mistake for it ("Admin", a Cyrillic
    "аdmin"), is taken."""
    password = body.password or generate_password()
    password_hash = _checked_password(password, username=body.username)
    try:
        user = users.create_user(
            session,
            username=body.username,
            role=body.role,
            full_name=body.full_name,
            ui_language=body.ui_language,
            organisation_id=body.organisation_id,
            password_hash=password_hash,
            # the admin knows this password (chose it, or reads it in this answer): the user sets their own
            must_change_password=True,
            actor=admin.username,
            actor_id=admin.id,
        )
    except ValueError as exc:
        raise ApiError(422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
    public = UserPublic.of(user).model_dump()
    return UserCreated(**public, password=None if body.password else password)


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(user_id: RecordId, body: UserUpdate, session: SessionDep, admin: AdminUser) -> UserPublic:
    """Change a user's name, role, active flag, UI language or password. A password set here is a reset: the
    user must change it at their next login. A new password, deactivation or another role ends the user's
    login sessions. 409 when the change would leave no active admin."""
    target = users.get_user(session, user_id=user_id)
    end_reads(session)
    changes = {k: getattr(body, k) for k in body.model_fields_set if k != "password"}
    changes = {k: v for k, v in changes.items() if v is not None}
    if body.password is not None:
        changes["password_hash"] = _checked_password(body.password, username=target.username)
        changes["must_change_password"] = target.id != admin.id
    try:
        user = users.update_user(session, user_id=user_id, changes=changes, actor=admin.username, actor_id=admin.id)
    except ValueError as exc:
        raise ApiError(422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
    return UserPublic.of(user)
