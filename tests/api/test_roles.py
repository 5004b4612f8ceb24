"""Every route, every role: a table of who may call what; the others get 401 (anonymous) or 403."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.routes import auth, calls, cards, health, taxonomy, transfer, users

ANY = {"operator", "qa", "admin"}
OPS = {"operator", "admin"}
QA = {"qa", "admin"}
ADMIN = {"admin"}
PUBLIC = {"anonymous", "operator", "qa", "admin"}

# (method, path template, roles allowed). Paths use {card}, {call}, {user} placeholders.
ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", "/api/auth/login", PUBLIC),
    ("GET", "/api/auth/me", ANY),
    ("PATCH", "/api/auth/me", ANY),
    ("GET", "/api/cards", ANY),
    ("GET", "/api/cards/export.csv", ANY),
    ("POST", "/api/cards", OPS),
    ("GET", "/api/cards/{card}", ANY),
    ("GET", "/api/cards/{card}/audit", ANY),
    ("PATCH", "/api/cards/{card}", OPS),
    ("POST", "/api/cards/{card}/confirm", OPS),
    ("POST", "/api/cards/{card}/route", OPS),
    ("POST", "/api/cards/{card}/resolve", OPS),
    ("POST", "/api/cards/{card}/close", OPS),
    ("POST", "/api/cards/{card}/transfer", OPS),
    ("POST", "/api/cards/{card}/dismiss-emergency", OPS),
    ("GET", "/api/calls", ANY),
    ("GET", "/api/calls/{call}", QA),  # operators: only live or own calls (tested separately)
    ("GET", "/api/calls/{call}/audio", QA),
    ("GET", "/api/callers/{number}/history", ANY),
    ("GET", "/api/taxonomy", ANY),
    ("GET", "/api/health", PUBLIC),
    ("GET", "/api/ready", PUBLIC),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("GET", "/api/users/{user}", ADMIN),
    ("PATCH", "/api/users/{user}", ADMIN),
    ("POST", "/api/live/{key}/transfer", OPS),  # by the call's key: works while the database is down
]

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/auth/login"): {"username": "role-login", "password": "role-login-pw"},
    ("POST", "/api/cards"): {"topic": "heating", "summary": "Суық"},
    ("PATCH", "/api/cards/{card}"): {"summary": "edited"},
    ("POST", "/api/cards/{card}/resolve"): {"resolution": "done"},
    ("POST", "/api/cards/{card}/transfer"): {"code": "103"},
    ("POST", "/api/cards/{card}/dismiss-emergency"): {"reason": "not real"},
    ("POST", "/api/users"): {"username": "new-user", "role": "operator", "password": "long-enough-1"},
    ("PATCH", "/api/users/{user}"): {"full_name": "Renamed"},
    ("PATCH", "/api/auth/me"): {"ui_language": "kk"},
    ("POST", "/api/live/{key}/transfer"): {"code": "103"},
}


def test_table_covers_every_foundation_route() -> None:
    mine = [auth.router, cards.router, calls.router, taxonomy.router, health.router, users.router, transfer.router]
    declared = set()
    for router in mine:
        for route in router.routes:
            for method in getattr(route, "methods", set()) - {"HEAD"}:
                declared.add((method, "/api" + route.path))
    table = {
        (
            m,
            p.replace("{card}", "{card_id}")
            .replace("{call}", "{call_id}")
            .replace("{user}", "{user_id}")
            .replace("{key}", "{call_key}"),
        )
        for m, p, _ in ROUTES
    }
    assert declared == table


def _refused(status: int, role: str) -> bool:
    return status == (401 if role == "anonymous" else 403)


@pytest.mark.parametrize("role", ["anonymous", "operator", "qa", "admin"])
def test_roles(role: str, client: Any, ctx: Any, auth_headers: Any, make_user: Any) -> None:
    from models.repo import calls as call_repo

    headers = {} if role == "anonymous" else auth_headers(role)
    with ctx.sessionmaker() as s:
        call, _ = call_repo.get_or_create_call(s, uniqueid="roles.1", caller_number="+77010001122")
        call_repo.end_call(s, uniqueid="roles.1", at=call.started_at)
    target_user = make_user("operator")
    make_user("qa", username="role-login", password="role-login-pw")
    creator = auth_headers("operator")
    outcomes = {}
    for method, template, allowed in ROUTES:
        # a fresh card per route, so a state change by one route cannot hide another's permission check
        create = client.post("/api/cards", json={"topic": "heating"}, headers=creator)
        card_id = create.json()["id"]
        path = template.format(card=card_id, call=call.id, user=target_user.id, number="+77010001122", key="roles.1")
        answer = client.request(method, path, json=BODIES.get((method, template)), headers=headers)
        outcomes[(method, template)] = answer.status_code
        if role in allowed:
            assert not _refused(answer.status_code, role) and answer.status_code != 401, (method, template, answer.text)
        else:
            assert _refused(answer.status_code, role), (method, template, answer.status_code, answer.text)
    assert outcomes


def test_nothing_written_anonymously(client: Any, ctx: Any) -> None:
    from sqlalchemy import func, select

    from models.records import AuditEvent, Card, User

    for method, template, allowed in ROUTES:
        if "anonymous" in allowed or method == "GET":
            continue
        path = template.format(card=1, call=1, user=1, number="1", key="1.1")
        answer = client.request(method, path, json=BODIES.get((method, template)))
        assert answer.status_code == 401 and "log in" in answer.json()["detail"]
    with ctx.sessionmaker() as s:
        for model in (AuditEvent, Card, User):
            assert s.scalar(select(func.count()).select_from(model)) == 0


def test_openapi_lists_routes(client: Any) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/cards/{card_id}/confirm" in spec["paths"]
    # The live feed's messages are part of the contract: a union discriminated by "type", every call named by key.
    live = spec["components"]["schemas"]["LiveMessage"]
    kinds = set(live["discriminator"]["mapping"])
    wanted = {"call_started", "call_stored", "transcript_final", "card_proposed", "emergency_alert", "call_ended"}
    assert wanted <= kinds
    started = spec["components"]["schemas"]["CallStartedMessage"]
    assert {"call_key", "call_id", "transcription"} <= set(started["properties"])
    assert client.get("/api/docs").status_code == 200
    assert create_app  # the factory others extend
