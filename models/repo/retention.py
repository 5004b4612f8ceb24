"""Applying the retention policy at a given ``now``: the calls that ended before each kind's cut-off lose that kind of
personal data, except calls whose card is under a legal hold. Every run is stored as a RetentionRun with the policy
as applied and what it removed; every call changed gets an audit event (actor "system:retention").

The policy itself (which action, how many days) is privacy.retention; this module gets it as a RetentionPlan of
cut-offs, and the transcript anonymiser as a function, so models/ imports nothing of ours.

- Recordings: per batch of calls, one transaction stamps Call.recordings_removed_at (from then on nobody can play
  them); after its commit the files are deleted; then the rows of the files gone (deleted, or already missing)
  are removed. A file that cannot be deleted is reported and its row kept, so the next run tries again.
- Transcripts: anonymised (the anonymiser decides what a segment keeps) or deleted, with the text in the
  transcript audit events scrubbed; Call.transcript_removed_at is stamped.
- Caller numbers: Call.caller_number and caller_name, Card.caller_number and the number in the card's audit events
  are cleared; Call.caller_number_removed_at is stamped.

A second run at the same ``now`` finds nothing left to do; a dry run counts and changes nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from models.privacy import RetentionRun
from models.records import AuditEvent, Call, Card, Recording, TranscriptSegment
from models.repo import audit

logger = logging.getLogger(__name__)

ACTOR = "system:retention"
REMOVED = "<removed under the retention policy>"


class TranscriptAction(StrEnum):
    """What happens to an old transcript."""

    ANONYMISE = "anonymise"
    DELETE = "delete"


class RunState(StrEnum):
    """A RetentionRun's state (models.privacy.RETENTION_RUN_STATES)."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class Anonymised(Protocol):
    """What the anonymiser gives for one segment."""

    @property
    def text(self) -> str: ...

    @property
    def words(self) -> list[dict[str, Any]]: ...


Anonymiser = Callable[[Sequence[Mapping[str, Any]]], Anonymised]


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """The cut-offs of one run: a call that ended before a kind's moment loses that kind (None: kept)."""

    recordings_before: datetime | None
    transcripts_before: datetime | None
    caller_numbers_before: datetime | None
    transcript_action: TranscriptAction = TranscriptAction.ANONYMISE
    policy: dict[str, Any] = field(default_factory=dict)  # the policy as applied, stored with the run


@dataclass(frozen=True, slots=True)
class UndeletableFile:
    """A recording file that could not be deleted (its row is kept; the next run tries again)."""

    call_id: int
    path: str
    error: str


@dataclass(slots=True)
class RetentionReport:
    """What a run removed, per kind, and what it skipped."""

    now: datetime
    dry_run: bool
    run_id: int | None = None
    state: RunState = RunState.RUNNING
    recordings: int = 0  # calls whose recordings were removed
    recording_files: int = 0  # files deleted
    files_missing: int = 0  # files that were already gone (their rows removed all the same)
    transcripts: int = 0  # calls whose transcript was anonymised or deleted
    transcript_segments: int = 0
    caller_numbers: int = 0  # calls whose appellant's number was cleared
    held: int = 0  # calls skipped because their card is under a legal hold
    undeletable: list[UndeletableFile] = field(default_factory=list)
    error: str | None = None

    def counts(self) -> dict[str, int]:
        """The counts as stored in RetentionRun.removed."""
        return {
            "recordings": self.recordings,
            "recording_files": self.recording_files,
            "files_missing": self.files_missing,
            "files_failed": len(self.undeletable),
            "transcripts": self.transcripts,
            "transcript_segments": self.transcript_segments,
            "caller_numbers": self.caller_numbers,
            "held": self.held,
        }

    def summary(self) -> str:
        """One line for the log and the command."""
        verb = "would remove" if self.dry_run else "removed"
        text = (
            f"retention at {self.now.isoformat(timespec='seconds')} {verb}: recordings of {self.recordings} calls "
            f"({self.recording_files} files deleted, {self.files_missing} already missing, "
            f"{len(self.undeletable)} could not be deleted), transcripts of {self.transcripts} calls "
            f"({self.transcript_segments} segments), caller numbers of {self.caller_numbers} calls; "
            f"{self.held} calls under legal hold skipped"
        )
        return text if self.error is None else f"{text}; FAILED: {self.error}"


def _ended(now_cut: datetime) -> ColumnElement[bool]:
    """Calls over (ended or failed) before the cut-off (a failed call without an end counts from its start)."""
    return and_(Call.state.in_(("ended", "failed")), func.coalesce(Call.ended_at, Call.started_at) < now_cut)


def _held() -> ColumnElement[bool]:
    return exists().where(Card.call_id == Call.id, Card.legal_hold_at.is_not(None))


def _recording_due(cut: datetime) -> ColumnElement[bool]:
    return and_(_ended(cut), exists().where(Recording.call_id == Call.id))


def _transcript_due(cut: datetime) -> ColumnElement[bool]:
    return and_(_ended(cut), Call.transcript_removed_at.is_(None), exists().where(TranscriptSegment.call_id == Call.id))


def _number_due(cut: datetime) -> ColumnElement[bool]:
    card_number = exists().where(Card.call_id == Call.id, Card.caller_number.is_not(None))
    has_number = or_(Call.caller_number.is_not(None), Call.caller_name.is_not(None), card_number)
    return and_(_ended(cut), Call.caller_number_removed_at.is_(None), has_number)


def _due_conditions(plan: RetentionPlan) -> list[ColumnElement[bool]]:
    out = []
    if plan.recordings_before is not None:
        out.append(_recording_due(plan.recordings_before))
    if plan.transcripts_before is not None:
        out.append(_transcript_due(plan.transcripts_before))
    if plan.caller_numbers_before is not None:
        out.append(_number_due(plan.caller_numbers_before))
    return out


def _count(session: Session, condition: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(Call).where(condition)) or 0


def _batch(session: Session, condition: ColumnElement[bool], after_id: int, size: int) -> list[Call]:
    stmt = select(Call).where(condition, ~_held(), Call.id > after_id).order_by(Call.id).limit(size)
    return list(session.scalars(stmt))


def _batches(
    sessions: sessionmaker[Session], condition: ColumnElement[bool], size: int
) -> Iterator[tuple[Session, list[Call]]]:
    """The calls matching ``condition`` and not held, ``size`` at a time in id order, each batch with a session of
    its own (one transaction per batch, committed by the caller)."""
    after = 0
    while True:
        with sessions() as session:
            batch = _batch(session, condition, after, size)
            if not batch:
                return
            after = batch[-1].id
            yield session, batch


def _resolve(path: str, recordings_dir: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else recordings_dir / p


def _remove_recordings(
    sessions: sessionmaker[Session],
    plan: RetentionPlan,
    now: datetime,
    recordings_dir: Path,
    size: int,
    report: RetentionReport,
) -> None:
    assert plan.recordings_before is not None
    condition = _recording_due(plan.recordings_before)
    for session, batch in _batches(sessions, condition, size):
        files: list[tuple[int, int, str]] = []  # (call id, recording id, path)
        for call in batch:
            rows = list(session.scalars(select(Recording).where(Recording.call_id == call.id)))
            files += [(call.id, r.id, r.path) for r in rows]
            if call.recordings_removed_at is None:
                call.recordings_removed_at = now
                audit.record(
                    session,
                    actor=ACTOR,
                    entity="call",
                    entity_id=call.id,
                    action="retention_recordings",
                    after={"recordings": [r.path for r in rows], "removed_at": now},
                    at=now,
                )
                report.recordings += 1
        session.commit()  # from here nobody may play them, deleted or not
        gone: list[int] = []
        for call_id, rec_id, path in files:
            try:
                os.unlink(_resolve(path, recordings_dir))
                report.recording_files += 1
                gone.append(rec_id)
            except FileNotFoundError:
                report.files_missing += 1
                gone.append(rec_id)
            except OSError as exc:
                report.undeletable.append(UndeletableFile(call_id, path, exc.strerror or str(exc)))
                logger.warning("retention: cannot delete %s of call %d: %s", path, call_id, exc)
        if gone:
            with sessions() as session:
                session.execute(delete(Recording).where(Recording.id.in_(gone)))
                session.commit()


def _scrub_transcript_audit(session: Session, segment_ids: list[int], texts: Mapping[int, str | None]) -> None:
    """The text that transcript audit events carry (QA corrections) replaced by what is left of it."""
    if not segment_ids:
        return
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "transcript", AuditEvent.entity_id.in_(segment_ids))
    )
    for event in events:
        for name in ("before", "after"):
            value = getattr(event, name)
            if isinstance(value, dict) and "text" in value:
                seg = value.get("segment_id")
                replacement = texts.get(seg) if isinstance(seg, int) else None
                setattr(event, name, {**value, "text": replacement if replacement is not None else REMOVED})


def _remove_transcripts(
    sessions: sessionmaker[Session],
    plan: RetentionPlan,
    now: datetime,
    anonymise: Anonymiser,
    size: int,
    report: RetentionReport,
) -> None:
    assert plan.transcripts_before is not None
    condition = _transcript_due(plan.transcripts_before)
    for session, batch in _batches(sessions, condition, size):
        for call in batch:
            segments = list(session.scalars(select(TranscriptSegment).where(TranscriptSegment.call_id == call.id)))
            ids = [s.id for s in segments]
            texts: dict[int, str | None] = {}
            if plan.transcript_action is TranscriptAction.DELETE:
                session.execute(
                    delete(TranscriptSegment).where(
                        TranscriptSegment.call_id == call.id, TranscriptSegment.corrects_id.is_not(None)
                    )
                )
                session.execute(delete(TranscriptSegment).where(TranscriptSegment.call_id == call.id))
            else:
                for seg in segments:
                    words = seg.words or [
                        {"word": t, "start": seg.start_s, "end": seg.end_s} for t in (seg.text or "").split()
                    ]
                    result = anonymise(words)
                    seg.text = result.text
                    seg.words = list(result.words)
                    texts[seg.id] = result.text
            _scrub_transcript_audit(session, ids, texts)
            call.transcript_removed_at = now
            audit.record(
                session,
                actor=ACTOR,
                entity="call",
                entity_id=call.id,
                action="retention_transcript",
                after={"action": plan.transcript_action.value, "segments": len(ids), "removed_at": now},
                at=now,
            )
            report.transcripts += 1
            report.transcript_segments += len(ids)
        session.commit()


def _scrub_card_audit(session: Session, card_id: int) -> None:
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "card", AuditEvent.entity_id == card_id))
    for event in events:
        for name in ("before", "after"):
            value = getattr(event, name)
            if isinstance(value, dict) and value.get("caller_number") is not None:
                setattr(event, name, {**value, "caller_number": REMOVED})


def _remove_numbers(
    sessions: sessionmaker[Session], plan: RetentionPlan, now: datetime, size: int, report: RetentionReport
) -> None:
    assert plan.caller_numbers_before is not None
    condition = _number_due(plan.caller_numbers_before)
    for session, batch in _batches(sessions, condition, size):
        for call in batch:
            call.caller_number = None
            call.caller_name = None
            card = session.scalar(select(Card).where(Card.call_id == call.id))
            if card is not None:
                card.caller_number = None
                _scrub_card_audit(session, card.id)
            call.caller_number_removed_at = now
            audit.record(
                session,
                actor=ACTOR,
                entity="call",
                entity_id=call.id,
                action="retention_caller_number",
                after={"card_id": card.id if card is not None else None, "removed_at": now},
                at=now,
            )
            report.caller_numbers += 1
        session.commit()


def _count_dry(session: Session, plan: RetentionPlan, report: RetentionReport) -> None:
    if plan.recordings_before is not None:
        due = and_(_recording_due(plan.recordings_before), ~_held())
        report.recordings = _count(session, and_(due, Call.recordings_removed_at.is_(None)))
        calls = select(Call.id).where(due).scalar_subquery()
        report.recording_files = (
            session.scalar(select(func.count()).select_from(Recording).where(Recording.call_id.in_(calls))) or 0
        )
    if plan.transcripts_before is not None:
        due = and_(_transcript_due(plan.transcripts_before), ~_held())
        report.transcripts = _count(session, due)
        calls = select(Call.id).where(due).scalar_subquery()
        report.transcript_segments = (
            session.scalar(
                select(func.count()).select_from(TranscriptSegment).where(TranscriptSegment.call_id.in_(calls))
            )
            or 0
        )
    if plan.caller_numbers_before is not None:
        report.caller_numbers = _count(session, and_(_number_due(plan.caller_numbers_before), ~_held()))


def _count_held(session: Session, plan: RetentionPlan) -> int:
    conditions = _due_conditions(plan)
    if not conditions:
        return 0
    return _count(session, and_(or_(*conditions), _held()))


def _close_interrupted(session: Session) -> None:
    """Runs left "running" by a process that stopped mid-run are marked failed."""
    for run in session.scalars(select(RetentionRun).where(RetentionRun.state == RunState.RUNNING.value)):
        run.state = RunState.FAILED.value
        run.error = "interrupted: the process stopped during the run"


def apply_retention(
    sessions: sessionmaker[Session],
    *,
    plan: RetentionPlan,
    now: datetime,
    recordings_dir: Path,
    anonymise: Anonymiser,
    dry_run: bool = False,
    batch_size: int = 200,
) -> RetentionReport:
    """Apply ``plan`` at ``now``; returns the report (state failed, with the error, when a batch failed: the
    batches committed before it stay done, and the next run goes on from there)."""
    if batch_size < 1:
        raise ValueError("retention: batch_size must be at least 1")
    report = RetentionReport(now=now, dry_run=dry_run)
    with sessions() as session:
        report.held = _count_held(session, plan)
        if dry_run:
            _count_dry(session, plan, report)
            report.state = RunState.FINISHED
            return report
        _close_interrupted(session)
        run = RetentionRun(started_at=now, state=RunState.RUNNING.value, policy=plan.policy, removed={})
        session.add(run)
        session.commit()
        report.run_id = run.id
    began = time.monotonic()
    try:
        if plan.recordings_before is not None:
            _remove_recordings(sessions, plan, now, recordings_dir, batch_size, report)
        if plan.transcripts_before is not None:
            _remove_transcripts(sessions, plan, now, anonymise, batch_size, report)
        if plan.caller_numbers_before is not None:
            _remove_numbers(sessions, plan, now, batch_size, report)
        report.state = RunState.FINISHED
    except Exception as exc:  # stored on the run and reported; the next run goes on from the committed batches
        logger.exception("retention run %s failed", report.run_id)
        report.state = RunState.FAILED
        report.error = f"{type(exc).__name__}: {exc}"
    with sessions() as session:
        stored = session.get(RetentionRun, report.run_id)
        assert stored is not None
        stored.state = report.state.value
        stored.finished_at = now + timedelta(seconds=time.monotonic() - began)
        stored.removed = report.counts()
        failed = [f"call {f.call_id}: {f.path}: {f.error}" for f in report.undeletable]
        parts = ([report.error] if report.error else []) + (
            [f"{len(failed)} recording files could not be deleted: " + "; ".join(failed[:20])] if failed else []
        )
        stored.error = "\n".join(parts) or None
        session.commit()
    return report


def last_run_started_at(session: Session, *, not_after: datetime | None = None) -> datetime | None:
    """When the newest stored run started (any state), for the daily job's once-a-day rule; ``not_after`` leaves
    out runs applied at a later moment (`callcard retention run --now` in the future must not stop the job)."""
    stmt = select(func.max(RetentionRun.started_at))
    if not_after is not None:
        stmt = stmt.where(RetentionRun.started_at <= not_after)
    return session.scalar(stmt)


def list_runs(session: Session, *, limit: int = 50, offset: int = 0) -> tuple[list[RetentionRun], int]:
    """Stored runs, newest first, and how many there are."""
    total = session.scalar(select(func.count()).select_from(RetentionRun)) or 0
    rows = session.scalars(
        select(RetentionRun)
        .order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total
