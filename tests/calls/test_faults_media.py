"""The AudioSocket connection carrying the caller's voice breaks mid-call (on Asterisk's side).

The call itself goes on with the operators; callcard still ends it cleanly when the caller hangs up, and what
the caller said after the break is decoded from the recording.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from calls.lifecycle import AsrStatus
from classifier.base import CardProposer
from tests.calls.faults import (  # noqa: F401 (fixtures)
    BYTES_PER_S,
    Node,
    TimedSpeech,
    assert_final_state,
    call_audio,
    describe,
    drop_media,
    fault_model_fixture,
    is_final,
    peer_fixture,
    proposer_fixture,
    sqlite_config,
    timed_fixture,
    until,
    vosk_fixture,
)
from tests.peers.ari_peer import AriPeer


@pytest.fixture
async def node(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, timed: TimedSpeech, proposer: CardProposer
) -> AsyncIterator[Node]:
    n = await Node(sqlite_config(sqlite_url, tmp_path, peer, timed, proposer)).start()
    yield n
    await n.stop()


async def test_audiosocket_connection_dropped_mid_call(node: Node, peer: AriPeer, timed: TimedSpeech) -> None:
    pcm = call_audio()
    uid = peer.new_call("+77015550501", audio=pcm)
    await until(lambda: node.received_s(uid) >= 2.5)  # after the first phrase
    await drop_media(peer, uid)
    lost_at = node.received_s(uid)
    assert uid in peer.channels  # the caller is still on the line, and still recorded
    await until(lambda: node.manager.calls[uid].streams == 0, 5)
    # The caller goes on speaking (the second phrase) with nobody listening live, then hangs up.
    await asyncio.sleep(len(pcm) / BYTES_PER_S - lost_at)  # the call's own duration: nothing to poll
    await peer.hangup(uid)
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), 30, lambda: describe(sessions, uid))
    assert_final_state(node, uid, pcm, statuses=[AsrStatus.POSTCALL_DONE])
    [asked] = timed.intervals.spans(uid)
    assert asked is not None and asked[0].start <= lost_at + 0.1, asked
    assert timed.intervals.overlaps(uid) == []
