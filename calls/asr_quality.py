"""Recognition quality against QA's corrections, as one report: the corrected segments (models.repo.asr_quality)
scored by asr.quality and summed per group. Served by GET /api/stats/asr-quality and `callcard asr quality`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from asr.quality import LOW_CONFIDENCE, Counts, HeardWord, aggregate, score, total
from models.repo.asr_quality import CorrectedSegment, corrected_segments, review_counts

logger = logging.getLogger(__name__)


class GroupBy(StrEnum):
    """What the rows are grouped by (several: one row per combination)."""

    LANGUAGE = "language"
    MODEL = "model"
    SPEAKER = "speaker"
    WEEK = "week"


class QualityFigures(BaseModel):
    """Sums over a group of corrected segments, and the rates computed from them."""

    segments: int
    reference_words: int = Field(description="words of QA's corrections")
    hypothesis_words: int = Field(description="words the machine wrote")
    substitutions: int
    deletions: int = Field(description="reference words the machine missed")
    insertions: int = Field(description="machine words the correction does not have")
    wer: float | None = Field(description="(substitutions + deletions + insertions) / reference words")
    marked: int = Field(description="machine words below the low-confidence threshold")
    wrong: int = Field(description="machine words substituted or removed by the correction")
    hits: int = Field(description="marked words that were wrong")
    mark_precision: float | None = Field(description="hits / marked")
    mark_recall: float | None = Field(description="hits / wrong")

    @classmethod
    def of(cls, c: Counts) -> QualityFigures:
        return cls(
            segments=c.segments,
            reference_words=c.reference_words,
            hypothesis_words=c.hypothesis_words,
            substitutions=c.substitutions,
            deletions=c.deletions,
            insertions=c.insertions,
            wer=c.wer,
            marked=c.marked,
            wrong=c.wrong,
            hits=c.hits,
            mark_precision=c.mark_precision,
            mark_recall=c.mark_recall,
        )


class QualityRow(QualityFigures):
    """One group: the values it is grouped by (None for dimensions not asked for) and its figures."""

    language: str | None = None
    model: str | None = None
    speaker: str | None = None
    week: str | None = None


class AsrQuality(BaseModel):
    """Recognition quality of the calls started in [since, until)."""

    since: datetime
    until: datetime
    group_by: list[GroupBy]
    low_confidence: float = Field(description="the threshold below which a word is marked low")
    reviewed_calls: int = Field(description="calls QA corrected, reviewed as a sample, judged or opened")
    corrected_calls: int
    reviewed_segments: int = Field(description="machine segments of the reviewed calls")
    corrected_segments: int = Field(description="of them, the ones with a correction: the references")
    total: QualityFigures
    rows: list[QualityRow]


def parse_group_by(value: str | None) -> list[GroupBy]:
    """``language,week`` -> [LANGUAGE, WEEK] (order kept, repeats dropped); ValueError naming a bad name."""
    out: list[GroupBy] = []
    for part in (value or "").split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            item = GroupBy(name)
        except ValueError:
            allowed = ", ".join(g.value for g in GroupBy)
            raise ValueError(f"cannot group by {name!r}; use one or more of {allowed}, separated by commas") from None
        if item not in out:
            out.append(item)
    return out


def _key(seg: CorrectedSegment, group_by: list[GroupBy]) -> tuple[str, ...]:
    return tuple(getattr(seg, g.value) for g in group_by)


def build_report(
    session: Session, *, since: datetime, until: datetime, group_by: list[GroupBy], zone: tzinfo = UTC
) -> AsrQuality:
    """Score every corrected segment of calls started in [since, until) and sum per group (weeks in ``zone``)."""
    keyed = [
        (_key(seg, group_by), score([HeardWord(w, c) for w, c in seg.words], seg.reference).counts)
        for seg in corrected_segments(session, since=since, until=until, zone=zone)
    ]
    groups = aggregate(keyed)
    reviewed = review_counts(session, since=since, until=until)
    rows = [
        QualityRow.model_validate(
            {**QualityFigures.of(counts).model_dump(), **{g.value: v for g, v in zip(group_by, key, strict=True)}}
        )
        for key, counts in sorted(groups.items())
    ]
    return AsrQuality(
        since=since,
        until=until,
        group_by=group_by,
        low_confidence=LOW_CONFIDENCE,
        reviewed_calls=reviewed.reviewed_calls,
        corrected_calls=reviewed.corrected_calls,
        reviewed_segments=reviewed.reviewed_segments,
        corrected_segments=reviewed.corrected_segments,
        total=QualityFigures.of(total(counts for _, counts in keyed)),
        rows=rows if group_by else [],
    )


def local_zone(name: str) -> tzinfo:
    """The city's time zone for ISO weeks (UTC if the name is unknown)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        logger.warning("unknown local_timezone %r; ISO weeks are counted in UTC", name)
        return UTC
