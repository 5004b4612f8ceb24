"""Runs deadline control (handover.deadlines.sweep) every ``interval_s`` seconds on a clock (the real one in
service, one the test sets in tests). A sweep that fails (the database is down) is logged and tried at the next
interval; the stages live on the cards, so nothing is repeated or lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.periodic import PeriodicJob
from handover.deadlines import EscalationSteps, SweepResult, sweep

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def steps_from_hours(*, due_soon: float, remind_after: float, escalate_after: float) -> EscalationSteps:
    """The escalation steps from the settings' hours."""
    return EscalationSteps(
        due_soon_before=timedelta(hours=due_soon),
        remind_after=timedelta(hours=remind_after),
        escalate_after=timedelta(hours=escalate_after),
    )


class DeadlineRunner(PeriodicJob):
    """Sweeps the open cards' deadlines periodically; ``run_once`` sweeps now."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        steps: EscalationSteps,
        interval_s: float = 60.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        super().__init__("deadline runner", interval_s)
        self.sessions = sessions
        self.steps = steps
        self.clock = clock
        self.sweeps = 0
        self._lock = asyncio.Lock()

    async def tick(self) -> SweepResult:
        """One sweep (the periodic job's run)."""
        return await self.run_once()

    async def run_once(self) -> SweepResult:
        """One sweep at the clock's ``now`` (sweeps never overlap)."""
        async with self._lock:
            now = self.clock()
            result = await asyncio.to_thread(self._sweep, now)
            self.sweeps += 1
            if result.total:
                logger.info("deadline control at %s moved %s", now.isoformat(), result.moved)
            return result

    def _sweep(self, now: datetime) -> SweepResult:
        with self.sessions() as session:
            return sweep(session, now=now, steps=self.steps)


def runner_from_settings(settings: Settings, sessions: sessionmaker[Session]) -> DeadlineRunner:
    """A runner configured by ``settings`` (CALLCARD_DEADLINE_*) over ``sessions``, on the real clock."""
    steps = steps_from_hours(
        due_soon=settings.deadline_due_soon_hours,
        remind_after=settings.deadline_remind_after_hours,
        escalate_after=settings.deadline_escalate_after_hours,
    )
    return DeadlineRunner(sessions=sessions, steps=steps, interval_s=settings.deadline_sweep_interval_s)
