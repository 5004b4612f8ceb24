"""CallRegistry: applies a call's writes in order through models.repo, spooling them while the database is down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from calls.apply import apply_write
from calls.messages import CallKey
from calls.spool import Spool
from calls.writes import CallWrite, from_record, to_record
from models.repo import calls as repo

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


class CallRegistry:
    """Persists call events in order on one worker thread; when the database is down they go to the spool.

    While anything is spooled, every later event is spooled too (so order is kept), and a background task
    replays the spool in order once the database answers again. The repository functions are idempotent on
    the channel's uniqueid, so an event applied twice (a crash between applying and acknowledging) changes
    nothing.
    """

    def __init__(
        self,
        sessionmaker: sessionmaker[Session],
        spool: Spool,
        *,
        retry_interval: float = 2.0,
        on_stored: Callable[[CallKey, int], None] | None = None,
    ) -> None:
        """Use ``sessionmaker`` for the database and ``spool`` for outages.

        ``on_stored(call_key, call_id)`` is called on the event loop the first time a call's id becomes known
        (at once, or when the spool is replayed after an outage).
        """
        self.sessionmaker = sessionmaker
        self.on_stored = on_stored
        self._loop: asyncio.AbstractEventLoop | None = None
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
        self._loop = asyncio.get_running_loop()
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

    # ------------------------------------------------------------------------------------------ writes

    async def submit(self, write: CallWrite) -> int | None:
        """Apply ``write`` in submission order, or spool it while the database cannot take it.

        Returns the id the write produced (the call's for StoreCall, the segment's for StoreSegment, the card's
        for StoreProposal) when it was applied now, None when it was spooled or produces no id.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._apply_or_spool, write)

    def enqueue(self, write: CallWrite) -> asyncio.Future[int | None]:
        """Like ``submit`` but without awaiting: the order of ``enqueue`` calls is the order of application."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self._apply_or_spool, write)

    def known_id(self, call_key: CallKey) -> int | None:
        """The call's database id if this process has seen it stored (no database round trip)."""
        return self._ids.get(call_key)

    async def call_id_for(self, call_key: CallKey) -> int | None:
        """The call's database id, or None while it is not stored. The one place keys become ids."""
        if call_key in self._ids:
            return self._ids[call_key]
        if self._spooling:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._lookup, call_key)

    # ----------------------------------------------------------------------------------------- machinery

    def _apply_or_spool(self, write: CallWrite) -> int | None:
        if not self._spooling:
            try:
                return self._apply(write)
            except Exception as exc:
                if not _is_transient(exc):
                    self._reject(to_record(write), exc)
                    return None
                logger.error(
                    "database unavailable (%s); spooling call writes to %s",
                    type(exc).__name__,
                    self.spool.path,
                )
                self._spooling = True
        self.spool.append(to_record(write))
        self.spooled += 1
        return None

    def _reject(self, record: dict[str, Any], exc: BaseException) -> None:
        self.rejected += 1
        logger.error(
            "call write %s for %s cannot be stored (%s: %s); kept in %s",
            record.get("op"),
            record.get("call_key") or record.get("uniqueid"),
            type(exc).__name__,
            exc,
            self.spool.rejected_path,
        )
        self.spool.reject(record, f"{type(exc).__name__}: {exc}")

    def _lookup(self, call_key: CallKey) -> int | None:
        try:
            with self.sessionmaker() as session:
                call = repo.find_call(session, uniqueid=call_key)
                if call is not None:
                    self._ids[call_key] = call.id
                    return call.id
        except Exception as exc:
            logger.warning("cannot look up call %s: %s", call_key, exc)
        return None

    def _stored(self, call_key: CallKey, call_id: int) -> None:
        known = self._ids.get(call_key)
        self._ids[call_key] = call_id
        if known is None and self.on_stored is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self.on_stored, call_key, call_id)

    def _apply(self, write: CallWrite) -> int | None:
        with self.sessionmaker() as session:
            return apply_write(session, write, self._stored)

    def _apply_spooled(self, record: dict[str, Any]) -> None:
        try:
            write = from_record(record)
        except ValueError as exc:  # pydantic's ValidationError: not a write this version knows
            self._reject(record, exc)
            return
        try:
            self._apply(write)
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
