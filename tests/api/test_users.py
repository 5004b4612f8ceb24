"""Users API (admin) and the `callcard users` command."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from callcard.cli import cli


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
