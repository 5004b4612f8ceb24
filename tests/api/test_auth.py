"""Logging in, tokens, and who-am-I; refused tokens get 401 with a sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from models.repo import users


def test_login_and_me(client: Any, make_user: Any) -> None:
    make_user("qa", username="dana", password="correct horse", full_name="Дана Әлиева")
    answer = client.post("/api/auth/login", json={"username": "dana", "password": "correct horse"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "qa"
    assert body["user"]["full_name"] == "Дана Әлиева"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "dana"
    assert "password_hash" not in me.json()


def test_wrong_password_unknown_user_and_disabled(client: Any, ctx: Any, make_user: Any) -> None:
    user = make_user("operator", username="arman", password="good-password")
    for creds in ({"username": "arman", "password": "bad"}, {"username": "nobody", "password": "x"}):
        answer = client.post("/api/auth/login", json=creds)
        assert answer.status_code == 401 and answer.json()["detail"] == "Wrong username or password."
    with ctx.sessionmaker() as s:
        users.update_user(s, user_id=user.id, changes={"active": False}, actor="test")
    assert client.post("/api/auth/login", json={"username": "arman", "password": "good-password"}).status_code == 401


def test_bad_tokens_are_refused(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    user = make_user("admin")
    from api.security import _signing_key

    secret = _signing_key(ctx.settings.secret_key)
    now = datetime.now(UTC)
    expired = jwt.encode(
        {"sub": str(user.id), "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)},
        secret,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": str(user.id), "iat": now, "exp": now + timedelta(hours=1)},
        "another-secret-of-enough-length-0123456789",
        algorithm="HS256",
    )
    ghost = jwt.encode({"sub": "99999", "iat": now, "exp": now + timedelta(hours=1)}, secret, algorithm="HS256")
    cases = {"expired": expired, "forged": forged, "ghost": ghost, "garbage": "abc.def.ghi"}
    for name, token in cases.items():
        answer = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, name
        assert answer.json()["detail"].endswith("."), name
    assert "expired" in client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"}).json()["detail"]
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token_for(user)}"}).status_code == 200


def test_change_own_language_and_password(client: Any, make_user: Any, token_for: Any) -> None:
    user = make_user("operator", username="nurlan", password="first-password")
    h = {"Authorization": f"Bearer {token_for(user)}"}
    answer = client.patch("/api/auth/me", json={"ui_language": "kk"}, headers=h)
    assert answer.status_code == 200 and answer.json()["ui_language"] == "kk"
    refused = client.patch("/api/auth/me", json={"password": "second-password"}, headers=h)
    assert refused.status_code == 403 and "current password" in refused.json()["detail"]
    wrong = client.patch("/api/auth/me", json={"password": "second-password", "current_password": "nope"}, headers=h)
    assert wrong.status_code == 403
    assert client.patch("/api/auth/me", json={"role": "admin"}, headers=h).status_code == 422
    ok = client.patch(
        "/api/auth/me", json={"password": "second-password", "current_password": "first-password"}, headers=h
    )
    assert ok.status_code == 200 and ok.json()["role"] == "operator"
    assert client.post("/api/auth/login", json={"username": "nurlan", "password": "second-password"}).status_code == 200
    assert client.post("/api/auth/login", json={"username": "nurlan", "password": "first-password"}).status_code == 401
