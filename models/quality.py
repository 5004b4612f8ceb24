"""Quality review's records: the QA rule sets QA leads edit, each call's scorecard, QA's judgments of the automatic
results, and the weekly random sample of calls per operator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

# The outcome of one automatic check on one call (qa.base.CheckOutcome).
CHECK_OUTCOMES = ("passed", "failed", "not_applicable")
# QA's word on one automatic result (qa.base.Verdict).
VERDICTS = ("agree", "disagree")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class QaRuleSet(Base):
    """One version of the automatic QA checks, as QA leads wrote it (kk and ru names, thresholds, phrases).

    Versions are never edited: saving makes a new row with the next ``version``; the newest active row is in force.
    """

    __tablename__ = "qa_rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QaScorecard(Base):
    """The automatic checks' results for one call, with the versions that produced them.

    ``results``: [{"rule": id, "outcome": passed|failed|not_applicable, "at_s": float|None, "evidence": str}, ...].
    A call is scored again when its transcript changes; the newest scorecard of a call is the one in force.
    """

    __tablename__ = "qa_scorecards"
    __table_args__ = (
        Index("ix_qa_scorecards_call", "call_id", "id"),
        Index("ix_qa_scorecards_operator_scored", "operator_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rule_set_version: Mapped[int] = mapped_column(Integer)
    asr_model_version: Mapped[str | None] = mapped_column(String(128))
    classifier_model_version: Mapped[str | None] = mapped_column(String(128))
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Mean word confidence of the call's live and post-call words (None: no words), for the queue's order.
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    emergency: Mapped[str | None] = mapped_column(String(8))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QaJudgment(Base):
    """A QA reviewer agreeing or disagreeing with one automatic result; these measure each rule's precision."""

    __tablename__ = "qa_judgments"
    __table_args__ = (
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        CheckConstraint(_in("outcome", CHECK_OUTCOMES), name="outcome"),
        UniqueConstraint("scorecard_id", "rule", "user_id", name="uq_qa_judgments_one_per_reviewer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecards.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # the automatic outcome judged
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QaSample(Base):
    """A call drawn at random for review in an operator's ISO week ("2026-W50")."""

    __tablename__ = "qa_samples"
    __table_args__ = (
        UniqueConstraint("call_id", name="uq_qa_samples_call"),
        Index("ix_qa_samples_week_operator", "week", "operator_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
