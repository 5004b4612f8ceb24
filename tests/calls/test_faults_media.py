"""The AudioSocket connection carrying the caller's voice breaks mid-call (on Asterisk's side).

The call itself goes on with the operators; callcard still ends it cleanly when the caller hangs up, and what
the caller said after the break is decoded from the recording.
"""

from __future__ import annotations

import asyncio

from calls.lifecycle import AsrStatus
from tests.calls.faults import (
    BYTES_PER_S,
    Node,
    TimedSpeech,
    assert_final_state,
    call_audio,
    describe,
    drop_media,
    is_final,
    until,
)
from tests.peers.ari_peer import AriPeer


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
