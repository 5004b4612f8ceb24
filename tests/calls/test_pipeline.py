"""End to end over real sockets: TelephonyBridge + CallManager + CallRegistry, as the composition root wires them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from calls.manager import CallManager
from calls.registry import CallRegistry
from calls.spool import Spool
from models.db import make_sessionmaker
from models.records import Call
from telephony.bridge import TelephonyBridge
from telephony.demo import run_demo_call
from tests.calls.conftest import Outage, Processors
from tests.peers.ari_peer import AriPeer
from tests.peers.speech import speech_pcm, speech_wav


class Stack:
    def __init__(
        self,
        bridge: TelephonyBridge,
        manager: CallManager,
        registry: CallRegistry,
        processors: Processors,
        sessionmaker: object,
    ) -> None:
        self.bridge, self.manager, self.registry = bridge, manager, registry
        self.processors, self.sessionmaker = processors, sessionmaker

    def calls(self) -> dict[str, Call]:
        with self.sessionmaker() as s:  # type: ignore[operator]
            return {c.uniqueid: c for c in s.scalars(select(Call).options(selectinload(Call.recordings)))}

    async def until(self, predicate: object, within: float = 15.0, what: object = None) -> None:
        deadline = time.monotonic() + within
        while not predicate():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"condition not met in time: {what() if what else ''}"  # type: ignore[operator]
            await asyncio.sleep(0.05)


@pytest.fixture
async def peer() -> AsyncIterator[AriPeer]:
    p = AriPeer(realtime_media=True)
    await p.start()
    yield p
    await p.close()


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
async def stack(peer: AriPeer, outage: Outage, tmp_path: Path) -> AsyncIterator[Stack]:
    engine = outage.engine()
    sessionmaker = make_sessionmaker(engine)
    registry = CallRegistry(sessionmaker, Spool(tmp_path / "spool"), retry_interval=0.1)
    processors = Processors()
    manager = CallManager(registry=registry, processor_factory=processors)
    bridge = TelephonyBridge(
        events=manager,
        audio=manager,
        call_ids=manager,
        recordings_dir=tmp_path / "recordings",
        ari_enabled=True,
        ari_url=peer.url,
        ari_user="callcard",
        ari_password="s3cret",
        ari_app="callcard",
        operators_context="operators",
        emergency_context="emergency",
        transfer_context="callcard-transfer",
        audiosocket_bind="127.0.0.1:0",
        agi_bind="127.0.0.1:0",
    )
    await registry.start()
    await bridge.start()
    assert bridge.audiosocket is not None and bridge.ari_app is not None
    bridge.ari_app.advertise = f"127.0.0.1:{bridge.audiosocket.bound_port}"  # port 0 resolved
    await asyncio.wait_for(peer.connected.wait(), 5)
    yield Stack(bridge, manager, registry, processors, sessionmaker)
    await bridge.stop()
    await manager.stop()
    await registry.stop()
    engine.dispose()


async def test_database_outage_during_a_call_loses_nothing(stack: Stack, peer: AriPeer, outage: Outage) -> None:
    pcm = speech_pcm("Здравствуйте, у нас во дворе прорвало трубу, вода течёт на улицу")
    uid = peer.new_call("+77015550101", audio=pcm)
    await stack.until(lambda: uid in stack.calls() and uid in stack.processors.made)
    with outage.down():
        await stack.until(lambda: len(stack.processors.made[uid].received) >= len(pcm))  # audio flows on
        second = peer.new_call("+77015550102", audio=pcm[:16000])  # a call that starts during the outage
        await stack.until(lambda: second in stack.processors.made)
        await stack.until(lambda: len(stack.processors.made[second].received) >= 16000)
        assert stack.processors.made[second].info.call_id is None  # not stored yet: live processing goes on
        await peer.hangup(uid)
        await peer.hangup(second)
        await stack.until(lambda: not stack.manager.calls)
        await stack.until(lambda: len(stack.registry.spool) >= 6)
        assert stack.registry.spooling
    await stack.until(lambda: not stack.registry.spooling)
    await stack.until(
        lambda: len(stack.calls()[uid].recordings) == 3 and len(stack.calls()[second].recordings) == 3,
        what=lambda: {u: [(r.kind, r.path) for r in c.recordings] for u, c in stack.calls().items()},
    )
    calls = stack.calls()
    for u in (uid, second):
        c = calls[u]
        assert (c.state, c.hangup_cause, c.source) == ("ended", "Normal Clearing", "ari")
        assert c.answered_at is not None and c.ended_at is not None and c.frames_dropped == 0
        assert sorted(r.kind for r in c.recordings) == ["caller", "mixed", "operator"]  # each voice, and both
        assert all(r.sha256 and r.duration_s and Path(r.path).exists() for r in c.recordings)  # noqa: ASYNC240
    assert calls[second].caller_number == "+77015550102"
    assert bytes(stack.processors.made[uid].received)[: len(pcm)] == pcm
    assert stack.registry.replayed >= 6 and stack.registry.rejected == 0


async def test_emergency_transfer_of_a_live_caller(stack: Stack, peer: AriPeer) -> None:
    uid = peer.new_call("+77015550103", audio=b"\x01\x00" * 8000)
    await stack.until(lambda: any(p.endswith(f"/channels/{uid}/continue") for _, p, _, _ in peer.requests))
    assert stack.bridge.transfer is not None
    outcome = await stack.bridge.transfer.transfer(uniqueid=uid, code="104")
    assert (outcome.status.value, outcome.destination) == ("transferred", "emergency,104,1")
    method, path, params, body = next(r for r in peer.requests if r[1] == "/ari/channels" and r[0] == "POST")
    assert (method, path, params["endpoint"]) == ("POST", "/ari/channels", "Local/104@callcard-transfer")
    assert body["variables"]["__CALLCARD_TRANSFER_CHANNEL"] == peer.channels[uid].json["name"]


async def test_demo_call_goes_through_fastagi_and_audiosocket(stack: Stack, tmp_path: Path) -> None:
    wav = speech_wav("Сәлеметсіз бе, менің атым Айгүл, Абай даңғылы он екі", "kk")
    assert stack.bridge.fastagi is not None and stack.bridge.audiosocket is not None
    result = await run_demo_call(
        wav,
        caller="+77015550104",
        agi_host="127.0.0.1",
        agi_port=stack.bridge.fastagi.bound_port,
        audiosocket_host="127.0.0.1",
        audiosocket_port=stack.bridge.audiosocket.bound_port,
        realtime=False,
    )
    assert result.call_id is not None and result.recording is not None
    await stack.until(lambda: result.uniqueid in stack.calls() and stack.calls()[result.uniqueid].state == "ended")
    await stack.until(lambda: len(stack.calls()[result.uniqueid].recordings) == 2)
    call = stack.calls()[result.uniqueid]
    assert (call.id, call.source, call.caller_number, call.media_uuid) == (
        int(result.call_id),
        "agi",
        "+77015550104",
        result.media_uuid,
    )
    proc = stack.processors.made[result.uniqueid]
    assert len(proc.received) == result.frames * 320 and proc.finished.is_set()
