"""The ASR worker process killed mid-call: live decoding resumes on the restarted worker, and what the dead
worker held is decoded from the recording after hang-up (no overlap with the live segments)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from asr.engine import VoskSpeechEngine
from calls.lifecycle import AsrStatus
from classifier.base import CardProposer
from tests.calls.faults import (
    BYTES_PER_S,
    Node,
    TimedSpeech,
    assert_final_state,
    build_engine,
    call_audio,
    describe,
    is_final,
    sqlite_config,
    until,
)
from tests.peers.ari_peer import AriPeer


@pytest.fixture
def own_engine(fault_model: Path) -> Iterator[VoskSpeechEngine]:
    """An engine of this test's own (its worker is killed)."""
    engine = build_engine(fault_model)
    yield engine
    engine.pool.close()


@pytest.fixture
async def node(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, own_engine: VoskSpeechEngine, proposer: CardProposer
) -> AsyncIterator[Node]:
    n = await Node(sqlite_config(sqlite_url, tmp_path, peer, TimedSpeech(own_engine), proposer)).start()
    yield n
    await n.stop()


@pytest.mark.parametrize("moment", ["any", "between_requests"])
async def test_asr_worker_killed_mid_call(
    node: Node, peer: AriPeer, own_engine: VoskSpeechEngine, moment: str
) -> None:
    timed = node.config.speech
    assert isinstance(timed, TimedSpeech)
    pcm = call_audio()
    uid = peer.new_call("+77015550401", audio=pcm)
    await until(lambda: node.received_s(uid) >= 1.0)  # the caller is in the middle of the first phrase
    gate = timed.gates[uid] = asyncio.Event()
    if moment == "any":
        gate.set()  # the kill lands wherever the call's decoding is (usually between two requests)
    else:
        await until(lambda: uid in timed.held, 5)  # no request of the call is in the worker
    killed_at = node.received_s(uid)
    [pid] = own_engine.pool.pids()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await until(lambda: own_engine.pool.pids() != [pid] and own_engine.pool.alive() == 1, 30)  # restarted
    gate.set()
    await until(lambda: node.received_s(uid) >= len(pcm) / BYTES_PER_S)
    await peer.hangup(uid)
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), 40, lambda: describe(sessions, uid))
    assert_final_state(node, uid, pcm, statuses=[AsrStatus.POSTCALL_DONE])
    # The recording was decoded after the call for the span the dead worker held, not the whole call.
    [asked] = timed.intervals.spans(uid)
    # What the dead worker held: from the start of the utterance it was decoding (nothing was final yet).
    assert asked is not None and asked[0].start < 0.3 and 0.0 < asked[0].end <= killed_at + 0.05, asked
    assert sum(s.end - s.start for s in asked) < len(pcm) / BYTES_PER_S - 1.0
    assert timed.intervals.overlaps(uid) == []
