"""GET /api/ready tells the truth about telephony: ARI connected now or not, and the dialplan's missing places."""

from __future__ import annotations

import time
from typing import Any

from telephony.ari import AriClient
from telephony.dialplan import DialplanCheck, required_places
from telephony.readiness import AriReadiness
from tests.api.ari_thread import ThreadedPeer


def _wait_ready(client: Any, predicate: Any, within: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = client.get("/api/ready").json()
        if predicate(body["components"]["telephony"]):
            return body
        assert time.monotonic() < deadline, f"/api/ready never showed it: {body['components']['telephony']}"
        time.sleep(0.05)


def test_ready_reports_ari_connection_and_missing_dialplan(make_ctx: Any, ari: ThreadedPeer) -> None:
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

    with TestClient(create_app(ctx)) as client:
        before = client.get("/api/ready").json()["components"]["telephony"]
        assert before["status"] == "ari disconnected" and before["ari"]["connected"] is False
        assert before["agi"] == "127.0.0.1:4573", "the static part of the report is kept"

        events = client.portal.start_task_soon(ari_client.run_events, ignore)
        try:
            ari.run(lambda p: p.new_call("+77010000009"))
            up = _wait_ready(client, lambda t: t["ari"]["connected"])
            assert up["ready"] is True
            assert up["components"]["telephony"]["dialplan"]["status"] == "ok"

            def break_dialplan(p: Any) -> None:
                del p.dialplan["callcard-transfer"]
                del p.dialplan["emergency"]["101"]

            ari.run(break_dialplan)
            missing = client.get("/api/ready").json()
            telephony = missing["components"]["telephony"]
            assert missing["ready"] is True, "the database decides readiness; telephony says what is wrong"
            assert telephony["status"] == "dialplan missing"
            assert "emergency,101,1" in telephony["dialplan"]["missing"]
            assert "callcard-transfer,103,1" in telephony["dialplan"]["missing"]

            ari.call(ari.peer.stop())  # Asterisk goes down: the events WebSocket closes
            down = _wait_ready(client, lambda t: not t["ari"]["connected"])
            assert down["components"]["telephony"]["status"] == "ari disconnected"
        finally:
            events.cancel()
            client.portal.call(ari_client.aclose)
