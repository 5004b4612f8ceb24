"""The weekly random sample QA reviews: N ended calls per operator per ISO week ("2026-W50").

Drawing is idempotent: drawing the same week again tops each operator up to N and never draws a call twice
(``qa_samples.call_id`` is unique). The order calls are drawn in is a permutation of the operator's calls of the
week (by id) shuffled by a generator seeded from the week and the operator, so a redraw on the same calls is the
same draw, and drawing 2 and later topping up to 5 draws what drawing 5 at once would have.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.quality import QaSample
from models.records import Call, User

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
DRAW_ATTEMPTS = 3  # a concurrent draw of the same week can take a call first; draw again on what is left


class SampleState(StrEnum):
    """Where a drawn call is in its review."""

    PENDING = "pending"
    REVIEWED = "reviewed"


@dataclass(frozen=True, slots=True)
class IsoWeek:
    """An ISO week, "2026-W50"."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """ValueError with a sentence for anything that is not an existing ISO week."""
        match = _WEEK.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week; write it like 2026-W50")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise ValueError(f"{year} has no ISO week {week}") from exc
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime, zone: tzinfo) -> IsoWeek:
        """The week ``moment`` falls in on the city's clock."""
        local = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(zone)
        iso = local.isocalendar()
        return cls(iso.year, iso.week)

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """Monday 00:00 of this week and of the next, on the city's clock, in UTC."""
        monday = date.fromisocalendar(self.year, self.week, 1)
        start = datetime.combine(monday, time(0), tzinfo=zone)
        end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def previous(self) -> IsoWeek:
        monday = date.fromisocalendar(self.year, self.week, 1) - timedelta(days=7)
        iso = monday.isocalendar()
        return IsoWeek(iso.year, iso.week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True, slots=True)
class SampleRow:
    """A drawn call, for the list of a week's sample."""

    id: int
    week: str
    operator_id: int
    operator_name: str
    call_id: int
    call_started_at: datetime
    drawn_at: datetime
    state: SampleState
    reviewed_at: datetime | None
    reviewed_by_id: int | None


@dataclass(frozen=True, slots=True)
class DrawResult:
    """What a draw did: the calls it added, and how many each operator has in the week now."""

    week: str
    per_operator: int
    added: list[int]  # call ids drawn now
    totals: dict[int, int]  # operator id -> calls in the week's sample


def draw_order(week: IsoWeek, operator_id: int, call_ids: list[int]) -> list[int]:
    """The operator's calls of the week in the order they are drawn (reproducible: seeded by week+operator)."""
    seed = int.from_bytes(hashlib.sha256(f"{week}:{operator_id}".encode()).digest()[:8], "big")
    order = sorted(call_ids)
    random.Random(seed).shuffle(order)
    return order


def _week_calls(session: Session, week: IsoWeek, zone: tzinfo) -> tuple[dict[int, list[int]], set[int]]:
    """Operator id -> ids of the calls they took that ended in the week; and which of them are drawn already."""
    start, end = week.bounds(zone)
    in_week = select(Call.id).where(
        Call.operator_id.is_not(None), Call.ended_at.is_not(None), Call.ended_at >= start, Call.ended_at < end
    )
    rows = session.execute(select(Call.operator_id, Call.id).where(Call.id.in_(in_week))).all()
    out: dict[int, list[int]] = {}
    for operator_id, call_id in rows:
        if operator_id is not None:
            out.setdefault(int(operator_id), []).append(int(call_id))
    drawn = set(session.scalars(select(QaSample.call_id).where(QaSample.call_id.in_(in_week))).all())
    return out, drawn


def _draw_once(session: Session, week: IsoWeek, per_operator: int, zone: tzinfo) -> DrawResult:
    calls, drawn = _week_calls(session, week, zone)
    have = dict(
        session.execute(
            select(QaSample.operator_id, func.count()).where(QaSample.week == str(week)).group_by(QaSample.operator_id)
        ).all()
    )
    added: list[int] = []
    totals: dict[int, int] = {int(k): int(v) for k, v in have.items()}
    now = utcnow()
    for operator_id in sorted(calls):
        need = per_operator - totals.get(operator_id, 0)
        if need <= 0:
            continue
        picks = [c for c in draw_order(week, operator_id, calls[operator_id]) if c not in drawn][:need]
        for call_id in picks:
            session.add(QaSample(week=str(week), operator_id=operator_id, call_id=call_id, drawn_at=now))
        added.extend(picks)
        totals[operator_id] = totals.get(operator_id, 0) + len(picks)
    session.flush()
    return DrawResult(week=str(week), per_operator=per_operator, added=added, totals=totals)


def draw(session: Session, week: IsoWeek, *, per_operator: int, zone: tzinfo) -> DrawResult:
    """Top every operator's sample of ``week`` up to ``per_operator`` calls (committed)."""
    if per_operator < 0:
        raise ValueError("the sample size per operator cannot be negative")
    for attempt in range(DRAW_ATTEMPTS):
        try:
            result = _draw_once(session, week, per_operator, zone)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()  # someone drew the same week at the same time: draw again on what is left
            if attempt == DRAW_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def week_samples(session: Session, week: IsoWeek) -> list[SampleRow]:
    """The week's drawn calls, by operator and call."""
    rows = session.execute(
        select(QaSample, User.full_name, User.username, Call.started_at)
        .join(User, User.id == QaSample.operator_id)
        .join(Call, Call.id == QaSample.call_id)
        .where(QaSample.week == str(week))
        .order_by(QaSample.operator_id, QaSample.call_id)
    ).all()
    return [_row(sample, full_name or username, started_at) for sample, full_name, username, started_at in rows]


def _row(sample: QaSample, operator_name: str, started_at: datetime) -> SampleRow:
    return SampleRow(
        id=sample.id,
        week=sample.week,
        operator_id=sample.operator_id,
        operator_name=operator_name,
        call_id=sample.call_id,
        call_started_at=started_at,
        drawn_at=sample.drawn_at,
        state=SampleState.REVIEWED if sample.reviewed_at is not None else SampleState.PENDING,
        reviewed_at=sample.reviewed_at,
        reviewed_by_id=sample.reviewed_by_id,
    )


def _row_of(session: Session, sample: QaSample) -> SampleRow:
    operator = session.get(User, sample.operator_id)
    call = session.get(Call, sample.call_id)
    name = (operator.full_name or operator.username) if operator is not None else str(sample.operator_id)
    return _row(sample, name, call.started_at if call is not None else sample.drawn_at)


def sample_of_call(session: Session, call_id: int) -> SampleRow | None:
    """The sample a call was drawn into, if any."""
    sample = session.scalars(select(QaSample).where(QaSample.call_id == call_id)).first()
    return _row_of(session, sample) if sample is not None else None


def mark_reviewed(session: Session, sample_id: int, *, user_id: int) -> SampleRow | None:
    """Mark a drawn call reviewed (the first reviewer and time are kept); None: no such sample."""
    sample = session.get(QaSample, sample_id, with_for_update=True)
    if sample is None:
        return None
    if sample.reviewed_at is None:
        sample.reviewed_at = utcnow()
        sample.reviewed_by_id = user_id
        session.commit()
    return _row_of(session, sample)
