"""How the organisations do their work, computed from card facts in plain Python (the same on SQLite and
PostgreSQL): per organisation and per topic, of the cards handed over in a period, and their backlog now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from pydantic import BaseModel, Field

from api.schemas import OrganisationRef

ON_TIME_GOAL = 0.9  # the city's goal: nine cards in ten resolved by their due date
IN_HANDS = frozenset({"routed", "accepted", "in_progress"})  # models.repo.cards.WITH_ORGANISATION
LATE_STAGES = frozenset({"overdue", "reminded", "escalated"})


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What the numbers need of one card (datetimes aware, UTC)."""

    organisation_id: int
    topic: str | None
    status: str
    routed_at: datetime | None
    resolved_at: datetime | None
    due_at: datetime | None
    return_count: int
    reopen_count: int
    deadline_stage: str


class Performance(BaseModel):
    """The numbers of one organisation, one of its topics, or all of them."""

    handed_over: int = Field(description="cards handed over in the period (routed_at in [from, to))")
    resolved: int = Field(description="of those, resolved now (resolved_at set)")
    resolved_on_time: int = Field(description="of the resolved, resolved_at <= due_at")
    on_time_share: float | None = Field(description="resolved_on_time / resolved; null without resolved cards")
    median_hours_to_resolve: float | None = Field(description="median of resolved_at - routed_at, in hours")
    returned: int = Field(description="of the handed over, returned as not ours at least once (return_count > 0)")
    reopened: int = Field(description="of the handed over, reopened at least once (reopen_count > 0)")
    reopen_rate: float | None = Field(
        description="reopened / cards reported resolved at least once (resolved now, or reopened since)"
    )
    backlog: int = Field(description="now, whatever the period: cards in the organisation's hands")
    overdue: int = Field(description="now: of the backlog, past their due date")
    due_soon: int = Field(description="now: of the backlog, in the due-soon stage of deadline control")
    escalated: int = Field(description="now: of the backlog, escalated by deadline control")


class TopicPerformance(Performance):
    """An organisation's numbers for one topic (null: cards without a topic)."""

    topic: str | None


class OrganisationPerformance(Performance):
    """One organisation's numbers, with the goal and its topics."""

    organisation: OrganisationRef
    meets_goal: bool | None = Field(description="on_time_share >= on_time_goal; null without resolved cards")
    topics: list[TopicPerformance]


class OrganisationStats(BaseModel):
    """GET /api/stats/organisations."""

    generated_at: datetime
    date_from: datetime
    date_to: datetime
    on_time_goal: float
    organisations: list[OrganisationPerformance]
    totals: Performance


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _performance(cards: list[CardFacts], *, start: datetime, end: datetime, now: datetime) -> Performance:
    cohort = [c for c in cards if c.routed_at is not None and start <= c.routed_at < end]
    resolved = [c for c in cohort if c.resolved_at is not None]
    on_time = [c for c in resolved if c.due_at is not None and c.resolved_at is not None and c.resolved_at <= c.due_at]
    hours = [
        (c.resolved_at - c.routed_at).total_seconds() / 3600
        for c in resolved
        if c.resolved_at is not None and c.routed_at is not None
    ]
    reopened = [c for c in cohort if c.reopen_count > 0]
    ever_resolved = [c for c in cohort if c.resolved_at is not None or c.reopen_count > 0]
    backlog = [c for c in cards if c.status in IN_HANDS]
    return Performance(
        handed_over=len(cohort),
        resolved=len(resolved),
        resolved_on_time=len(on_time),
        on_time_share=_share(len(on_time), len(resolved)),
        median_hours_to_resolve=round(median(hours), 2) if hours else None,
        returned=sum(1 for c in cohort if c.return_count > 0),
        reopened=len(reopened),
        reopen_rate=_share(len(reopened), len(ever_resolved)),
        backlog=len(backlog),
        overdue=sum(1 for c in backlog if c.due_at is not None and c.due_at < now),
        due_soon=sum(1 for c in backlog if c.deadline_stage == "due_soon"),
        escalated=sum(1 for c in backlog if c.deadline_stage == "escalated"),
    )


def compute(
    cards: Iterable[CardFacts],
    organisations: list[OrganisationRef],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    goal: float = ON_TIME_GOAL,
) -> OrganisationStats:
    """The numbers for ``organisations`` (each listed, even without cards) from the facts of their cards: those
    handed over in [start, end) and those in their hands now."""
    facts = list(cards)
    by_org: dict[int, list[CardFacts]] = {}
    for c in facts:
        by_org.setdefault(c.organisation_id, []).append(c)
    rows = []
    for org in organisations:
        mine = by_org.get(org.id, [])
        topics: dict[str | None, list[CardFacts]] = {}
        for c in mine:
            topics.setdefault(c.topic, []).append(c)
        numbers = _performance(mine, start=start, end=end, now=now)
        rows.append(
            OrganisationPerformance(
                **numbers.model_dump(),
                organisation=org,
                meets_goal=None if numbers.on_time_share is None else numbers.on_time_share >= goal,
                topics=[
                    TopicPerformance(topic=topic, **_performance(group, start=start, end=end, now=now).model_dump())
                    for topic, group in sorted(topics.items(), key=lambda kv: kv[0] or "")
                ],
            )
        )
    listed = {o.id for o in organisations}
    return OrganisationStats(
        generated_at=now,
        date_from=start,
        date_to=end,
        on_time_goal=goal,
        organisations=rows,
        totals=_performance([c for c in facts if c.organisation_id in listed], start=start, end=end, now=now),
    )
