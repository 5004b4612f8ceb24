"""The dashboard's numbers (GET /api/stats/dashboard): volumes, topics, model acceptance, emergencies, FCR; and
how the organisations do their work (GET /api/stats/organisations, the second line)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.access import DashboardUser
from api.deps import CtxDep, SessionDep, end_reads
from api.errors import ApiError
from api.organisation_stats import CardFacts, OrganisationStats, compute
from api.routes.cards import parse_when
from api.schemas import OrganisationRef
from models.handover import Organisation
from models.records import Call, Card
from models.repo.cards import WITH_ORGANISATION

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/stats", tags=["stats"])

CONFIRMED = ("confirmed", "routed", "accepted", "in_progress", "returned", "resolved", "closed")
ADDRESS = ("street", "house", "building", "apartment", "district", "landmark")
# Fields whose proposal an operator can accept unchanged ("address" compares all address parts at once).
ACCEPT_FIELDS = ("topic", "service", "emergency", "emergency_also", "district", "address", "language", "summary")
REPEAT_WINDOW = timedelta(days=7)


class HourCount(BaseModel):
    """Calls and cards that started in one local hour."""

    hour: datetime
    calls: int
    cards: int


class DayCount(BaseModel):
    """Calls and cards of one local day."""

    day: str
    calls: int
    cards: int


class TopicCount(BaseModel):
    """How many confirmed cards had a topic."""

    topic: str
    count: int


class Share(BaseModel):
    """A share (0..1, None without data) and how many cases it is over."""

    share: float | None
    n: int


class EmergencyStats(BaseModel):
    """Emergency proposals and what operators did with them."""

    proposed: int
    transferred: int
    dismissed: int
    by_code: dict[str, int]


class Totals(BaseModel):
    """Counts for the last 24 hours and the whole period."""

    calls_24h: int
    cards_24h: int
    calls: int
    cards: int
    confirmed: int


class Dashboard(BaseModel):
    """Everything the dashboard page draws."""

    generated_at: datetime
    timezone: str
    days: int
    totals: Totals
    per_hour: list[HourCount]
    per_day: list[DayCount]
    top_topics: list[TopicCount]
    accepted_unchanged: dict[str, Share]
    emergency: EmergencyStats
    first_call_resolution: Share


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        logger.warning("unknown local_timezone %r; the dashboard counts in UTC", name)
        return UTC


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _buckets(times: Iterable[datetime], zone: tzinfo) -> tuple[Counter[datetime], Counter[str]]:
    """Count times per local hour (as an aware local datetime) and per local day (YYYY-MM-DD)."""
    hours: Counter[datetime] = Counter()
    days: Counter[str] = Counter()
    for ts in times:
        local = _aware(ts).astimezone(zone)
        hours[local.replace(minute=0, second=0, microsecond=0)] += 1
        days[local.date().isoformat()] += 1
    return hours, days


def _norm(value: Any) -> Any:
    if value in ("", None, []):
        return None
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    return value


def _accepted(cards: list[Card]) -> dict[str, Share]:
    """Per field: of the confirmed cards that had a proposal, the share whose confirmed value is the proposal."""
    out: dict[str, Share] = {}
    proposed = [c for c in cards if c.proposed_at is not None]
    for name in ACCEPT_FIELDS:
        same = 0
        for c in proposed:
            if name == "address":
                a = tuple(_norm(getattr(c, f"proposed_{f}")) for f in ADDRESS)
                b = tuple(_norm(getattr(c, f)) for f in ADDRESS)
            else:
                a, b = _norm(getattr(c, f"proposed_{name}")), _norm(getattr(c, name))
            same += a == b
        out[name] = Share(share=same / len(proposed) if proposed else None, n=len(proposed))
    return out


def _first_call_resolution(session: Session, cards: list[Card], now: datetime) -> Share:
    """Share of confirmed appeals resolved on the first call.

    A card flagged first_call_resolution (at resolve) counts as flagged. An unflagged card counts as
    resolved on the first call when the same number did not call back with another card within 7 days
    (the usual contact-centre proxy); unflagged cards without a caller number, or younger than the window
    with no repeat yet, are left out.
    """
    numbers = {c.caller_number for c in cards if c.caller_number and c.first_call_resolution is None}
    later: dict[str, list[datetime]] = {}
    if numbers:
        oldest = min(_aware(c.created_at) for c in cards)
        rows = session.execute(
            select(Card.caller_number, Card.created_at).where(
                Card.caller_number.in_(numbers), Card.created_at >= oldest
            )
        ).all()
        for number, created in rows:
            if number:
                later.setdefault(number, []).append(_aware(created))
    yes = total = 0
    for c in cards:
        if c.first_call_resolution is not None:
            total += 1
            yes += bool(c.first_call_resolution)
            continue
        if not c.caller_number:
            continue
        created = _aware(c.created_at)
        repeat = any(created < t <= created + REPEAT_WINDOW for t in later.get(c.caller_number, []))
        if repeat:
            total += 1
        elif now - created >= REPEAT_WINDOW:
            total += 1
            yes += 1
    return Share(share=yes / total if total else None, n=total)


@router.get("/dashboard", response_model=Dashboard)
def dashboard(
    ctx: CtxDep,
    session: SessionDep,
    _user: DashboardUser,
    days: Annotated[int, Query(ge=1, le=92)] = 7,
) -> Dashboard:
    """Calls and cards per hour (last 24 h) and per day (last ``days`` local days), top topics, how often
    each proposed field was confirmed unchanged, emergency proposals/transfers/dismissals, and the share of
    appeals resolved on the first call. Days and hours are the city's (settings.local_timezone)."""
    zone = _zone(ctx.settings.local_timezone)
    now = datetime.now(UTC)
    local_now = now.astimezone(zone)
    first_day = (local_now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    first_hour = local_now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    since = min(first_day, first_hour).astimezone(UTC)

    call_times = list(session.scalars(select(Call.started_at).where(Call.started_at >= since)))
    card_times = list(session.scalars(select(Card.created_at).where(Card.created_at >= since)))
    call_hours, call_days = _buckets(call_times, zone)
    card_hours, card_days = _buckets(card_times, zone)

    per_hour = []
    for i in range(24):
        hour = first_hour + timedelta(hours=i)
        hour = hour.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        per_hour.append(HourCount(hour=hour, calls=call_hours[hour], cards=card_hours[hour]))
    per_day = []
    for i in range(days):
        day = (first_day + timedelta(days=i)).date().isoformat()
        per_day.append(DayCount(day=day, calls=call_days[day], cards=card_days[day]))

    period_start = first_day.astimezone(UTC)
    day_ago = now - timedelta(hours=24)
    period = list(session.scalars(select(Card).where(Card.created_at >= period_start)))
    confirmed = [c for c in period if c.status in CONFIRMED]

    top = session.execute(
        select(Card.topic, func.count())
        .where(Card.created_at >= period_start, Card.status.in_(CONFIRMED), Card.topic.is_not(None))
        .group_by(Card.topic)
        .order_by(func.count().desc(), Card.topic)
        .limit(10)
    ).all()

    by_code: Counter[str] = Counter(
        str(c.proposed_emergency) for c in period if c.proposed_emergency not in (None, "", "none")
    )
    emergency = EmergencyStats(
        proposed=sum(by_code.values()),
        transferred=sum(1 for c in period if c.emergency_transferred_to),
        dismissed=sum(1 for c in period if c.emergency_dismissed_reason),
        by_code=dict(sorted(by_code.items())),
    )
    result = Dashboard(
        generated_at=now,
        timezone=str(zone),
        days=days,
        totals=Totals(
            calls_24h=sum(1 for t in call_times if _aware(t) >= day_ago),
            cards_24h=sum(1 for t in card_times if _aware(t) >= day_ago),
            calls=sum(1 for t in call_times if _aware(t) >= period_start),
            cards=len(period),
            confirmed=len(confirmed),
        ),
        per_hour=per_hour,
        per_day=per_day,
        top_topics=[TopicCount(topic=str(t), count=int(n)) for t, n in top],
        accepted_unchanged=_accepted(confirmed),
        emergency=emergency,
        first_call_resolution=_first_call_resolution(session, confirmed, now),
    )
    end_reads(session)  # SQLite: never return holding the write lock
    return result


ORGANISATION_PERIOD = timedelta(days=30)


@router.get("/organisations", response_model=OrganisationStats)
def organisations(
    session: SessionDep,
    _user: DashboardUser,
    date_from: Annotated[
        str | None, Query(alias="from", max_length=40, description="handed over at or after (ISO date/time)")
    ] = None,
    date_to: Annotated[
        str | None, Query(alias="to", max_length=40, description="handed over before (a date: through it)")
    ] = None,
) -> OrganisationStats:
    """Per organisation, and per topic within it, of the cards handed over in the period (``from``..``to``, by
    ``routed_at``; 30 days up to now by default): handed over, resolved, the share resolved on time
    (``resolved_at <= due_at``) against the 90% goal, median hours from hand-over to resolution, returns as
    "not ours", the reopen rate; and now, whatever the period: the backlog (cards in the organisation's hands),
    and how many of them are overdue, due soon, escalated. A card counts for the organisation that has it (a
    returned card for the one that returned it, until it is routed elsewhere)."""
    now = datetime.now(UTC)
    end = parse_when(date_to, name="to", end=True) or now
    start = parse_when(date_from, name="from") or end - ORGANISATION_PERIOD
    if start >= end:
        raise ApiError(422, "from must be before to.", field="from")
    handed_over = Card.routed_at.is_not(None) & (Card.routed_at >= start) & (Card.routed_at < end)
    rows = session.execute(
        select(
            Card.organisation_id,
            Card.topic,
            Card.status,
            Card.routed_at,
            Card.resolved_at,
            Card.due_at,
            Card.return_count,
            Card.reopen_count,
            Card.deadline_stage,
        ).where(
            Card.organisation_id.is_not(None),
            Card.status != "draft",
            handed_over | Card.status.in_(WITH_ORGANISATION),
        )
    ).all()
    facts = [
        CardFacts(
            organisation_id=int(r.organisation_id),
            topic=r.topic,
            status=r.status,
            routed_at=_aware(r.routed_at) if r.routed_at is not None else None,
            resolved_at=_aware(r.resolved_at) if r.resolved_at is not None else None,
            due_at=_aware(r.due_at) if r.due_at is not None else None,
            return_count=int(r.return_count or 0),
            reopen_count=int(r.reopen_count or 0),
            deadline_stage=r.deadline_stage,
        )
        for r in rows
    ]
    wanted = {f.organisation_id for f in facts}
    orgs = [
        OrganisationRef.of(o)
        for o in session.scalars(
            select(Organisation)
            .where(Organisation.active.is_(True) | Organisation.id.in_(wanted))
            .order_by(Organisation.code)
        )
    ]
    result = compute(facts, orgs, start=start, end=end, now=now)
    end_reads(session)
    return result
