"""Both voices of a call, end to end: the ARI peer plays a caller and an operator, callcard streams each voice over
its own AudioSocket connection, real Vosk (the Korean model standing in) transcribes both, and the database holds
a dialogue: the caller's words make the card, the operator's are stored as theirs.

The operator's stream breaking mid-call loses nothing: what they said after the break is decoded from the call's
mixed recording after the hang-up, where the caller's live transcript shows it was not the caller.
"""

from __future__ import annotations

import asyncio

from asr.base import Span
from calls.lifecycle import AsrStatus
from core.types import Speaker
from tests.calls.faults import (
    BYTES_PER_S,
    FinalCall,
    Node,
    TimedSpeech,
    assert_final_state,
    describe,
    is_final,
    load_call,
    silence,
    speech_spans,
    until,
)
from tests.peers.ari_peer import AriPeer, PeerChannel
from tests.peers.speech import speech_pcm

GREETING = "служба сто девять слушаю вас"
PROBLEM = "у нас во дворе прорвало трубу"
READBACK = "записал ваш адрес номер заявки сто двадцать три"
THANKS = "спасибо до свидания"


def dialogue() -> tuple[bytes, bytes]:
    """(caller, operator) audio of one call on the same clock: the operator greets, the caller tells the problem,
    the operator reads back, the caller thanks; each voice is silent while the other speaks."""
    greeting, problem, readback, thanks = (speech_pcm(t) for t in (GREETING, PROBLEM, READBACK, THANKS))
    turn_gap = silence(1.0)
    caller = silence_as(greeting) + turn_gap + problem + turn_gap + silence_as(readback) + turn_gap + thanks
    operator = greeting + turn_gap + silence_as(problem) + turn_gap + readback + turn_gap + silence_as(thanks)
    tail = silence(3.5)  # the recognizers end the last utterance on trailing silence
    return caller + tail, operator + tail


def silence_as(pcm: bytes) -> bytes:
    """Silence as long as ``pcm``."""
    return b"\x00" * len(pcm)


def voices(got: FinalCall, speaker: Speaker) -> list[tuple[str, float, float, str]]:
    """(source, start, end, text) of the machine segments of one voice."""
    return [
        (g.source, g.start_s, g.end_s, g.text)
        for g in got.segments
        if g.speaker == speaker.value and g.source in ("live", "postcall")
    ]


def covered(spans: list[Span], segments: list[tuple[str, float, float, str]]) -> bool:
    """Every stretch of speech in ``spans`` overlaps a segment."""
    return all(any(start < span.end and span.start < end for _, start, end, _ in segments) for span in spans)


async def test_both_voices_are_transcribed_apart_and_only_the_callers_make_the_card(
    node: Node, peer: AriPeer, timed: TimedSpeech
) -> None:
    caller_pcm, operator_pcm = dialogue()
    uid = peer.new_call("+77015550601", audio=caller_pcm, operator_audio=operator_pcm)
    await until(lambda: node.received_s(uid) >= len(caller_pcm) / BYTES_PER_S - 0.05, 30)
    followed = node.manager.calls[uid]
    assert followed.operator is not None
    await until(lambda: followed.operator is not None and followed.operator.received_bytes >= len(operator_pcm), 30)
    await peer.hangup(uid)
    sessions = node.config.sessions
    await until(lambda: is_final(sessions, uid), 60, lambda: describe(sessions, uid))
    got = assert_final_state(node, uid, caller_pcm, statuses=[AsrStatus.COMPLETE])
    await until(lambda: (load_call(sessions, uid) or got).call.operator_asr_status == "complete", 30)
    got = load_call(sessions, uid) or got

    caller, operator = voices(got, Speaker.CALLER), voices(got, Speaker.OPERATOR)
    assert operator and {src for src, *_ in operator} == {"live"}, describe(sessions, uid)
    assert covered(speech_spans(operator_pcm), operator), (operator, speech_spans(operator_pcm))
    assert covered(speech_spans(caller_pcm), caller), (caller, speech_spans(caller_pcm))
    # Neither voice leaks into the other's transcript: each segment lies where its own speaker spoke.
    for segments, pcm in ((caller, caller_pcm), (operator, operator_pcm)):
        spoken = speech_spans(pcm)
        for _, start, end, text in segments:
            assert any(start < s.end + 0.5 and s.start - 0.5 < end for s in spoken), (text, start, end, spoken)
    assert {r.kind for r in got.recordings} == {"mixed", "caller", "operator"}
    # The card was proposed from the caller's words alone: the model saw what the caller said, nothing else.
    assert got.card is not None and got.card.proposed_summary is not None
    said_by_caller = {w for *_, text in caller for w in text.split()}
    operator_words = {w for *_, text in operator for w in text.split()} - said_by_caller
    assert not operator_words & set(got.card.proposed_summary.split()), got.card.proposed_summary
    assert node.manager.calls == {}


async def test_the_operators_stream_breaking_loses_none_of_their_words(
    node: Node, peer: AriPeer, timed: TimedSpeech
) -> None:
    caller_pcm, operator_pcm = dialogue()
    uid = peer.new_call("+77015550602", audio=caller_pcm, operator_audio=operator_pcm)
    greeting_s = len(speech_pcm(GREETING)) / BYTES_PER_S
    await until(lambda: uid in node.manager.calls and node.manager.calls[uid].operator is not None, 10)
    leg = node.manager.calls[uid].operator
    assert leg is not None
    # The operator's stream delivers the greeting, then its TCP connection breaks on Asterisk's side (no goodbye).
    def operator_media() -> list[PeerChannel]:
        return [
            ch
            for ch in peer.channels.values()
            if ch.writer is not None
            and ch.bridge in peer.bridges
            and any(
                (m := peer.channels.get(c)) is not None and m.snoop_of == uid and m.spy == "out"
                for c in peer.bridges[ch.bridge]["channels"]  # type: ignore[index]
            )
        ]

    await until(lambda: len(operator_media()) == 1, 10)
    await until(lambda: leg.received_bytes / BYTES_PER_S >= greeting_s + 0.5, 20)
    [media] = operator_media()
    if media.stream_task is not None:
        media.stream_task.cancel()
    assert media.writer is not None
    media.writer.transport.abort()
    lost_at = leg.clock
    await until(lambda: node.received_s(uid) >= len(caller_pcm) / BYTES_PER_S - 0.05, 30)
    await asyncio.sleep(0.2)
    await peer.hangup(uid)
    sessions = node.config.sessions
    await until(
        lambda: is_final(sessions, uid) and (load_call(sessions, uid) or None) is not None
        and load_call(sessions, uid).call.operator_asr_status == "postcall_done",  # type: ignore[union-attr]
        60,
        lambda: describe(sessions, uid),
    )
    got = assert_final_state(node, uid, caller_pcm, statuses=[AsrStatus.COMPLETE, AsrStatus.POSTCALL_DONE])
    operator = voices(got, Speaker.OPERATOR)
    assert covered(speech_spans(operator_pcm), operator), (operator, speech_spans(operator_pcm), lost_at)
    later = [seg for seg in operator if seg[0] == "postcall"]
    assert later and all(start >= lost_at - 0.5 for _, start, _, _ in later), (later, lost_at)
    # The words decoded from the mixed recording after the call went to the operator, not the caller.
    assert not [seg for seg in voices(got, Speaker.CALLER) if seg[0] == "postcall"], describe(sessions, uid)
