"""CallManager with real AudioSocket streams, a real registry on SQLite, and real consumers of the audio."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from calls.hub import CardHub
from calls.lifecycle import CallPhase
from calls.manager import CallManager
from calls.registry import CallRegistry
from calls.spool import Spool
from models.db import make_engine, make_sessionmaker
from models.records import Call
from telephony.audiosocket import AudioSocketServer, MediaDirectory
from telephony.events import CallEnded, CallStarted, RecordingFinished
from tests.calls.conftest import Processors
from tests.peers.audiosocket_client import AudioSocketClient
from tests.peers.speech import speech_pcm


class Rig:
    """Manager + registry + AudioSocket server, wired as the composition root does."""

    def __init__(
        self,
        manager: CallManager,
        server: AudioSocketServer,
        directory: MediaDirectory,
        processors: Processors,
        sessionmaker: object,
    ) -> None:
        self.manager, self.server, self.directory = manager, server, directory
        self.processors, self.sessionmaker = processors, sessionmaker

    async def start_call(self, uid: str, number: str = "+77011234567") -> str:
        media = str(uuid.uuid4())
        self.directory.register(media, uid)
        await self.manager.on_event(
            CallStarted(uniqueid=uid, at=datetime.now(UTC), caller_number=number, media_uuid=media, source="ari")
        )
        return media

    async def end_call(self, uid: str) -> None:
        await self.manager.on_event(CallEnded(uniqueid=uid, at=datetime.now(UTC), cause="Normal Clearing"))

    async def until_idle(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while self.manager.calls:
            assert time.monotonic() < deadline, f"calls still live: {list(self.manager.calls)}"
            await asyncio.sleep(0.02)
        await self.manager.flush()


async def _rig(
    sqlite_url: str,
    tmp_path: Path,
    processors: Processors,
    queue_frames: int = 500,
    hub: CardHub | None = None,
) -> tuple[Rig, CallRegistry, AudioSocketServer]:
    engine = make_engine(sqlite_url)
    sessionmaker = make_sessionmaker(engine)
    registry = CallRegistry(sessionmaker, Spool(tmp_path / "spool"))
    await registry.start()
    manager = CallManager(
        registry=registry, processor_factory=processors, queue_frames=queue_frames, hub=hub, capacity=1000
    )
    directory = MediaDirectory()
    server = AudioSocketServer(audio=manager, events=manager, directory=directory, host="127.0.0.1", port=0)
    await server.start()
    return Rig(manager, server, directory, processors, sessionmaker), registry, server


@pytest.fixture
async def rig(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    r, registry, server = await _rig(sqlite_url, tmp_path, Processors())
    yield r
    await server.stop()
    await r.manager.stop()
    await registry.stop()


async def test_hundred_concurrent_calls_each_get_exactly_their_own_audio(rig: Rig) -> None:
    speech = speech_pcm("Мен Сарыарқа ауданынан қоңырау шалып тұрмын, лифт істемейді", "kk")[: 2 * 16000]
    uids = [f"1763781367.{1000 + i}" for i in range(100)]
    medias = [await rig.start_call(uid, f"+7701{i:07d}") for i, uid in enumerate(uids)]
    # Each call's audio starts with a marker frame of its own, so a mix-up between calls cannot go unseen.
    payloads = [bytes([i % 251, 0]) * 160 + speech for i in range(100)]

    async def caller(i: int) -> None:
        client = AudioSocketClient(rig.server.bound_port, medias[i])
        await client.connect()
        await client.send_audio(payloads[i], realtime=True)
        await client.hangup()
        await client.close()

    started = time.monotonic()
    await asyncio.gather(*(caller(i) for i in range(100)))
    assert time.monotonic() - started < 10  # ~2 s of real-time audio each, all at once
    for uid in uids:
        await rig.end_call(uid)
    await rig.until_idle()
    for i, uid in enumerate(uids):
        proc = rig.processors.made[uid]
        assert proc.finished.is_set()
        got, want = bytes(proc.received), payloads[i]
        bad = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), None)
        assert (len(got), len(want), bad) == (len(want), len(want), None), i
        assert len(proc.received) == -(-len(payloads[i]) // 320) * 320
    with rig.sessionmaker() as s:  # type: ignore[operator]
        calls = s.scalars(select(Call)).all()
        assert len(calls) == 100 and all(c.state == "ended" and c.frames_dropped == 0 for c in calls)


async def test_slow_processing_drops_counted_and_never_blocks_the_socket(sqlite_url: str, tmp_path: Path) -> None:
    processors = Processors()
    processors.per_call["slow"] = {"delay": 0.05}
    rig, registry, server = await _rig(sqlite_url, tmp_path, processors, queue_frames=10)
    try:
        ma, mb = await rig.start_call("slow"), await rig.start_call("fast")
        ca, cb = AudioSocketClient(server.bound_port, ma), AudioSocketClient(server.bound_port, mb)
        await ca.connect()
        await cb.connect()
        started = time.monotonic()
        await asyncio.gather(ca.send_audio(b"\x01\x00" * 160 * 300), cb.send_audio(b"\x02\x00" * 160 * 300))
        await ca.hangup()
        await cb.hangup()
        sent_in = time.monotonic() - started
        await asyncio.sleep(0.2)
        slow = rig.manager.calls["slow"]
        # A 50 ms-per-frame consumer falls behind at once: the call is demoted to recording-only (the rest is
        # decoded from the recording after hang-up) instead of being half-decoded live.
        assert slow.phase is CallPhase.RECORDING_ONLY and slow.overflowed_at is not None
        assert slow.dropped > 200 and slow.frames + slow.dropped == 300
        assert rig.manager.calls["fast"].dropped == 0 and rig.manager.calls["fast"].phase is CallPhase.LIVE
        assert sent_in < 3.0  # 6 s of audio went in at socket speed: the reader never waited
        dropped, frames, overflowed_at = slow.dropped, slow.frames, slow.overflowed_at
        assert overflowed_at == pytest.approx(frames * 0.02)
        await rig.end_call("slow")
        await rig.end_call("fast")
        await rig.until_idle()
        assert len(processors.made["fast"].received) == 300 * 320
        assert len(processors.made["slow"].received) == frames * 320
        with rig.sessionmaker() as s:  # type: ignore[operator]
            stored = {c.uniqueid: (c.frames_dropped, c.asr_status, c.asr_gaps) for c in s.scalars(select(Call))}
        assert stored == {
            "slow": (dropped, "incomplete", [[round(overflowed_at, 3), 6.0]]),
            "fast": (0, "complete", None),
        }
        assert rig.manager.demoted_calls == 1
        await ca.close()
        await cb.close()
    finally:
        await server.stop()
        await rig.manager.stop()
        await registry.stop()


async def test_a_failing_processor_harms_no_other_call(sqlite_url: str, tmp_path: Path) -> None:
    processors = Processors()
    processors.per_call["broken"] = {"fail_after": 3}
    hub = CardHub()
    rig, registry, server = await _rig(sqlite_url, tmp_path, processors, hub=hub)
    try:
        async with hub.subscribe() as sub:
            mb, mg = await rig.start_call("broken"), await rig.start_call("good")
            for media in (mb, mg):
                client = AudioSocketClient(server.bound_port, media)
                await client.connect()
                await client.send_audio(b"\x03\x00" * 160 * 50)
                await client.hangup()
                await client.close()
            await asyncio.sleep(0.2)
            await rig.manager.on_event(CallStarted(uniqueid="good", at=datetime.now(UTC)))  # duplicate start
            await rig.manager.flush()
            await rig.end_call("broken")
            await rig.end_call("good")
            await rig.until_idle()
            assert len(processors.made["good"].received) == 50 * 320
            assert processors.made["broken"].chunks == 3
            with rig.sessionmaker() as s:  # type: ignore[operator]
                states = {c.uniqueid: (c.id, c.state) for c in s.scalars(select(Call))}
            assert {u: st for u, (_, st) in states.items()} == {"broken": "ended", "good": "ended"}
            kinds = []
            while not sub.queue.empty():
                msg = sub.queue.get_nowait()
                kinds.append((msg.type, msg.call_key, msg.call_id))
            ids = {u: i for u, (i, _) in states.items()}
            assert sorted(kinds) == sorted(
                [
                    ("call_started", "broken", ids["broken"]),
                    ("call_started", "good", ids["good"]),
                    ("transcription_changed", "broken", ids["broken"]),  # the rest is decoded after the call
                    ("call_ended", "broken", ids["broken"]),
                    ("call_ended", "good", ids["good"]),
                ]
            )
            with rig.sessionmaker() as s:  # type: ignore[operator]
                status = {c.uniqueid: c.asr_status for c in s.scalars(select(Call))}
            assert status == {"broken": "deferred", "good": "complete"}
    finally:
        await server.stop()
        await rig.manager.stop()
        await registry.stop()


async def test_audio_for_an_unknown_call_is_refused() -> None:
    class NoRegistry:
        pass

    manager = CallManager(registry=NoRegistry(), processor_factory=Processors())  # type: ignore[arg-type]
    assert manager.push_audio("nobody", b"\x00" * 320) is False
    assert manager.unknown_frames == 1


async def test_a_hanging_database_never_holds_up_telephony(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL blocked by a lock (a hang, not an error): events return at once, rows appear when it frees."""
    from sqlalchemy import text

    engine = make_engine(pg_url)
    sessionmaker = make_sessionmaker(engine)
    registry = CallRegistry(sessionmaker, Spool(tmp_path / "spool"))
    processors = Processors()
    hooked: list[str] = []
    manager = CallManager(registry=registry, processor_factory=processors, on_live_finished=hooked.append)
    blocker = engine.connect()
    tx = blocker.begin()
    blocker.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
    try:
        started = time.monotonic()
        await manager.on_event(
            CallStarted(
                uniqueid="pg.1", at=datetime.now(UTC), caller_number="+77010000009", media_uuid=str(uuid.uuid4())
            )
        )
        assert time.monotonic() - started < 5  # the lock is held for as long as the test wants
        assert manager.push_audio("pg.1", b"\x01\x00" * 160)  # audio flows while the insert waits
        await manager.on_event(CallEnded(uniqueid="pg.1", at=datetime.now(UTC), cause="Normal Clearing"))
        assert time.monotonic() - started < 6
        assert processors.made["pg.1"].info.call_id is None and processors.made["pg.1"].info.key == "pg.1"
    finally:
        tx.rollback()
        blocker.close()
    await manager.flush()
    with sessionmaker() as s:
        call = s.scalars(select(Call)).one()
        assert (call.uniqueid, call.state, call.hangup_cause) == ("pg.1", "ended", "Normal Clearing")
    assert len(processors.made["pg.1"].received) == 320
    # The recording arrives after the hang-up: post-call work is asked for again, by the call's key.
    await manager.on_event(RecordingFinished(uniqueid="pg.1", path=str(tmp_path / "pg.1.wav"), duration_s=1.0))
    await manager.stop()
    assert hooked == ["pg.1", "pg.1"]
    assert await registry.call_id_for("pg.1") == call.id
    await registry.stop()
    engine.dispose()


async def test_post_call_work_waits_for_the_live_transcript(sqlite_url: str, tmp_path: Path) -> None:
    """A recording that finishes while live decoding still runs is handed on only after the session ends."""
    processors = Processors(delay=0.02)  # a slow recognizer: about 1 s behind for 50 frames
    engine = make_engine(sqlite_url)
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"))
    await registry.start()
    seen: list[tuple[int, bool]] = []

    def after_live(key: str) -> None:
        consumer = processors.made[key]
        seen.append((len(consumer.received), consumer.finished.is_set()))

    manager = CallManager(registry=registry, processor_factory=processors, on_live_finished=after_live)
    media = str(uuid.uuid4())
    await manager.on_event(CallStarted(uniqueid="slow.1", at=datetime.now(UTC), source="agi", media_uuid=media))
    for _ in range(50):
        assert manager.push_audio("slow.1", b"\x00\x01" * 160)
    await manager.on_event(CallEnded(uniqueid="slow.1", at=datetime.now(UTC)))
    await manager.on_event(RecordingFinished(uniqueid="slow.1", path=str(tmp_path / "slow.wav")))
    finished = manager.live_finished("slow.1")
    await asyncio.wait_for(finished, 10)
    await manager.stop()
    assert seen == [(50 * 320, True)]  # asked once, after the live session consumed everything


async def test_a_call_without_a_live_stream_is_transcribed_after_hang_up(sqlite_url: str, tmp_path: Path) -> None:
    """A dialplan-only (FastAGI) call has no AudioSocket stream: it is recording-only from the start, the desk is
    told so, and after hang-up its transcript state asks for the whole recording."""
    engine = make_engine(sqlite_url)
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"))
    await registry.start()
    hub = CardHub()
    asked: list[str] = []
    manager = CallManager(registry=registry, processor_factory=Processors(), hub=hub, on_live_finished=asked.append)
    async with hub.subscribe() as sub:
        await manager.on_event(CallStarted(uniqueid="agi.1", at=datetime.now(UTC), source="agi"))
        started = await asyncio.wait_for(sub.get(), 5)
        assert (started.type, getattr(started, "transcription", None)) == ("call_started", "after_call")
        await manager.on_event(CallEnded(uniqueid="agi.1", at=datetime.now(UTC)))
        await asyncio.wait_for(manager.live_finished("agi.1"), 10)
    await manager.stop()
    with make_sessionmaker(engine)() as s:
        call = s.scalars(select(Call)).one()
        assert (call.asr_status, call.asr_gaps) == ("deferred", None)
    assert asked == ["agi.1"]
    await registry.stop()
    engine.dispose()
    await registry.stop()
    engine.dispose()
