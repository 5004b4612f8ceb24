"""CallManager: receives telephony's call events and audio, and follows each call through its phases.

Every call is known by its key (Asterisk's uniqueid) from the first event on: the hub, the desk, the spool and
post-call work use the key, so nothing waits for the database. Writes go through the CallRegistry, which
applies them in order or spools them while the database is down.

Per call: a bounded audio queue and a live processor (admission control decides whether the node can decode
it in real time); after hang-up the last audio drains, the transcript's state (complete, or the spans live
decoding missed) is written, and post-call work starts only once live processing is over.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asr.base import Span
from calls.hub import CardHub
from calls.lifecycle import AsrStatus, CallPhase
from calls.live import AudioChunk, AudioItem, CallInfo, EndOfAudio, LiveOutcome, ProcessorFactory, missed_spans
from calls.messages import (
    CallEndedMessage,
    CallKey,
    CallStartedMessage,
    CallStoredMessage,
    LiveTranscription,
    TranscriptionChangedMessage,
)
from calls.registry import CallRegistry
from calls.writes import AttachRecording, CallWrite, EndCall, MarkAnswered, SetTranscriptState, StoreCall
from core.logging import current_call
from core.tasks import BackgroundTasks
from core.types import SAMPLE_RATE, SAMPLE_WIDTH, Speaker
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

BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
# Live calls per core that this node admits. Measured (bench/calls/bench_capacity.py, docs/benchmarks.md): on 2 cores
# with the Kazakh and Russian models, 6 calls (3 per core) hold with zero dropped audio but queue up to 5 s of it;
# 4 (2 per core) keep the backlog under 2.5 s and leave a share of the CPU to the API and the database.
# CALLCARD_LIVE_CAPACITY overrides it.
LIVE_CALLS_PER_CORE = 2

PostCallHook = Callable[[CallKey], None]


def default_capacity() -> int:
    """Live calls this node decodes in real time: the measured per-core figure times the cores."""
    return LIVE_CALLS_PER_CORE * max(1, os.cpu_count() or 1)


@dataclass(eq=False)
class FollowedCall:
    """One call the manager follows, from its first event until its live processing is over."""

    key: CallKey
    info: CallInfo
    queue: asyncio.Queue[AudioItem]
    phase: CallPhase = CallPhase.STARTING
    hung_up: bool = False
    task: asyncio.Task[LiveOutcome] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    received_bytes: int = 0  # audio received (queued, dropped or not decoded)
    frames: int = 0
    dropped: int = 0
    streams: int = 0  # AudioSocket streams of this call still open
    streams_done: asyncio.Event = field(default_factory=asyncio.Event)
    gaps: list[Span] = field(default_factory=list)  # spans the manager knows live decoding will miss
    audio_base: float = 0.0  # call-clock time of this stream's first audio byte (after a re-adoption: > 0)
    announced_at: float = 0.0  # loop time the call was announced (a re-adopted stream's audio starts later)
    not_live_since: float | None = None  # call time from which audio is no longer decoded live
    overflowed_at: float | None = None  # call time at which its queue overflowed (live decoding fell behind)
    # (call time, loop time) at which the caller's audio stream broke off before the hang-up (None: it did not)
    stream_lost: tuple[float, float] | None = None
    announced_id: bool | None = None  # None: call_started not published yet; then whether it carried the id
    operator: OperatorLeg | None = None  # the operator's voice, once its stream connected

    @property
    def clock(self) -> float:
        """Call-clock time of the next audio byte."""
        return self.audio_base + self.received_bytes / BYTES_PER_SECOND


@dataclass(eq=False)
class OperatorLeg:
    """The operator's voice of a followed call (what the caller hears): decoded live when the node has room, never
    fed to the card proposal. Its own clock starts where the caller's did (both snoops start together)."""

    queue: asyncio.Queue[AudioItem]
    audio_base: float
    phase: CallPhase = CallPhase.STARTING
    task: asyncio.Task[LiveOutcome] | None = None
    received_bytes: int = 0
    dropped: int = 0
    streams: int = 0
    streams_done: asyncio.Event = field(default_factory=asyncio.Event)
    not_live_since: float | None = None
    stream_lost_at: float | None = None  # its stream broke off before the hang-up at this call time

    @property
    def clock(self) -> float:
        """Call-clock time of the leg's next audio byte."""
        return self.audio_base + self.received_bytes / BYTES_PER_SECOND


class CallManager:
    """Implements telephony's CallEventSink, AudioSink and CallIdResolver.

    Audio: ``push_audio`` never blocks. A call's queue holds ``queue_frames`` frames of 20 ms; a call whose
    processing falls that far behind stops being decoded live (it is demoted to recording-only and the rest
    of it is decoded from the recording after hang-up), and the desk is told. Beyond ``capacity`` live calls,
    a new call is recording-only from the start. One call's failure affects no other call.
    """

    def __init__(
        self,
        *,
        registry: CallRegistry,
        processor_factory: ProcessorFactory | None,
        operator_factory: ProcessorFactory | None = None,
        hub: CardHub | None = None,
        queue_frames: int = 500,
        end_timeout: float = 120.0,
        stream_grace: float = 5.0,
        id_wait: float = 0.3,
        capacity: int | None = None,
        on_live_finished: PostCallHook | None = None,
    ) -> None:
        """Wire the manager. ``processor_factory`` None: no live decoding (every call is recording-only);
        ``operator_factory``: live processing of the operator's voice (None: decoded after the call only).

        ``on_live_finished(key)`` is called once a call's live processing is over and its recording may be
        decoded (post-call work); it is also called for each mixed recording that arrives after that.
        """
        self.registry = registry
        self.processor_factory = processor_factory
        self.operator_factory = operator_factory
        self.hub = hub
        self.queue_frames = queue_frames
        self.end_timeout = end_timeout
        self.stream_grace = stream_grace
        self.id_wait = id_wait
        self.capacity = default_capacity() if capacity is None else capacity
        self.on_live_finished = on_live_finished
        self.calls: dict[CallKey, FollowedCall] = {}
        self.tasks = BackgroundTasks("call manager")
        self._writes: set[asyncio.Future[int | None]] = set()
        self.unknown_frames = 0
        self.deferred_calls = 0  # calls admitted recording-only because the node was full
        self.demoted_calls = 0  # live calls that fell behind and were finished from the recording
        self.demoted_operator_legs = 0  # operators' voices no longer decoded live (fell behind, or room for a caller)
        registry.on_stored = self._stored

    # -------------------------------------------------------------------------------------------- queries

    @property
    def live_count(self) -> int:
        """Voices being decoded live now: each call's caller, and the operators' voices decoded live."""
        return sum(
            (c.phase in (CallPhase.STARTING, CallPhase.LIVE))
            + (c.operator is not None and c.operator.phase in (CallPhase.STARTING, CallPhase.LIVE))
            for c in self.calls.values()
        )

    async def call_id_for(self, uniqueid: str) -> int | None:
        """callcard's database id of the call (None while it is not stored)."""
        return await self.registry.call_id_for(uniqueid)

    async def live_finished(self, key: CallKey) -> None:
        """Return once the call's live processing is over (at once for a call not followed)."""
        followed = self.calls.get(key)
        if followed is not None:
            await followed.finished.wait()

    # -------------------------------------------------------------------------------------------- audio

    def push_audio(self, uniqueid: str, pcm: bytes, speaker: Speaker = Speaker.CALLER) -> bool:
        """Queue one chunk of 8 kHz s16le PCM of one voice of the call; False (and counted) if it had to be dropped."""
        followed = self.calls.get(uniqueid)
        if followed is None or followed.phase in (CallPhase.DRAINING, CallPhase.FINISHED):
            self.unknown_frames += 1
            return False
        if speaker is Speaker.OPERATOR:
            return self._push_operator(followed, pcm)
        if followed.received_bytes == 0 and followed.info.start_s > 0:
            # A re-adopted call's stream begins once its new listening chain is up: that long after the offset.
            followed.audio_base = followed.info.start_s + (asyncio.get_running_loop().time() - followed.announced_at)
        at = followed.clock
        followed.received_bytes += len(pcm)
        if not followed.phase.accepts_audio:
            if followed.overflowed_at is not None:
                followed.dropped += 1  # not decoded live because decoding fell behind: counted as dropped
                return False
            return True  # recording-only by admission: the recording has it, nothing to decode live
        try:
            followed.queue.put_nowait(AudioChunk(pcm, at))
        except asyncio.QueueFull:
            followed.dropped += 1
            followed.overflowed_at = at
            self._demote(followed, at, "live decoding fell behind real time")
            return False
        followed.frames += 1
        return True

    def _push_operator(self, followed: FollowedCall, pcm: bytes) -> bool:
        leg = followed.operator or self._open_operator(followed)
        at = leg.clock
        leg.received_bytes += len(pcm)
        if not leg.phase.accepts_audio:
            return True  # decoded after the call from the operator-leg recording
        try:
            leg.queue.put_nowait(AudioChunk(pcm, at))
        except asyncio.QueueFull:
            leg.dropped += 1
            self._demote_operator(followed, leg, at, "live decoding of the operator's voice fell behind real time")
            return False
        return True

    def _open_operator(self, followed: FollowedCall) -> OperatorLeg:
        """The operator's voice connected: decode it live if the node has room for one more voice."""
        leg = OperatorLeg(queue=asyncio.Queue(self.queue_frames), audio_base=followed.audio_base)
        leg.streams_done.set()
        followed.operator = leg
        if self.operator_factory is None or not followed.phase.accepts_audio:
            leg.phase, leg.not_live_since = CallPhase.RECORDING_ONLY, followed.info.start_s
            return leg
        if self.live_count - 1 >= self.capacity:  # this leg is already counted
            leg.phase, leg.not_live_since = CallPhase.RECORDING_ONLY, followed.info.start_s
            logger.info(
                "call %s: no room to decode the operator's voice live; it is decoded after the call", followed.key
            )
            return leg
        try:
            processor = self.operator_factory(followed.info)
        except Exception:
            logger.exception("call %s: live processing of the operator's voice could not start", followed.key)
            leg.phase, leg.not_live_since = CallPhase.RECORDING_ONLY, followed.info.start_s
            return leg
        leg.phase = CallPhase.LIVE
        leg.task = self.tasks.spawn(self._run_operator(followed, leg, processor.run), f"call-op-{followed.key}")
        return leg

    async def _run_operator(
        self,
        followed: FollowedCall,
        leg: OperatorLeg,
        run: Callable[[asyncio.Queue[AudioItem]], Awaitable[LiveOutcome]],
    ) -> LiveOutcome:
        current_call.set(followed.key)
        try:
            return await run(leg.queue)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("call %s: live processing of the operator's voice failed", followed.key)
            self._demote_operator(followed, leg, leg.clock, "live processing of the operator's voice failed")
            return LiveOutcome(decoded=False)

    def _demote_operator(self, followed: FollowedCall, leg: OperatorLeg, at: float, reason: str) -> None:
        """Stop decoding the operator's voice live from ``at`` on (its recording fills the rest after the call)."""
        if not leg.phase.accepts_audio:
            return
        leg.phase, leg.not_live_since = CallPhase.RECORDING_ONLY, at
        self.demoted_operator_legs += 1
        logger.warning("call %s: %s at %.1f s; the operator's rest is decoded after the call", followed.key, reason, at)

    def _make_room_for_caller(self) -> bool:
        """A caller comes first: stop decoding one operator's voice live (decoded after the call) to free a place."""
        for other in self.calls.values():
            leg = other.operator
            if leg is not None and leg.phase.accepts_audio:
                self._demote_operator(other, leg, leg.clock, "a new caller needed the place")
                return True
        return False

    def _demote(self, followed: FollowedCall, at: float, reason: str) -> None:
        """Stop decoding the call live from ``at`` on; its recording fills the rest after hang-up."""
        if followed.phase is not CallPhase.LIVE and followed.phase is not CallPhase.STARTING:
            return
        followed.phase = CallPhase.RECORDING_ONLY
        followed.not_live_since = at
        self.demoted_calls += 1
        logger.warning("call %s: %s at %.1f s; the rest is decoded after hang-up", followed.key, reason, at)
        self._publish(
            TranscriptionChangedMessage(
                call_key=followed.key,
                call_id=self.registry.known_id(followed.key),
                transcription=LiveTranscription.AFTER_CALL,
                reason=reason,
            )
        )

    # ------------------------------------------------------------------------------------------- events

    async def on_event(self, event: CallEvent) -> None:
        """Handle one telephony event; a failure is logged, never raised to telephony."""
        try:
            if isinstance(event, CallStarted):
                await self._started(event)
            elif isinstance(event, CallAnswered):
                self._write(MarkAnswered(call_key=event.uniqueid, at=event.at))
            elif isinstance(event, CallEnded):
                self._ended(event)
            elif isinstance(event, RecordingFinished):
                self._recording(event)
            elif isinstance(event, AudioStreamStarted):
                logger.info("call %s: %s audio stream %s connected", event.uniqueid, event.speaker, event.media_uuid)
                followed = self.calls.get(event.uniqueid)
                if followed is not None and event.speaker is Speaker.OPERATOR:
                    leg = followed.operator or self._open_operator(followed)
                    leg.streams += 1
                    leg.streams_done.clear()
                elif followed is not None:
                    followed.streams += 1
                    followed.streams_done.clear()
            elif isinstance(event, AudioStreamEnded):
                logger.info(
                    "call %s: audio stream ended (%s), %d frames, %d dropped",
                    event.uniqueid,
                    event.reason,
                    event.frames,
                    event.dropped,
                )
                followed = self.calls.get(event.uniqueid)
                if followed is not None and event.speaker is Speaker.OPERATOR and followed.operator is not None:
                    leg = followed.operator
                    leg.streams = max(0, leg.streams - 1)
                    if leg.streams == 0:
                        leg.streams_done.set()
                        if not followed.hung_up and event.reason != "hangup":
                            leg.stream_lost_at = leg.clock
                elif followed is not None and event.speaker is Speaker.CALLER:
                    followed.streams = max(0, followed.streams - 1)
                    if followed.streams == 0:
                        followed.streams_done.set()
                        if not followed.hung_up and event.reason != "hangup":
                            # The connection broke while the caller is still on: what they say now is only in
                            # the recording (decoded after hang-up, see _finish).
                            followed.stream_lost = (followed.clock, asyncio.get_running_loop().time())
        except Exception:
            logger.exception("call %s: %s could not be handled", getattr(event, "uniqueid", "?"), type(event).__name__)

    def _write(self, write: CallWrite) -> asyncio.Future[int | None]:
        """Hand a write to the registry without waiting; the registry applies writes in the order handed over."""
        future = self.registry.enqueue(write)
        self._writes.add(future)
        future.add_done_callback(self._written)
        return future

    def _written(self, future: asyncio.Future[int | None]) -> None:
        self._writes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("storing a call write failed", exc_info=future.exception())

    async def _started(self, event: CallStarted) -> None:
        key = event.uniqueid
        if key in self.calls:
            logger.warning("call %s started twice; the second start is ignored", key)
            return
        start_s = max(0.0, event.audio_offset_s)
        info = CallInfo(key=key, call_id=None, caller_number=event.caller_number, started_at=event.at, start_s=start_s)
        followed = FollowedCall(key=key, info=info, queue=asyncio.Queue(self.queue_frames), audio_base=start_s)
        followed.announced_at = asyncio.get_running_loop().time()
        followed.streams_done.set()
        self.calls[key] = followed  # audio may arrive while the rest is set up
        stored = self._write(
            StoreCall(
                call_key=key,
                started_at=event.at,
                channel=event.channel,
                linkedid=event.linkedid,
                caller_number=event.caller_number,
                caller_name=event.caller_name,
                dialled_number=event.dialled_number,
                source=event.source,
                media_uuid=event.media_uuid,
            )
        )
        transcription = self._admit(followed, streamed=event.media_uuid is not None)
        self._write(SetTranscriptState(call_key=key, status=_status_at_start(transcription)))
        with_id: int | None = None
        try:  # include the id in the first message when the database answers at once; never wait longer
            with_id = await asyncio.wait_for(asyncio.shield(stored), self.id_wait)
        except (TimeoutError, Exception):
            with_id = None
        followed.info = info = CallInfo(
            key=key, call_id=with_id, caller_number=event.caller_number, started_at=event.at, start_s=start_s
        )
        self._publish(
            CallStartedMessage(
                call_key=key,
                call_id=with_id,
                caller_number=event.caller_number,
                started_at=event.at,
                transcription=transcription,
            )
        )
        followed.announced_id = with_id is not None
        late = self.registry.known_id(key)
        if with_id is None and late is not None:  # stored just after the wait ended
            self._stored(key, late)
        if followed.hung_up:
            return
        if transcription is LiveTranscription.LIVE and self.processor_factory is not None:
            try:
                processor = self.processor_factory(info)
            except Exception:
                logger.exception("call %s: live processing could not start", key)
                self._demote(followed, followed.clock, "live processing could not start")
            else:
                followed.phase = CallPhase.LIVE
                followed.task = self.tasks.spawn(self._run(followed, processor.run), f"call-{key}")
        logger.info("call %s started (id %s, from %s, transcription %s)", key, with_id, event.source, transcription)

    def _admit(self, followed: FollowedCall, *, streamed: bool) -> LiveTranscription:
        if self.processor_factory is None:
            followed.phase = CallPhase.RECORDING_ONLY
            followed.not_live_since = followed.info.start_s
            return LiveTranscription.OFF
        if not streamed:  # a dialplan-only (FastAGI) call: no live audio will come, only its recording
            followed.phase = CallPhase.RECORDING_ONLY
            followed.not_live_since = followed.info.start_s
            return LiveTranscription.AFTER_CALL
        if self.live_count - 1 >= self.capacity and not self._make_room_for_caller():  # this call is already counted
            followed.phase = CallPhase.RECORDING_ONLY
            followed.not_live_since = followed.info.start_s
            self.deferred_calls += 1
            logger.warning(
                "call %s: %d live calls already (capacity %d); transcribed after hang-up",
                followed.key,
                self.live_count - 1,
                self.capacity,
            )
            return LiveTranscription.AFTER_CALL
        return LiveTranscription.LIVE

    async def _run(
        self, followed: FollowedCall, run: Callable[[asyncio.Queue[AudioItem]], Awaitable[LiveOutcome]]
    ) -> LiveOutcome:
        current_call.set(followed.key)
        try:
            return await run(followed.queue)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("call %s: live processing failed; the rest is decoded after hang-up", followed.key)
            self._demote(followed, followed.clock, "live processing failed")
            return LiveOutcome(decoded=False)

    def _ended(self, event: CallEnded) -> None:
        followed = self.calls.get(event.uniqueid)
        if followed is not None and followed.hung_up:
            return
        self._write(
            EndCall(
                call_key=event.uniqueid,
                at=event.at,
                cause=event.cause,
                frames_dropped=followed.dropped if followed is not None else 0,
            )
        )
        if followed is None:
            logger.info("call %s ended (it was not followed live)", event.uniqueid)
            return
        followed.hung_up = True
        self.tasks.spawn(self._finish(followed, event), f"call-end-{event.uniqueid}")

    def _recording(self, event: RecordingFinished) -> None:
        stored = self._write(
            AttachRecording(
                call_key=event.uniqueid,
                path=event.path,
                kind=event.kind,
                format=event.format,
                sample_rate=event.sample_rate,
                duration_s=event.duration_s,
                size_bytes=event.size_bytes,
                sha256=event.sha256,
                complete=event.complete,
            )
        )
        if event.kind == "mixed" and self.on_live_finished is not None:
            # Once the recording is stored (post-call work reads it from the database): decode it now if live
            # processing is over or never ran; a call still followed is asked for when its processing ends.
            hook, key = self.on_live_finished, event.uniqueid
            stored.add_done_callback(lambda _: None if key in self.calls else hook(key))

    async def _finish(self, followed: FollowedCall, event: CallEnded) -> None:
        key = followed.key
        try:
            # The hang-up can overtake the last frames still in the AudioSocket connection: let them in.
            try:
                await asyncio.wait_for(followed.streams_done.wait(), self.stream_grace)
            except TimeoutError:
                logger.warning("call %s: audio stream still open %.0f s after the hang-up", key, self.stream_grace)
            if followed.operator is not None:
                await self._finish_operator(followed, followed.operator)
            end_s = followed.clock
            if followed.phase.accepts_audio:
                followed.phase = CallPhase.DRAINING
            outcome = await self._drain(followed, end_s)
            gaps = list(followed.gaps) + list(outcome.gaps) + _before_stream(followed)
            if followed.not_live_since is not None and end_s > followed.not_live_since:
                gaps.append(Span(followed.not_live_since, end_s))
            if followed.stream_lost is not None and followed.streams == 0:
                lost_s, lost_when = followed.stream_lost  # the call went on without audio until the hang-up
                gaps.append(Span(lost_s, lost_s + asyncio.get_running_loop().time() - lost_when))
            merged = missed_spans(gaps)
            if not outcome.decoded or followed.received_bytes == 0:
                # No live transcript (no audio ever arrived, or decoding never ran): the whole recording.
                status, merged = AsrStatus.DEFERRED, ()
            elif merged:
                status = AsrStatus.INCOMPLETE
            else:
                status = AsrStatus.COMPLETE
            await self._write(SetTranscriptState(call_key=key, status=status, gaps=_pairs(merged) or None))
            if followed.dropped:
                logger.warning(
                    "call %s ended with %d of %d audio frames not decoded live",
                    key,
                    followed.dropped,
                    followed.frames + followed.dropped,
                )
                self._write(EndCall(call_key=key, at=event.at, cause=event.cause, frames_dropped=followed.dropped))
        finally:
            followed.phase = CallPhase.FINISHED
            followed.finished.set()
            self.calls.pop(key, None)
            self._publish(
                CallEndedMessage(
                    call_key=key, call_id=self.registry.known_id(key), ended_at=event.at or datetime.now(UTC)
                )
            )
            if self.on_live_finished is not None:
                self.on_live_finished(key)

    async def _finish_operator(self, followed: FollowedCall, leg: OperatorLeg) -> None:
        """Drain the operator's voice and store its state: complete, or the spans to decode after the call."""
        try:
            await asyncio.wait_for(leg.streams_done.wait(), self.stream_grace)
        except TimeoutError:
            logger.warning("call %s: the operator's audio stream is still open after the hang-up", followed.key)
        end_s = leg.clock
        if leg.phase.accepts_audio:
            leg.phase = CallPhase.DRAINING
        outcome = await self._drain_queue(followed.key, leg.queue, leg.task, end_s, start_s=leg.audio_base)
        gaps = list(outcome.gaps)
        if leg.not_live_since is not None and end_s > leg.not_live_since:
            gaps.append(Span(leg.not_live_since, end_s))
        if leg.stream_lost_at is not None:
            gaps.append(Span(leg.stream_lost_at, max(followed.clock, leg.stream_lost_at)))
        if leg.audio_base > 0:
            gaps.append(Span(0.0, leg.audio_base))
        merged = missed_spans(gaps)
        if leg.received_bytes == 0:
            # The stream never carried a frame (Asterisk streams a snoop's audio, silence included, from its start):
            # it never worked, and what the caller heard is in the mixed recording as the caller's.
            status, merged = AsrStatus.COMPLETE, ()
            if leg.stream_lost_at is not None:
                logger.warning("call %s: the operator's stream broke before it carried any audio", followed.key)
        elif not outcome.decoded or leg.received_bytes == 0:
            status, merged = AsrStatus.DEFERRED, ()
        else:
            status = AsrStatus.INCOMPLETE if merged else AsrStatus.COMPLETE
        leg.phase = CallPhase.FINISHED
        await self._write(
            SetTranscriptState(call_key=followed.key, status=status, gaps=_pairs(merged), speaker=Speaker.OPERATOR)
        )

    async def _drain(self, followed: FollowedCall, end_s: float) -> LiveOutcome:
        """Let the live processor finish the queued audio; never leave it running (post-call work follows)."""
        return await self._drain_queue(
            followed.key, followed.queue, followed.task, end_s, start_s=followed.info.start_s
        )

    async def _drain_queue(
        self,
        key: CallKey,
        queue: asyncio.Queue[AudioItem],
        task: asyncio.Task[LiveOutcome] | None,
        end_s: float,
        *,
        start_s: float,
    ) -> LiveOutcome:
        if task is None:
            return LiveOutcome(decoded=False)
        try:
            await asyncio.wait_for(queue.put(EndOfAudio(end_s)), self.end_timeout)
            return await asyncio.wait_for(asyncio.shield(task), self.end_timeout)
        except TimeoutError:
            logger.error("call %s: live processing did not finish within %.0f s; cancelled", key, self.end_timeout)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # it is over before post-call work may start
            return LiveOutcome(gaps=(Span(start_s, end_s),), decoded=False)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        except Exception:
            return LiveOutcome(decoded=False)

    # ---------------------------------------------------------------------------------------------- hub

    def _publish(
        self, message: CallStartedMessage | CallStoredMessage | CallEndedMessage | TranscriptionChangedMessage
    ) -> None:
        if self.hub is not None:
            self.hub.publish(message)

    def _stored(self, key: CallKey, call_id: int) -> None:
        """The registry learned a call's id (on the loop): tell the desk if it did not have it."""
        followed = self.calls.get(key)
        if followed is None or followed.announced_id is not False:
            return  # not followed, call_started not out yet (it will carry the id), or the desk has it
        followed.announced_id = True
        followed.info = CallInfo(
            key=key,
            call_id=call_id,
            caller_number=followed.info.caller_number,
            started_at=followed.info.started_at,
            start_s=followed.info.start_s,
        )
        self._publish(CallStoredMessage(call_key=key, call_id=call_id))

    # ------------------------------------------------------------------------------------------ shutdown

    async def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every write handed over so far has reached the registry (stored or spooled)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._writes or self.tasks.named("call-end-"):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.wait({*self._writes, *self.tasks.named("call-end-")}, timeout=remaining)

    async def stop(self) -> None:
        """Finish every followed call's live processing and store what it made (the calls stay open)."""
        for followed in list(self.calls.values()):
            if not followed.hung_up:
                followed.hung_up = True
                self.tasks.spawn(self._stop_one(followed), f"call-stop-{followed.key}")
        await self.tasks.wait(within=self.end_timeout)
        await self.tasks.close()
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=self.end_timeout)

    async def _stop_one(self, followed: FollowedCall) -> None:
        """callcard is stopping: drain the call's live processing; its gaps are what a restart must re-decode."""
        end_s = followed.clock
        if followed.phase.accepts_audio:
            followed.phase = CallPhase.DRAINING
        try:
            if followed.operator is not None:
                await self._finish_operator(followed, followed.operator)
            outcome = await self._drain(followed, end_s)
            gaps = missed_spans([*followed.gaps, *outcome.gaps, *_before_stream(followed)])
            if gaps:
                await self._write(
                    SetTranscriptState(call_key=followed.key, status=AsrStatus.INCOMPLETE, gaps=_pairs(gaps))
                )
        finally:
            followed.phase = CallPhase.FINISHED
            followed.finished.set()
            self.calls.pop(followed.key, None)


def _pairs(spans: tuple[Span, ...]) -> tuple[tuple[float, float], ...]:
    return tuple((s.start, s.end) for s in spans)


def _before_stream(followed: FollowedCall) -> list[Span]:
    """A re-adopted call's stream began after its recording did: what was said before is decoded from the recording
    (the words live decoding already gave before the restart are kept, nothing is decoded twice)."""
    return [Span(0.0, followed.audio_base)] if followed.audio_base > 0 else []


def _status_at_start(transcription: LiveTranscription) -> AsrStatus:
    if transcription is LiveTranscription.LIVE:
        return AsrStatus.LIVE
    if transcription is LiveTranscription.AFTER_CALL:
        return AsrStatus.DEFERRED
    return AsrStatus.NO_MODEL
