"""The ARI events WebSocket drops mid-call (Asterisk's HTTP server restarted, a network fault).

While the socket is down Asterisk goes on: the caller's voice still streams over AudioSocket, and events (the
hang-up included) are lost for callcard. Once callcard reconnects, it must find out what happened and bring
each call to its final state.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from calls.lifecycle import AsrStatus
from tests.calls.faults import (
    BYTES_PER_S,
    Node,
    assert_final_state,
    call_audio,
    card_count,
    describe,
    is_final,
    until,
)
from tests.peers.ari_peer import AriPeer


@pytest.mark.parametrize("hang_up", ["after_reconnect", "while_disconnected"])
async def test_ari_websocket_dropped_mid_call(node: Node, peer: AriPeer, hang_up: str) -> None:
    pcm = call_audio()
    uid = peer.new_call("+77015550701", audio=pcm)
    await until(lambda: node.received_s(uid) >= 1.0)
    await peer.stop()  # the WebSocket and HTTP go away; channels, media and recordings stay
    await until(lambda: node.received_s(uid) >= 3.0)  # the voice still arrives over AudioSocket
    if hang_up == "while_disconnected":
        await until(lambda: node.received_s(uid) >= len(pcm) / BYTES_PER_S)
        await peer.hangup(uid)  # nobody hears it: the events are lost
        hung_up_at = datetime.now(UTC)
        assert uid in node.manager.calls
        await asyncio.sleep(3.0)  # the outage lasts on after the hang-up
    await peer.start()  # same port: callcard's client reconnects on its own
    await until(lambda: peer.app_registered("callcard"), 15, lambda: "callcard did not reconnect")
    if hang_up == "after_reconnect":
        await until(lambda: node.received_s(uid) >= len(pcm) / BYTES_PER_S)
        await peer.hangup(uid)
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), 30, lambda: describe(sessions, uid))
    got = assert_final_state(node, uid, pcm, statuses=[AsrStatus.COMPLETE, AsrStatus.POSTCALL_DONE])
    assert card_count(sessions, uid) == 1
    if hang_up == "while_disconnected":  # ended when the caller left (the recording's end), not at the reconnect
        assert got.call.ended_at is not None
        late = (got.call.ended_at.replace(tzinfo=UTC) - hung_up_at).total_seconds()
        assert -1.5 < late < 1.5, (got.call.ended_at, hung_up_at, got.call.hangup_cause)


async def test_asterisk_killed_and_restarted_mid_call(node: Node, peer: AriPeer) -> None:
    pcm = call_audio()
    uid = peer.new_call("+77015550702", audio=pcm)
    await until(lambda: node.received_s(uid) >= len(pcm) / BYTES_PER_S)  # the caller has said everything
    crashed_at = datetime.now(UTC)
    await peer.crash()  # kill -9: no event, every channel gone, the recording left with a zeroed RIFF header
    await asyncio.sleep(2.0)  # Asterisk is down for a while
    await peer.start()
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), 30, lambda: describe(sessions, uid))
    got = assert_final_state(node, uid, pcm, statuses=[AsrStatus.COMPLETE, AsrStatus.POSTCALL_DONE])
    [mixed] = [r for r in got.recordings if r.kind == "mixed"]
    assert mixed.complete is False  # repaired from the file size, and marked incomplete
    assert got.call.ended_at is not None
    late = (got.call.ended_at.replace(tzinfo=UTC) - crashed_at).total_seconds()
    assert -1.5 < late < 1.5, (got.call.ended_at, crashed_at, got.call.hangup_cause)
