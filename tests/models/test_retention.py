"""The retention policy applied on a clock the test sets, on SQLite and PostgreSQL, with real files in tmp_path:
calls of various ages, a card under a legal hold, a file already missing, a file that cannot be deleted, a second
run that removes nothing, a dry run that changes nothing, a run that fails half-way, and the daily job's rule."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callcard.retention_runner import RetentionRunner, plan_for, run_retention
from models.privacy import RetentionRun
from models.records import AuditEvent, Call, Card, Recording, TranscriptSegment
from models.repo import audit
from models.repo.retention import ACTOR, REMOVED, RunState, apply_retention
from privacy.retention import RetentionPolicy, anonymise_words, parse_policy

NOW = datetime(2027, 3, 1, 22, 0, tzinfo=UTC)  # 03:00 on 2 March in Almaty
POLICY = parse_policy(
    """
recordings: {action: delete, days: 30}
transcripts: {action: anonymise, days: 60}
caller_numbers: {action: anonymise, days: 90}
""",
    source="test",
)
PHONE_WORDS = "мой номер восемь семьсот один двести тридцать четыре пятьдесят шесть семьдесят восемь"


def _words(text: str) -> list[dict[str, object]]:
    return [
        {"word": t, "start": 1 + i * 0.5, "end": 1 + i * 0.5 + 0.4, "conf": 0.9} for i, t in enumerate(text.split())
    ]


def add_call(
    sessions: sessionmaker[Session],
    recordings: Path,
    key: str,
    *,
    days_ago: float,
    files: int = 1,
    write_files: bool = True,
    held: bool = False,
) -> int:
    """An ended call with a card, a number, ``files`` recordings (written to disk) and a two-voice transcript."""
    ended = NOW - timedelta(days=days_ago)
    with sessions() as s:
        call = Call(
            uniqueid=key,
            caller_number="+77011234567",
            caller_name="Айгерим",
            state="ended",
            started_at=ended - timedelta(minutes=3),
            ended_at=ended,
        )
        s.add(call)
        s.flush()
        for n in range(files):
            path = f"{key}-{n}.wav"
            if write_files:
                (recordings / path).write_bytes(b"RIFF" + bytes(100))
            s.add(Recording(call_id=call.id, kind=("mixed", "caller", "operator")[n % 3], path=path, complete=True))
        s.add(TranscriptSegment(call_id=call.id, speaker="operator", start_s=0, end_s=0.9, text="сәлеметсіз бе"))
        s.add(
            TranscriptSegment(
                call_id=call.id, speaker="caller", start_s=1, end_s=7, text=PHONE_WORDS, words=_words(PHONE_WORDS)
            )
        )
        card = Card(call_id=call.id, caller_number="+77011234567", summary="жылу жоқ")
        if held:
            card.legal_hold_at = NOW - timedelta(days=1)
            card.legal_hold_reason = "сот сұрауы"
        s.add(card)
        s.flush()
        audit.record(
            s,
            actor="aigerim",
            entity="card",
            entity_id=card.id,
            action="create",
            after={"caller_number": "+77011234567"},
        )
        s.commit()
        return call.id


def run(sessions: sessionmaker[Session], recordings: Path, policy: RetentionPolicy = POLICY, **kw: object):  # type: ignore[no-untyped-def]
    return run_retention(sessions, policy=policy, now=NOW, recordings_dir=recordings, **kw)  # type: ignore[arg-type]


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    folder.mkdir()
    return folder


def test_each_kind_goes_after_its_days_and_a_held_card_keeps_everything(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    young = add_call(sessionmaker, recordings, "young", days_ago=10)
    mid = add_call(sessionmaker, recordings, "mid", days_ago=45, files=3)  # recordings only
    old = add_call(sessionmaker, recordings, "old", days_ago=100)  # everything
    held = add_call(sessionmaker, recordings, "held", days_ago=100, held=True)
    missing = add_call(sessionmaker, recordings, "missing", days_ago=40, write_files=False)

    report = run(sessionmaker, recordings)

    assert report.state is RunState.FINISHED and report.error is None
    assert report.counts() == {
        "recordings": 3,  # mid, old, missing
        "recording_files": 4,
        "files_missing": 1,
        "files_failed": 0,
        "transcripts": 1,
        "transcript_segments": 2,
        "caller_numbers": 1,
        "held": 1,
    }
    assert sorted(p.name for p in recordings.iterdir()) == ["held-0.wav", "young-0.wav"]
    with sessionmaker() as s:
        calls = {c.id: c for c in s.scalars(select(Call))}
        assert calls[young].recordings_removed_at is None and calls[held].recordings_removed_at is None
        for cid in (mid, old, missing):
            assert calls[cid].recordings_removed_at == NOW
            assert s.scalar(select(func.count()).select_from(Recording).where(Recording.call_id == cid)) == 0
        assert s.scalar(select(func.count()).select_from(Recording).where(Recording.call_id == held)) == 1
        # the old call's transcript: the dialogue's shape and the placeholder of the phone number, nothing said
        segs = list(
            s.scalars(
                select(TranscriptSegment).where(TranscriptSegment.call_id == old).order_by(TranscriptSegment.start_s)
            )
        )
        assert [(x.speaker, x.start_s, x.end_s, x.text) for x in segs] == [
            ("operator", 0, 0.9, ""),
            ("caller", 1, 7, "<phone>"),
        ]
        assert segs[1].words == [{"word": "<phone>", "start": 2.0, "end": 6.9, "conf": 0.9}]
        assert calls[old].transcript_removed_at == NOW and calls[mid].transcript_removed_at is None
        mid_text = s.scalar(
            select(TranscriptSegment.text).where(
                TranscriptSegment.call_id == mid, TranscriptSegment.speaker == "caller"
            )
        )
        assert mid_text == PHONE_WORDS
        # the old call's number: gone from the call, its card and the card's audit trail
        assert (calls[old].caller_number, calls[old].caller_name) == (None, None)
        assert calls[old].caller_number_removed_at == NOW
        old_card = s.scalar(select(Card).where(Card.call_id == old))
        assert old_card is not None and old_card.caller_number is None
        trail = s.scalars(select(AuditEvent).where(AuditEvent.entity == "card", AuditEvent.entity_id == old_card.id))
        assert [e.after for e in trail] == [{"caller_number": REMOVED}]
        for cid in (young, mid, held):
            assert calls[cid].caller_number == "+77011234567"
        held_card = s.scalar(select(Card).where(Card.call_id == held))
        assert held_card is not None and held_card.caller_number == "+77011234567"
        # one audit event per call and kind, by the retention job
        events = s.execute(
            select(AuditEvent.entity_id, AuditEvent.action).where(AuditEvent.actor == ACTOR).order_by(AuditEvent.id)
        ).all()
        assert sorted(events) == sorted(
            [
                (mid, "retention_recordings"),
                (old, "retention_recordings"),
                (missing, "retention_recordings"),
                (old, "retention_transcript"),
                (old, "retention_caller_number"),
            ]
        )
        stored = s.scalars(select(RetentionRun)).one()
        assert stored.state == "finished" and stored.started_at == NOW and stored.finished_at is not None
        assert stored.removed == report.counts()
        assert stored.policy["recordings"] == {
            "action": "delete",
            "days": 30,
            "cutoff": (NOW - timedelta(days=30)).isoformat(),
        }

    again = run(sessionmaker, recordings)
    assert again.counts() == {**{k: 0 for k in report.counts()}, "held": 1}
    with sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == ACTOR)) == 5
        assert s.scalar(select(func.count()).select_from(RetentionRun)) == 2


def test_a_dry_run_counts_what_a_run_removes_and_changes_nothing(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    add_call(sessionmaker, recordings, "young", days_ago=10)
    add_call(sessionmaker, recordings, "mid", days_ago=45, files=2)
    add_call(sessionmaker, recordings, "old", days_ago=100)
    add_call(sessionmaker, recordings, "held", days_ago=100, held=True)

    dry = run(sessionmaker, recordings, dry_run=True)

    assert dry.dry_run and dry.run_id is None
    assert sorted(p.name for p in recordings.iterdir()) == [
        "held-0.wav",
        "mid-0.wav",
        "mid-1.wav",
        "old-0.wav",
        "young-0.wav",
    ]
    with sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(RetentionRun)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == ACTOR)) == 0
        assert s.scalar(select(func.count()).select_from(Call).where(Call.recordings_removed_at.is_not(None))) == 0
    real = run(sessionmaker, recordings)
    assert (
        dry.counts()
        == real.counts()
        == {
            "recordings": 2,
            "recording_files": 3,
            "files_missing": 0,
            "files_failed": 0,
            "transcripts": 1,
            "transcript_segments": 2,
            "caller_numbers": 1,
            "held": 1,
        }
    )


def test_transcripts_can_be_deleted_with_qa_corrections_and_their_audited_text(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    from models.repo.qa import add_correction

    old = add_call(sessionmaker, recordings, "old", days_ago=100)
    with sessionmaker() as s:
        seg = s.scalar(
            select(TranscriptSegment).where(TranscriptSegment.call_id == old, TranscriptSegment.speaker == "caller")
        )
        assert seg is not None
        add_correction(s, segment_id=seg.id, text="менің нөмірім сегіз жеті жүз бір", actor="qa1", user_id=None)
    policy = parse_policy(
        "recordings: {action: keep}\ntranscripts: {action: delete, days: 60}\ncaller_numbers: {action: keep}\n"
    )
    report = run(sessionmaker, recordings, policy=policy)
    assert (report.transcripts, report.transcript_segments, report.recordings, report.caller_numbers) == (1, 3, 0, 0)
    with sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 0
        corrections = list(s.scalars(select(AuditEvent).where(AuditEvent.entity == "transcript")))
        assert len(corrections) == 1
        assert corrections[0].before["text"] == REMOVED and corrections[0].after["text"] == REMOVED
        assert s.get(Call, old).caller_number == "+77011234567"  # type: ignore[union-attr]
    assert (recordings / "old-0.wav").exists()


def _undeletable_run(sessionmaker: sessionmaker[Session], recordings: Path, cid: int) -> None:
    report = run(sessionmaker, recordings)
    assert report.state is RunState.FINISHED
    assert [(u.call_id, u.path) for u in report.undeletable] == [(cid, "stuck-0.wav")]
    assert report.recordings == 1 and report.counts()["files_failed"] == 1
    with sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Recording).where(Recording.call_id == cid)) == 1
        assert s.get(Call, cid).recordings_removed_at == NOW  # type: ignore[union-attr]
        stored = s.scalars(select(RetentionRun)).one()
        assert stored.removed["files_failed"] == 1 and "stuck-0.wav" in (stored.error or "")


def test_a_file_that_cannot_be_deleted_keeps_its_row_and_the_next_run_retries(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    """A folder where the recording should be: unlink fails for root too (EISDIR/EPERM)."""
    cid = add_call(sessionmaker, recordings, "stuck", days_ago=45, write_files=False)
    (recordings / "stuck-0.wav").mkdir()
    _undeletable_run(sessionmaker, recordings, cid)
    (recordings / "stuck-0.wav").rmdir()
    (recordings / "stuck-0.wav").write_bytes(b"RIFF")
    retry = run(sessionmaker, recordings)
    assert (retry.recordings, retry.recording_files, len(retry.undeletable)) == (0, 1, 0)  # stamped before
    assert not (recordings / "stuck-0.wav").exists()
    with sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Recording)) == 0
        # one audit event: the recordings' removal was recorded when the call was stamped, not again on the retry
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == ACTOR)) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root deletes files in a read-only folder")
def test_a_file_in_a_read_only_folder_is_reported(sessionmaker: sessionmaker[Session], recordings: Path) -> None:
    cid = add_call(sessionmaker, recordings, "stuck", days_ago=45)
    recordings.chmod(0o500)
    try:
        _undeletable_run(sessionmaker, recordings, cid)
    finally:
        recordings.chmod(0o700)


def test_a_run_that_fails_half_way_is_stored_as_failed_and_the_next_one_goes_on(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    first = add_call(sessionmaker, recordings, "first", days_ago=100)
    second = add_call(sessionmaker, recordings, "second", days_ago=100)

    calls_seen: list[int] = []

    def breaks_on_second(words):  # type: ignore[no-untyped-def]
        calls_seen.append(1)
        if len(calls_seen) > 2:  # the first call has two segments; the second call's first one breaks it
            raise RuntimeError("the anonymiser broke")
        return anonymise_words(words)

    report = apply_retention(
        sessionmaker,
        plan=plan_for(POLICY, NOW),
        now=NOW,
        recordings_dir=recordings,
        anonymise=breaks_on_second,
        batch_size=1,
    )
    assert report.state is RunState.FAILED and report.error == "RuntimeError: the anonymiser broke"
    assert report.transcripts == 1 and report.caller_numbers == 0
    with sessionmaker() as s:
        stored = s.scalars(select(RetentionRun)).one()
        assert stored.state == "failed" and "the anonymiser broke" in (stored.error or "")
        assert s.get(Call, first).transcript_removed_at == NOW  # type: ignore[union-attr]
        assert s.get(Call, second).transcript_removed_at is None  # type: ignore[union-attr]
    after = run(sessionmaker, recordings)
    assert (after.transcripts, after.caller_numbers, after.state) == (1, 2, RunState.FINISHED)


def test_a_run_left_running_by_a_stopped_process_is_marked_failed(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    with sessionmaker() as s:
        s.add(RetentionRun(started_at=NOW - timedelta(days=1), state="running", policy={}, removed={}))
        s.commit()
    run(sessionmaker, recordings)
    with sessionmaker() as s:
        states = list(s.scalars(select(RetentionRun.state).order_by(RetentionRun.id)))
        assert states == ["failed", "finished"]


def test_the_daily_job_runs_once_a_day_from_its_hour_across_restarts(
    sessionmaker: sessionmaker[Session], recordings: Path
) -> None:
    add_call(sessionmaker, recordings, "old", days_ago=100)
    clock = [NOW - timedelta(hours=2)]  # 01:00 in Almaty

    def runner() -> RetentionRunner:
        return RetentionRunner(
            sessions=sessionmaker,
            policy=POLICY,
            recordings_dir=recordings,
            hour=3,
            tz=ZoneInfo("Asia/Almaty"),
            clock=lambda: clock[0],
        )

    async def scenario() -> list[bool]:
        seen = []
        job = runner()
        seen.append(await job.run_if_due() is not None)  # 01:00: not yet
        clock[0] = NOW + timedelta(minutes=5)
        seen.append(await job.run_if_due() is not None)  # 03:05: runs
        restarted = runner()  # the process restarts at 04:00
        clock[0] = NOW + timedelta(hours=1)
        seen.append(await restarted.run_if_due() is not None)
        clock[0] = NOW + timedelta(days=1)  # 03:00 the next day
        seen.append(await restarted.run_if_due() is not None)
        return seen

    assert asyncio.run(scenario()) == [False, True, False, True]
    # a run by hand at a future moment (`--now`) does not stop today's job
    run_retention(sessionmaker, policy=POLICY, now=NOW + timedelta(days=30), recordings_dir=recordings)
    clock[0] = NOW + timedelta(days=2)
    assert asyncio.run(runner().run_if_due()) is not None
    with sessionmaker() as s:
        assert list(s.scalars(select(RetentionRun.started_at).order_by(RetentionRun.id))) == [
            NOW + timedelta(minutes=5),
            NOW + timedelta(days=1),
            NOW + timedelta(days=30),
            NOW + timedelta(days=2),
        ]
    assert not (recordings / "old-0.wav").exists()


def test_the_daily_job_starts_and_stops(sessionmaker: sessionmaker[Session], recordings: Path) -> None:
    """Started, it checks at once (the clock says 03:05, so it runs), then stops cleanly."""

    async def scenario() -> int:
        job = RetentionRunner(
            sessions=sessionmaker,
            policy=POLICY,
            recordings_dir=recordings,
            hour=3,
            tz=ZoneInfo("Asia/Almaty"),
            check_interval_s=0.05,
            clock=lambda: NOW + timedelta(minutes=5),
        )
        await job.start()
        for _ in range(200):
            if job.runs:
                break
            await asyncio.sleep(0.01)
        await job.stop()
        return job.runs

    assert asyncio.run(scenario()) == 1
