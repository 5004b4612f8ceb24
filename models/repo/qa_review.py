"""The QA queue: the scorecard in force of each call (its newest), worst first, with filters and paging.

Order: more failed checks first, then emergency calls, then low recognition confidence (calls without words
last), then the newest call. The same SQL runs on SQLite and PostgreSQL; only the "has this failed rule" test
differs (json_each / json_array_elements), chosen by the session's dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal_column, select
from sqlalchemy.orm import Session

from models.quality import QaRuleSet, QaSample, QaScorecard
from models.records import Call, User


@dataclass(frozen=True, slots=True)
class RuleName:
    """A rule's names as QA leads wrote them (the rule's id where a name is missing)."""

    id: str
    name_kk: str
    name_ru: str


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the queue is narrowed to; None: no narrowing."""

    operator_id: int | None = None
    date_from: datetime | None = None  # calls started at or after
    date_to: datetime | None = None  # calls started before
    failed_rule: str | None = None  # only calls where this rule failed
    sampled_only: bool = False  # only calls drawn into a weekly sample


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One call in the queue, with its scorecard in force and its sample (if drawn)."""

    scorecard_id: int
    call_id: int
    operator_id: int | None
    operator_name: str | None
    started_at: datetime
    checks: int
    failed: int
    failed_rules: list[str]
    emergency: str | None
    asr_confidence: float | None
    scored_at: datetime
    rule_set_version: int
    sample_id: int | None
    sample_week: str | None
    sample_reviewed_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueuePage:
    """A page of the queue and how many calls match in all."""

    total: int
    items: list[QueueItem]


def newest_scorecard_ids() -> Select[Any]:
    """The id of each call's scorecard in force (its newest: scorecards only ever get larger ids)."""
    return select(func.max(QaScorecard.id)).group_by(QaScorecard.call_id)


def _failed_rule(session: Session, rule: str) -> ColumnElement[bool]:
    """The scorecard's results hold {"rule": rule, "outcome": "failed"}."""
    if session.get_bind().dialect.name == "postgresql":
        elements = func.json_array_elements(QaScorecard.results).table_valued("value").alias("r")
        value = elements.c.value
        return exists(
            select(literal_column("1"))
            .select_from(elements)
            .where(value.op("->>")("rule") == rule, value.op("->>")("outcome") == "failed")
        )
    each = func.json_each(QaScorecard.results).table_valued("value").alias("r")
    return exists(
        select(literal_column("1"))
        .select_from(each)
        .where(
            func.json_extract(each.c.value, "$.rule") == rule,
            func.json_extract(each.c.value, "$.outcome") == "failed",
        )
    )


def _where(session: Session, flt: QueueFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [QaScorecard.id.in_(newest_scorecard_ids())]
    if flt.operator_id is not None:
        clauses.append(QaScorecard.operator_id == flt.operator_id)
    if flt.date_from is not None:
        clauses.append(Call.started_at >= flt.date_from)
    if flt.date_to is not None:
        clauses.append(Call.started_at < flt.date_to)
    if flt.failed_rule is not None:
        clauses.append(_failed_rule(session, flt.failed_rule))
    if flt.sampled_only:
        clauses.append(QaSample.id.is_not(None))
    return clauses


def queue(session: Session, flt: QueueFilter, *, limit: int, offset: int) -> QueuePage:
    """A page of the QA queue, worst first (see the module's docstring)."""
    base = (
        select(QaScorecard, Call.started_at, User.full_name, User.username, QaSample)
        .join(Call, Call.id == QaScorecard.call_id)
        .outerjoin(User, User.id == QaScorecard.operator_id)
        .outerjoin(QaSample, QaSample.call_id == QaScorecard.call_id)
        .where(and_(*_where(session, flt)))
    )
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    rows = session.execute(
        base.order_by(
            QaScorecard.failed.desc(),
            case((QaScorecard.emergency.is_(None), 1), else_=0),
            case((QaScorecard.asr_confidence.is_(None), 1), else_=0),
            QaScorecard.asr_confidence.asc(),
            Call.started_at.desc(),
            QaScorecard.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        QueueItem(
            scorecard_id=card.id,
            call_id=card.call_id,
            operator_id=card.operator_id,
            operator_name=(full_name or username) if card.operator_id is not None else None,
            started_at=started_at,
            checks=card.checks,
            failed=card.failed,
            failed_rules=failed_rules(card.results),
            emergency=card.emergency,
            asr_confidence=card.asr_confidence,
            scored_at=card.scored_at,
            rule_set_version=card.rule_set_version,
            sample_id=sample.id if sample is not None else None,
            sample_week=sample.week if sample is not None else None,
            sample_reviewed_at=sample.reviewed_at if sample is not None else None,
        )
        for card, started_at, full_name, username, sample in rows
    ]
    return QueuePage(total=int(total), items=items)


def failed_rules(results: list[dict[str, Any]] | None) -> list[str]:
    """The ids of the rules that failed, in the scorecard's order."""
    return [str(r.get("rule")) for r in results or [] if r.get("outcome") == "failed"]


def newest_scorecard(session: Session, call_id: int) -> QaScorecard | None:
    """The scorecard in force for a call (None: not scored)."""
    return session.scalars(
        select(QaScorecard).where(QaScorecard.call_id == call_id).order_by(QaScorecard.id.desc()).limit(1)
    ).first()


def rule_names(session: Session) -> dict[str, RuleName]:
    """Each rule's kk and ru names from the newest rule set (rules of older sets keep their id as name)."""
    newest = session.scalars(select(QaRuleSet).order_by(QaRuleSet.version.desc()).limit(1)).first()
    out: dict[str, RuleName] = {}
    for rule in newest.rules if newest is not None else []:
        rid = str(rule.get("id") or "")
        if rid:
            out[rid] = RuleName(rid, str(rule.get("name_kk") or rid), str(rule.get("name_ru") or rid))
    return out


def name_of(names: dict[str, RuleName], rule: str) -> RuleName:
    """The names of ``rule``, its id where the rule set does not name it."""
    return names.get(rule) or RuleName(rule, rule, rule)
