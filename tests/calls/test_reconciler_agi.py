"""The reconciler on a FastAGI-only site (no ARI): the MixMonitor file and the call's age are the only evidence.

The dialplan peer runs the dialplan as Asterisk does, the FastAGI server registers the calls, the real durable
path (CallManager + CallRegistry) stores them; every test asserts the rows at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calls.reconciler import Reconciler
from telephony.events import ReconciledCause
from telephony.fastagi import FastAgiServer
from telephony.inventory import TelephonyInventory
from tests.peers.agi_peer import agi_call
from tests.peers.dialplan import Pbx
from tests.telephony.durable import (  # noqa: F401 (fixtures)
    Durable,
    agi_fixture,
    db_url_fixture,
    durable_fixture,
    wav_seconds,
)

TWO_SECONDS = b"\x10\x00" * 16000
# The sample as it was first shipped: the h extension in the AGI context never runs after Goto(operators,...).
NO_HANDLER = (
    "[from-trunk-agi]\n"
    "exten => 109,1,Answer()\n"
    " same => n,AGI(${CALLCARD_AGI}/incoming)\n"
    " same => n,Goto(operators,s,1)\n"
    "exten => h,1,AGI(${CALLCARD_AGI}/hangup,${HANGUPCAUSE})\n"
    "[operators]\n"
    "exten => s,1,Queue(operators109,t)\n"
    " same => n,Hangup()\n"
)


@pytest.fixture
async def pbx(agi: FastAgiServer, tmp_path: Path) -> AsyncIterator[Pbx]:
    conf = tmp_path / "extensions.conf"
    conf.write_text(NO_HANDLER)
    p = Pbx(conf, agi_url=f"agi://127.0.0.1:{agi.bound_port}")
    yield p
    await p.close()


IDLE_S = 2.0  # a recording not written for this long is stalled (in the test that kills Asterisk)


def _reconciler(durable: Durable, tmp_path: Path, *, idle_s: float = 60.0, **options: object) -> Reconciler:
    inventory = TelephonyInventory(tmp_path / "rec", idle_s=idle_s)  # no ARI: channels unknown
    return Reconciler(
        sessions=durable.sessionmaker,
        asterisk=inventory,
        events=durable.manager,
        **options,  # type: ignore[arg-type]
    )


async def _stored(durable: Durable, uniqueid: str) -> None:
    await durable.until(lambda: uniqueid in durable.calls() and durable.calls()[uniqueid].answered_at is not None)


async def test_hang_up_that_never_reached_callcard_is_ended_from_the_closed_recording(
    pbx: Pbx, agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    ch = pbx.call("from-trunk-agi", caller="+77015550401", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")
    await _stored(durable, ch.uniqueid)
    await pbx.hangup(ch)  # MixMonitor closes its file; no hang-up reaches callcard
    path = agi.recording_path(ch.uniqueid)
    closed_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    await asyncio.sleep(0.2)
    reconciler = _reconciler(durable, tmp_path)
    report = await reconciler.run_once()
    assert [(e.uniqueid, e.cause) for e in report.ended] == [(ch.uniqueid, ReconciledCause.RECORDING_CLOSED)]
    await durable.until(
        lambda: durable.calls()[ch.uniqueid].ended_at is not None and bool(durable.calls()[ch.uniqueid].recordings)
    )
    call = durable.calls()[ch.uniqueid]
    assert (call.state, call.hangup_cause) == ("ended", "recording closed (reconciled)")
    assert call.ended_at is not None
    assert abs((call.ended_at - closed_at).total_seconds()) < 0.01  # the last write, not the reconciliation time
    (rec,) = call.recordings
    assert rec.complete and rec.duration_s == 2.0 and wav_seconds(rec.path) == 2.0
    # A second run finds nothing more to do and duplicates nothing.
    assert (await reconciler.run_once()).ended == ()
    await durable.manager.flush(5)
    assert len(durable.calls()[ch.uniqueid].recordings) == 1


async def test_live_call_is_left_alone_and_ended_once_asterisk_died(
    pbx: Pbx, agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    ch = pbx.call("from-trunk-agi", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")
    await _stored(durable, ch.uniqueid)
    # The peer's MixMonitor writes the caller's audio once, on entering the queue, where real Asterisk goes on
    # writing frames: give the "recording still written" check a margin above the time it takes to get here on
    # two loaded cores (the database's store included).
    reconciler = _reconciler(durable, tmp_path, idle_s=IDLE_S)
    assert (await reconciler.run_once()).ended == ()  # the recording is still being written: the call is up
    assert durable.calls()[ch.uniqueid].ended_at is None

    await pbx.kill()  # Asterisk killed -9: no hang-up, MixMonitor's file keeps its zeroed header
    path = agi.recording_path(ch.uniqueid)
    assert path.read_bytes()[4:8] == b"\0\0\0\0"
    died_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    await asyncio.sleep(IDLE_S + 0.2)  # the file is not written any more
    report = await reconciler.run_once()
    assert [e.cause for e in report.ended] == [ReconciledCause.RECORDING_STALLED]
    await durable.until(lambda: bool(durable.calls()[ch.uniqueid].recordings))
    call = durable.calls()[ch.uniqueid]
    assert call.state == "ended" and call.hangup_cause == "recording stalled (reconciled)"
    assert call.ended_at is not None
    assert abs((call.ended_at - died_at).total_seconds()) < 0.01
    (rec,) = call.recordings
    assert not rec.complete  # repaired, but marked incomplete
    assert wav_seconds(rec.path) == 2.0  # Python's wave reads it after the repair


async def test_call_without_any_recording_is_ended_by_age_only(
    agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.501")  # MixMonitor never wrote a file
    await _stored(durable, "1763781367.501")
    now = datetime.now(UTC)
    young = _reconciler(durable, tmp_path, max_age_s=3600, clock=lambda: now + timedelta(minutes=30))
    assert (await young.run_once()).ended == ()
    old = _reconciler(durable, tmp_path, max_age_s=3600, clock=lambda: now + timedelta(hours=2))
    report = await old.run_once()
    assert [e.cause for e in report.ended] == [ReconciledCause.NO_HANGUP_SEEN]
    await durable.until(lambda: durable.calls()["1763781367.501"].ended_at is not None)
    call = durable.calls()["1763781367.501"]
    assert call.state == "ended" and call.hangup_cause == "no hang-up seen (reconciled by age)"
    assert call.ended_at == call.answered_at  # the last moment known, not the time of the reconciliation
    assert call.recordings == []


async def test_periodic_runs_pick_up_a_call_without_being_asked(
    pbx: Pbx, agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    reconciler = _reconciler(durable, tmp_path, interval_s=0.2)
    await reconciler.start()
    try:
        ch = pbx.call("from-trunk-agi", audio=TWO_SECONDS)
        await pbx.reached(ch, "Queue")
        await _stored(durable, ch.uniqueid)
        await pbx.hangup(ch)
        await durable.until(lambda: durable.calls()[ch.uniqueid].ended_at is not None, within=5)
        assert reconciler.runs >= 2
    finally:
        await reconciler.stop()
    assert durable.calls()[ch.uniqueid].hangup_cause == "recording closed (reconciled)"


SAMPLE = Path(__file__).resolve().parents[2] / "telephony" / "asterisk" / "extensions.conf"


async def test_a_call_recorded_while_callcard_was_down_is_adopted_when_it_is_back(
    agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    """callcard entirely down: Stasis() fails, the FastAGI connection is refused, and the sample dialplan records
    the call itself into callcard's recordings directory. Back, the reconciler finds a recording that no call row
    knows, and adopts it: the call is stored, ended at the file's last write, and its recording attached (post-call
    work then transcribes it). Files of known calls are left alone, and a second run adopts nothing."""
    rec_dir = tmp_path / "rec"
    pbx = Pbx(SAMPLE, agi_url="agi://127.0.0.1:9", stasis_registered=lambda app: False)  # nothing listens on 9
    pbx.globals["CALLCARD_RECORDINGS"] = str(rec_dir)
    ch = pbx.call("from-trunk", caller="+77015550409", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")
    await pbx.hangup(ch, cause=16)
    await pbx.close()
    path = rec_dir / f"callcard-{ch.uniqueid}.wav"
    closed_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    # A call callcard did register, whose recording is stored: never adopted twice.
    known = Pbx(SAMPLE, agi_url=f"agi://127.0.0.1:{agi.bound_port}")
    known._seq = pbx._seq  # the same Asterisk once callcard is back: its uniqueids go on, never repeat
    other = known.call("from-trunk-agi", caller="+77015550410", audio=TWO_SECONDS)
    await known.reached(other, "Queue")
    await known.hangup(other, cause=16)
    await known.close()
    await durable.until(lambda: bool((c := durable.calls().get(other.uniqueid)) and c.recordings))

    reconciler = _reconciler(durable, tmp_path, adopt_after_s=0.0)
    report = await reconciler.run_once()
    assert [(e.uniqueid, e.cause) for e in report.ended] == [(ch.uniqueid, ReconciledCause.ADOPTED)]
    await durable.until(lambda: bool((c := durable.calls().get(ch.uniqueid)) and c.ended_at and c.recordings))
    call = durable.calls()[ch.uniqueid]
    assert (call.state, call.source) == ("ended", "agi")
    assert call.hangup_cause == "recorded while callcard was down (adopted)"
    assert call.ended_at is not None and abs((call.ended_at - closed_at).total_seconds()) < 0.01
    assert abs((call.ended_at - call.started_at).total_seconds() - 2.0) < 0.01  # as long as its recording
    assert call.asr_status == "deferred"  # recording-only: decoded after the call
    (rec,) = call.recordings
    assert rec.complete and wav_seconds(rec.path) == 2.0
    assert (await reconciler.run_once()).ended == ()
    assert len(durable.calls()) == 2


async def test_nothing_is_adopted_while_the_database_still_waits_for_spooled_writes(
    durable: Durable, tmp_path: Path
) -> None:
    rec_dir = tmp_path / "rec"
    rec_dir.mkdir()
    import wave

    with wave.open(str(rec_dir / "callcard-1796650000.7.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(TWO_SECONDS)
    spooling = _reconciler(durable, tmp_path, adopt_after_s=0.0, ready=lambda: False)
    assert (await spooling.run_once()).ended == ()
    assert (await _reconciler(durable, tmp_path, adopt_after_s=3600.0).run_once()).ended == ()  # too fresh
    adopted = await _reconciler(durable, tmp_path, adopt_after_s=0.0).run_once()
    assert [e.uniqueid for e in adopted.ended] == ["1796650000.7"]
