"""Users API (admin) and the `callcard users` command."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from click.testing import CliRunner

from callcard.cli import cli
from models.repo import users


def test_admin_creates_user_who_can_log_in(client: Any, admin_headers: Any) -> None:
    made = client.post(
        "/api/users", json={"username": "aliya", "role": "operator", "full_name": "Әлия"}, headers=admin_headers
    )
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    assert password and len(password) >= 12
    login = client.post("/api/auth/login", json={"username": "aliya", "password": password})
    assert login.status_code == 200 and login.json()["user"]["full_name"] == "Әлия"
    dup = client.post(
        "/api/users", json={"username": "aliya", "role": "qa", "password": "something-long"}, headers=admin_headers
    )
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    chosen = client.post(
        "/api/users", json={"username": "b", "role": "qa", "password": "chosen-password"}, headers=admin_headers
    )
    assert chosen.json()["password"] is None
    short = client.post("/api/users", json={"username": "c", "role": "qa", "password": "short"}, headers=admin_headers)
    assert short.status_code == 422
    bad_role = client.post("/api/users", json={"username": "d", "role": "boss"}, headers=admin_headers)
    assert bad_role.status_code == 422
    listed = client.get("/api/users", headers=admin_headers).json()
    assert {"aliya", "b"} <= {u["username"] for u in listed["data"]}


def test_update_user_and_last_admin(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    admin = make_user("admin")
    headers = {"Authorization": f"Bearer {token_for(admin)}"}
    op = make_user("operator", username="temir")
    changed = client.patch(f"/api/users/{op.id}", json={"role": "qa", "password": "new-password-1"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["role"] == "qa"
    assert client.post("/api/auth/login", json={"username": "temir", "password": "new-password-1"}).status_code == 200
    disabled = client.patch(f"/api/users/{op.id}", json={"active": False}, headers=headers)
    assert disabled.json()["active"] is False
    assert client.post("/api/auth/login", json={"username": "temir", "password": "new-password-1"}).status_code == 401
    last = client.patch(f"/api/users/{admin.id}", json={"role": "operator"}, headers=headers)
    assert last.status_code == 409 and "last active admin" in last.json()["detail"]
    assert client.patch("/api/users/9999", json={"full_name": "x"}, headers=headers).status_code == 404
    from sqlalchemy import select

    from models.records import AuditEvent

    with ctx.sessionmaker() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.action == "update")).all()
    assert events and all("***" not in str(e.after) for e in events)
    assert any(e.after.get("password_hash") == "(changed)" for e in events)


def test_cli_users_add_and_list(sqlite_url: str) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "add", "root", "--role", "admin", "--url", sqlite_url])
    assert made.exit_code == 0, made.output
    assert "added admin root" in made.output and "password: " in made.output
    again = runner.invoke(cli, ["users", "add", "root", "--role", "admin", "--url", sqlite_url])
    assert again.exit_code != 0 and "already exists" in again.output
    quiet = runner.invoke(cli, ["users", "add", "root", "--role", "admin", "--url", sqlite_url, "--if-missing"])
    assert quiet.exit_code == 0 and "nothing changed" in quiet.output
    given = runner.invoke(
        cli, ["users", "add", "qa1", "--role", "qa", "--password", "qa-password", "--url", sqlite_url]
    )
    assert given.exit_code == 0 and "password:" not in given.output
    bad = runner.invoke(cli, ["users", "add", "x", "--role", "king", "--url", sqlite_url])
    assert bad.exit_code != 0
    listed = runner.invoke(cli, ["users", "list", "--url", sqlite_url])
    assert "root\tadmin\tactive" in listed.output and "qa1\tqa" in listed.output


def test_look_alike_usernames_are_refused_with_a_sentence(client: Any, admin_headers: Any) -> None:
    made = client.post("/api/users", json={"username": "Admin2", "role": "qa"}, headers=admin_headers)
    assert made.status_code == 201 and made.json()["username"] == "Admin2"
    for taken in ("admin2", "ADMIN2", "аdmin2", "ａｄｍｉｎ２"):  # Cyrillic "а"; full-width letters
        answer = client.post("/api/users", json={"username": taken, "role": "qa"}, headers=admin_headers)
        assert answer.status_code == 409, taken
        assert "already exists" in answer.json()["detail"] and answer.json()["detail"].endswith("."), taken
    listed = client.get("/api/users", headers=admin_headers).json()["data"]
    assert [u["username"] for u in listed].count("Admin2") == 1 and len(listed) == 2


def test_passwords_set_by_an_admin_follow_the_rules(client: Any, make_user: Any, admin_headers: Any) -> None:
    for password, reason in (("password123", "most common"), ("berik-1985", "may not be the username")):
        answer = client.post(
            "/api/users",
            json={"username": "berik-1985", "role": "operator", "password": password},
            headers=admin_headers,
        )
        assert answer.status_code == 422 and reason in answer.json()["detail"], password
    op = make_user("operator", username="dauren")
    for password in ("iloveyou1", "Dauren  ", "1234567890"):
        answer = client.patch(f"/api/users/{op.id}", json={"password": password}, headers=admin_headers)
        assert answer.status_code == 422, password
    ok = client.patch(f"/api/users/{op.id}", json={"password": "a-decent-passphrase"}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["must_change_password"] is True


def test_cli_refuses_weak_passwords_and_knows_every_role(sqlite_url: str) -> None:
    runner = CliRunner()
    common = runner.invoke(
        cli, ["users", "add", "aidos", "--role", "qa", "--password", "qwerty123", "--url", sqlite_url]
    )
    assert common.exit_code != 0 and "most common passwords" in common.output
    same = runner.invoke(
        cli, ["users", "add", "aidos-qa", "--role", "qa", "--password", "AIDOS-QA", "--url", sqlite_url]
    )
    assert same.exit_code != 0 and "may not be the username" in same.output
    ok = runner.invoke(
        cli, ["users", "add", "aidos", "--role", "supervisor", "--password", "aidos-own-pw-1", "--url", sqlite_url]
    )
    assert ok.exit_code == 0 and "added supervisor aidos" in ok.output
    lookalike = runner.invoke(cli, ["users", "add", "АIDOS", "--role", "qa", "--url", sqlite_url])  # Cyrillic А
    assert lookalike.exit_code != 0 and "already exists" in lookalike.output


def _demote_each_other_at_once(client: Any, admins: list[Any], headers: list[dict[str, str]]) -> list[int]:
    """Admin 0 demotes admin 1 while admin 1 demotes admin 0; the two answers' statuses."""
    barrier, answers = threading.Barrier(2), []

    def demote(mine: int, other: int) -> None:
        barrier.wait()
        answers.append(client.patch(f"/api/users/{admins[other].id}", json={"role": "qa"}, headers=headers[mine]))

    threads = [threading.Thread(target=demote, args=(0, 1)), threading.Thread(target=demote, args=(1, 0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(a.status_code for a in answers)


@pytest.mark.parametrize("api_db", ["postgres"], indirect=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    admins = [make_user("admin") for _ in range(2)]
    for _ in range(3):
        headers = [{"Authorization": f"Bearer {token_for(a)}"} for a in admins]
        codes = _demote_each_other_at_once(client, admins, headers)
        with ctx.sessionmaker() as s:
            assert users.count_users(s, role="admin", active=True) == 1, codes
            # the other found the last admin (409), or its session had already been ended by the change (401)
            assert codes[0] == 200 and codes[1] in (401, 409), codes
            for a in admins:  # both admins again for the next round
                users.update_user(s, user_id=a.id, changes={"role": "admin"}, actor="test")
