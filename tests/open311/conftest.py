"""Open311 tests: the real app (create_app) under uvicorn on a real socket, two organisations with their keys.

``heat`` serves heating_utility and ``water`` serves water_utility; both receive Open311 and have a key; a routing
rule sends water_utility cards to ``water``. ``State`` counts what a refused request must not have written.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select

from models.handover import ApiKey, Organisation, RoutingRule, WebhookDelivery
from models.records import AuditEvent, Card
from models.repo import apikeys


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # leave the test process's signal handlers alone
        yield


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(ctx: Any) -> Iterator[str]:
    """The whole app (create_app: /api and /open311/v2) served by uvicorn on 127.0.0.1; yields its base URL."""
    from api.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = _QuietServer(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(srv.serve()), name="open311-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(15)
        loop.close()


@dataclass(frozen=True)
class Org:
    id: int
    code: str
    key: str
    key_id: int


@dataclass(frozen=True)
class Orgs:
    heat: Org
    water: Org


def _org(session: Any, code: str, service: str, receives: list[str]) -> Organisation:
    org = Organisation(
        code=code,
        name_kk=f"{code} ұйымы",
        name_ru=f"Организация {code}",
        services=[service],
        receives=receives,
        deadline_hours={},
        working_hours={day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    session.add(org)
    session.commit()
    return org


@pytest.fixture
def orgs(ctx: Any) -> Orgs:
    made = {}
    with ctx.sessionmaker() as s:
        for code, service in (("heat", "heating_utility"), ("water", "water_utility")):
            org = _org(s, code, service, ["inbox", "open311"])
            issued = apikeys.issue(s, name=f"{code}-system", organisation_id=org.id, actor="test")
            made[code] = Org(org.id, code, issued.key, issued.record.id)
        s.add(RoutingRule(code="water-all", position=1, organisation_id=made["water"].id, services=["water_utility"]))
        s.commit()
    return Orgs(heat=made["heat"], water=made["water"])


@dataclass(frozen=True)
class State:
    """What a refused request must leave as it was."""

    cards: int
    audit_events: int
    deliveries: int
    card_versions: tuple[tuple[int, int, str], ...]
    keys_used: tuple[datetime | None, ...]


def state(ctx: Any) -> State:
    with ctx.sessionmaker() as s:
        return State(
            cards=s.scalar(select(func.count()).select_from(Card)) or 0,
            audit_events=s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            deliveries=s.scalar(select(func.count()).select_from(WebhookDelivery)) or 0,
            card_versions=tuple((c.id, c.version, c.status) for c in s.scalars(select(Card).order_by(Card.id))),
            keys_used=tuple(s.scalars(select(ApiKey.last_used_at).order_by(ApiKey.id))),
        )


@pytest.fixture
def netrc_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """netrc_for(key): make `requests` (and so georeport) send ``key`` as the Basic password to 127.0.0.1."""

    def use(key: str) -> None:
        path = tmp_path / "netrc"
        path.write_text(f"machine 127.0.0.1\nlogin apikey\npassword {key}\n")
        path.chmod(0o600)
        monkeypatch.setenv("NETRC", str(path))

    return use
