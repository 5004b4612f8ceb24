"""Database outages at each point of a call, with the real stack: ARI peer -> TelephonyBridge -> CallManager ->
CallSession (real Vosk, real sklearn proposer) -> CallRegistry (spool) -> PostCallWorker, on SQLite and PostgreSQL.

Each test ends with the call's final state (tests/calls/faults.py: assert_final_state): ended with a cause,
recording playable, segments covering the speech without overlap or duplicates, a card, the spool empty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from calls.messages import CallStartedMessage
from models.db import make_sessionmaker
from tests.calls.conftest import Outage
from tests.calls.faults import (
    BYTES_PER_S,
    Node,
    NodeConfig,
    TimedSpeech,
    assert_final_state,
    call_audio,
    card_count,
    describe,
    is_final,
    spooled,
    until,
)
from tests.peers.ari_peer import AriPeer


@pytest.fixture
def config(outage: Outage, peer: AriPeer, timed: TimedSpeech, proposer: object, tmp_path: Path) -> Iterator[NodeConfig]:
    engine = outage.engine()
    yield NodeConfig(
        sessions=make_sessionmaker(engine),
        spool_dir=tmp_path / "spool",
        recordings_dir=tmp_path / "recordings",
        peer=peer,
        speech=timed,
        decoder=timed,
        proposer=proposer,  # type: ignore[arg-type]
    )
    engine.dispose()


@pytest.fixture
async def node(config: NodeConfig) -> AsyncIterator[Node]:
    n = await Node(config).start()
    yield n
    await n.stop()


@pytest.fixture
async def full_node(config: NodeConfig) -> AsyncIterator[Node]:
    """A node with no live capacity left: every call is transcribed from its recording after hang-up."""
    n = await Node(replace(config, capacity=0)).start()
    yield n
    await n.stop()


def _audio_s(pcm: bytes) -> float:
    return len(pcm) / BYTES_PER_S


async def _ends_final(node: Node, uid: str, within: float = 30.0) -> None:
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), within, lambda: describe(sessions, uid))


async def test_database_down_when_the_call_starts(node: Node, peer: AriPeer, outage: Outage) -> None:
    pcm = call_audio()
    with outage.down():
        uid = peer.new_call("+77015550201", audio=pcm)
        await until(lambda: node.received_s(uid) >= 1.5)
        assert node.registry.spooling
        # The desk sees the call at once, by its key, although the database has no row for it.
        started = [m for m in node.hub.snapshot(uid) if isinstance(m, CallStartedMessage)]
        assert started and started[0].call_id is None and started[0].call_key == uid
    await until(lambda: node.received_s(uid) >= _audio_s(pcm))
    await peer.hangup(uid)
    await _ends_final(node, uid)
    assert_final_state(node, uid, pcm)
    assert node.registry.spooled > 0 and node.registry.replayed >= node.registry.spooled


async def test_database_down_mid_call(node: Node, peer: AriPeer, outage: Outage) -> None:
    pcm = call_audio()
    uid = peer.new_call("+77015550202", audio=pcm)
    await until(lambda: node.received_s(uid) >= 1.0)
    with outage.down():
        # The first phrase is decoded and its segment and proposal go to the spool meanwhile.
        await until(lambda: node.registry.spooling and node.received_s(uid) >= 5.0)
    await until(lambda: node.received_s(uid) >= _audio_s(pcm))
    await peer.hangup(uid)
    await _ends_final(node, uid)
    assert_final_state(node, uid, pcm)
    assert node.registry.spooled > 0


async def test_database_down_across_the_hang_up(node: Node, peer: AriPeer, outage: Outage) -> None:
    pcm = call_audio()
    uid = peer.new_call("+77015550203", audio=pcm)
    await until(lambda: node.received_s(uid) >= 1.0)
    with outage.down():
        await until(lambda: node.received_s(uid) >= _audio_s(pcm))
        await peer.hangup(uid)
        await until(lambda: uid not in node.manager.calls)  # live processing is over
        # Everything the call produced waits in the spool: its end, its transcript state, the recording.
        await until(lambda: any(r["op"] == "recording" and r["kind"] == "mixed" for r in spooled(node)))
        ops = {r["op"] for r in spooled(node)}
        assert {"call_ended", "asr_status", "segment", "proposal", "recording"} <= ops, ops
    await _ends_final(node, uid)
    assert_final_state(node, uid, pcm)


async def test_database_down_across_a_callcard_restart(
    node: Node, config: NodeConfig, peer: AriPeer, outage: Outage
) -> None:
    pcm = call_audio()
    uid = peer.new_call("+77015550204", audio=pcm)
    await until(lambda: node.received_s(uid) >= 1.0)
    with outage.down():
        await until(lambda: node.received_s(uid) >= _audio_s(pcm))
        await peer.hangup(uid)
        await until(lambda: uid not in node.manager.calls)
        await until(lambda: any(r["op"] == "recording" and r["kind"] == "mixed" for r in spooled(node)))
        await node.stop()  # SIGTERM while the database is down: the writes stay in the spool
        waiting = spooled(node)
        assert waiting and not node.registry.spool.empty
        again = await Node(config).start()  # a new process on the same spool and recordings
        try:
            assert again.registry.spooling  # what the last process left is replayed first, in order
            assert again.registry.replayed == 0
        except BaseException:
            await again.stop()
            raise
    try:
        await _ends_final(again, uid)
        assert again.registry.replayed == len(waiting)  # each spooled write applied once
        got = assert_final_state(again, uid, pcm)
        assert card_count(config.sessions, uid) == 1
        assert got.call.caller_number == "+77015550204"
    finally:
        await again.stop()


async def test_database_down_when_post_call_work_is_due(full_node: Node, peer: AriPeer, outage: Outage) -> None:
    node = full_node
    timed = node.config.decoder
    assert isinstance(timed, TimedSpeech)
    pcm = call_audio()
    uid = peer.new_call("+77015550205", audio=pcm)
    await until(lambda: node.received_s(uid) >= _audio_s(pcm))
    with outage.down():
        await peer.hangup(uid)
        await until(lambda: any(r["op"] == "recording" and r["kind"] == "mixed" for r in spooled(node)))
        await until(lambda: uid in node.postcall.results, 10)  # tried, and put off: the database is down
        assert timed.intervals.spans(uid) == []  # nothing decoded while the call's state cannot be read
    await _ends_final(node, uid)
    assert_final_state(node, uid, pcm, sources=["postcall"])
    assert timed.intervals.spans(uid) == [None]  # the whole recording, decoded once
