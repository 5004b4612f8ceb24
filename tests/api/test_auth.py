"""Logging in, tokens, and who-am-I; refused tokens get 401 with a sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

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


def test_tokens_without_an_open_session_of_their_user_are_refused(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    from api.security import _signing_key, create_access_token

    user, other = make_user("admin"), make_user("operator")
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "role": "admin", "iat": now, "exp": now + timedelta(hours=1)}
    no_sid = jwt.encode(claims, _signing_key(ctx.settings.secret_key), algorithm="HS256")
    unsigned = jwt.encode({**claims, "sid": "x" * 32}, key=None, algorithm="none")
    unknown_sid = create_access_token(
        user_id=user.id, role="admin", session_id="0" * 32, secret=ctx.settings.secret_key, ttl_minutes=60
    )
    # the session of another user cannot be borrowed by editing the subject
    borrowed_sid = jwt.decode(
        token_for(other), _signing_key(ctx.settings.secret_key), algorithms=["HS256"], options={"verify_exp": False}
    )["sid"]
    borrowed = create_access_token(
        user_id=user.id, role="admin", session_id=borrowed_sid, secret=ctx.settings.secret_key, ttl_minutes=60
    )
    expected = {
        "no sid": "names no login session",
        "alg none": "not valid",
        "unknown sid": "no longer exists",
        "borrowed sid": "no longer exists",
    }
    for name, token in zip(expected, (no_sid, unsigned, unknown_sid, borrowed), strict=True):
        answer = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, name
        assert expected[name] in answer.json()["detail"] and answer.json()["detail"].endswith("."), name


def test_role_is_read_from_the_database_not_the_token(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    from api.security import _signing_key, create_access_token

    op = make_user("operator")
    sid = jwt.decode(token_for(op), _signing_key(ctx.settings.secret_key), algorithms=["HS256"])["sid"]
    claims_admin = create_access_token(
        user_id=op.id, role="admin", session_id=sid, secret=ctx.settings.secret_key, ttl_minutes=60
    )
    answer = client.get("/api/users", headers={"Authorization": f"Bearer {claims_admin}"})
    assert answer.status_code == 403 and "(operator)" in answer.json()["detail"]


def test_login_finds_the_user_by_any_case_or_form_of_the_name(client: Any, make_user: Any) -> None:
    make_user("operator", username="dana", password="dana-s-password")
    for typed in ("dana", "DANA", " Dana ", "ｄａｎａ", "dаna"):  # the last has a Cyrillic "а"
        answer = client.post("/api/auth/login", json={"username": typed, "password": "dana-s-password"})
        assert answer.status_code == 200, typed
        assert answer.json()["user"]["username"] == "dana"


def test_a_new_password_may_be_neither_common_nor_the_username(client: Any, make_user: Any, token_for: Any) -> None:
    user = make_user("operator", username="bolat2024", password="first-password")
    h = {"Authorization": f"Bearer {token_for(user)}"}
    for weak, reason in (
        ("password1", "most common passwords"),
        ("qwertyuiop", "most common passwords"),
        ("йцукенгшщз", "most common passwords"),  # "qwertyuiop" on a Russian keyboard layout
        ("BOLAT2024", "may not be the username"),
        ("short", "at least 8"),
    ):
        answer = client.patch("/api/auth/me", json={"password": weak, "current_password": "first-password"}, headers=h)
        assert answer.status_code == 422, weak
        assert reason in answer.json()["detail"], (weak, answer.json()["detail"])
    assert client.get("/api/auth/me", headers=h).status_code == 200  # nothing changed, the session is still open


def test_unknown_usernames_take_as_long_as_wrong_passwords(client: Any, make_user: Any) -> None:
    import statistics
    import time

    make_user("operator", username="timed", password="timed-password")

    def took(username: str) -> float:
        started = time.perf_counter()
        answer = client.post("/api/auth/login", json={"username": username, "password": "not-the-password"})
        assert answer.status_code == 401
        return time.perf_counter() - started

    known = statistics.median(took("timed") for _ in range(4))
    unknown = statistics.median(took(f"nobody-{i}") for i in range(4))
    assert 0.5 < unknown / known < 2.0, (known, unknown)


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_odd_usernames_get_a_plain_401(client: Any, make_user: Any) -> None:
    make_user("operator", username="plain", password="plain-password")
    for odd in ("ü" * 64, "a|b", "#" * 64, "plain\u200b", "Ｐｌａｉｎ\u0301"):
        answer = client.post("/api/auth/login", json={"username": odd, "password": "plain-password"})
        assert answer.status_code == 401 and answer.json()["detail"] == "Wrong username or password.", odd
    for nul in ("pl\x00ain", "\x00"):  # refused before or by the lookup, never a server error
        answer = client.post("/api/auth/login", json={"username": nul, "password": "plain-password"})
        assert answer.status_code in (401, 422) and answer.json()["detail"].endswith("."), nul


def test_a_migrated_user_logs_in_and_gets_a_look_alike_key(client: Any, ctx: Any, make_user: Any) -> None:
    from sqlalchemy import text

    from models.records import User
    from models.repo.usernames import username_key

    user = make_user("admin", username="Migrated", password="migrated-password")
    with ctx.sessionmaker() as s:  # the provisional key migration 0003 gives existing rows
        provisional = {"k": f"migrated#{user.id}", "id": user.id}
        s.execute(text("UPDATE users SET username_key = :k WHERE id = :id"), provisional)
        s.commit()
    answer = client.post("/api/auth/login", json={"username": "MIGRATED", "password": "migrated-password"})
    assert answer.status_code == 200
    with ctx.sessionmaker() as s:
        assert s.get(User, user.id).username_key == username_key("migrated")  # type: ignore[union-attr]
