"""A background job that runs every ``interval_s`` seconds, with an explicit lifecycle (the deadline runner, the
daily retention check)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from enum import StrEnum

logger = logging.getLogger(__name__)


class Lifecycle(StrEnum):
    """idle (built, not started) -> running -> stopping (finishing what is in flight) -> stopped."""

    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class PeriodicJob:
    """Runs ``tick()`` now and then every ``interval_s``; a failing tick is logged, counted and tried again at the
    next interval. Subclasses give ``tick`` (and their own ``run_once``-style entry points for tests)."""

    def __init__(self, name: str, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"{name}: the interval must be positive")
        self.name = name
        self.interval_s = interval_s
        self.state = Lifecycle.IDLE
        self.failures = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> object:
        """One run of the job."""
        raise NotImplementedError

    async def start(self) -> None:
        """Run now, then every ``interval_s`` (idle -> running)."""
        if self.state is not Lifecycle.IDLE:
            raise RuntimeError(f"the {self.name} is {self.state}, not idle")
        self.state = Lifecycle.RUNNING
        self._task = asyncio.create_task(self._run(), name=self.name.replace(" ", "-"))

    async def stop(self) -> None:
        """Stop after the run in progress (if any) ends."""
        if self.state in (Lifecycle.IDLE, Lifecycle.STOPPED):
            self.state = Lifecycle.STOPPED
            return
        self.state = Lifecycle.STOPPING
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.state = Lifecycle.STOPPED

    async def _run(self) -> None:
        while self.state is Lifecycle.RUNNING:
            try:
                await self.tick()
            except Exception as exc:
                self.failures += 1
                logger.warning("%s failed (%s); trying again in %.0f s", self.name, exc, self.interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)
