"""CallRegistry: stores call events through models.repo.calls, spooling them durably while the database is down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from calls.spool import Spool
from models.repo import calls as repo
from telephony.events import CallStarted, RecordingFinished

logger = logging.getLogger(__name__)

# Errors that mean "the database is unavailable", not "this record is wrong".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, TRANSIENT_ERRORS)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class CallRegistry:
    """Persists call events in order on one worker thread; when the database is down they go to the spool.

    While anything is spooled, every later event is spooled too (so order is kept), and a background task
    replays the spool in order once the database answers again. The repository functions are idempotent on
    the channel's uniqueid, so an event applied twice (a crash between applying and acknowledging) changes
    nothing.
    """

    def __init__(self, sessionmaker: sessionmaker[Session], spool: Spool, *, retry_interval: float = 2.0) -> None:
        """Use ``sessionmaker`` for the database and ``spool`` for outages."""
        self.sessionmaker = sessionmaker
        self.spool = spool
        self.retry_interval = retry_interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-registry")
        self._spooling = not spool.empty  # events left from an earlier outage are replayed first
        self._ids: dict[str, int] = {}
        self._replayer: asyncio.Task[None] | None = None
        self.spooled = 0
        self.replayed = 0
        self.rejected = 0

    @property
    def spooling(self) -> bool:
        """True while events are going to the spool (database unavailable or spool not yet replayed)."""
        return self._spooling

    async def start(self) -> None:
        """Start the background replay of the spool."""
        self._replayer = asyncio.create_task(self._replay_loop(), name="call-registry-replay")

    async def stop(self) -> None:
        """Stop replaying (one last attempt first) and the worker thread; spooled events stay on disk."""
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
            self._replayer = None
        with contextlib.suppress(Exception):
            await self.replay_now()
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    # ------------------------------------------------------------------------------------------ events

    async def call_started(self, event: CallStarted) -> int | None:
        """Create the call (idempotent on uniqueid); its id, or None if spooled."""
        result = await self._submit(
            {
                "op": "call_started",
                "uniqueid": event.uniqueid,
                "linkedid": event.linkedid,
                "channel": event.channel,
                "caller_number": event.caller_number,
                "caller_name": event.caller_name,
                "dialled_number": event.dialled_number,
                "source": event.source,
                "media_uuid": event.media_uuid,
                "started_at": event.at.isoformat(),
            }
        )
        return result if isinstance(result, int) else None

    async def call_answered(self, *, uniqueid: str, at: datetime) -> None:
        """Set the answer time."""
        await self._submit({"op": "call_answered", "uniqueid": uniqueid, "at": at.isoformat()})

    async def call_ended(
        self,
        *,
        uniqueid: str,
        at: datetime,
        cause: str | None = None,
        frames_dropped: int = 0,
        state: str = "ended",
    ) -> None:
        """Set the end time, cause and dropped-frame count (idempotent)."""
        await self._submit(
            {
                "op": "call_ended",
                "uniqueid": uniqueid,
                "at": at.isoformat(),
                "cause": cause,
                "frames_dropped": frames_dropped,
                "state": state,
            }
        )

    async def recording_finished(self, event: RecordingFinished) -> None:
        """Attach a finished recording (idempotent on the call and path)."""
        await self._submit(
            {
                "op": "recording",
                "uniqueid": event.uniqueid,
                "path": event.path,
                "kind": event.kind,
                "format": event.format,
                "sample_rate": event.sample_rate,
                "duration_s": event.duration_s,
                "size_bytes": event.size_bytes,
                "sha256": event.sha256,
                "complete": event.complete,
            }
        )

    async def call_id_for(self, uniqueid: str) -> int | None:
        """callcard's id of the call, or None while it is not stored."""
        if uniqueid in self._ids:
            return self._ids[uniqueid]
        if self._spooling:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._lookup, uniqueid)

    # ----------------------------------------------------------------------------------------- machinery

    async def _submit(self, record: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._apply_or_spool, record)

    def _apply_or_spool(self, record: dict[str, Any]) -> Any:
        if not self._spooling:
            try:
                return self._apply(record)
            except Exception as exc:
                if not _is_transient(exc):
                    self._reject(record, exc)
                    return None
                logger.error(
                    "database unavailable (%s); spooling call events to %s",
                    type(exc).__name__,
                    self.spool.path,
                )
                self._spooling = True
        self.spool.append(record)
        self.spooled += 1
        return None

    def _reject(self, record: dict[str, Any], exc: BaseException) -> None:
        self.rejected += 1
        logger.error(
            "call event %s for %s cannot be stored (%s: %s); kept in %s",
            record.get("op"),
            record.get("uniqueid"),
            type(exc).__name__,
            exc,
            self.spool.rejected_path,
        )
        self.spool.reject(record, f"{type(exc).__name__}: {exc}")

    def _lookup(self, uniqueid: str) -> int | None:
        try:
            with self.sessionmaker() as session:
                call = repo.find_call(session, uniqueid=uniqueid)
                if call is not None:
                    self._ids[uniqueid] = call.id
                    return call.id
        except Exception as exc:
            logger.warning("cannot look up call %s: %s", uniqueid, exc)
        return None

    def _apply(self, record: dict[str, Any]) -> Any:
        op = record.get("op")
        uid = str(record["uniqueid"])
        with self.sessionmaker() as session:
            if op == "call_started":
                call, created = repo.get_or_create_call(
                    session,
                    uniqueid=uid,
                    linkedid=record.get("linkedid"),
                    channel=record.get("channel"),
                    caller_number=record.get("caller_number"),
                    caller_name=record.get("caller_name"),
                    dialled_number=record.get("dialled_number"),
                    source=record.get("source") or "ari",
                    media_uuid=record.get("media_uuid"),
                    started_at=_time(record.get("started_at")),
                )
                if not created:
                    logger.info("call %s was already registered (id %d)", uid, call.id)
                self._ids[uid] = call.id
                return call.id
            if op == "call_answered":
                repo.mark_answered(session, uniqueid=uid, at=_time(record["at"]))  # type: ignore[arg-type]
            elif op == "call_ended":
                repo.end_call(
                    session,
                    uniqueid=uid,
                    at=_time(record["at"]),  # type: ignore[arg-type]
                    cause=record.get("cause"),
                    state=record.get("state") or "ended",
                    frames_dropped=int(record.get("frames_dropped") or 0),
                )
            elif op == "recording":
                repo.add_recording(
                    session,
                    uniqueid=uid,
                    path=str(record["path"]),
                    kind=record.get("kind") or "mixed",
                    format=record.get("format") or "wav",
                    sample_rate=int(record.get("sample_rate") or 8000),
                    duration_s=record.get("duration_s"),
                    size_bytes=record.get("size_bytes"),
                    sha256=record.get("sha256"),
                    complete=bool(record.get("complete", True)),
                )
            else:
                raise ValueError(f"unknown call event op {op!r}")
        return None

    def _apply_spooled(self, record: dict[str, Any]) -> None:
        try:
            self._apply(record)
        except Exception as exc:
            if _is_transient(exc):
                raise
            self._reject(record, exc)
        self.replayed += 1

    def _replay(self) -> bool:
        if not self._spooling:
            return True
        try:
            done = self.spool.replay(self._apply_spooled)
        except Exception as exc:
            if not _is_transient(exc):
                raise
            logger.debug("database still unavailable: %s", exc)
            return False
        self._spooling = False
        logger.warning("database is back: %d spooled call events replayed in order", done)
        return True

    async def replay_now(self) -> bool:
        """Try to replay the spool now; True when nothing is left spooled."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._replay)

    async def _replay_loop(self) -> None:
        while True:
            if self._spooling:
                try:
                    await self.replay_now()
                except Exception:
                    logger.exception("spool replay failed")
            await asyncio.sleep(self.retry_interval)
