"""CallRegistry on real SQLite and PostgreSQL: idempotent storage, and a real outage spooled and replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from calls.lifecycle import AsrStatus
from calls.registry import CallRegistry
from calls.spool import Spool
from calls.writes import (
    AttachRecording,
    EndCall,
    MarkAnswered,
    SegmentWord,
    SetTranscriptState,
    StoreCall,
    StoreProposal,
    StoreSegment,
    to_record,
)
from models.db import make_sessionmaker
from models.records import Call, Card, Recording, TranscriptSegment
from tests.calls.conftest import Outage

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _segment(uid: str, start: float, text: str) -> StoreSegment:
    return StoreSegment(
        call_key=uid,
        source="live",
        start=start,
        end=start + 1.5,
        text=text,
        language="kk",
        confidence=0.9,
        words=tuple(SegmentWord(w, start + i * 0.3, start + i * 0.3 + 0.25, 0.9) for i, w in enumerate(text.split())),
    )


PROPOSAL = {
    "topic": "water_supply",
    "service": "water_utility",
    "emergency": "none",
    "emergency_also": [],
    "language": "kk",
    "address": {"street": "Абай даңғылы", "house": "12"},
    "summary": "су жоқ",
    "confidence": {"topic": 0.9},
    "alternatives": {},
    "model_version": "test",
}


def _started(uid: str, media: str | None = None) -> StoreCall:
    return StoreCall(
        call_key=uid,
        started_at=T0,
        channel="PJSIP/trunk-00000001",
        caller_number="+77011234567",
        dialled_number="109",
        media_uuid=media,
    )


async def test_events_are_stored_once(outage: Outage, tmp_path: Path) -> None:
    engine = outage.engine()
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"))
    first = await registry.submit(_started("1763781367.1"))
    again = await registry.submit(_started("1763781367.1"))  # a repeated StasisStart
    assert first is not None and first == again
    await registry.submit(MarkAnswered(call_key="1763781367.1", at=T0 + timedelta(seconds=2)))
    seg = await registry.submit(_segment("1763781367.1", 1.0, "су жоқ үшінші күн"))
    assert seg is not None and await registry.submit(_segment("1763781367.1", 1.0, "су жоқ үшінші күн")) == seg
    rec = AttachRecording(
        call_key="1763781367.1",
        path="/r/callcard-1763781367.1.wav",
        duration_s=61.5,
        size_bytes=984044,
        sha256="ab" * 32,
    )
    await registry.submit(rec)
    await registry.submit(rec)
    await registry.submit(
        EndCall(call_key="1763781367.1", at=T0 + timedelta(seconds=70), cause="Normal Clearing", frames_dropped=3)
    )
    await registry.submit(EndCall(call_key="1763781367.1", at=T0 + timedelta(seconds=99), cause="again"))
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
        call = s.scalars(select(Call)).one()
        assert (call.state, call.hangup_cause, call.frames_dropped) == ("ended", "Normal Clearing", 3)
        assert call.answered_at == T0 + timedelta(seconds=2) and call.ended_at == T0 + timedelta(seconds=70)
        assert s.scalar(select(func.count()).select_from(Recording)) == 1
        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 1
    assert await registry.call_id_for("1763781367.1") == first
    # A hang-up for a call never registered cannot be stored: kept aside, nothing else harmed.
    await registry.submit(EndCall(call_key="nope", at=T0))
    assert registry.rejected == 1 and "nope" in registry.spool.rejected_path.read_text()
    await registry.stop()
    engine.dispose()


async def test_database_outage_is_spooled_and_replayed_in_order(outage: Outage, tmp_path: Path) -> None:
    engine = outage.engine()
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"), retry_interval=0.1)
    await registry.start()
    live_id = await registry.submit(_started("1763781367.2", "0436430c-2b02-624c-2032-570501212b57"))
    assert live_id is not None
    with outage.down():
        await registry.submit(MarkAnswered(call_key="1763781367.2", at=T0 + timedelta(seconds=1)))
        assert registry.spooling
        assert await registry.submit(_started("1763781367.3")) is None  # a call starting during the outage
        await registry.submit(MarkAnswered(call_key="1763781367.3", at=T0 + timedelta(seconds=5)))
        # What the calls say during the outage: segments, the card proposal, the transcript's state.
        assert await registry.submit(_segment("1763781367.3", 0.5, "лифт тұрып қалды")) is None
        await registry.submit(_segment("1763781367.3", 2.5, "бесінші қабатта"))
        await registry.submit(StoreProposal(call_key="1763781367.3", proposal=PROPOSAL, model_version="test"))
        await registry.submit(SetTranscriptState(call_key="1763781367.3", status=AsrStatus.INCOMPLETE,
                                                 gaps=((4.0, 6.5),)))
        await registry.submit(AttachRecording(call_key="1763781367.2", path="/r/a.wav", kind="caller",
                                              duration_s=9.0))
        await registry.submit(EndCall(call_key="1763781367.2", at=T0 + timedelta(seconds=10), cause="Normal Clearing"))
        await registry.submit(EndCall(call_key="1763781367.3", at=T0 + timedelta(seconds=20), cause="User busy"))
        assert len(registry.spool) == 10
        assert await registry.replay_now() is False  # still down: nothing applied, nothing lost
        assert len(registry.spool) == 10
    # Back: the background task replays within its interval.
    for _ in range(100):
        if not registry.spooling:
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert not registry.spooling and registry.spool.empty and registry.replayed == 10
    with make_sessionmaker(engine)() as s:
        calls = {c.uniqueid: c for c in s.scalars(select(Call))}
        assert set(calls) == {"1763781367.2", "1763781367.3"}
        a, b = calls["1763781367.2"], calls["1763781367.3"]
        assert (a.id, a.state, a.hangup_cause, a.answered_at) == (
            live_id,
            "ended",
            "Normal Clearing",
            T0 + timedelta(seconds=1),
        )
        assert [r.path for r in a.recordings] == ["/r/a.wav"]
        assert (b.state, b.hangup_cause, b.answered_at) == ("ended", "User busy", T0 + timedelta(seconds=5))
        assert [(x.start_s, x.text) for x in b.segments] == [(0.5, "лифт тұрып қалды"), (2.5, "бесінші қабатта")]
        assert (b.asr_status, b.asr_gaps) == ("incomplete", [[4.0, 6.5]])
        card = s.scalars(select(Card).where(Card.call_id == b.id)).one()
        assert (card.proposed_topic, card.proposed_street, card.status) == ("water_supply", "Абай даңғылы", "draft")
    assert await registry.call_id_for("1763781367.3") is not None
    # Replaying the same writes again (a crash between applying and saving the offset) changes nothing.
    for record in (_segment("1763781367.3", 0.5, "лифт тұрып қалды"), _started("1763781367.3")):
        registry.spool.append(to_record(record))
    registry._spooling = True
    assert await registry.replay_now()
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 2
        assert s.scalar(select(func.count()).select_from(Call)) == 2
    await registry.stop()
    engine.dispose()


async def test_spool_left_by_a_crash_is_replayed_at_start(outage: Outage, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append({"op": "call_started", "uniqueid": "1763781367.9", "source": "ari", "started_at": T0.isoformat()})
    spool.append(
        {
            "op": "call_ended",
            "uniqueid": "1763781367.9",
            "at": (T0 + timedelta(seconds=3)).isoformat(),
            "cause": "Normal Clearing",
            "frames_dropped": 0,
            "state": "ended",
        }
    )
    engine = outage.engine()
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"))
    assert registry.spooling  # new events queue behind the old ones
    assert await registry.replay_now()
    with make_sessionmaker(engine)() as s:
        call = s.scalars(select(Call)).one()
        assert (call.uniqueid, call.state) == ("1763781367.9", "ended")
    await registry.stop()
    engine.dispose()
