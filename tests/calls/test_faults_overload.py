"""Overload: admission control beyond the node's capacity, and a live call that falls behind real time.

Real Vosk decodes (timed per call by tests/calls/faults.py:TimedSpeech), so the tests can check that a call's
live decoding and its post-call decoding never run at the same time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from calls.lifecycle import AsrStatus, CallPhase
from calls.messages import CallStartedMessage, LiveTranscription, TranscriptionChangedMessage
from classifier.base import CardProposer
from tests.calls.faults import (
    BYTES_PER_S,
    Node,
    TimedSpeech,
    assert_final_state,
    call_audio,
    describe,
    is_final,
    load_call,
    sqlite_config,
    until,
)
from tests.peers.ari_peer import AriPeer


@pytest.fixture
async def full_node(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, timed: TimedSpeech, proposer: CardProposer
) -> AsyncIterator[Node]:
    """A node whose real-time capacity is one live call."""
    node = await Node(sqlite_config(sqlite_url, tmp_path, peer, timed, proposer, capacity=1)).start()
    yield node
    await node.stop()


@pytest.fixture
async def short_queue_node(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, timed: TimedSpeech, proposer: CardProposer
) -> AsyncIterator[Node]:
    """A node whose calls may fall behind by 5 frames (100 ms) only."""
    node = await Node(sqlite_config(sqlite_url, tmp_path, peer, timed, proposer, queue_frames=5)).start()
    yield node
    await node.stop()


async def test_calls_beyond_capacity_are_recorded_and_transcribed_after_hang_up(
    full_node: Node, peer: AriPeer, timed: TimedSpeech
) -> None:
    node = full_node
    pcm = call_audio()
    first = peer.new_call("+77015550301", audio=pcm)
    await until(lambda: node.received_s(first) > 0)
    more = [peer.new_call(f"+7701555030{i}", audio=pcm) for i in (2, 3)]
    uids = [first, *more]
    await until(lambda: all(node.received_s(u) >= 1.0 for u in uids))
    assert node.manager.calls[first].phase is CallPhase.LIVE
    assert [node.manager.calls[u].phase for u in more] == [CallPhase.RECORDING_ONLY] * 2
    assert node.manager.deferred_calls == 2
    for u in more:  # the desk is told these calls are transcribed after hang-up
        started = [m for m in node.hub.snapshot(u) if isinstance(m, CallStartedMessage)]
        assert started and started[0].transcription is LiveTranscription.AFTER_CALL
        assert load_call(node.config.sessions, u).call.asr_status == AsrStatus.DEFERRED  # type: ignore[union-attr]
    await until(lambda: all(node.received_s(u) >= len(pcm) / BYTES_PER_S for u in uids))
    for u in uids:
        await peer.hangup(u)
    sessions = node.config.sessions
    for u in uids:
        await until(lambda u=u: is_final(sessions, u), 60, lambda u=u: describe(sessions, u))  # type: ignore[misc]
    assert_final_state(node, first, pcm, statuses=[AsrStatus.COMPLETE], sources=["live"])
    for u in more:
        assert_final_state(node, u, pcm, statuses=[AsrStatus.POSTCALL_DONE], sources=["postcall"])
        assert u not in timed.intervals.live  # never decoded live
        assert timed.intervals.spans(u) == [None]  # the whole recording, once
    for u in uids:
        assert timed.intervals.overlaps(u) == []


async def test_a_live_call_that_falls_behind_is_demoted_and_finished_from_its_recording(
    short_queue_node: Node, peer: AriPeer, timed: TimedSpeech
) -> None:
    node = short_queue_node
    pcm = call_audio()
    uid = peer.new_call("+77015550311", audio=pcm)
    timed.slow[uid] = 0.3  # each recognizer request of this call takes 0.3 s longer: it cannot keep up
    await until(lambda: node.manager.demoted_calls == 1, 10)
    followed = node.manager.calls[uid]
    assert followed.phase is CallPhase.RECORDING_ONLY and followed.dropped > 0
    demoted_at = followed.not_live_since
    assert demoted_at is not None and demoted_at < 1.0
    changed = [m for m in node.hub.snapshot(uid) if isinstance(m, TranscriptionChangedMessage)]
    assert changed and changed[0].transcription is LiveTranscription.AFTER_CALL
    await until(lambda: node.received_s(uid) >= len(pcm) / BYTES_PER_S)
    await peer.hangup(uid)
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), 40, lambda: describe(sessions, uid))
    got = assert_final_state(node, uid, pcm, statuses=[AsrStatus.POSTCALL_DONE])
    assert got.call.frames_dropped > 0
    asked = timed.intervals.spans(uid)
    assert len(asked) == 1 and asked[0] is not None  # only what live decoding missed
    assert asked[0][0].start <= demoted_at + 0.2 and asked[0][-1].end >= len(pcm) / BYTES_PER_S - 0.1
    assert timed.intervals.overlaps(uid) == []
