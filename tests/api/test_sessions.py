"""Login sessions: every token names one; logout, a new password, deactivation and a role change end them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from models.base import utcnow
from models.records import AuthSession
from models.repo import users
from models.repo.errors import InvalidTransition


def _login(client: Any, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_logout_ends_this_session_only(client: Any, ctx: Any, make_user: Any) -> None:
    make_user("operator", username="aruzhan", password="aruzhan-password")
    first, second = _login(client, "aruzhan", "aruzhan-password"), _login(client, "aruzhan", "aruzhan-password")
    assert client.post("/api/auth/logout", headers=first).status_code == 204
    refused = client.get("/api/auth/me", headers=first)
    assert refused.status_code == 401 and refused.json()["detail"] == "You logged out of this session; log in again."
    assert refused.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/auth/logout", headers=first).status_code == 401
    assert client.get("/api/auth/me", headers=second).status_code == 200
    assert client.post("/api/auth/logout").status_code == 401
    with ctx.sessionmaker() as s:
        reasons = sorted(str(r.revoked_reason) for r in s.scalars(select(AuthSession)).all())
    assert reasons == ["None", "logout"]


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"password": "reset-by-admin-7"}, "Your password was changed; log in again."),
        ({"active": False}, "Your account was disabled; ask an administrator."),
        ({"role": "qa"}, "Your role was changed; log in again."),
    ],
)
def test_an_admins_change_ends_every_session_of_the_user(
    client: Any, make_user: Any, admin_headers: Any, change: dict[str, Any], sentence: str
) -> None:
    target = make_user("operator", username="temirlan", password="temirlan-password")
    tokens = [_login(client, "temirlan", "temirlan-password") for _ in range(2)]
    assert client.patch(f"/api/users/{target.id}", json=change, headers=admin_headers).status_code == 200
    for headers in tokens:
        refused = client.get("/api/auth/me", headers=headers)
        assert refused.status_code == 401 and refused.json()["detail"] == sentence
    # a change that takes nothing away keeps the sessions
    fresh = make_user("operator", username="kept", password="kept-password-1")
    kept = _login(client, "kept", "kept-password-1")
    renamed = client.patch(
        f"/api/users/{fresh.id}", json={"full_name": "Жаңа аты", "ui_language": "kk"}, headers=admin_headers
    )
    assert renamed.status_code == 200
    assert client.get("/api/auth/me", headers=kept).status_code == 200


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_revocation_commits_with_the_change_or_not_at_all(ctx: Any, make_user: Any, token_for: Any) -> None:
    admin = make_user("admin")
    token_for(admin)
    with ctx.sessionmaker() as s, pytest.raises(InvalidTransition, match="last active admin"):
        users.update_user(s, user_id=admin.id, changes={"role": "qa"}, actor="test")
    with ctx.sessionmaker() as s:
        assert s.scalars(select(AuthSession.revoked_at)).all() == [None]  # the refused change revoked nothing
    op = make_user("operator")
    token_for(op)
    with ctx.sessionmaker() as s:
        users.update_user(s, user_id=op.id, changes={"active": False}, actor="test")
    with ctx.sessionmaker() as s:
        ended = s.scalars(select(AuthSession).where(AuthSession.user_id == op.id)).one()
        assert (ended.revoked_reason, ended.revoked_at is not None) == ("deactivated", True)


def test_an_expired_session_is_refused_even_with_an_unexpired_token(client: Any, ctx: Any, make_user: Any) -> None:
    make_user("qa", username="gulnar", password="gulnar-password")
    headers = _login(client, "gulnar", "gulnar-password")
    with ctx.sessionmaker() as s:
        row = s.scalars(select(AuthSession)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    refused = client.get("/api/auth/me", headers=headers)
    assert refused.status_code == 401 and refused.json()["detail"] == "Your session has expired; log in again."


def test_a_revoked_session_cannot_open_the_live_feed(client: Any, make_user: Any) -> None:
    make_user("operator", username="live-op", password="live-op-password")
    headers = _login(client, "live-op", "live-op-password")
    token = headers["Authorization"].split()[1]
    with client.websocket_connect(f"/api/live?token={token}") as ws:
        assert ws.receive_json()["type"] in ("ready", "call_started")
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    with client.websocket_connect(f"/api/live?token={token}") as ws:
        refused = ws.receive_json()
    assert refused["type"] == "error" and "logged out" in refused["detail"]


def test_login_opens_a_session_with_the_token_lifetime_and_address(client: Any, ctx: Any, make_user: Any) -> None:
    make_user("operator", username="sessioned", password="sessioned-password")
    before = utcnow()
    _login(client, "sessioned", "sessioned-password")
    with ctx.sessionmaker() as s:
        row = s.scalars(select(AuthSession)).one()
    ttl = timedelta(minutes=ctx.settings.token_ttl_minutes)
    assert before + ttl - timedelta(seconds=5) < row.expires_at < utcnow() + ttl
    assert row.client == "testclient" and row.revoked_at is None and len(row.id) == 32
