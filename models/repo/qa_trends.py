"""Per-operator QA trends: per ISO week of the call (city clock), from each call's scorecard in force.

For an operator and a week: the calls scored, how many had at least one failed check (and the share), and per
rule its failures over the calls where it applied (passed or failed; "not_applicable" is left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.quality import QaScorecard
from models.records import Call, User
from models.repo.qa_review import newest_scorecard_ids
from models.repo.qa_sampling import IsoWeek


@dataclass(slots=True)
class RuleRate:
    """One rule's failures over the calls it applied to."""

    failed: int = 0
    applicable: int = 0

    @property
    def rate(self) -> float | None:
        return self.failed / self.applicable if self.applicable else None


@dataclass(slots=True)
class WeekTrend:
    """One operator's week."""

    week: str
    calls: int = 0
    with_failed: int = 0
    rules: dict[str, RuleRate] = field(default_factory=dict)

    @property
    def failed_share(self) -> float | None:
        return self.with_failed / self.calls if self.calls else None


@dataclass(slots=True)
class OperatorTrend:
    """One operator's weeks, oldest first (every week of the window, empty ones too)."""

    operator_id: int
    name: str
    weeks: list[WeekTrend]


def window(now: datetime, weeks: int, zone: tzinfo) -> list[IsoWeek]:
    """The ``weeks`` ISO weeks ending with the current one, oldest first."""
    out = [IsoWeek.of(now, zone)]
    while len(out) < weeks:
        out.append(out[-1].previous())
    return list(reversed(out))


def trends(
    session: Session, *, now: datetime, weeks: int, zone: tzinfo, operator_id: int | None = None
) -> tuple[list[str], list[OperatorTrend]]:
    """The window's week names and each operator's trend (only ``operator_id``'s when given)."""
    span = window(now, weeks, zone)
    start = span[0].bounds(zone)[0]
    end = span[-1].bounds(zone)[1]
    operator = func.coalesce(QaScorecard.operator_id, Call.operator_id)
    stmt = (
        select(operator, Call.started_at, QaScorecard.failed, QaScorecard.results)
        .join(Call, Call.id == QaScorecard.call_id)
        .where(QaScorecard.id.in_(newest_scorecard_ids()), Call.started_at >= start, Call.started_at < end)
        .where(operator.is_not(None))
    )
    if operator_id is not None:
        stmt = stmt.where(operator == operator_id)
    names = [str(w) for w in span]
    per: dict[int, dict[str, WeekTrend]] = {}
    for op, started_at, failed, results in session.execute(stmt).all():
        week = per.setdefault(int(op), {n: WeekTrend(n) for n in names})[str(IsoWeek.of(started_at, zone))]
        week.calls += 1
        week.with_failed += 1 if failed > 0 else 0
        for result in results or []:
            outcome = result.get("outcome")
            if outcome not in ("passed", "failed"):
                continue
            rate = week.rules.setdefault(str(result.get("rule")), RuleRate())
            rate.applicable += 1
            rate.failed += 1 if outcome == "failed" else 0
    people = dict(
        (int(uid), full_name or username)
        for uid, full_name, username in session.execute(
            select(User.id, User.full_name, User.username).where(User.id.in_(list(per)))
        ).all()
    )
    out = [OperatorTrend(op, people.get(op, str(op)), list(ws.values())) for op, ws in per.items()]
    out.sort(key=lambda o: (o.name.casefold(), o.operator_id))
    return names, out
