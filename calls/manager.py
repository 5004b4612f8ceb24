"""CallManager: receives telephony's call events and audio, keeps a bounded queue and a processor per call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calls.hub import CALL_ENDED, CALL_STARTED, CardHub
from calls.live import CallInfo, CallProcessor, ProcessorFactory
from calls.registry import CallRegistry
from core.logging import current_call
from telephony.events import (
    AudioStreamEnded,
    AudioStreamStarted,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallStarted,
    RecordingFinished,
)

logger = logging.getLogger(__name__)

RecordingHook = Callable[[CallInfo | None, RecordingFinished], Awaitable[None]]


@dataclass(eq=False)
class LiveCall:
    """One call the manager follows."""

    uniqueid: str
    queue: asyncio.Queue[bytes | None]
    info: CallInfo | None = None
    task: asyncio.Task[None] | None = None
    frames: int = 0
    dropped: int = 0
    ended: bool = False  # the call hung up
    closed: bool = False  # no more audio is accepted (end of audio queued)
    failed: bool = False
    streams: int = 0  # AudioSocket streams of this call still open
    streams_done: asyncio.Event | None = None


class CallManager:
    """Implements telephony's CallEventSink, AudioSink and CallIdResolver.

    Audio: ``push_audio`` never blocks. Each call has a bounded ``asyncio.Queue`` (``queue_frames`` frames of
    20 ms); when its processor falls behind, new frames are dropped, counted per call, logged, and the count
    is stored with the call. One call's failure (a processor raising) is logged with its id and affects no
    other call.
    """

    def __init__(
        self,
        *,
        registry: CallRegistry,
        processor_factory: ProcessorFactory,
        hub: CardHub | None = None,
        queue_frames: int = 500,
        end_timeout: float = 120.0,
        stream_grace: float = 5.0,
        db_wait: float = 2.0,
        on_recording: RecordingHook | None = None,
    ) -> None:
        """Wire the manager; ``hub`` (optional) gets call_started / call_ended messages."""
        self.registry = registry
        self.processor_factory = processor_factory
        self.hub = hub
        self.queue_frames = queue_frames
        self.end_timeout = end_timeout
        self.stream_grace = stream_grace
        self.db_wait = db_wait
        self._writes: set[asyncio.Task[Any]] = set()
        self.on_recording = on_recording
        self.calls: dict[str, LiveCall] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self._infos: dict[str, CallInfo] = {}
        self.unknown_frames = 0

    # -------------------------------------------------------------------------------------------- audio

    def push_audio(self, uniqueid: str, pcm: bytes) -> bool:
        """Queue one chunk of 8 kHz s16le PCM for the call; False (and counted) if it had to be dropped."""
        live = self.calls.get(uniqueid)
        if live is None or live.closed or live.failed:
            self.unknown_frames += 1
            if live is not None:
                live.dropped += 1
            return False
        try:
            live.queue.put_nowait(pcm)
        except asyncio.QueueFull:
            live.dropped += 1
            if live.dropped in (1, 50) or live.dropped % 500 == 0:
                logger.warning("call %s: processing is behind, %d audio frames dropped so far", uniqueid, live.dropped)
            return False
        live.frames += 1
        return True

    # ------------------------------------------------------------------------------------------- events

    async def on_event(self, event: CallEvent) -> None:
        """Handle one telephony event; a failure is logged, never raised to telephony."""
        try:
            if isinstance(event, CallStarted):
                await self._started(event)
            elif isinstance(event, CallAnswered):
                self._persist(self.registry.call_answered(uniqueid=event.uniqueid, at=event.at), event.uniqueid)
            elif isinstance(event, CallEnded):
                await self._ended(event)
            elif isinstance(event, RecordingFinished):
                self._persist(self.registry.recording_finished(event), event.uniqueid)
                if self.on_recording is not None:
                    # Post-call work runs beside event handling, after the call's live processing has ended.
                    task = asyncio.create_task(self._after_recording(event), name=f"call-recording-{event.uniqueid}")
                    self._finishing.add(task)
                    task.add_done_callback(self._finishing.discard)
            elif isinstance(event, AudioStreamStarted):
                logger.info("call %s: caller audio stream %s connected", event.uniqueid, event.media_uuid)
                live = self.calls.get(event.uniqueid)
                if live is not None:
                    live.streams += 1
            elif isinstance(event, AudioStreamEnded):
                logger.info(
                    "call %s: audio stream ended (%s), %d frames, %d dropped",
                    event.uniqueid,
                    event.reason,
                    event.frames,
                    event.dropped,
                )
                live = self.calls.get(event.uniqueid)
                if live is not None:
                    live.streams = max(0, live.streams - 1)
                    if live.streams == 0 and live.streams_done is not None:
                        live.streams_done.set()
        except Exception:
            logger.exception("call %s: %s could not be handled", getattr(event, "uniqueid", "?"), type(event).__name__)

    async def _after_recording(self, event: RecordingFinished) -> None:
        assert self.on_recording is not None
        try:
            live = self.calls.get(event.uniqueid)
            if live is not None and live.task is not None and not live.task.done():
                # The live transcript decides what post-call work is needed: wait for it to be complete.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(live.task), self.end_timeout)
            info = self._infos.get(event.uniqueid)
            if info is not None and info.call_id is None:  # stored late (slow or spooled database)
                await self.flush(self.db_wait)
                call_id = await self._lookup_id(event.uniqueid)
                if call_id is not None:
                    info = dataclasses.replace(info, call_id=call_id)
                    self._infos[event.uniqueid] = info
            await self.on_recording(info, event)
        except Exception:
            logger.exception("call %s: post-call work on %s failed", event.uniqueid, event.path)

    async def call_id_for(self, uniqueid: str) -> int | None:
        """callcard's id of the call (None while it is not stored)."""
        live = self.calls.get(uniqueid)
        if live is not None and live.info is not None and live.info.call_id is not None:
            return live.info.call_id
        return await self._lookup_id(uniqueid)

    def _persist(self, work: Coroutine[Any, Any, Any], uniqueid: str) -> asyncio.Task[Any]:
        """Store an event without making telephony wait; the registry applies writes in submission order."""
        task = asyncio.create_task(work, name=f"store-{uniqueid}")
        self._writes.add(task)
        task.add_done_callback(self._written)
        return task

    def _written(self, task: asyncio.Task[Any]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("storing %s failed", task.get_name(), exc_info=task.exception())

    async def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every event handed over so far has reached the registry (stored or spooled)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._writes or self._finishing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._writes) | set(self._finishing), timeout=remaining)

    async def _lookup_id(self, uniqueid: str) -> int | None:
        try:
            return await asyncio.wait_for(self.registry.call_id_for(uniqueid), self.db_wait)
        except Exception:
            return None

    async def _started(self, event: CallStarted) -> None:
        if event.uniqueid in self.calls:
            logger.warning("call %s started twice; the second start is ignored", event.uniqueid)
            return
        live = LiveCall(uniqueid=event.uniqueid, queue=asyncio.Queue(self.queue_frames))
        self.calls[event.uniqueid] = live  # audio may arrive while the database answers
        stored = self._persist(self.registry.call_started(event), event.uniqueid)
        try:
            call_id = await asyncio.wait_for(asyncio.shield(stored), self.db_wait)
        except TimeoutError:
            # A database that hangs (rather than fails) must not hold up telephony: go on without the id.
            logger.warning("call %s: database slow; live processing starts without the call id", event.uniqueid)
            call_id = None
        except Exception:
            call_id = None
        info = CallInfo(
            uniqueid=event.uniqueid, call_id=call_id, caller_number=event.caller_number, started_at=event.at
        )
        live.info = info
        self._infos[event.uniqueid] = info
        if live.ended:
            return
        try:
            processor = self.processor_factory(info)
        except Exception:
            live.failed = True
            logger.exception("call %s: live processing could not start", event.uniqueid)
            return
        live.task = asyncio.create_task(self._run(live, processor), name=f"call-{call_id or event.uniqueid}")
        if self.hub is not None and call_id is not None:
            self.hub.publish(
                {
                    "type": CALL_STARTED,
                    "call_id": call_id,
                    "uniqueid": event.uniqueid,
                    "caller_number": event.caller_number,
                    "started_at": event.at.isoformat(),
                }
            )
        logger.info("call %s started (id %s, from %s)", event.uniqueid, call_id, event.source)

    async def _run(self, live: LiveCall, processor: CallProcessor) -> None:
        assert live.info is not None
        current_call.set(str(live.info.call_id or live.uniqueid))
        try:
            await processor.run(live.queue)
        except asyncio.CancelledError:
            raise
        except Exception:
            live.failed = True
            logger.exception("call %s: live processing failed; later audio of this call is dropped", live.uniqueid)

    async def _ended(self, event: CallEnded) -> None:
        live = self.calls.get(event.uniqueid)
        if live is not None and live.ended:
            return
        if live is not None:
            live.ended = True
        self._persist(
            self.registry.call_ended(
                uniqueid=event.uniqueid,
                at=event.at,
                cause=event.cause,
                frames_dropped=live.dropped if live is not None else 0,
            ),
            event.uniqueid,
        )
        if live is None:
            logger.info("call %s ended (it was not followed live)", event.uniqueid)
            return
        task = asyncio.create_task(self._finish(live, event, live.dropped), name=f"call-end-{event.uniqueid}")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, live: LiveCall, event: CallEnded, stored_drops: int | None = None) -> None:
        try:
            if live.streams > 0:
                # The hang-up can overtake the last frames still in the AudioSocket connection: let them in.
                live.streams_done = asyncio.Event()
                try:
                    await asyncio.wait_for(live.streams_done.wait(), self.stream_grace)
                except TimeoutError:
                    logger.warning(
                        "call %s: audio stream still open %.0f s after the hang-up; closing it",
                        live.uniqueid,
                        self.stream_grace,
                    )
            live.closed = True
            if live.task is not None and not live.task.done():
                if not live.failed:
                    await asyncio.wait_for(live.queue.put(None), self.end_timeout)
                try:
                    await asyncio.wait_for(asyncio.shield(live.task), self.end_timeout)
                except TimeoutError:
                    logger.error(
                        "call %s: processing did not finish within %.0f s; cancelled",
                        live.uniqueid,
                        self.end_timeout,
                    )
                    live.task.cancel()
        finally:
            self.calls.pop(live.uniqueid, None)
            while len(self._infos) > 5000:  # keep recent calls for late recordings; forget the oldest
                self._infos.pop(next(iter(self._infos)))
            if live.dropped:
                logger.warning(
                    "call %s ended with %d of %d audio frames dropped",
                    live.uniqueid,
                    live.dropped,
                    live.frames + live.dropped,
                )
            if stored_drops is not None and live.dropped > stored_drops:
                self._persist(
                    self.registry.call_ended(
                        uniqueid=live.uniqueid, at=event.at, cause=event.cause, frames_dropped=live.dropped
                    ),
                    live.uniqueid,
                )
            call_id = live.info.call_id if live.info is not None else None
            if call_id is None:
                call_id = await self._lookup_id(live.uniqueid)
            if self.hub is not None and call_id is not None:
                self.hub.publish(
                    {
                        "type": CALL_ENDED,
                        "call_id": call_id,
                        "ended_at": (event.at or datetime.now(UTC)).isoformat(),
                    }
                )

    async def stop(self) -> None:
        """Finish every live call's processing and wait for it (the calls themselves are not marked ended)."""
        for live in list(self.calls.values()):
            if not live.ended:
                live.ended = True
                live.streams = 0
                task = asyncio.create_task(
                    self._finish(live, CallEnded(uniqueid=live.uniqueid, at=datetime.now(UTC), cause="shutdown")),
                    name=f"call-stop-{live.uniqueid}",
                )
                self._finishing.add(task)
                task.add_done_callback(self._finishing.discard)
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=self.end_timeout)
        for live in list(self.calls.values()):
            if live.task is not None:
                live.task.cancel()
                with contextlib.suppress(BaseException):
                    await live.task
