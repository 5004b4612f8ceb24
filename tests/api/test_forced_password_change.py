"""A user whose password someone else chose must change it first: every other API route answers 403 until then."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PENDING = "password_change_required"
# What a user with a pending password change may still do (and routes that need no login at all).
ALLOWED = {
    ("GET", "/api/auth/me"),
    ("PATCH", "/api/auth/me"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/login"),
}


def _login(client: Any, username: str, password: str) -> tuple[dict[str, str], dict[str, Any]]:
    answer = client.post("/api/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}, answer.json()["user"]


def test_every_route_but_me_and_logout_waits_for_the_new_password(client: Any, make_user: Any) -> None:
    make_user("admin", username="fresh-admin", password="given-password-1", must_change_password=True)
    headers, user = _login(client, "fresh-admin", "given-password-1")
    assert user["must_change_password"] is True
    public = {("GET", p) for p in ("/api/health", "/api/ready", "/api/taxonomy")}
    paths = client.get("/api/openapi.json").json()["paths"]
    checked: list[str] = []
    for path, operations in paths.items():
        for method in operations:
            if (method.upper(), path) in ALLOWED | public or method.upper() not in ("GET", "POST", "PATCH", "PUT"):
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            answer = client.request(method.upper(), url, headers=headers, json={})
            if (method.upper(), path) == ("POST", "/api/live/{call_key}/transfer"):
                # an emergency transfer never waits for anything (api.deps.emergency_caller)
                assert answer.json().get("code") != PENDING, answer.text
                continue
            assert answer.status_code == 403, (method, path, answer.status_code, answer.text)
            assert answer.json()["code"] == PENDING and "change your password" in answer.json()["detail"]
            checked.append(f"{method.upper()} {path}")
    assert len(checked) >= 15, checked
    with client.websocket_connect(f"/api/live?token={headers['Authorization'].split()[1]}") as ws:
        refused = ws.receive_json()
    assert refused["type"] == "error" and "change your password" in refused["detail"]
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["must_change_password"] is True


def test_changing_the_password_clears_the_flag(client: Any, make_user: Any) -> None:
    make_user("operator", username="reset-op", password="given-password-2", must_change_password=True)
    headers, _ = _login(client, "reset-op", "given-password-2")
    assert client.get("/api/cards", headers=headers).status_code == 403
    same = client.patch(
        "/api/auth/me", json={"password": "given-password-2", "current_password": "given-password-2"}, headers=headers
    )
    assert same.status_code == 422 and "current one" in same.json()["detail"]
    changed = client.patch(
        "/api/auth/me", json={"password": "my-own-password-2", "current_password": "given-password-2"}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    headers, user = _login(client, "reset-op", "my-own-password-2")
    assert user["must_change_password"] is False
    assert client.get("/api/cards", headers=headers).status_code == 200


def test_a_pending_user_may_log_out(client: Any, make_user: Any) -> None:
    make_user("qa", username="leaving", password="given-password-3", must_change_password=True)
    headers, _ = _login(client, "leaving", "given-password-3")
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_an_admin_reset_makes_the_user_change_the_password(client: Any, make_user: Any, token_for: Any) -> None:
    admin = make_user("admin")
    admin_headers = {"Authorization": f"Bearer {token_for(admin)}"}
    op = make_user("operator", username="forgetful", password="forgotten-password")
    reset = client.patch(f"/api/users/{op.id}", json={"password": "temporary-109-x"}, headers=admin_headers)
    assert reset.status_code == 200 and reset.json()["must_change_password"] is True
    headers, user = _login(client, "forgetful", "temporary-109-x")
    assert user["must_change_password"] is True
    assert client.get("/api/cards", headers=headers).json()["code"] == PENDING
    own = client.patch(f"/api/users/{admin.id}", json={"password": "admins-own-109-x"}, headers=admin_headers)
    assert own.status_code == 200 and own.json()["must_change_password"] is False  # an admin's own choice


def test_the_first_admins_password_note_goes_once_it_is_changed(client: Any, settings: Any, make_user: Any) -> None:
    note: Path = settings.data_dir / "initial-admin.txt"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text("username: admin\npassword: first-start-pw\n", encoding="utf-8")
    make_user("admin", username="admin", password="first-start-pw", must_change_password=True)
    make_user("operator", username="somebody", password="somebody-password")
    op_headers, _ = _login(client, "somebody", "somebody-password")
    body = {"password": "somebody-new-pw-1", "current_password": "somebody-password"}
    assert client.patch("/api/auth/me", json=body, headers=op_headers).status_code == 200
    assert note.exists()  # another user's new password leaves the admin's note alone
    headers, _ = _login(client, "admin", "first-start-pw")
    name_only = client.patch("/api/auth/me", json={"full_name": "Әкімші"}, headers=headers)
    assert name_only.status_code == 200 and note.exists()
    body = {"password": "admins-chosen-pw-1", "current_password": "first-start-pw"}
    assert client.patch("/api/auth/me", json=body, headers=headers).status_code == 200
    assert not note.exists()
