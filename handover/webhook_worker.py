"""The webhook worker: delivers the outbox (models.repo.outbox) with signed POSTs, at least once.

It polls the outbox every ``poll_interval_s`` (``notify`` wakes it at once: the composition root calls it after
every commit that wrote outbox rows) and keeps up to ``concurrency`` deliveries in flight. Each claimed row is
leased (``lease_s``, by default twice the timeout plus 5 s), so a worker killed mid-POST leaves the row to be tried
again after the lease, with the same delivery id. Database calls are sync SQLAlchemy and run in threads; while the
database is down the worker logs, backs off (with jitter, up to ``db_backoff_max_s``) and keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from handover import webhook_outbox
from handover.lifecycle import Lifecycle
from handover.webhook_delivery import Attempt, Claimed, Outcome, RetryPolicy, post

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookWorker:
    """Delivers due outbox rows; ``start`` it in a running loop, ``stop`` it to finish in-flight POSTs and end."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        policy: RetryPolicy,
        poll_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        concurrency: int = 8,
        lease_s: float | None = None,
        db_backoff_max_s: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if concurrency < 1 or poll_interval_s <= 0 or timeout_s <= 0:
            raise ValueError("webhook worker: concurrency >= 1, poll_interval_s > 0, timeout_s > 0")
        self.sessions = sessions
        self.policy = policy
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.lease_s = lease_s if lease_s is not None else 2 * timeout_s + 5.0
        self.db_retry = RetryPolicy(backoff_base_s=min(0.5, db_backoff_max_s), backoff_max_s=db_backoff_max_s)
        self.clock = clock
        self.state = Lifecycle.IDLE
        self.delivered = 0
        self.failed_attempts = 0
        self.db_errors = 0
        self._client = client
        self._own_client = client is None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start polling (idle -> running)."""
        if self.state is not Lifecycle.IDLE:
            raise RuntimeError(f"the webhook worker is {self.state}, not idle")
        self._loop = asyncio.get_running_loop()
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), follow_redirects=False)
        self.state = Lifecycle.RUNNING
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self, *, grace_s: float | None = None) -> None:
        """Stop claiming, let in-flight POSTs finish (up to ``grace_s``, default the timeout + 1 s), then end."""
        if self.state in (Lifecycle.IDLE, Lifecycle.STOPPED):
            self.state = Lifecycle.STOPPED
            return
        self.state = Lifecycle.STOPPING
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            _, late = await asyncio.wait(
                set(self._inflight), timeout=grace_s if grace_s is not None else self.timeout_s + 1
            )
            for task in late:  # their rows stay leased and are tried again after the lease
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        if self._own_client and self._client is not None:
            await self._client.aclose()
        self.state = Lifecycle.STOPPED

    def notify(self) -> None:
        """New rows exist: poll now (thread-safe; a no-op unless running)."""
        loop = self._loop
        if loop is None or self.state is not Lifecycle.RUNNING:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake.set)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    # ------------------------------------------------------------------------------------------ the loop

    async def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``; ``notify``, a finished delivery or ``stop`` end it early."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _run(self) -> None:
        failures = 0
        while self.state is Lifecycle.RUNNING:
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                await self._pause(self.poll_interval_s)
                continue
            try:
                claimed = await asyncio.to_thread(
                    webhook_outbox.claim, self.sessions, now=self.clock(), limit=free, lease_s=self.lease_s
                )
            except Exception as exc:
                failures += 1
                self.db_errors += 1
                wait = self.db_retry.backoff_s(failures)
                logger.warning("webhook outbox not readable (%s); trying again in %.1f s", exc, wait)
                await self._pause(wait)
                continue
            failures = 0
            for row in claimed:
                task = asyncio.create_task(self._deliver(row), name=f"webhook-{row.delivery_id}")
                self._inflight.add(task)
                task.add_done_callback(self._finished)
            if len(claimed) < free:  # nothing more due now: wait for the next poll or a wake-up
                await self._pause(self.poll_interval_s)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            logger.error("webhook delivery task failed", exc_info=task.exception())

    async def _deliver(self, claimed: Claimed) -> None:
        assert self._client is not None
        attempt = await post(self._client, claimed)
        await self._record(claimed, attempt)

    async def _record(self, claimed: Claimed, attempt: Attempt) -> None:
        """Store the outcome; while the database is down, keep trying until it answers or the worker stops (then
        the lease runs out and the row is sent again: a duplicate with the same delivery id)."""
        failures = 0
        while True:
            try:
                await asyncio.to_thread(
                    webhook_outbox.record,
                    self.sessions,
                    claimed=claimed,
                    attempt=attempt,
                    policy=self.policy,
                    now=self.clock(),
                )
                break
            except Exception as exc:
                failures += 1
                self.db_errors += 1
                if self.state is not Lifecycle.RUNNING:
                    logger.warning(
                        "delivery %s: outcome not stored (%s); it is sent again later", claimed.delivery_id, exc
                    )
                    return
                wait = self.db_retry.backoff_s(failures)
                logger.warning(
                    "delivery %s: outcome not stored (%s); retrying in %.1f s", claimed.delivery_id, exc, wait
                )
                await asyncio.sleep(wait)
        if attempt.outcome is Outcome.DELIVERED:
            self.delivered += 1
        else:
            self.failed_attempts += 1
            logger.info("delivery %s (%s) failed: %s", claimed.delivery_id, claimed.event, attempt.error)


def worker_from_settings(settings: Settings, sessions: sessionmaker[Session]) -> WebhookWorker:
    """A worker configured by ``settings`` (CALLCARD_WEBHOOK_*) over ``sessions``."""
    return WebhookWorker(
        sessions=sessions,
        policy=RetryPolicy(
            give_up_after=timedelta(seconds=settings.webhook_give_up_after_s),
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_max_s=settings.webhook_backoff_max_s,
        ),
        poll_interval_s=settings.webhook_poll_interval_s,
        timeout_s=settings.webhook_timeout_s,
        concurrency=settings.webhook_concurrency,
    )
