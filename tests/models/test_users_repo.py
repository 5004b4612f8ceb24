"""Users in the data layer: normalised, look-alike-safe usernames; keys of migrated rows; revocation with the
change; the last active admin kept under concurrent demotions. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models import migrations
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from models.records import AuthSession, User
from models.repo import sessions, users
from models.repo.errors import DuplicateRecord, InvalidTransition
from models.repo.usernames import looks_alike, normalise_username, username_key

HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash"


def _add(session: Session, username: str, role: str = "operator") -> User:
    return users.create_user(session, username=username, role=role, password_hash=HASH)


def test_usernames_are_normalised_and_keyed_by_their_skeleton() -> None:
    assert normalise_username("  ｄａｎａ\u00a0") == "dana"
    assert username_key("Admin") == username_key("ADMIN") == username_key("аdmin") == username_key("ａｄｍｉｎ")
    assert looks_alike("Нурлан", "Hурлан")  # a Cyrillic capital Н and a Latin H
    assert looks_alike("Нурлан", "нурлан")
    assert looks_alike("bob", "b0b") and looks_alike("alikhan.1", "alikhan.l")
    for different in (("ali", "all"), ("иван", "ivan"), ("asel", "asel2"), ("Әлия", "Алия")):
        assert not looks_alike(*different), different


def test_look_alike_usernames_are_refused(session: Session) -> None:
    first = _add(session, " Admin ")
    assert (first.username, first.username_key) == ("Admin", username_key("admin"))
    for taken in ("Admin", "admin", "ADMIN", "аdmin", "ａｄｍｉｎ", "adrnin"):
        with pytest.raises(DuplicateRecord) as refused:
            _add(session, taken)
        assert "already exists" in str(refused.value), taken
    _add(session, "нурлан")
    with pytest.raises(DuplicateRecord, match="looks the same"):
        _add(session, "Hурлан")
    _add(session, "all")
    _add(session, "ali")  # different enough
    assert sorted(u.username for u in users.list_users(session)) == ["Admin", "ali", "all", "нурлан"]


def test_usernames_with_invisible_characters_are_refused(session: Session) -> None:
    for bad in ("", "   ", "a\x00b", "a b", "tab\there", "zero\u200bwidth", "x" * 65):
        with pytest.raises(ValueError):
            _add(session, bad)
    assert users.find_by_username(session, username="a\x00b") is None


def test_login_names_find_the_user_in_any_form(session: Session) -> None:
    made = _add(session, "Dana")
    for typed in ("Dana", "dana", " DANA ", "ｄａｎａ", "dаna"):
        found = users.find_by_username(session, username=typed)
        assert found is not None and found.id == made.id, typed
    assert users.find_by_username(session, username="dan") is None


def test_migrated_rows_keep_logging_in_and_get_their_keys(session: Session) -> None:
    admin, other = _add(session, "Admin", role="admin"), _add(session, "Marat")
    for user in (admin, other):  # what migration 0003 gave existing rows
        session.execute(
            text("UPDATE users SET username_key = :key WHERE id = :id"),
            {"key": f"{user.username.casefold()}#{user.id}", "id": user.id},
        )
    session.commit()
    session.expire_all()
    found = users.find_by_username(session, username="ADMIN")
    assert found is not None and found.id == admin.id
    with pytest.raises(DuplicateRecord):
        _add(session, "аdmin")  # compared on the names, not on the provisional key
    assert users.settle_username_keys(session) == 2
    assert users.settle_username_keys(session) == 0
    session.expire_all()
    assert session.get(User, admin.id).username_key == username_key("admin")  # type: ignore[union-attr]


@pytest.fixture(params=["sqlite", "postgres"])
def url_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database migrated to revision 0002 (before login sessions and username keys)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        migrations.upgrade(url, "0002")
        yield url
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"old_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url, "0002")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_users_from_before_the_migration_get_skeleton_keys(url_at_0002: str) -> None:
    engine = make_engine(url_at_0002)
    try:
        with engine.begin() as conn:
            for name, role in (("Root", "admin"), ("root2", "operator"), ("Нурлан", "operator")):
                conn.execute(
                    text(
                        "INSERT INTO users (username, full_name, role, password_hash, active, ui_language, created_at)"
                        " VALUES (:n, '', :r, :h, :a, 'ru', :t)"
                    ),
                    {"n": name, "r": role, "h": HASH, "a": True, "t": utcnow().replace(tzinfo=None)},
                )
        migrations.upgrade(url_at_0002)
        with make_sessionmaker(engine)() as session:
            assert all("#" in u.username_key for u in users.list_users(session))
            assert users.find_by_username(session, username="ROOT") is not None
            assert users.settle_username_keys(session) == 3
            assert {u.username: u.username_key for u in users.list_users(session)} == {
                name: username_key(name) for name in ("Root", "root2", "Нурлан")
            }
            found = users.find_by_username(session, username="нурлан")
            assert found is not None and found.username == "Нурлан"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"password_hash": HASH + "-new"}, "password_changed"),
        ({"active": False}, "deactivated"),
        ({"role": "supervisor"}, "role_changed"),
        ({"role": "qa", "active": False, "password_hash": HASH + "-x"}, "deactivated"),
        ({"full_name": "Жаңа", "ui_language": "kk", "must_change_password": True}, None),
    ],
)
def test_changes_that_take_something_away_end_the_sessions(
    session: Session, changes: dict[str, Any], reason: str | None
) -> None:
    user = _add(session, "changed")
    for _ in range(2):
        sessions.open_session(session, user_id=user.id, expires_at=utcnow(), client="127.0.0.1")
    users.update_user(session, user_id=user.id, changes=changes, actor="test")
    rows = session.scalars(select(AuthSession)).all()
    assert [r.revoked_reason for r in rows] == [reason, reason]
    assert all((r.revoked_at is not None) == (reason is not None) for r in rows)


def _hold_commits(maker: sessionmaker[Session], ready: threading.Event, hold_s: float) -> Session:
    """A session that, when it commits, first says so and then waits ``hold_s`` (its locks still held)."""
    held = maker()

    @event.listens_for(held, "before_commit")
    def _pause(_: Session) -> None:
        ready.set()
        time.sleep(hold_s)

    return held


def test_two_admins_demoting_each_other_at_once_leave_one(sessionmaker: sessionmaker[Session]) -> None:
    with sessionmaker() as s:
        first, second = _add(s, "admin-a", role="admin"), _add(s, "admin-b", role="admin")
    ready, outcome = threading.Event(), {}

    def demote(user_id: int, session: Session) -> None:
        started = time.monotonic()
        try:
            users.update_user(session, user_id=user_id, changes={"role": "operator"}, actor="test")
            outcome[user_id] = ("demoted", time.monotonic() - started)
        except InvalidTransition as exc:
            outcome[user_id] = (str(exc), time.monotonic() - started)
        finally:
            session.close()

    held = _hold_commits(sessionmaker, ready, hold_s=0.6)
    a = threading.Thread(target=demote, args=(first.id, held))
    a.start()
    assert ready.wait(10)  # A has checked and changed, and is about to commit
    b = threading.Thread(target=demote, args=(second.id, sessionmaker()))
    b.start()
    a.join(10)
    b.join(10)
    assert outcome[first.id][0] == "demoted"
    assert outcome[second.id][0] == "this is the last active admin; make another admin first"
    assert outcome[second.id][1] > 0.3  # B waited for A's transaction instead of counting beside it
    with sessionmaker() as s:
        assert users.count_users(s, role="admin", active=True) == 1


def test_the_last_admin_can_be_neither_demoted_nor_disabled(session: Session) -> None:
    admin, op = _add(session, "only-admin", role="admin"), _add(session, "an-operator")
    for change in ({"role": "qa"}, {"active": False}):
        with pytest.raises(InvalidTransition, match="last active admin"):
            users.update_user(session, user_id=admin.id, changes=change, actor="test")
    users.update_user(session, user_id=op.id, changes={"role": "admin"}, actor="test")
    users.update_user(session, user_id=admin.id, changes={"active": False}, actor="test")
    users.update_user(session, user_id=admin.id, changes={"active": True, "role": "qa"}, actor="test")
    assert users.count_users(session, role="admin", active=True) == 1
