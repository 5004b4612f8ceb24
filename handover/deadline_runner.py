"""Runs deadline control (handover.deadlines.sweep) every ``interval_s`` seconds on a clock (the real one in
service, one the test sets in tests). A sweep that fails (the database is down) is logged and tried at the next
interval; the stages live on the cards, so nothing is repeated or lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from handover.deadlines import EscalationSteps, SweepResult, sweep
from handover.lifecycle import Lifecycle

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


class DeadlineRunner:
    """Sweeps the open cards' deadlines periodically; ``run_once`` sweeps now."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        steps: EscalationSteps,
        interval_s: float = 60.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("deadline runner: interval_s must be positive")
        self.sessions = sessions
        self.steps = steps
        self.interval_s = interval_s
        self.clock = clock
        self.state = Lifecycle.IDLE
        self.sweeps = 0
        self.failures = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Sweep now, then every ``interval_s`` (idle -> running)."""
        if self.state is not Lifecycle.IDLE:
            raise RuntimeError(f"the deadline runner is {self.state}, not idle")
        self.state = Lifecycle.RUNNING
        self._task = asyncio.create_task(self._run(), name="deadline-runner")

    async def stop(self) -> None:
        """Stop after the sweep in progress (if any) ends."""
        if self.state in (Lifecycle.IDLE, Lifecycle.STOPPED):
            self.state = Lifecycle.STOPPED
            return
        self.state = Lifecycle.STOPPING
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.state = Lifecycle.STOPPED

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

    async def _run(self) -> None:
        while self.state is Lifecycle.RUNNING:
            try:
                await self.run_once()
            except Exception as exc:
                self.failures += 1
                logger.warning("deadline control failed (%s); trying again in %.0f s", exc, self.interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)


def runner_from_settings(settings: Settings, sessions: sessionmaker[Session]) -> DeadlineRunner:
    """A runner configured by ``settings`` (CALLCARD_DEADLINE_*) over ``sessions``, on the real clock."""
    steps = steps_from_hours(
        due_soon=settings.deadline_due_soon_hours,
        remind_after=settings.deadline_remind_after_hours,
        escalate_after=settings.deadline_escalate_after_hours,
    )
    return DeadlineRunner(sessions=sessions, steps=steps, interval_s=settings.deadline_sweep_interval_s)
