"""Every fault of an Open311 request gets GeoReport's error list with its status, and writes nothing: no card, no
audit event, no webhook delivery, no card changed, no key stamped as used. Real server, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from models.repo import apikeys
from tests.open311.conftest import Orgs, state

pytestmark = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)

V2 = "/open311/v2"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Fault:
    """One bad request: method, path (``{n}`` is an existing request of heat), body fields or raw bytes, query."""

    status: int
    method: str
    path: str
    form: dict[str, str] | None = None
    raw: bytes | None = None
    query: str = ""
    headers: dict[str, str] | None = None
    says: str = ""


def good(key: str, **changes: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "api_key": key,
        "service_code": "heating_utility",
        "description": "Холодно",
        "address_string": "ул. Кенесары 40",
        **changes,
    }
    return {k: v for k, v in form.items() if v is not None}


HEAT = "HEAT"  # replaced by heat's key
WATER = "WATER"  # replaced by water's key
REVOKED = "REVOKED"  # replaced by a revoked key of heat
K = f"api_key={HEAT}&"

FAULTS: dict[str, Fault] = {
    "no api_key": Fault(403, "POST", "/requests.json", good(HEAT, api_key=None), says="api_key is required"),
    "unknown api_key": Fault(403, "POST", "/requests.json", good("not-a-key"), says="not valid"),
    "revoked api_key": Fault(403, "POST", "/requests.json", good(REVOKED), says="revoked"),
    "two different keys": Fault(400, "POST", "/requests.json", good(HEAT), query=f"api_key={WATER}"),
    "no api_key to read": Fault(403, "GET", "/requests.json"),
    "bad Basic credentials": Fault(403, "GET", "/requests.json", headers={"Authorization": "Basic %%%"}),
    "missing service_code": Fault(400, "POST", "/requests.json", good(HEAT, service_code=None), says="service_code"),
    "unknown service_code": Fault(400, "POST", "/requests.json", good(HEAT, service_code="nope"), says="no service"),
    "missing description": Fault(400, "POST", "/requests.json", good(HEAT, description=None), says="description"),
    "missing address": Fault(400, "POST", "/requests.json", good(HEAT, address_string=None), says="address_string"),
    "oversize description": Fault(422, "POST", "/requests.json", good(HEAT, description="ы" * 4001), says="4000"),
    "oversize address": Fault(422, "POST", "/requests.json", good(HEAT, address_string="a" * 201), says="200"),
    "oversize first_name": Fault(422, "POST", "/requests.json", good(HEAT, first_name="a" * 101)),
    "NUL in description": Fault(422, "POST", "/requests.json", good(HEAT, description="a\x00b"), says="NUL"),
    "NUL in a field name": Fault(422, "POST", "/requests.json", raw=b"a%00b=1"),
    "unpaired surrogate (not UTF-8)": Fault(
        400, "POST", "/requests.json", raw=b"service_code=heating_utility&description=%ED%A0%80", says="UTF-8"
    ),
    "raw bytes not UTF-8": Fault(400, "POST", "/requests.json", raw=b"description=\xff\xfe", says="UTF-8"),
    "lat not a number": Fault(400, "POST", "/requests.json", good(HEAT, lat="north", long="71.4")),
    "lat without long": Fault(400, "POST", "/requests.json", good(HEAT, lat="51.1")),
    "lat out of range": Fault(400, "POST", "/requests.json", good(HEAT, lat="91", long="71.4")),
    "long not finite": Fault(400, "POST", "/requests.json", good(HEAT, lat="51", long="nan")),
    "bad phone": Fault(400, "POST", "/requests.json", good(HEAT, phone="call me"), says="phone"),
    "bad email": Fault(400, "POST", "/requests.json", good(HEAT, email="nobody"), says="email"),
    "an attribute": Fault(400, "POST", "/requests.json", good(HEAT, **{"attribute[floor]": "3"}), says="attributes"),
    "an unknown field": Fault(400, "POST", "/requests.json", good(HEAT, media_url="http://x"), says="media_url"),
    "a field twice": Fault(
        400, "POST", "/requests.json", raw=b"service_code=heating_utility&service_code=roads", says="twice"
    ),
    "JSON body": Fault(415, "POST", "/requests.json", raw=b'{"service_code": "heating_utility"}', says="form"),
    "body over 64 KiB": Fault(413, "POST", "/requests.json", raw=b"description=" + b"a" * 70_000),
    "unknown format": Fault(404, "POST", "/requests.txt", good(HEAT), says=".json or .xml"),
    "bad start_date": Fault(400, "GET", "/requests.json", query=K + "start_date=yesterday", says="W3C"),
    "start_date without zone": Fault(400, "GET", "/requests.json", query=K + "start_date=2026-01-01T10:00:00"),
    "end before start": Fault(
        400, "GET", "/requests.json", query=K + "start_date=2026-03-01T00:00:00Z&end_date=2026-02-01T00:00:00Z"
    ),
    "over 90 days": Fault(
        400, "GET", "/requests.json", query=K + "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"
    ),
    "bad status filter": Fault(400, "GET", "/requests.json", query=K + "status=pending"),
    "unknown service_code filter": Fault(400, "GET", "/requests.json", query=K + "service_code=heating_utility,nope"),
    "bad service_request_id": Fault(400, "GET", "/requests.json", query=K + "service_request_id=1,2"),
    "unknown query parameter": Fault(400, "GET", "/requests.json", query=K + "page=2"),
    "NUL in the query": Fault(422, "GET", "/requests.json", query=K + "service_code=a%00"),
    "unknown locale": Fault(400, "GET", "/services.json", query="locale=en"),
    "NUL in the path": Fault(422, "GET", "/requests/%00.json"),
    "unknown request": Fault(404, "GET", "/requests/109-2026-999999.json", query=f"api_key={HEAT}"),
    "another organisation's request": Fault(404, "GET", "/requests/{n}.json", query=f"api_key={WATER}"),
    "another organisation's update": Fault(
        404, "POST", "/requests/{n}/updates.json", {"api_key": WATER, "status": "accepted"}
    ),
    "unknown update status": Fault(400, "POST", "/requests/{n}/updates.json", {"api_key": HEAT, "status": "fixed"}),
    "done without notes": Fault(
        400, "POST", "/requests/{n}/updates.json", {"api_key": HEAT, "status": "done"}, says="what was done"
    ),
    "oversize status_notes": Fault(
        422, "POST", "/requests/{n}/updates.json", {"api_key": HEAT, "status": "note", "status_notes": "a" * 5001}
    ),
    "wrong method": Fault(405, "DELETE", "/requests.json"),
}


@pytest.fixture
def keys(ctx: Any, orgs: Orgs) -> dict[str, str]:
    with ctx.sessionmaker() as s:
        revoked = apikeys.issue(s, name="old", organisation_id=orgs.heat.id, actor="test")
        apikeys.revoke(s, key_id=revoked.record.id, actor="test")
    return {HEAT: orgs.heat.key, WATER: orgs.water.key, REVOKED: revoked.key}


@pytest.fixture
def existing(server: str, orgs: Orgs) -> str:
    created = httpx.post(f"{server}{V2}/requests.json", data=good(orgs.heat.key))
    assert created.status_code == 201, created.text
    return str(created.json()[0]["service_request_id"])


def _send(server: str, fault: Fault, keys: dict[str, str], number: str) -> httpx.Response:
    def fill(text: str) -> str:
        for name, key in keys.items():
            text = text.replace(name, key)
        return text

    path = fault.path.replace("{n}", number)
    url = f"{server}{V2}{path}" + (f"?{fill(fault.query)}" if fault.query else "")
    if fault.raw is not None:
        body: bytes | None = fault.raw
    elif fault.form is not None:
        body = urlencode({k: fill(v) for k, v in fault.form.items()}).encode()
    else:
        body = None
    headers = {**(FORM if body is not None else {}), **(fault.headers or {})}
    if fault.raw is not None and fault.raw.startswith(b"{"):
        headers["content-type"] = "application/json"
    return httpx.request(fault.method, url, content=body, headers=headers, timeout=10)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_gets_its_status_and_writes_nothing(
    name: str, server: str, ctx: Any, keys: dict[str, str], existing: str
) -> None:
    fault = FAULTS[name]
    before = state(ctx)
    answer = _send(server, fault, keys, existing)
    assert answer.status_code == fault.status, answer.text
    [error] = answer.json()
    assert error["code"] == fault.status and error["description"].endswith(".")
    assert fault.says in error["description"]
    assert state(ctx) == before


def test_a_step_the_state_does_not_allow_is_409_and_xml_errors_are_xml(
    server: str, ctx: Any, keys: dict[str, str], existing: str
) -> None:
    update = f"{server}{V2}/requests/{existing}/updates"
    done = httpx.post(f"{update}.json", data={"api_key": keys[HEAT], "status": "done", "status_notes": "Готово"})
    assert done.status_code == 200
    before = state(ctx)
    for status in ("accepted", "in_progress", "done", "not_ours"):
        refused = httpx.post(f"{update}.json", data={"api_key": keys[HEAT], "status": status, "status_notes": "x"})
        assert refused.status_code == 409, refused.text
        assert refused.json()[0]["description"].startswith(f"Request {existing} is resolved;")
    as_xml = httpx.post(f"{update}.xml", data={"api_key": keys[HEAT], "status": "accepted"})
    assert as_xml.status_code == 409 and as_xml.headers["content-type"].startswith("text/xml")
    assert "<errors><error><code>409</code>" in as_xml.text
    assert state(ctx) == before


@pytest.mark.parametrize("check", [lambda s: s.cards, lambda s: s.audit_events])
def test_a_good_request_does_write(check: Callable[[Any], int], server: str, ctx: Any, keys: dict[str, str]) -> None:
    """The counts above can move: a good request adds a card and its audit events."""
    before = check(state(ctx))
    assert httpx.post(f"{server}{V2}/requests.json", data=good(keys[HEAT])).status_code == 201
    assert check(state(ctx)) > before
