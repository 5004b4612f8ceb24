"""CallSession: transcripts stored and published, proposals from the real shipped classifier, emergencies at once.

The recognizer here is scripted (partials while a line is said, a final at its end) because no Russian or
Kazakh Vosk model can be had on these machines; the real decoder path is tested in tests/asr and end to end in
tests/callcard. Everything after recognition is real: the classifier, SQLite, the hub.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr.base import FinalSegment, PartialSegment, Segment, Span, Word
from calls.hub import CardHub
from calls.live import AudioChunk, AudioItem, CallInfo, EndOfAudio, LiveOutcome
from calls.messages import LiveMessage, encode
from calls.registry import CallRegistry
from calls.session import CallSession
from calls.spool import Spool
from calls.writes import StoreCall
from classifier.base import CardProposer
from classifier.loader import load_proposer
from core.taxonomy import load_taxonomy
from core.types import SAMPLE_RATE, SAMPLE_WIDTH, Speaker
from models.db import make_engine, make_sessionmaker
from models.records import Call, Card, TranscriptSegment

SECOND = SAMPLE_RATE * SAMPLE_WIDTH


@pytest.fixture(scope="module")
def proposer() -> CardProposer:
    return load_proposer("sklearn", None, load_taxonomy())


@dataclass
class ScriptedStream:
    """Partials grow word by word while a line is said; its final comes when the line's audio has passed."""

    lines: Sequence[tuple[str, str, float]]  # (text, language, seconds)
    fail_after: float | None = None
    heard: float = 0.0
    index: int = 0
    start: float = 0.0
    partial_times: list[tuple[str, float]] = field(default_factory=list)
    gaps: list[Span] = field(default_factory=list)

    async def skip(self, seconds: float) -> Sequence[Segment]:
        self.gaps.append(Span(self.heard, self.heard + seconds))
        self.heard += seconds
        return []

    async def feed(self, pcm: bytes) -> Sequence[Segment]:
        self.heard += len(pcm) / SECOND
        if self.fail_after is not None and self.heard > self.fail_after:
            raise RuntimeError("native decoder crashed")
        out: list[Segment] = []
        while self.index < len(self.lines):
            text, lang, seconds = self.lines[self.index]
            said = self.heard - self.start
            if said >= seconds:
                words = text.split()
                step = seconds / len(words)
                out.append(FinalSegment(
                    text=text, language=lang, start=self.start, end=self.start + seconds,
                    words=tuple(Word(w, self.start + i * step, self.start + (i + 1) * step, 0.9)
                                for i, w in enumerate(words)),
                    confidence=0.9, engine="scripted", model_version="script",
                ))
                self.start += seconds
                self.index += 1
                continue
            words = text.split()
            n = max(1, int(len(words) * said / seconds))
            partial = " ".join(words[:n])
            self.partial_times.append((partial, time.perf_counter()))
            out.append(PartialSegment(text=partial, language=lang, start=self.start))
            break
        return out

    async def finish(self) -> Sequence[Segment]:
        return []

    async def aclose(self) -> None:
        return None


class ScriptedEngine:
    def __init__(self, stream: ScriptedStream) -> None:
        self.stream = stream

    def open_session(self, *, call_id: str, language: str = "auto", start_s: float = 0.0) -> ScriptedStream:
        self.stream.heard = self.stream.start = start_s
        return self.stream

    def status(self) -> dict[str, object]:
        return {"engine": "scripted"}

    async def aclose(self) -> None:
        return None


@pytest.fixture
def sessions(sqlite_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(sqlite_url))


@pytest.fixture
async def registry(sessions: sessionmaker[Session], tmp_path: object) -> CallRegistry:
    from pathlib import Path

    reg = CallRegistry(sessions, Spool(Path(str(tmp_path)) / "spool"))
    await reg.start()
    return reg


async def _call(registry: CallRegistry, key: str) -> CallInfo:
    call_id = await registry.submit(StoreCall(call_key=key, started_at=datetime.now(UTC), caller_number="+77019998877"))
    return CallInfo(key=key, call_id=call_id, caller_number="+77019998877", started_at=datetime.now(UTC))


async def _play(session: CallSession, seconds: float, *, lose: tuple[float, float] | None = None) -> LiveOutcome:
    frames: asyncio.Queue[AudioItem] = asyncio.Queue()
    task = asyncio.create_task(session.run(frames))
    at = session.info.start_s
    for _ in range(int(seconds * 50)):
        if lose is None or not lose[0] <= at < lose[1]:
            await frames.put(AudioChunk(b"\x00" * 320, at))
        at = round(at + 0.02, 6)
        await asyncio.sleep(0)  # one 20 ms frame at a time, as the manager delivers them
    await frames.put(EndOfAudio(at))
    return await asyncio.wait_for(task, 30)


async def _drain(sub: object) -> list[dict[str, object]]:
    out = []
    queue = sub.queue  # type: ignore[attr-defined]
    while not queue.empty():
        out.append(encode(queue.get_nowait()))
    return out


@pytest.mark.parametrize(
    "line, language, code",
    [
        ("алло көмектесіңіздер үйде өрт шығып жатыр түтін көп бесінші қабатта", "kk", "101"),
        ("девушка срочно у соседа сердечный приступ он не дышит", "ru", "103"),
        ("слушайте подъездте газдың иісі шығып тұр қатты иіс", "mixed", "104"),
    ],
)
async def test_an_emergency_surfaces_on_a_partial_before_the_line_ends(
    sessions: sessionmaker[Session], registry: CallRegistry, proposer: CardProposer, line: str, language: str,
    code: str,
) -> None:
    hub = CardHub()
    stream = ScriptedStream([(line, language, 4.0)])
    info = await _call(registry, f"em-{code}")
    session = CallSession(info, speech=ScriptedEngine(stream), proposer=proposer, writer=registry, hub=hub)
    async with hub.subscribe() as sub:
        await _play(session, 5.0)
        messages = await _drain(sub)
    kinds = [m["type"] for m in messages]
    first_alert = kinds.index("emergency_alert")
    assert "transcript_final" not in kinds[:first_alert], "the alert must come while the caller is still talking"
    alerts = [m for m in messages if m["type"] == "emergency_alert"]
    assert alerts[0]["emergency"] == code
    assert alerts[-1]["card_id"] is not None  # a card exists for the operator's transfer button
    with sessions() as s:
        card = s.scalars(select(Card).where(Card.call_id == info.call_id)).one()
        assert card.proposed_emergency == code
        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 1
    assert session.stats.alerts >= 1


async def test_partial_to_alert_latency_is_far_below_a_second(
    registry: CallRegistry, proposer: CardProposer
) -> None:
    hub = CardHub()
    stream = ScriptedStream([("здравствуйте у нас на кухне пожар горит плита дым идёт", "ru", 4.0)])
    session = CallSession(await _call(registry, "lat"), speech=ScriptedEngine(stream), proposer=proposer,
                          writer=registry, hub=hub)
    alert_at: list[float] = []
    original = hub.publish

    def timed(message: LiveMessage) -> None:
        if message.type == "emergency_alert" and not alert_at:
            alert_at.append(time.perf_counter())
        original(message)

    hub.publish = timed  # type: ignore[method-assign]
    await _play(session, 5.0)
    assert alert_at, "no alert"
    trigger = next(t for text, t in stream.partial_times if "пожар" in text)
    assert alert_at[0] - trigger < 0.25, f"alert {1000 * (alert_at[0] - trigger):.0f} ms after the words"


async def test_a_recognizer_crash_keeps_draining_audio_and_reports_the_gap(
    sessions: sessionmaker[Session], registry: CallRegistry, proposer: CardProposer
) -> None:
    hub = CardHub()
    stream = ScriptedStream([("батареи еле тёплые в квартире холодно", "ru", 2.0),
                             ("и горячей воды тоже нет", "ru", 2.0)], fail_after=3.0)
    info = await _call(registry, "crash")
    session = CallSession(info, speech=ScriptedEngine(stream), proposer=proposer, writer=registry, hub=hub)
    outcome = await _play(session, 6.0)  # returns: the queue was drained to the end despite the crash
    assert session.stats.asr_failed and session.stats.chunks == 300
    # Live decoding stopped at the crash: the rest of the call is a gap for the recording to fill.
    assert outcome.decoded and len(outcome.gaps) == 1
    assert 2.0 <= outcome.gaps[0].start <= 3.0 and outcome.gaps[0].end == pytest.approx(6.0)  # from the failed chunk
    with sessions() as s:
        segments = s.scalars(select(TranscriptSegment)).all()
        assert [seg.text for seg in segments] == ["батареи еле тёплые в квартире холодно"]
        card = s.scalars(select(Card).where(Card.call_id == info.call_id)).one()
        assert card.proposed_topic == "heating"


async def test_lost_audio_is_skipped_on_the_call_clock(registry: CallRegistry, proposer: CardProposer) -> None:
    """Frames that never reached the session (dropped) show as a jump in chunk times: skipped, reported as a gap,
    and what follows stays on the call's clock. A re-adopted call starts its clock where its stream begins."""
    stream = ScriptedStream([("у нас нет света", "ru", 1.0), ("во всём подъезде", "ru", 1.0)])
    info = await _call(registry, "jump")
    info = CallInfo(key=info.key, call_id=info.call_id, caller_number=None, started_at=info.started_at, start_s=17.9)
    session = CallSession(info, speech=ScriptedEngine(stream), proposer=None, writer=registry, hub=CardHub())
    outcome = await _play(session, 4.0, lose=(18.5, 19.0))
    assert [(round(g.start, 2), round(g.end, 2)) for g in stream.gaps] == [(18.5, 19.0)]
    assert outcome.gaps == (stream.gaps[0],)
    assert session.stats.skipped_s == pytest.approx(0.5)
    with registry.sessionmaker() as s:
        segments = s.scalars(select(TranscriptSegment).order_by(TranscriptSegment.start_s)).all()
        assert [round(seg.start_s, 2) for seg in segments] == [17.9, 18.9]


async def test_a_database_outage_loses_no_live_message_and_no_write(
    proposer: CardProposer, sessions: sessionmaker[Session], tmp_path: object
) -> None:
    from pathlib import Path

    hub = CardHub()
    with socket.socket() as sock:  # a port nothing listens on: the PostgreSQL server is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = make_sessionmaker(make_engine(f"postgresql+psycopg://callcard@127.0.0.1:{port}/callcard"))
    spool_dir = Path(str(tmp_path)) / "spool"
    down = CallRegistry(dead, Spool(spool_dir))
    assert await down.submit(StoreCall(call_key="db-down", started_at=datetime.now(UTC))) is None  # spooled
    stream = ScriptedStream([("лифт тұрып қалды бала ішінде қалды", "kk", 2.0)])
    info = CallInfo(key="db-down", call_id=None, caller_number=None, started_at=datetime.now(UTC))
    session = CallSession(info, speech=ScriptedEngine(stream), proposer=proposer, writer=down, hub=hub)
    async with hub.subscribe() as sub:
        await _play(session, 3.0)
        messages = await _drain(sub)
    finals = [m for m in messages if m["type"] == "transcript_final"]
    assert len(finals) == 1 and finals[0]["segment"]["id"] is None  # type: ignore[index]
    assert all(m["call_key"] == "db-down" and m["call_id"] is None for m in messages)
    proposed = [m for m in messages if m["type"] == "card_proposed"]
    assert proposed and proposed[-1]["proposal"]["topic"] == "elevator"  # type: ignore[index]
    assert down.spooled >= 3  # the call, its segment, its proposal(s): nothing dropped
    await down.stop()
    # The database comes back (here: another one, same spool): every write lands, once.
    back = CallRegistry(sessions, Spool(spool_dir))
    assert await back.replay_now()
    with sessions() as s:
        call = s.scalars(select(Call).where(Call.uniqueid == "db-down")).one()
        assert [seg.text for seg in call.segments] == ["лифт тұрып қалды бала ішінде қалды"]
        card = s.scalars(select(Card).where(Card.call_id == call.id)).one()
        assert card.proposed_topic == "elevator"
    await back.stop()


async def test_the_operators_words_never_reach_the_card_or_the_banner(
    sessions: sessionmaker[Session], registry: CallRegistry, proposer: CardProposer
) -> None:
    """An operator asking "пожар? где горит?" is transcribed, stored and shown as the operator's; no banner rises, no
    proposal is made, the card the caller's words made keeps its topic."""
    hub = CardHub()
    info = await _call(registry, "two-voices")
    caller = CallSession(
        info,
        speech=ScriptedEngine(ScriptedStream([("у нас во дворе прорвало трубу вода течёт", "ru", 3.0)])),
        proposer=proposer, writer=registry, hub=hub,
    )
    await _play(caller, 3.5)
    with sessions() as s:
        before = s.scalars(select(Card).where(Card.call_id == info.call_id)).one()
        topic, version = before.proposed_topic, before.version
    assert topic is not None
    operator = CallSession(
        info,
        speech=ScriptedEngine(ScriptedStream([("пожар где горит дым есть газ пахнет", "ru", 3.0)])),
        proposer=proposer, writer=registry, hub=hub, speaker=Speaker.OPERATOR,
    )
    async with hub.subscribe() as sub:
        await _play(operator, 3.5)
        messages = await _drain(sub)
    kinds = {m["type"] for m in messages}
    assert "emergency_alert" not in kinds and "card_proposed" not in kinds
    finals = [m for m in messages if m["type"] == "transcript_final"]
    assert [m["segment"]["speaker"] for m in finals] == ["operator"]  # type: ignore[index]
    partials = [m for m in messages if m["type"] == "transcript_partial"]
    assert partials and all(m["speaker"] == "operator" for m in partials)
    assert operator.stats.alerts == 0 and operator.stats.proposals == 0
    with sessions() as s:
        card = s.scalars(select(Card).where(Card.call_id == info.call_id)).one()
        assert (card.proposed_topic, card.proposed_emergency, card.version) == (topic, "none", version)
        voices = s.execute(
            select(TranscriptSegment.speaker, TranscriptSegment.text).where(TranscriptSegment.call_id == info.call_id)
        ).all()
    assert sorted(v for v, _ in voices) == ["caller", "operator"]
    assert ("operator", "пожар где горит дым есть газ пахнет") in voices
