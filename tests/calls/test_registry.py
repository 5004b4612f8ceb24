"""CallRegistry on real SQLite and PostgreSQL: idempotent storage, and a real outage spooled and replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from calls.registry import CallRegistry
from calls.spool import Spool
from models.db import make_sessionmaker
from models.records import Call, Recording
from telephony.events import CallStarted, RecordingFinished
from tests.calls.conftest import Outage

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _started(uid: str, media: str | None = None) -> CallStarted:
    return CallStarted(
        uniqueid=uid,
        at=T0,
        channel="PJSIP/trunk-00000001",
        caller_number="+77011234567",
        dialled_number="109",
        media_uuid=media,
    )


async def test_events_are_stored_once(outage: Outage, tmp_path: Path) -> None:
    engine = outage.engine()
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"))
    first = await registry.call_started(_started("1763781367.1"))
    again = await registry.call_started(_started("1763781367.1"))  # a repeated StasisStart
    assert first is not None and first == again
    await registry.call_answered(uniqueid="1763781367.1", at=T0 + timedelta(seconds=2))
    rec = RecordingFinished(
        uniqueid="1763781367.1",
        path="/r/callcard-1763781367.1.wav",
        duration_s=61.5,
        size_bytes=984044,
        sha256="ab" * 32,
    )
    await registry.recording_finished(rec)
    await registry.recording_finished(rec)
    await registry.call_ended(
        uniqueid="1763781367.1", at=T0 + timedelta(seconds=70), cause="Normal Clearing", frames_dropped=3
    )
    await registry.call_ended(uniqueid="1763781367.1", at=T0 + timedelta(seconds=99), cause="again")
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
        call = s.scalars(select(Call)).one()
        assert (call.state, call.hangup_cause, call.frames_dropped) == ("ended", "Normal Clearing", 3)
        assert call.answered_at == T0 + timedelta(seconds=2) and call.ended_at == T0 + timedelta(seconds=70)
        assert s.scalar(select(func.count()).select_from(Recording)) == 1
    assert await registry.call_id_for("1763781367.1") == first
    # A hang-up for a call never registered cannot be stored: kept aside, nothing else harmed.
    await registry.call_ended(uniqueid="nope", at=T0)
    assert registry.rejected == 1 and "nope" in registry.spool.rejected_path.read_text()
    await registry.stop()
    engine.dispose()


async def test_database_outage_is_spooled_and_replayed_in_order(outage: Outage, tmp_path: Path) -> None:
    engine = outage.engine()
    registry = CallRegistry(make_sessionmaker(engine), Spool(tmp_path / "spool"), retry_interval=0.1)
    await registry.start()
    live_id = await registry.call_started(_started("1763781367.2", "0436430c-2b02-624c-2032-570501212b57"))
    assert live_id is not None
    with outage.down():
        await registry.call_answered(uniqueid="1763781367.2", at=T0 + timedelta(seconds=1))
        assert registry.spooling
        assert await registry.call_started(_started("1763781367.3")) is None  # a call starting during the outage
        await registry.call_answered(uniqueid="1763781367.3", at=T0 + timedelta(seconds=5))
        await registry.recording_finished(
            RecordingFinished(uniqueid="1763781367.2", path="/r/a.wav", kind="caller", duration_s=9.0)
        )
        await registry.call_ended(uniqueid="1763781367.2", at=T0 + timedelta(seconds=10), cause="Normal Clearing")
        await registry.call_ended(uniqueid="1763781367.3", at=T0 + timedelta(seconds=20), cause="User busy")
        assert len(registry.spool) == 6
        assert await registry.replay_now() is False  # still down: nothing applied, nothing lost
        assert len(registry.spool) == 6
    # Back: the background task replays within its interval.
    for _ in range(100):
        if not registry.spooling:
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert not registry.spooling and registry.spool.empty and registry.replayed == 6
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
    assert await registry.call_id_for("1763781367.3") is not None
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
