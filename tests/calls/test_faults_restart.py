"""callcard stopped (SIGTERM) mid-call and started again: the new process re-adopts the call from Asterisk.

The ARI peer keeps the caller's channel and its recording snoop while callcard is away (as Asterisk does), so
the new ARI application finds the snoop, listens again and reports how far into the recording the new stream
starts (CallStarted.audio_offset_s). The segments after the restart must be on the call's clock, and the span
live decoding missed is decoded from the recording after hang-up, with no overlap with the live segments.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calls.lifecycle import AsrStatus
from classifier.base import CardProposer
from tests.calls.faults import (
    BYTES_PER_S,
    Node,
    TimedSpeech,
    assert_final_state,
    call_audio,
    card_count,
    describe,
    is_final,
    speech_spans,
    sqlite_config,
    until,
)
from tests.peers.ari_peer import AriPeer


@pytest.mark.parametrize("how", ["sigterm", "kill"])
async def test_callcard_stopped_mid_call_and_restarted(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, timed: TimedSpeech, proposer: CardProposer, how: str
) -> None:
    config = sqlite_config(sqlite_url, tmp_path, peer, timed, proposer)
    pcm = call_audio()
    first_phrase, second_phrase = speech_spans(pcm)[0], speech_spans(pcm)[-1]
    node = await Node(config).start()
    try:
        uid = peer.new_call("+77015550601", audio=pcm)
        await until(lambda: node.received_s(uid) >= first_phrase.end + 0.4)  # the first phrase is said
        if how == "sigterm":
            await node.stop()  # live decoding of what arrived is finished and stored
        else:
            await node.kill()  # live decoding dies mid-utterance
        assert uid in peer.channels and any(c.snoop_of == uid for c in peer.channels.values())
    finally:
        await node.stop()
    again = await Node(config).start()
    try:
        await until(lambda: uid in again.manager.calls, 20, lambda: "the call was not re-adopted")
        start_s = again.manager.calls[uid].info.start_s
        assert first_phrase.end < start_s < second_phrase.start, start_s  # the new stream is on the call's clock
        # The rest of the caller's audio arrives in real time (a deadline, not a speed test: 2 loaded cores).
        await until(
            lambda: again.clock_s(uid) >= len(pcm) / BYTES_PER_S - 0.3,
            40,
            lambda: f"audio clock {again.clock_s(uid):.2f} s of {len(pcm) / BYTES_PER_S:.2f} s",
        )
        await peer.hangup(uid)
        sessions = config.sessions
        await until(lambda: is_final(sessions, uid), 30, lambda: describe(sessions, uid))
        got = assert_final_state(again, uid, pcm, statuses=[AsrStatus.POSTCALL_DONE])
        # The second phrase was decoded live by the new process, where it was said (not from 0).
        after = [g for g in got.segments if g.source == "live" and g.start_s >= start_s - 0.05]
        assert after and all(g.start_s >= start_s - 0.05 for g in after)
        assert any(g.start_s < second_phrase.end and second_phrase.start < g.end_s for g in after), describe(
            sessions, uid
        )
        # What no process listened to was decoded from the recording after the call: from 0 until the new
        # stream's first audio, which comes a moment after the re-adoption while the new listening chain is set
        # up (the part the first process heard is left out by word, so nothing overlaps).
        asked = timed.intervals.spans(uid)
        assert len(asked) == 1 and asked[0] is not None
        assert asked[0][0].start == 0.0 and start_s <= asked[0][-1].end < start_s + 1.0, asked
        assert timed.intervals.overlaps(uid) == []
        assert card_count(sessions, uid) == 1
    finally:
        await again.stop()


async def test_caller_hangs_up_while_callcard_is_down(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, timed: TimedSpeech, proposer: CardProposer
) -> None:
    config = sqlite_config(sqlite_url, tmp_path, peer, timed, proposer)
    pcm = call_audio()
    node = await Node(config).start()
    try:
        uid = peer.new_call("+77015550602", audio=pcm)
        await until(lambda: node.received_s(uid) >= 2.0)
        spoken_from = time.monotonic() - node.received_s(uid)
        await node.kill()
    finally:
        await node.stop()
    # The caller finishes and hangs up while no callcard is there: Asterisk stores the recording and nobody
    # hears the hang-up. (The wait is the rest of the call's own duration.)
    await asyncio.sleep(max(0.0, spoken_from + len(pcm) / BYTES_PER_S - time.monotonic()))
    await peer.hangup(uid)
    hung_up_at = datetime.now(UTC)
    assert uid not in peer.channels and peer.stored
    again = await Node(config).start()
    try:
        sessions = config.sessions
        await until(lambda: is_final(sessions, uid), 30, lambda: describe(sessions, uid))
        got = assert_final_state(again, uid, pcm, statuses=[AsrStatus.POSTCALL_DONE])
        # Ended when the call really ended (its recording's end), not when callcard came back.
        ended_at = got.call.ended_at
        assert ended_at is not None
        assert abs((ended_at.replace(tzinfo=UTC) - hung_up_at).total_seconds()) < 2.0, (ended_at, hung_up_at)
        assert not peer.stored  # the stored recording was fetched (and removed from Asterisk)
        assert card_count(sessions, uid) == 1
    finally:
        await again.stop()
