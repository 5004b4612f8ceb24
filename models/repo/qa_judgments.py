"""QA's verdicts on the automatic results, and what they say of each rule's precision.

One verdict per reviewer per result (scorecard + rule); judging again changes it. Precision of a rule: of its
automatic "failed" results that QA judged, the share QA agreed with; the same share is given for "passed" (how
often a pass really was one). Every reviewer's verdict counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.quality import VERDICTS, QaJudgment, QaScorecard


class UnknownResult(LookupError):
    """The scorecard does not exist, or has no result for the rule (a 404 to the route)."""


@dataclass(frozen=True, slots=True)
class Agreement:
    """How many automatic results of one outcome QA judged, and agreed with."""

    judged: int
    agreed: int

    @property
    def share(self) -> float | None:
        return self.agreed / self.judged if self.judged else None


@dataclass(frozen=True, slots=True)
class RulePrecision:
    """QA's agreement with one rule's "failed" results (its precision) and with its "passed" ones."""

    rule: str
    failed: Agreement
    passed: Agreement


def result_of(scorecard: QaScorecard, rule: str) -> dict[str, Any] | None:
    """The scorecard's result for ``rule``."""
    return next((r for r in scorecard.results or [] if r.get("rule") == rule), None)


def record(
    session: Session, *, scorecard_id: int, rule: str, verdict: str, note: str | None, user_id: int
) -> QaJudgment:
    """Store (or change) ``user_id``'s verdict on the scorecard's result for ``rule``; committed.

    UnknownResult when the scorecard or its result does not exist; ValueError for a verdict that is not one.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}")
    scorecard = session.get(QaScorecard, scorecard_id)
    if scorecard is None:
        raise UnknownResult(f"Scorecard {scorecard_id} does not exist.")
    result = result_of(scorecard, rule)
    if result is None:
        raise UnknownResult(f"Scorecard {scorecard_id} has no result for the rule {rule!r}.")
    outcome = str(result.get("outcome"))
    for _ in range(2):
        existing = session.scalars(
            select(QaJudgment).where(
                QaJudgment.scorecard_id == scorecard_id, QaJudgment.rule == rule, QaJudgment.user_id == user_id
            )
        ).first()
        if existing is not None:
            existing.verdict, existing.note, existing.outcome, existing.at = verdict, note, outcome, utcnow()
            session.commit()
            return existing
        judgment = QaJudgment(
            scorecard_id=scorecard_id, rule=rule, outcome=outcome, verdict=verdict, note=note, user_id=user_id
        )
        session.add(judgment)
        try:
            session.commit()
            return judgment
        except IntegrityError:
            session.rollback()  # the same reviewer's other tab judged it a moment ago: change that one
    raise RuntimeError("the verdict could not be stored; try again")


def of_scorecard(session: Session, scorecard_id: int) -> list[QaJudgment]:
    """Every verdict on a scorecard's results, oldest first."""
    return list(
        session.scalars(select(QaJudgment).where(QaJudgment.scorecard_id == scorecard_id).order_by(QaJudgment.id))
    )


def precision(session: Session, *, rule_set_version: int | None = None) -> list[RulePrecision]:
    """Per rule (by id): QA's agreement with its judged "failed" and "passed" results.

    ``rule_set_version`` narrows to the judgments of scorecards made with that version of the rules.
    """
    stmt = select(QaJudgment.rule, QaJudgment.outcome, QaJudgment.verdict, func.count()).group_by(
        QaJudgment.rule, QaJudgment.outcome, QaJudgment.verdict
    )
    if rule_set_version is not None:
        stmt = stmt.join(QaScorecard, QaScorecard.id == QaJudgment.scorecard_id).where(
            QaScorecard.rule_set_version == rule_set_version
        )
    counts: dict[str, dict[tuple[str, str], int]] = {}
    for rule, outcome, verdict, n in session.execute(stmt).all():
        counts.setdefault(str(rule), {})[(str(outcome), str(verdict))] = int(n)

    def agreement(c: dict[tuple[str, str], int], outcome: str) -> Agreement:
        agreed = c.get((outcome, "agree"), 0)
        return Agreement(judged=agreed + c.get((outcome, "disagree"), 0), agreed=agreed)

    return [
        RulePrecision(rule=rule, failed=agreement(c, "failed"), passed=agreement(c, "passed"))
        for rule, c in sorted(counts.items())
    ]
