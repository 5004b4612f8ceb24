"""The reconciler: no call stays ``ringing`` or ``live`` in the database after its channel is gone.

After every start or ARI reconnection, and every ``interval_s`` seconds, it compares the OPEN calls in the
database (not only those in memory: callcard may have restarted) with what Asterisk has
(``telephony.events.AsteriskInventory``): its channels, its stored recordings and the MixMonitor files.

For each open call that telephony does not follow itself:
- its channel is up: nothing to do;
- its channel is gone: its recordings are adopted and it ends at the best known time (the recording's end, the
  last audio written, or the last stored moment of the call), never at the time the reconciler noticed;
- channels unknown (FastAGI-only site, or ARI unreachable): a closed MixMonitor file, or one not written for a
  while, ends the call at its last write; a call older than ``max_age_s`` with no recording growing ends by age.

It emits ordinary telephony events (CallEnded, then RecordingFinished) into the CallEventSink, so the durable
path stores them and post-call transcription runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.records import Call, Recording
from models.repo import calls as calls_repo
from telephony.events import (
    AsteriskInventory,
    CallEnded,
    CallEventSink,
    CallStarted,
    ReconciledCause,
    RecordingEvidence,
    RecordingFinished,
    RecordingState,
)

logger = logging.getLogger(__name__)

_REMEMBER = 5000


@dataclass(frozen=True, slots=True)
class OpenCall:
    """An open call as the database has it."""

    uniqueid: str
    source: str
    started_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ending:
    """What the reconciler decided for one call."""

    uniqueid: str
    at: datetime
    cause: ReconciledCause
    recordings: tuple[RecordingFinished, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """One reconciliation run."""

    open_calls: int
    ended: tuple[Ending, ...]
    channels_known: bool


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Reconciler:
    """Ends the calls whose channels are gone, with their recordings; see the module's description."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        asterisk: AsteriskInventory,
        events: CallEventSink,
        interval_s: float = 60.0,
        max_age_s: float = 4 * 3600.0,
        adopt_after_s: float | None = 600.0,
        ready: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Wire it; nothing runs until ``start`` (periodic) or ``run_once``.

        ``adopt_after_s``: a recording file that no call row knows, not written for this long, was made while
        callcard was down (the dialplan's own MixMonitor): it is adopted as a call (None: never). ``ready`` says
        whether the database holds everything callcard knows (False while writes wait in the spool: a file whose
        call is still spooled is not an orphan).
        """
        self.sessions = sessions
        self.asterisk = asterisk
        self.events = events
        self.interval_s = interval_s
        self.max_age_s = max_age_s
        self.adopt_after_s = adopt_after_s
        self.ready = ready
        self.clock = clock
        self._lock = asyncio.Lock()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    async def start(self) -> None:
        """Reconcile now, then every ``interval_s`` seconds, until ``stop``."""
        self._task = asyncio.create_task(self._loop(), name="reconciler")

    async def stop(self) -> None:
        """Stop the periodic runs (a run in progress is cancelled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reconciliation failed; retrying in %.0f s", self.interval_s)
            await asyncio.sleep(self.interval_s)

    async def run_once(self) -> Report:
        """One reconciliation (runs never overlap; a second caller waits for the first, then runs again)."""
        async with self._lock:
            self.runs += 1
            try:
                open_calls = await asyncio.to_thread(self._open_calls)
            except Exception as exc:  # the database is down: the next run will see the calls
                logger.warning("reconciliation skipped: open calls not readable (%s)", exc)
                return Report(open_calls=0, ended=(), channels_known=False)
            candidates = [
                c for c in open_calls if c.uniqueid not in self._ended and not self.asterisk.following(c.uniqueid)
            ]
            channels = await self.asterisk.channels() if candidates else None
            ended: list[Ending] = []
            for call in candidates:
                try:
                    ending = await self._reconcile(call, channels)
                except Exception:
                    logger.exception("call %s could not be reconciled", call.uniqueid)
                    continue
                if ending is not None:
                    await self._emit(ending)
                    ended.append(ending)
            if ended:
                logger.info("reconciliation ended %d of %d open calls", len(ended), len(open_calls))
            ended.extend(await self._adopt_orphans())
            return Report(open_calls=len(open_calls), ended=tuple(ended), channels_known=channels is not None)

    async def _adopt_orphans(self) -> list[Ending]:
        """Recordings made while callcard was down become calls: started, ended at the file's last write, recorded."""
        if self.adopt_after_s is None or not self.ready():
            return []
        files = self.asterisk.recorded_calls(idle_s=self.adopt_after_s)
        if not files:
            return []
        try:
            orphans = await asyncio.to_thread(self._unknown, files)
        except Exception as exc:
            logger.warning("orphan recordings not checked: %s", exc)
            return []
        adopted: list[Ending] = []
        for uniqueid in orphans:
            evidence = await self.asterisk.recording(uniqueid, source="agi", gone=True)
            if evidence.state is RecordingState.GROWING or not evidence.recordings:
                continue
            end = evidence.last_write or self.clock()
            length = max((r.duration_s or 0.0 for r in evidence.recordings), default=0.0)
            start = end - timedelta(seconds=length)
            logger.warning("call %s: recorded while callcard was down; adopted from its recording", uniqueid)
            await self.events.on_event(CallStarted(uniqueid=uniqueid, at=start, source="agi"))
            ending = Ending(uniqueid=uniqueid, at=end, cause=ReconciledCause.ADOPTED, recordings=evidence.recordings)
            await self._emit(ending)
            adopted.append(ending)
        return adopted

    def _unknown(self, files: list[tuple[str, str]]) -> list[str]:
        """The uniqueids of ``files`` that neither a call nor a stored recording of the database knows."""
        with self.sessions() as session:
            known_paths = set(
                session.scalars(select(Recording.path).where(Recording.path.in_([p for _, p in files])))
            )
            known_calls = set(
                session.scalars(select(Call.uniqueid).where(Call.uniqueid.in_([u for u, _ in files])))
            )
        return [u for u, p in files if p not in known_paths and u not in known_calls and u not in self._ended]

    def _open_calls(self) -> list[OpenCall]:
        with self.sessions() as session:
            return [
                OpenCall(
                    uniqueid=c.uniqueid,
                    source=c.source,
                    started_at=_aware(c.started_at),
                    answered_at=_aware(c.answered_at) if c.answered_at is not None else None,
                )
                for c in calls_repo.list_open_calls(session)
            ]

    async def _reconcile(self, call: OpenCall, channels: frozenset[str] | None) -> Ending | None:
        now = self.clock()
        if channels is not None:
            if call.uniqueid in channels:
                return None
            evidence = await self.asterisk.recording(call.uniqueid, source=call.source, gone=True)
            if evidence.state is RecordingState.GROWING:  # still written: a writer outside Asterisk's channels
                return None
            return self._ending(call, evidence, ReconciledCause.CHANNEL_GONE, now)
        evidence = await self.asterisk.recording(call.uniqueid, source=call.source, gone=False)
        if evidence.state is RecordingState.CLOSED:
            return self._ending(call, evidence, ReconciledCause.RECORDING_CLOSED, now)
        if evidence.state is RecordingState.ABANDONED:
            return self._ending(call, evidence, ReconciledCause.RECORDING_STALLED, now)
        if evidence.state is RecordingState.MISSING and now - call.started_at > timedelta(seconds=self.max_age_s):
            return self._ending(call, evidence, ReconciledCause.NO_HANGUP_SEEN, now)
        return None

    @staticmethod
    def _ending(call: OpenCall, evidence: RecordingEvidence, cause: ReconciledCause, now: datetime) -> Ending:
        """The best known end: the last audio written, or where the recording's audio ends, else the last stored
        moment of the call (answer or start); never later than now, never before the start."""
        known = [t for t in (call.started_at, call.answered_at, evidence.last_write) if t is not None]
        began = call.answered_at or call.started_at
        for rec in evidence.recordings:
            if rec.duration_s is not None and evidence.last_write is None:
                known.append(began + timedelta(seconds=rec.duration_s))
        at = min(max(known), now)
        return Ending(uniqueid=call.uniqueid, at=at, cause=cause, recordings=evidence.recordings)

    async def _emit(self, ending: Ending) -> None:
        logger.info("call %s: reconciled as ended at %s (%s)", ending.uniqueid, ending.at.isoformat(), ending.cause)
        self._ended[ending.uniqueid] = None
        while len(self._ended) > _REMEMBER:
            self._ended.popitem(last=False)
        await self.events.on_event(CallEnded(uniqueid=ending.uniqueid, at=ending.at, cause=str(ending.cause)))
        for recording in ending.recordings:
            await self.events.on_event(recording)
