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


def test_repeated_failures_lock_the_username_for_a_while(client: Any, make_user: Any) -> None:
    from api.security import LoginThrottle

    client.app.state.login_throttle = LoginThrottle(max_failures=3, window_s=600)
    make_user("operator", username="saule", password="right-password")
    for _ in range(3):
        assert client.post("/api/auth/login", json={"username": "saule", "password": "guess"}).status_code == 401
    locked = client.post("/api/auth/login", json={"username": "SAULE", "password": "right-password"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= 601
    # other usernames are not affected
    make_user("qa", username="other", password="other-password")
    assert client.post("/api/auth/login", json={"username": "other", "password": "other-password"}).status_code == 200


def test_throttle_forgets_after_success_and_window() -> None:
    from api.security import LoginThrottle

    throttle = LoginThrottle(max_failures=2, window_s=0.2, max_keys=3)
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.blocked_for("a") == 0
    throttle.failed("a")
    assert throttle.blocked_for("a") > 0
    import time

    time.sleep(0.25)
    assert throttle.blocked_for("a") == 0
    for name in ("b", "c", "d", "e"):
        throttle.failed(name)
    assert len(throttle._failures) <= 3  # bounded memory


def test_password_change_ends_old_sessions(client: Any, make_user: Any) -> None:
    make_user("operator", username="erlan", password="first-password")
    token = client.post("/api/auth/login", json={"username": "erlan", "password": "first-password"}).json()[
        "access_token"
    ]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/auth/me", headers=h).status_code == 200
    changed = client.patch(
        "/api/auth/me", json={"password": "second-password", "current_password": "first-password"}, headers=h
    )
    assert changed.status_code == 200
    stale = client.get("/api/auth/me", headers=h)
    assert stale.status_code == 401 and "password was changed" in stale.json()["detail"]
