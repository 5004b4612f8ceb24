"""Recognition quality measured against QA's corrections (GET /api/stats/asr-quality): word error rate and the
accuracy of the low-confidence marks, per language, model version, speaker and ISO week (calls/asr_quality.py
builds the report; `callcard asr quality` prints the same)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.access import QaReviewer
from api.deps import CtxDep, SessionDep, end_reads
from api.errors import ApiError
from api.routes.cards import parse_when
from calls.asr_quality import AsrQuality, build_report, local_zone, parse_group_by

router = APIRouter(prefix="/stats", tags=["stats"])

DEFAULT_PERIOD = timedelta(days=28)


@router.get("/asr-quality", response_model=AsrQuality)
def asr_quality(
    ctx: CtxDep,
    session: SessionDep,
    _user: QaReviewer,
    since: Annotated[
        str | None, Query(max_length=40, description="calls started at or after (ISO date/time; default 28 days ago)")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=40, description="calls started before (a date: through it; default now)")
    ] = None,
    group_by: Annotated[
        str | None, Query(max_length=80, description="comma-separated: language, model, speaker, week")
    ] = None,
) -> AsrQuality:
    """Word error rate of the machine transcript against QA's newest correction of each corrected segment, and
    the precision and recall of the low-confidence marks, for calls started in the period; per group. Segments QA
    did not correct are not references (the WER is biased upwards); ``reviewed_segments`` shows how many there
    were. Only counts: no text of any call."""
    try:
        groups = parse_group_by(group_by)
    except ValueError as exc:
        raise ApiError(422, f"{str(exc)[0].upper()}{str(exc)[1:]}.", field="group_by") from exc
    end = parse_when(until, name="until", end=True) or datetime.now(UTC)
    try:
        start = parse_when(since, name="since") or end - DEFAULT_PERIOD
    except OverflowError as exc:
        raise ApiError(422, "until is at the very edge of the calendar; give since as well.", field="until") from exc
    if start >= end:
        raise ApiError(422, "since must be before until.", field="since")
    report = build_report(
        session, since=start, until=end, group_by=groups, zone=local_zone(ctx.settings.local_timezone)
    )
    end_reads(session)
    return report
