"""Bad input is refused with a 4xx and a sentence, and writes nothing (row counts checked before and after)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from models.records import AuditEvent, Card, RegistrationCounter, User


def counts(ctx: Any) -> dict[str, int]:
    with ctx.sessionmaker() as s:
        return {
            m.__name__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Card, AuditEvent, User, RegistrationCounter)
        }


@pytest.fixture
def draft(client: Any, operator_headers: Any) -> dict[str, Any]:
    made = client.post("/api/cards", json={"topic": "heating", "summary": "Суық"}, headers=operator_headers)
    assert made.status_code == 201
    return dict(made.json())


JSON = {"Content-Type": "application/json"}

CASES: list[tuple[str, str, Any, int, str]] = [
    # (method, path ({id} = the draft), body (bytes = raw), expected status, words in the detail)
    ("POST", "/api/cards", b'{"topic": "heating",', 422, "not valid JSON"),
    ("POST", "/api/cards", b"[1, 2, 3]", 422, "not valid"),
    ("POST", "/api/cards", {"topic": 42}, 422, "topic"),
    ("POST", "/api/cards", {"topic": "heating", "colour": "red"}, 422, "colour: is not a field"),
    ("POST", "/api/cards", {"emergency_also": "101"}, 422, "emergency_also"),
    ("POST", "/api/cards", {"language": "en"}, 422, "language"),
    ("POST", "/api/cards", {"caller_number": "call me maybe"}, 422, "caller_number"),
    ("POST", "/api/cards", {"summary": "x" * 6000}, 422, "summary"),
    ("POST", "/api/cards", {"call_id": "abc"}, 422, "call_id"),
    ("POST", "/api/cards", {"call_id": 424242}, 404, "does not exist"),
    ("POST", "/api/cards", {"topic": "unknown_topic"}, 422, "not a known topic"),
    ("PATCH", "/api/cards/{id}", {}, 422, "Nothing to change"),
    ("PATCH", "/api/cards/{id}", {"version": "one"}, 422, "version"),
    ("PATCH", "/api/cards/{id}", {"address": {"district": "nowhere"}}, 422, "district"),
    ("PATCH", "/api/cards/{id}", {"address": "Абай 1"}, 422, "address"),
    ("PATCH", "/api/cards/999999", {"summary": "x"}, 404, "does not exist"),
    ("PATCH", "/api/cards/not-a-number", {"summary": "x"}, 422, "card_id"),
    ("POST", "/api/cards/{id}/confirm", {"topic": "nope"}, 422, "topic"),
    ("POST", "/api/cards/{id}/confirm", {"version": 99}, 409, "changed by someone else"),
    ("POST", "/api/cards/999999/confirm", None, 404, "does not exist"),
    ("POST", "/api/cards/-1/confirm", None, 422, "card_id: Input should be greater than or equal to 1"),
    ("POST", "/api/cards/2147483648/confirm", None, 422, "card_id: Input should be less than or equal to"),
    ("POST", "/api/cards", {"call_id": 2**31}, 422, "call_id"),
    ("PATCH", "/api/cards/{id}", {"summary": "x", "version": 2**63}, 422, "version"),
    ("POST", "/api/cards", b'{"summary": "x", "version": Infinity}', 422, "version"),
    ("POST", "/api/cards", {"summary": "nul \u0000 byte"}, 422, "NUL character"),
    ("POST", "/api/cards/{id}/resolve", {}, 422, "resolution: is required"),
    ("POST", "/api/cards/{id}/resolve", {"resolution": "done"}, 409, "is draft"),
    ("POST", "/api/cards/{id}/route", None, 409, "is draft"),
    ("POST", "/api/cards/{id}/transfer", {"code": "112"}, 422, "emergency service code"),
    ("POST", "/api/cards/{id}/dismiss-emergency", {"reason": ""}, 422, "reason"),
    ("GET", "/api/cards?limit=0", None, 422, "limit"),
    ("GET", "/api/cards?limit=abc", None, 422, "limit"),
    ("GET", "/api/cards?status=lost", None, 422, "status"),
    ("GET", "/api/cards?date_from=yesterday", None, 422, "date_from"),
    ("GET", "/api/cards/123456", None, 404, "does not exist"),
    ("GET", "/api/no/such/route", None, 404, "nothing at /api/no/such/route"),
    ("DELETE", "/api/cards/{id}", None, 405, "does not accept"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"), CASES, ids=[f"{c[0]} {c[1]} {c[3]}" for c in CASES]
)
def test_bad_input_is_refused_and_writes_nothing(
    client: Any,
    ctx: Any,
    operator_headers: Any,
    draft: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    words: str,
) -> None:
    before = counts(ctx)
    url = path.replace("{id}", str(draft["id"]))
    if isinstance(body, bytes):
        answer = client.request(method, url, content=body, headers={**operator_headers, **JSON})
    else:
        answer = client.request(method, url, json=body, headers=operator_headers)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and words in detail, detail
    assert counts(ctx) == before
    stored = client.get(f"/api/cards/{draft['id']}", headers=operator_headers).json()
    assert stored["version"] == draft["version"] and stored["status"] == "draft"


def test_oversize_body_is_refused(make_ctx: Any, operator_headers: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    ctx = make_ctx(max_body_bytes=2048)
    with TestClient(create_app(ctx)) as client:
        before = counts(ctx)
        big = {"topic": "heating", "summary": "ә" * 5000}
        answer = client.post("/api/cards", json=big, headers=operator_headers)
        assert answer.status_code == 413 and "larger than the limit of 2048 bytes" in answer.json()["detail"]

        def chunks() -> Any:  # no Content-Length: the limit still holds while streaming
            for _ in range(10):
                yield b" " * 512

        streamed = client.post("/api/cards", content=chunks(), headers={**operator_headers, **JSON})
        assert streamed.status_code == 413
        assert counts(ctx) == before
        small = client.post("/api/cards", json={"topic": "heating"}, headers=operator_headers)
        assert small.status_code == 201


def test_server_errors_are_json(make_ctx: Any) -> None:
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(make_ctx())
    boom = APIRouter()

    @boom.get("/api/boom")
    def explode() -> None:
        raise RuntimeError("kaput")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/boom")
    assert answer.status_code == 500
    assert answer.json()["detail"].startswith("Something went wrong on the server") and answer.json()["ref"]
