"""The dialplan check and ARI readiness, against the ARI peer's dialplan model and its real-Asterisk answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telephony.ari import AriClient
from telephony.dialplan import DialplanCheck, DialplanState, required_places
from telephony.readiness import AriReadiness
from tests.peers.ari_peer import AriPeer

PLACES = required_places(
    operators_context="operators",
    operators_extension="s",
    emergency_context="emergency",
    transfer_context="callcard-transfer",
)


@pytest.fixture
async def client(ari_peer: AriPeer) -> AsyncIterator[AriClient]:
    c = AriClient(ari_peer.url, "callcard", "s3cret", "callcard", backoff_initial=0.05, backoff_max=0.2)
    yield c
    await c.aclose()


async def test_the_peer_evaluates_functions_on_channels_only_as_asterisk_does(ari_peer: AriPeer) -> None:
    uid = ari_peer.new_call()
    auth = ("callcard", "s3cret")
    async with httpx.AsyncClient(base_url=ari_peer.url + "/ari", auth=auth) as http:

        async def on(channel: str, expression: str) -> httpx.Response:
            return await http.get(f"/channels/{channel}/variable", params={"variable": expression})

        on_channel = await on(uid, "DIALPLAN_EXISTS(emergency,103,1)")
        assert (on_channel.status_code, on_channel.json()) == (200, {"value": "1"})
        assert (await on(uid, "DIALPLAN_EXISTS(emergency,112,1)")).json() == {"value": "0"}
        pattern = await on(uid, "DIALPLAN_EXISTS(callcard-transfer,104,1)")
        assert pattern.json() == {"value": "1"}, "_10[1-4] matches 104"
        # GET /asterisk/variable reads globals only: a function name is just an unknown variable there.
        glob = await http.get("/asterisk/variable", params={"variable": "DIALPLAN_EXISTS(emergency,103,1)"})
        assert (glob.status_code, glob.json()) == (200, {"value": ""})
        assert (await on("1.404", "DIALPLAN_EXISTS(emergency,103,1)")).status_code == 404
        assert (await on(uid, "NOT_A_FUNCTION(x)")).status_code == 500
        ari_peer.func_dialplan_loaded = False
        assert (await on(uid, "DIALPLAN_EXISTS(emergency,103,1)")).status_code == 500


async def test_check_says_ok_missing_or_unverified(client: AriClient, ari_peer: AriPeer) -> None:
    check = DialplanCheck(client, PLACES)
    assert check.last.state is DialplanState.UNVERIFIED
    nothing_up = await check.check()
    assert nothing_up.state is DialplanState.UNVERIFIED and "no channel is up" in nothing_up.detail

    ari_peer.new_call()
    assert (await check.check()).state is DialplanState.OK

    del ari_peer.dialplan["callcard-transfer"]
    del ari_peer.dialplan["emergency"]["104"]
    report = await check.check()
    assert report.state is DialplanState.MISSING
    assert set(report.missing) == {
        "emergency,104,1",
        "callcard-transfer,101,1",
        "callcard-transfer,102,1",
        "callcard-transfer,103,1",
        "callcard-transfer,104,1",
        "callcard-transfer,done,1",
    }
    assert report.as_dict()["status"] == "missing"

    ari_peer.func_dialplan_loaded = False
    cannot_tell = await check.check()
    assert cannot_tell.state is DialplanState.UNVERIFIED and "func_dialplan" in cannot_tell.detail


async def test_report_is_cached_for_its_ttl(client: AriClient, ari_peer: AriPeer) -> None:
    now = [100.0]
    check = DialplanCheck(client, PLACES, ttl_s=5.0, clock=lambda: now[0])
    ari_peer.new_call()
    assert (await check.report()).state is DialplanState.OK
    asked = len(ari_peer.requests)
    del ari_peer.dialplan["operators"]
    now[0] += 4.0
    assert (await check.report()).state is DialplanState.OK, "within the TTL the cached report is shown"
    assert len(ari_peer.requests) == asked
    now[0] += 2.0
    stale = await check.report()
    assert stale.state is DialplanState.MISSING and stale.missing == ("operators,s,1",)


async def test_readiness_follows_the_events_websocket_and_the_dialplan(client: AriClient, ari_peer: AriPeer) -> None:
    readiness = AriReadiness(client, DialplanCheck(client, PLACES, ttl_s=0.0))
    before = await readiness.report()
    assert before["status"] == "ari disconnected" and before["ari"] == {  # type: ignore[comparison-overlap]
        "connected": False,
        "connections": 0,
        "url": ari_peer.url,
    }

    async def ignore(_: dict[str, object]) -> None:
        return None

    events = asyncio.create_task(client.run_events(ignore))
    try:
        await asyncio.wait_for(client.connected.wait(), 5)
        ari_peer.new_call()
        del ari_peer.dialplan["callcard-transfer"]["done"]
        up = await readiness.report()
        assert up["ari"]["connected"] is True  # type: ignore[index]
        assert up["status"] == "dialplan missing"
        assert up["dialplan"]["missing"] == ["callcard-transfer,done,1"]  # type: ignore[index]

        await ari_peer.stop()  # Asterisk goes away: the WebSocket closes
        deadline = time.monotonic() + 5
        while client.events_connected:
            assert time.monotonic() < deadline, "ARI still reported connected after the peer stopped"
            await asyncio.sleep(0.02)
        down = await readiness.report()
        assert down["status"] == "ari disconnected" and down["ari"]["connected"] is False  # type: ignore[index]
    finally:
        events.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await events


async def test_start_up_check_runs_once_ari_connects(client: AriClient, ari_peer: AriPeer) -> None:
    check = DialplanCheck(client, PLACES)
    ari_peer.new_call()
    del ari_peer.dialplan["emergency"]

    async def ignore(_: dict[str, object]) -> None:
        return None

    waiting = asyncio.create_task(check.check_when_connected())
    await asyncio.sleep(0.05)
    assert not waiting.done() and check.last.state is DialplanState.UNVERIFIED
    events = asyncio.create_task(client.run_events(ignore))
    try:
        await asyncio.wait_for(waiting, 5)
        assert check.last.state is DialplanState.MISSING and len(check.last.missing) == 4
    finally:
        events.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await events


async def test_the_bridge_checks_the_dialplan_at_start_up_and_reports_it(
    ari_peer: AriPeer, collector: Any, tmp_path: Path
) -> None:
    from telephony.bridge import TelephonyBridge

    ari_peer.new_call(announce=False)  # a call already up when callcard starts: something to evaluate on
    del ari_peer.dialplan["callcard-transfer"]
    bridge = TelephonyBridge(
        events=collector,
        audio=collector,
        recordings_dir=tmp_path / "recordings",
        ari_enabled=True,
        ari_url=ari_peer.url,
        ari_password="s3cret",
        operators_context="operators",
        emergency_context="emergency",
        transfer_context="callcard-transfer",
        audiosocket_bind="127.0.0.1:0",
        agi_enabled=False,
    )
    assert bridge.dialplan is not None and bridge.readiness is not None
    await bridge.start()
    try:
        deadline = time.monotonic() + 5
        while bridge.dialplan.last.state is DialplanState.UNVERIFIED:
            assert time.monotonic() < deadline, "no dialplan check after start-up"
            await asyncio.sleep(0.02)
        assert bridge.dialplan.last.state is DialplanState.MISSING
        assert "callcard-transfer,done,1" in bridge.dialplan.last.missing
        report = await bridge.readiness.report()
        assert report["status"] == "dialplan missing" and report["ari"]["connected"] is True  # type: ignore[index]
    finally:
        await bridge.stop()
