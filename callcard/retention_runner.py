"""The daily retention job: once a day at CALLCARD_RETENTION_HOUR on the city's clock, the retention policy
(privacy.retention) is applied (models.repo.retention) and its report logged. Whether today's run has happened is
read from the stored runs, so a restart after the hour does not run it twice; a run that failed is stored as failed
and tried again the next day (or by hand: `callcard retention run`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.errors import ConfigError
from core.periodic import PeriodicJob
from models.repo.retention import RetentionPlan, RetentionReport, TranscriptAction, apply_retention, last_run_started_at
from privacy.retention import (
    RetentionAction,
    RetentionKind,
    RetentionPolicy,
    RetentionPolicyError,
    anonymise_words,
    load_policy,
    run_due,
)

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def plan_for(policy: RetentionPolicy, now: datetime) -> RetentionPlan:
    """The policy's cut-offs at ``now``, as models.repo.retention applies them."""
    cut = policy.cutoffs(now)
    action = policy.transcripts.action
    return RetentionPlan(
        recordings_before=cut[RetentionKind.RECORDINGS],
        transcripts_before=cut[RetentionKind.TRANSCRIPTS],
        caller_numbers_before=cut[RetentionKind.CALLER_NUMBERS],
        transcript_action=TranscriptAction.DELETE if action is RetentionAction.DELETE else TranscriptAction.ANONYMISE,
        policy=policy.as_json(now),
    )


def run_retention(
    sessions: sessionmaker[Session],
    *,
    policy: RetentionPolicy,
    now: datetime,
    recordings_dir: Path,
    dry_run: bool = False,
) -> RetentionReport:
    """Apply ``policy`` at ``now`` (or count what it would do, with ``dry_run``)."""
    return apply_retention(
        sessions,
        plan=plan_for(policy, now),
        now=now,
        recordings_dir=recordings_dir,
        anonymise=anonymise_words,
        dry_run=dry_run,
    )


def policy_from_settings(settings: Settings) -> RetentionPolicy:
    """The site's policy (CALLCARD_RETENTION_POLICY_FILE) or the shipped default; RetentionPolicyError if bad."""
    return load_policy(settings.retention_policy_file)


class RetentionRunner(PeriodicJob):
    """Checks every ``check_interval_s`` whether the daily run is due, and runs it; ``run_if_due`` checks now."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        policy: RetentionPolicy,
        recordings_dir: Path,
        hour: int,
        tz: tzinfo,
        check_interval_s: float = 60.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not 0 <= hour <= 23:
            raise ValueError(f"retention runner: the hour must be 0..23, not {hour}")
        super().__init__("retention check", check_interval_s)
        self.sessions = sessions
        self.policy = policy
        self.recordings_dir = recordings_dir
        self.hour = hour
        self.tz = tz
        self.check_interval_s = check_interval_s
        self.clock = clock
        self.runs = 0
        self.last_report: RetentionReport | None = None
        self._lock = asyncio.Lock()

    async def tick(self) -> RetentionReport | None:
        """One check (the periodic job's run)."""
        return await self.run_if_due()

    async def run_if_due(self) -> RetentionReport | None:
        """Apply the policy if today's run is due at the clock's ``now``; the report, or None when not due."""
        async with self._lock:
            now = self.clock()
            return await asyncio.to_thread(self._run_if_due, now)

    def _run_if_due(self, now: datetime) -> RetentionReport | None:
        with self.sessions() as session:
            last = last_run_started_at(session, not_after=now)
        if not run_due(now, hour=self.hour, tz=self.tz, last_run_at=last):
            return None
        report = run_retention(self.sessions, policy=self.policy, now=now, recordings_dir=self.recordings_dir)
        self.runs += 1
        self.last_report = report
        if report.error is None and not report.undeletable:
            logger.info("%s", report.summary())
        else:
            self.failures += report.error is not None
            logger.warning("%s", report.summary())
            for item in report.undeletable:
                logger.warning("retention: call %d: cannot delete %s: %s", item.call_id, item.path, item.error)
        return report


def runner_from_settings(settings: Settings, sessions: sessionmaker[Session]) -> RetentionRunner:
    """The daily job configured by ``settings`` (CALLCARD_RETENTION_*), on the real clock; a policy file that
    cannot be used stops the start with its sentence."""
    try:
        policy = policy_from_settings(settings)
    except RetentionPolicyError as exc:
        raise ConfigError(f"CALLCARD_RETENTION_POLICY_FILE: {exc}") from exc
    return RetentionRunner(
        sessions=sessions,
        policy=policy,
        recordings_dir=settings.recordings_path,
        hour=settings.retention_hour,
        tz=ZoneInfo(settings.local_timezone),
    )
