"""No 5xx from bad input, on SQLite and on PostgreSQL: NUL bytes and broken text anywhere, ids and offsets past
what the databases hold, dates at the edge of the calendar, non-finite numbers, bodies that are not JSON. Each
is a 4xx whose body is the one error model ({"detail": "<sentence>", ...}), and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from models.records import AuditEvent, Card, TranscriptSegment, User
from tests.api.web_data import PROPOSAL, make_call

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
JSON = {"Content-Type": "application/json"}
HUGE_IDS = (2**31, 2**63, 2**64 + 7, -1, 0)


def counts(ctx: Any) -> dict[str, int]:
    with ctx.sessionmaker() as s:
        return {
            m.__name__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Card, AuditEvent, User, TranscriptSegment)
        }


def refused(answer: Any, status: int, *words: str) -> dict[str, Any]:
    """The answer is ``status`` with the error model: a sentence in ``detail`` that contains ``words``."""
    assert answer.status_code == status, f"{answer.status_code}: {answer.text}"
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert isinstance(body["detail"], str) and body["detail"].endswith("."), body
    for word in words:
        assert word in body["detail"], body
    return body


@pytest.fixture
def staff(auth_headers: Callable[[str], dict[str, str]]) -> dict[str, dict[str, str]]:
    return {role: auth_headers(role) for role in ("operator", "qa", "admin", "executor")}


@pytest.fixture
def seeded(ctx: Any) -> dict[str, int]:
    """A live call with a transcript and its draft card."""
    call_id, segment_ids, card_id = make_call(ctx, proposal=PROPOSAL)
    assert card_id is not None
    return {"call": call_id, "segment": segment_ids[0], "card": card_id}


NUL = "ab\x00cd"
NUL_REQUESTS: list[tuple[str, str, str, Any]] = [
    # (role, method, path, JSON body); the NUL is in the body, the query or the path
    ("none", "POST", "/api/auth/login", {"username": NUL, "password": "whatever-1"}),
    ("none", "POST", "/api/auth/login", {"username": "admin", "password": NUL}),
    ("admin", "POST", "/api/users", {"username": "nul", "full_name": NUL, "role": "operator"}),
    ("admin", "POST", "/api/users", {"username": NUL, "role": "operator"}),
    ("operator", "POST", "/api/cards", {"summary": NUL}),
    ("operator", "POST", "/api/cards", {"address": {"street": NUL}}),
    ("operator", "PATCH", "/api/cards/{card}", {"summary": NUL}),
    ("operator", "PATCH", "/api/cards/{card}", {"address": {"landmark": "ok", NUL: "x"}}),
    ("qa", "POST", "/api/segments/{segment}/corrections", {"text": NUL}),
    ("qa", "POST", "/api/cards/{card}/qa-marks", {"topic": NUL}),
    ("operator", "GET", "/api/cards?q=" + "%00", None),
    ("operator", "GET", "/api/cards?caller=%2B7701%00", None),
    ("operator", "GET", "/api/cards/export.csv?q=x%00", None),
    ("operator", "GET", "/api/calls?caller=%00", None),
    ("operator", "GET", "/api/callers/%2B7701%00/history", None),
    ("operator", "PATCH", "/api/auth/me", {"full_name": NUL}),
]


@BOTH
@pytest.mark.parametrize(("role", "method", "path", "body"), NUL_REQUESTS, ids=[f"{r[1]} {r[2]}" for r in NUL_REQUESTS])
def test_nul_anywhere_is_a_422_with_a_sentence(
    client: Any,
    ctx: Any,
    staff: dict[str, dict[str, str]],
    seeded: dict[str, int],
    role: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    before = counts(ctx)
    headers = staff.get(role, {})
    answer = client.request(method, path.format(**seeded), json=body, headers=headers)
    refused(answer, 422, "NUL character")
    assert counts(ctx) == before


@BOTH
def test_unpaired_surrogates_and_non_utf8_bodies_are_refused(
    client: Any, ctx: Any, staff: dict[str, dict[str, str]]
) -> None:
    before = counts(ctx)
    operator = {**staff["operator"], **JSON}
    answer = client.post("/api/cards", content=b'{"summary": "half \\ud800 a pair"}', headers=operator)
    assert refused(answer, 422, "unpaired surrogate")["field"] == "summary"
    refused(client.post("/api/cards", content='{"summary": "é"}'.encode("latin-1"), headers=operator), 400, "UTF-8")
    assert counts(ctx) == before


@BOTH
def test_record_ids_past_the_databases_are_422_in_paths_queries_and_bodies(
    client: Any, ctx: Any, staff: dict[str, dict[str, str]], seeded: dict[str, int]
) -> None:
    """Every operation with an id in its path (from the OpenAPI document, so new routes are covered too)."""
    doc = client.get("/api/openapi.json").json()
    before = counts(ctx)
    tried = 0
    for path, item in doc["paths"].items():
        ids = [p["name"] for op in item.values() for p in op.get("parameters", []) if p["in"] == "path"]
        ids = [name for name in dict.fromkeys(ids) if name.endswith("_id")]
        if not ids:
            continue
        for method in item:
            for bad in HUGE_IDS:
                url = path
                for name in ids:
                    url = url.replace("{" + name + "}", str(bad))
                # the organisation's own steps are an executor's alone; every other route lets an admin in
                who = "executor" if method == "post" and path.startswith("/api/inbox/") else "admin"
                answer = client.request(method.upper(), url, headers=staff[who])
                refused(answer, 422, ids[0])
                tried += 1
    assert tried >= 5 * 15
    card = seeded["card"]
    for url in (
        f"/api/callers/+77015550001/history?exclude_card_id={2**63}",
        f"/api/calls/{seeded['call']}/audio?recording_id={2**31}",
    ):
        refused(client.get(url, headers=staff["admin"]), 422)
    for body in ({"call_id": 2**31}, {"call_id": -5}, {"summary": "x", "version": 2**63}):
        refused(client.post("/api/cards", json=body, headers=staff["operator"]), 422)
    refused(client.patch(f"/api/cards/{card}", json={"summary": "x", "version": 2**63}, headers=staff["operator"]), 422)
    assert counts(ctx) == before


@BOTH
@pytest.mark.parametrize(
    "path", ["/api/cards", "/api/calls", "/api/cards/{card}/audit"], ids=["cards", "calls", "card audit"]
)
def test_offsets_past_a_64_bit_integer_are_422(
    client: Any, staff: dict[str, dict[str, str]], seeded: dict[str, int], path: str
) -> None:
    url = path.format(**seeded)
    for offset in (2**63, 2**63 - 1, 2**31, -1):
        refused(client.get(f"{url}?offset={offset}", headers=staff["qa"]), 422, "offset")
    assert client.get(f"{url}?offset=3", headers=staff["qa"]).status_code == 200


EDGES = [
    ("date_to", "9999-12-31", 422),
    ("date_to", "9999-12-31T23:59:59-05:00", 422),
    ("date_from", "0001-01-01T00:00:00+05:00", 422),
    ("date_from", "0001-01-01", 200),
    ("date_to", "9999-12-30", 200),
    ("date_from", "2026-05-04T10:30:00+14:00", 200),
]


@BOTH
@pytest.mark.parametrize(("name", "value", "status"), EDGES, ids=[f"{e[0]}={e[1]}" for e in EDGES])
def test_dates_at_the_edge_of_the_calendar_are_answered_not_overflowed(
    client: Any, staff: dict[str, dict[str, str]], seeded: dict[str, int], name: str, value: str, status: int
) -> None:
    for path in ("/api/cards", "/api/cards/export.csv", "/api/calls"):
        answer = client.get(path, params={name: value}, headers=staff["qa"])
        if status == 422:
            assert refused(answer, 422, name, "edge of the calendar")["field"] == name
        else:
            assert answer.status_code == 200, answer.text


@BOTH
@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_non_finite_numbers_are_refused(
    client: Any, ctx: Any, staff: dict[str, dict[str, str]], seeded: dict[str, int], number: str
) -> None:
    """JSON has no Infinity or NaN, but Python's parser reads them (and 1e999 as infinity): a word time in a QA
    correction must not be stored as one and read back as null."""
    before = counts(ctx)
    words = f'[{{"word": "нет", "start": 0.1, "end": {number}}}]'
    body = f'{{"text": "нет горячей воды", "words": {words}}}'.encode()
    answer = client.post(
        f"/api/segments/{seeded['segment']}/corrections", content=body, headers={**staff["qa"], **JSON}
    )
    problems = refused(answer, 422, "words.0.end")["errors"]
    assert problems[0]["loc"] == ["body", "words", 0, "end"] and problems[0]["type"] == "finite_number"
    assert counts(ctx) == before


@BOTH
def test_bodies_that_are_not_json_are_415(client: Any, ctx: Any, staff: dict[str, dict[str, str]]) -> None:
    before = counts(ctx)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**staff["operator"], **({"Content-Type": content_type} if content_type else {})}
        answer = client.post("/api/cards", content=b'{"summary": "x"}', headers=headers)
        refused(answer, 415, "Send the body as JSON")
    assert counts(ctx) == before
    assert client.post("/api/cards", json={"summary": "x"}, headers=staff["operator"]).status_code == 201


def test_validation_errors_use_the_declared_error_model(client: Any, staff: dict[str, dict[str, str]]) -> None:
    body = refused(client.post("/api/cards", json={"topic": 42, "colour": "red"}, headers=staff["operator"]), 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "topic"), ("body", "colour")}
    assert all(isinstance(e["msg"], str) and isinstance(e["type"], str) for e in body["errors"])


@pytest.mark.parametrize("api_db", ["postgres"], indirect=True)
def test_an_unreachable_database_is_503_with_retry_after(
    make_ctx: Any, settings: Any, staff: dict[str, dict[str, str]]
) -> None:
    """The same routes with the database gone (PostgreSQL on a port where nothing listens) answer 503."""
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import make_url

    from api.app import create_app
    from models.db import make_engine, make_sessionmaker
    from tests.conftest import _free_port

    dead = make_url(settings.database_url).set(port=_free_port()).render_as_string(hide_password=False)
    ctx = make_ctx()
    ctx.sessionmaker = make_sessionmaker(make_engine(dead))
    with TestClient(create_app(ctx)) as client:
        answer = client.get("/api/cards", headers=staff["qa"])
    assert refused(answer, 503, "database")
    assert answer.headers["retry-after"] == "2"
