"""GET /api/ready tells the truth about telephony (ARI connected now or not, the dialplan's missing places) to
admins, and to anyone else only the overall status and each part's status word: no paths, addresses or errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from telephony.ari import AriClient
from telephony.dialplan import DialplanCheck, required_places
from telephony.readiness import AriReadiness
from tests.api.ari_thread import ThreadedPeer


def _wait_ready(client: Any, headers: dict[str, str], predicate: Any, within: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = client.get("/api/ready", headers=headers).json()
        if predicate(body["components"]["telephony"]):
            return body
        assert time.monotonic() < deadline, f"/api/ready never showed it: {body['components']['telephony']}"
        time.sleep(0.05)


def test_ready_reports_ari_connection_and_missing_dialplan(
    make_ctx: Any, ari: ThreadedPeer, make_user: Any, token_for: Any
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    ari_client = AriClient(ari.peer.url, ari.peer.user, ari.peer.password, "callcard", backoff_initial=0.05)
    places = required_places(
        operators_context="operators",
        operators_extension="s",
        emergency_context="emergency",
        transfer_context="callcard-transfer",
    )
    readiness = AriReadiness(ari_client, DialplanCheck(ari_client, places, ttl_s=0.0))
    ctx = make_ctx()
    ctx.components["telephony"] = lambda: {"status": "ok", "ari": "configured", "agi": "127.0.0.1:4573"}
    ctx.probes["telephony"] = readiness.report

    async def ignore(_: dict[str, Any]) -> None:
        return None

    admin = {"Authorization": f"Bearer {token_for(make_user('admin'))}"}
    with TestClient(create_app(ctx)) as client:
        before = client.get("/api/ready", headers=admin).json()["components"]["telephony"]
        assert before["status"] == "ari disconnected" and before["ari"]["connected"] is False
        assert before["agi"] == "127.0.0.1:4573", "the static part of the report is kept"

        events = client.portal.start_task_soon(ari_client.run_events, ignore)
        try:
            ari.run(lambda p: p.new_call("+77010000009"))
            up = _wait_ready(client, admin, lambda t: t["ari"]["connected"])
            assert up["ready"] is True
            assert up["components"]["telephony"]["dialplan"]["status"] == "ok"

            def break_dialplan(p: Any) -> None:
                del p.dialplan["callcard-transfer"]
                del p.dialplan["emergency"]["101"]

            ari.run(break_dialplan)
            missing = client.get("/api/ready", headers=admin).json()
            telephony = missing["components"]["telephony"]
            assert missing["ready"] is True, "the database decides readiness; telephony says what is wrong"
            assert telephony["status"] == "dialplan missing"
            assert "emergency,101,1" in telephony["dialplan"]["missing"]
            assert "callcard-transfer,103,1" in telephony["dialplan"]["missing"]

            ari.call(ari.peer.stop())  # Asterisk goes down: the events WebSocket closes
            down = _wait_ready(client, admin, lambda t: not t["ari"]["connected"])
            assert down["components"]["telephony"]["status"] == "ari disconnected"
        finally:
            events.cancel()
            client.portal.call(ari_client.aclose)


def _wired_ctx(make_ctx: Any) -> Any:
    """A context whose parts report what the real ones do: a file path, bind addresses, an error text."""
    ctx = make_ctx()
    ctx.components["asr"] = lambda: {"status": "ok", "ru": "ok", "kk": "missing", "model": "/srv/callcard/models/ru"}
    ctx.components["telephony"] = lambda: {"status": "ok", "audiosocket": "10.20.0.7:9092", "agi": "10.20.0.7:4573"}
    ctx.components["classifier"] = lambda: (_ for _ in ()).throw(RuntimeError("cannot read /srv/callcard/model"))
    return ctx


PRIVATE = ("/srv/callcard", "10.20.0.7", "cannot read", "latency_ms", "backend", "version", "source")


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_anyone_else_sees_only_status_words(make_ctx: Any, make_user: Any, token_for: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    ctx = _wired_ctx(make_ctx)
    with TestClient(create_app(ctx)) as client:
        answers = {
            "nobody": client.get("/api/ready"),
            "a forged token": client.get("/api/ready", headers={"Authorization": "Bearer not.a.token"}),
            **{
                role: client.get("/api/ready", headers={"Authorization": f"Bearer {token_for(make_user(role))}"})
                for role in ("operator", "supervisor", "qa")
            },
        }
    for who, reply in answers.items():
        assert reply.status_code == 200, (who, reply.text)
        body = reply.json()
        assert body == {
            "ready": True,
            "database": {"status": "ok"},
            "taxonomy": {"status": "ok"},
            "components": {
                "asr": {"status": "ok"},
                "classifier": {"status": "error"},
                "telephony": {"status": "ok"},
            },
        }, who
        assert not any(word in reply.text for word in PRIVATE), (who, reply.text)


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_an_admin_sees_the_whole_report(make_ctx: Any, make_user: Any, token_for: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    ctx = _wired_ctx(make_ctx)
    with TestClient(create_app(ctx)) as client:
        reply = client.get("/api/ready", headers={"Authorization": f"Bearer {token_for(make_user('admin'))}"})
    body = reply.json()
    assert reply.status_code == 200 and body["ready"] is True
    assert body["database"]["status"] == "ok" and body["database"]["backend"] in ("sqlite", "postgresql")
    assert body["taxonomy"]["topics"] > 0 and body["taxonomy"]["source"]
    assert body["components"]["asr"]["model"] == "/srv/callcard/models/ru"
    assert body["components"]["telephony"]["agi"] == "10.20.0.7:4573"
    assert body["components"]["classifier"] == {"status": "error", "error": "cannot read /srv/callcard/model"}


def test_without_a_database_anyone_still_learns_that_it_is_down(make_ctx: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from models.db import make_engine, make_sessionmaker

    ctx = make_ctx()
    ctx.sessionmaker = make_sessionmaker(
        make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    )
    with TestClient(create_app(ctx)) as client:
        reply = client.get("/api/ready", headers={"Authorization": "Bearer some.token.here"})
    assert reply.status_code == 503 and reply.json()["ready"] is False
    assert reply.json()["database"] == {"status": "down"}
    assert "database cannot be reached" in reply.json()["detail"]
