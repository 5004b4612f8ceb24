"""The pairs recognition quality is measured on: each machine segment QA corrected, with its newest correction.

Only corrected segments are references. A segment QA read and left alone may be right, or QA may not have bothered;
it is not counted, which biases the word error rate upwards (see docs/asr-quality.md). ``review_counts`` says how
many segments of reviewed calls there were beside the corrected ones, so the bias can be judged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from models.privacy import AccessLogEntry
from models.quality import QaJudgment, QaSample, QaScorecard
from models.records import Call, Recording, TranscriptSegment
from models.repo.qa import latest_corrections

MACHINE_SOURCES = ("live", "postcall", "redecode")
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CorrectedSegment:
    """A machine segment and QA's newest text for it, with what it is grouped by."""

    segment_id: int
    call_id: int
    source: str
    language: str  # the segment's language, "unknown" if none was stored
    model: str  # the segment's model_version, "unknown" if none was stored
    speaker: str  # caller | operator
    week: str  # ISO week of the call's start, e.g. "2026-W50"
    start_s: float
    end_s: float
    words: tuple[tuple[str, float | None], ...]  # the machine's words and confidences
    reference: str  # QA's newest correction


@dataclass(frozen=True, slots=True)
class ReviewCounts:
    """How much QA looked at, beside what it corrected (calls started in the range)."""

    reviewed_calls: int  # calls with a correction, a reviewed sample, a judgment, or opened by a QA reviewer
    corrected_calls: int
    reviewed_segments: int  # machine segments of the reviewed calls
    corrected_segments: int


def iso_week(moment: datetime, zone: tzinfo = UTC) -> str:
    """``2026-W50``: the ISO week of ``moment`` in ``zone`` (naive moments are UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    year, week, _ = aware.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def _words(segment: TranscriptSegment) -> tuple[tuple[str, float | None], ...]:
    stored: list[dict[str, Any]] = list(segment.words or [])
    if not stored:
        return tuple((tok, None) for tok in segment.text.split())
    out: list[tuple[str, float | None]] = []
    for w in stored:
        conf = w.get("conf")
        out.append((str(w.get("word") or w.get("text") or ""), float(conf) if conf is not None else None))
    return tuple(out)


def _in_range(since: datetime, until: datetime) -> Any:
    return (Call.started_at >= since) & (Call.started_at < until)


def corrected_segments(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    zone: tzinfo = UTC,
    call_ids: Sequence[int] | None = None,
    batch: int = 500,
) -> Iterator[CorrectedSegment]:
    """Machine segments (live, postcall, redecode) of calls started in [since, until) (and among ``call_ids`` when
    given) that QA corrected, each with its newest correction, in call and time order."""
    correction = aliased(TranscriptSegment)
    corrected = exists().where(correction.source == "qa", correction.corrects_id == TranscriptSegment.id)
    stmt = (
        select(TranscriptSegment, Call.started_at)
        .join(Call, Call.id == TranscriptSegment.call_id)
        .where(TranscriptSegment.source.in_(MACHINE_SOURCES), _in_range(since, until), corrected)
        .order_by(TranscriptSegment.call_id, TranscriptSegment.start_s, TranscriptSegment.id)
    )
    if call_ids is not None:
        stmt = stmt.where(TranscriptSegment.call_id.in_(list(call_ids)))
    offset = 0
    while True:
        rows = session.execute(stmt.limit(batch).offset(offset)).all()
        if not rows:
            return
        offset += len(rows)
        latest = latest_corrections(session, segment_ids=[seg.id for seg, _ in rows])
        for seg, started_at in rows:
            fix = latest.get(seg.id)
            if fix is None:  # removed between the two queries
                continue
            yield CorrectedSegment(
                segment_id=seg.id,
                call_id=seg.call_id,
                source=seg.source,
                language=seg.language or UNKNOWN,
                model=seg.model_version or UNKNOWN,
                speaker=seg.speaker or "caller",
                week=iso_week(started_at, zone),
                start_s=float(seg.start_s),
                end_s=float(seg.end_s),
                words=_words(seg),
                reference=fix.text,
            )


def review_counts(session: Session, *, since: datetime, until: datetime) -> ReviewCounts:
    """Reviewed vs corrected calls and segments among calls started in [since, until)."""
    correction = aliased(TranscriptSegment)
    has_correction = exists().where(correction.call_id == Call.id, correction.source == "qa")
    reviewed_sample = exists().where(QaSample.call_id == Call.id, QaSample.reviewed_at.is_not(None))
    judged = exists().where(QaScorecard.call_id == Call.id, QaJudgment.scorecard_id == QaScorecard.id)
    opened = exists().where(
        AccessLogEntry.call_id == Call.id,
        AccessLogEntry.role == "qa",
        AccessLogEntry.kind.in_(("listen", "unmasked_transcript")),
    )
    reviewed_ids = select(Call.id).where(_in_range(since, until), or_(has_correction, reviewed_sample, judged, opened))
    corrected_ids = select(Call.id).where(_in_range(since, until), has_correction)
    reviewed_calls = list(session.scalars(reviewed_ids))
    corrected_calls = list(session.scalars(corrected_ids))
    machine = TranscriptSegment.source.in_(MACHINE_SOURCES)
    reviewed_segments = _count_segments(session, reviewed_calls, machine)
    mine = exists().where(correction.source == "qa", correction.corrects_id == TranscriptSegment.id)
    corrected_segments_n = _count_segments(session, corrected_calls, machine & mine)
    return ReviewCounts(
        reviewed_calls=len(reviewed_calls),
        corrected_calls=len(corrected_calls),
        reviewed_segments=reviewed_segments,
        corrected_segments=corrected_segments_n,
    )


def _count_segments(session: Session, call_ids: Sequence[int], where: Any, batch: int = 500) -> int:
    n = 0
    for i in range(0, len(call_ids), batch):
        chunk = list(call_ids[i : i + batch])
        stmt = select(func.count()).select_from(TranscriptSegment).where(TranscriptSegment.call_id.in_(chunk), where)
        n += int(session.scalar(stmt) or 0)
    return n


@dataclass(frozen=True, slots=True)
class RecordingFile:
    """A recording of a call: its kind (mixed | caller | operator) and stored path (relative: to recordings_dir)."""

    kind: str
    path: str


def recordings_of(session: Session, call_id: int) -> list[RecordingFile]:
    """The call's recordings, oldest first."""
    rows = session.scalars(select(Recording).where(Recording.call_id == call_id).order_by(Recording.id)).all()
    return [RecordingFile(kind=r.kind, path=r.path) for r in rows]


def corrected_calls_with_recording(session: Session, *, since: datetime, until: datetime) -> list[int]:
    """Ids of calls started in [since, until) that have a QA-corrected machine segment and a recording (and whose
    recordings were not removed by the retention policy), in id order."""
    correction = aliased(TranscriptSegment)
    corrected = exists().where(
        correction.call_id == Call.id,
        correction.source == "qa",
        correction.corrects_id.is_not(None),
    )
    recorded = exists().where(Recording.call_id == Call.id)
    stmt = (
        select(Call.id)
        .where(_in_range(since, until), corrected, recorded, Call.recordings_removed_at.is_(None))
        .order_by(Call.id)
    )
    return list(session.scalars(stmt))
