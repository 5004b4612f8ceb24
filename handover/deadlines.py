"""Deadline control: open cards due soon or overdue move through the escalation steps, on a clock you pass in.

The stages (core.types.DeadlineStage) are kept on the card, so a restart forgets nothing: each sweep reads the
open cards due before the horizon, works out the stage each has reached by now, and moves every card that is
behind to it, once, with its webhook event (``card.due_soon``, then ``card.overdue`` for the overdue, reminded
and escalated stages; the body's ``reason`` names the stage) and an audit event by ``system:deadlines``. A card
that jumped several steps while callcard was down is moved straight to the stage it has reached.

Escalated cards are the monitoring department supervisor's: their page and the dashboard list them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.types import DeadlineStage
from models.repo import cards, outbox
from models.repo.cards import Actor

logger = logging.getLogger(__name__)

ACTOR = Actor("system:deadlines")
ORDER = tuple(DeadlineStage)
EVENT_OF = {
    DeadlineStage.DUE_SOON: outbox.DUE_SOON,
    DeadlineStage.OVERDUE: outbox.OVERDUE,
    DeadlineStage.REMINDED: outbox.OVERDUE,
    DeadlineStage.ESCALATED: outbox.OVERDUE,
}


@dataclass(frozen=True, slots=True)
class EscalationSteps:
    """When each stage starts, relative to the due date (configurable: ``Settings.deadline_*``)."""

    due_soon_before: timedelta = timedelta(hours=4)
    remind_after: timedelta = timedelta(hours=4)
    escalate_after: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.remind_after <= self.escalate_after:
            raise ValueError("deadline steps: 0 <= remind_after <= escalate_after")
        if self.due_soon_before < timedelta(0):
            raise ValueError("deadline steps: due_soon_before must not be negative")

    def stage_at(self, due_at: datetime, now: datetime) -> DeadlineStage:
        """The stage a card due at ``due_at`` has reached at ``now``."""
        if now >= due_at + self.escalate_after:
            return DeadlineStage.ESCALATED
        if now >= due_at + self.remind_after:
            return DeadlineStage.REMINDED
        if now >= due_at:
            return DeadlineStage.OVERDUE
        if now >= due_at - self.due_soon_before:
            return DeadlineStage.DUE_SOON
        return DeadlineStage.ON_TIME


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep did: cards moved, by the stage they reached."""

    moved: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.moved.values())


def sweep(session: Session, *, now: datetime, steps: EscalationSteps, batch: int = 500) -> SweepResult:
    """Move every open card that is behind its stage at ``now`` (one transaction per card)."""
    moved: dict[str, int] = {}
    horizon = now + steps.due_soon_before
    for card_id, due_at, stored in cards.cards_to_watch(session, horizon=horizon, limit=batch):
        reached = steps.stage_at(due_at, now)
        if ORDER.index(reached) <= ORDER.index(DeadlineStage(stored)):
            continue
        try:
            cards.advance_deadline(
                session, card_id=card_id, stage=reached.value, event=EVENT_OF[reached], now=now, actor=ACTOR
            )
        except Exception:  # a card changed meanwhile (closed, resolved): the next sweep sees it as it is
            logger.info("deadline control skipped card %s this time", card_id, exc_info=True)
            continue
        moved[reached.value] = moved.get(reached.value, 0) + 1
    session.commit()
    return SweepResult(moved)
