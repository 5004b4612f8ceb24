"""After hang-up: decode from the recording what live decoding missed, store it, and propose the card again.

The work to do is kept in the database (the call's ``asr_status`` and ``asr_gaps``), so it survives a restart:
on start the worker looks for ended calls whose transcript still needs the recording, and afterwards it is
asked for each call whose live processing is over. A call is never decoded after the call while its live
processing runs. A failure for a transient reason (a worker crash, the database down) is retried with a
growing delay; after ``max_attempts`` the call is marked ``postcall_failed`` with the error, which admins see.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from asr.audio import AudioFormatError
from asr.base import FinalSegment, Span, Word
from calls.hub import CardHub
from calls.lifecycle import AsrStatus
from calls.messages import CallKey, CardProposedMessage
from calls.session import proposal_dict, segment_write
from calls.writes import CallWriter, PostCallOutcome, SetTranscriptState, StoreProposal
from classifier.base import CardProposer
from core.tasks import BackgroundTasks
from core.types import Speaker
from models.records import Call, Recording, TranscriptSegment

logger = logging.getLogger(__name__)

LiveFinished = Callable[[CallKey], Awaitable[None]]
MIN_SPAN_S = 0.25  # a stretch of the mixed recording shorter than this is not decoded for the operator


class FileDecoder(Protocol):
    """What post-call work needs of the speech engine (VoskSpeechEngine has it)."""

    async def transcribe_file(
        self, path: str, *, language: str = "auto", spans: Sequence[Span] | None = None
    ) -> list[FinalSegment]:
        """Decode a recording (only ``spans`` of it, when given) on the recording's clock."""
        ...


class JobResult(StrEnum):
    """How one attempt at a call's post-call work ended."""

    DONE = "done"  # the missing spans are decoded and stored
    NOTHING = "nothing"  # the transcript needs nothing (complete, or already done)
    NO_RECORDING = "no_recording"  # no finished recording (or stored end) yet: looked at again soon, and on arrival
    RETRY = "retry"  # a transient failure: tried again later
    FAILED = "failed"  # given up: marked postcall_failed


@dataclass(frozen=True, slots=True)
class CallState:
    """What the database says of a call's transcript."""

    call_id: int
    status: AsrStatus | None
    gaps: tuple[Span, ...] | None
    attempts: int
    ended: bool
    recording: str | None
    live: tuple[tuple[float, float], ...]  # spans of the live segments
    text: tuple[tuple[float, str], ...]  # (start, text) of every machine-made segment
    redecoded: bool  # the big models' transcript is stored already
    operator: OperatorLegState | None = None  # the operator's voice, when it has a recording of its own
    recording_kind: str = "mixed"  # mixed (both voices), or caller (a FastAGI call's caller leg)


@dataclass(frozen=True, slots=True)
class OperatorLegState:
    """What the database says of the operator's voice of a call."""

    status: AsrStatus | None
    gaps: tuple[Span, ...] | None
    recording: str
    spans: tuple[tuple[float, float], ...]  # spans of the operator's stored segments
    # True: ``recording`` is the mixed one (an ARI call: the operator-leg file callcard wrote from the stream lacks
    # what the stream lost, Asterisk's mixed recording has it); False: the operator's own file (MixMonitor t()).
    from_mixed: bool = False

    @property
    def needs_decoding(self) -> bool:
        """Whether the operator's recording still has to be decoded (None: never decoded live, e.g. FastAGI)."""
        return self.status is None or self.status.needs_postcall


def _status(value: str | None) -> AsrStatus | None:
    try:
        return AsrStatus(value) if value else None
    except ValueError:
        return None


def read_state(session: Session, key: CallKey) -> CallState | None:
    """The call's transcript state, or None if the database does not have the call (yet)."""
    call = session.scalars(select(Call).where(Call.uniqueid == key)).first()
    if call is None:
        return None
    paths = {
        kind: path
        for kind, path in session.execute(
            select(Recording.kind, Recording.path).where(Recording.call_id == call.id).order_by(Recording.id.desc())
        ).all()
    }
    # A FastAGI call's caller leg (MixMonitor r()) is on the mixed recording's clock and holds the caller alone.
    recording_kind = "caller" if call.source == "agi" and "caller" in paths else "mixed"
    recording = paths.get(recording_kind)
    machine = TranscriptSegment.source.in_(("live", "postcall", "redecode"))
    rows = session.execute(
        select(TranscriptSegment.source, TranscriptSegment.start_s, TranscriptSegment.end_s, TranscriptSegment.text)
        .where(TranscriptSegment.call_id == call.id, machine, TranscriptSegment.speaker == Speaker.CALLER.value)
        .order_by(TranscriptSegment.start_s)
    ).all()
    operator: OperatorLegState | None = None
    operator_status = _status(call.operator_asr_status)
    if call.source == "agi" and "operator" in paths:
        operator_recording, from_mixed = paths["operator"], False
    elif operator_status is not None and "mixed" in paths:
        operator_recording, from_mixed = paths["mixed"], True
    else:
        operator_recording, from_mixed = None, False
    if operator_recording is not None:
        spoken = session.execute(
            select(TranscriptSegment.start_s, TranscriptSegment.end_s).where(
                TranscriptSegment.call_id == call.id, machine, TranscriptSegment.speaker == Speaker.OPERATOR.value
            )
        ).all()
        operator = OperatorLegState(
            status=operator_status,
            gaps=tuple(Span(float(a), float(b)) for a, b in call.operator_asr_gaps) if call.operator_asr_gaps else None,
            recording=operator_recording,
            spans=tuple((float(a), float(b)) for a, b in spoken),
            from_mixed=from_mixed,
        )
    return CallState(
        call_id=call.id,
        status=_status(call.asr_status),
        gaps=tuple(Span(float(a), float(b)) for a, b in call.asr_gaps) if call.asr_gaps else None,
        attempts=call.postcall_attempts or 0,
        ended=call.ended_at is not None,
        recording=recording,
        live=tuple((float(s), float(e)) for src, s, e, _ in rows if src == "live"),
        text=tuple((float(s), str(t)) for src, s, _, t in rows if src != "redecode"),
        redecoded=any(src == "redecode" for src, *_ in rows),
        operator=operator,
        recording_kind=recording_kind,
    )


def pending_calls(session: Session, *, max_attempts: int, limit: int = 500) -> list[CallKey]:
    """Ended calls whose transcript still needs their recording (oldest first)."""
    waiting = [s.value for s in AsrStatus if s.needs_postcall]
    operator_waiting = and_(
        or_(Call.operator_asr_status.is_(None), Call.operator_asr_status.in_(waiting)),
        exists().where(Recording.call_id == Call.id, Recording.kind == "operator"),
    )
    stmt = (
        select(Call.uniqueid)
        .where(
            Call.ended_at.is_not(None),
            or_(Call.asr_status.in_(waiting), operator_waiting),
            Call.postcall_attempts < max_attempts,
        )
        .order_by(Call.ended_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def missing_words(
    segments: Sequence[FinalSegment], *, live: Sequence[tuple[float, float]], spans: Sequence[Span] | None
) -> list[FinalSegment]:
    """The decoded segments cut to the words live decoding did not give: a word whose middle falls inside a live
    segment (or outside the spans asked for) is left out, so nothing overlaps the live transcript."""

    def wanted(word: Word) -> bool:
        middle = (word.start + word.end) / 2
        if any(start <= middle <= end for start, end in live):
            return False
        return spans is None or any(s.start <= middle <= s.end for s in spans)

    out: list[FinalSegment] = []
    for seg in segments:
        if not seg.words:
            middle = (seg.start + seg.end) / 2
            if seg.text.strip() and not any(a <= middle <= b for a, b in live):
                out.append(seg)
            continue
        run: list[Word] = []
        for word in (*seg.words, None):
            if word is not None and wanted(word):
                run.append(word)
                continue
            if run:
                confidence = sum(w.conf for w in run) / len(run)
                out.append(
                    FinalSegment(
                        text=" ".join(w.text for w in run),
                        language=seg.language,
                        start=run[0].start,
                        end=run[-1].end,
                        words=tuple(run),
                        confidence=round(confidence, 4),
                        engine=seg.engine,
                        model_version=seg.model_version,
                    )
                )
                run = []
    return out


class PostCallWorker:
    """Decodes recordings after the call for what the live transcript lacks; one call at a time per worker."""

    def __init__(
        self,
        *,
        decoder: FileDecoder | None,
        proposer: CardProposer | None,
        sessions: sessionmaker[Session],
        writer: CallWriter,
        hub: CardHub | None = None,
        live_finished: LiveFinished | None = None,
        retry_base_s: float = 2.0,
        retry_max_s: float = 300.0,
        max_attempts: int = 8,
        scan_interval_s: float = 60.0,
        recheck_s: float = 5.0,
        recheck_times: int = 24,
    ) -> None:
        """Wire the worker; ``live_finished(key)`` returns once the call's live processing is over."""
        self._decoder = decoder
        self._proposer = proposer
        self._sessions = sessions
        self._writer = writer
        self._hub = hub
        self._live_finished = live_finished
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.max_attempts = max_attempts
        self.scan_interval_s = scan_interval_s
        self.recheck_s = recheck_s
        self.recheck_times = recheck_times
        self._waiting: dict[CallKey, int] = {}  # calls whose recording was not there yet: how often looked
        self._queue: asyncio.Queue[CallKey] = asyncio.Queue()
        self._queued: set[CallKey] = set()
        self._tasks = BackgroundTasks("post-call worker")
        self.results: dict[CallKey, JobResult] = {}
        # Called with a call's key once its post-call work is over (QA scoring, wired by the composition root).
        self.on_settled: Callable[[CallKey], None] | None = None
        self.failed = 0

    # ----------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start working: first the calls the database says still need their recording, then each request."""
        self._tasks.spawn(self._work_loop(), "postcall-work")
        self._tasks.spawn(self._scan_loop(), "postcall-scan")

    async def stop(self) -> None:
        """Stop (work in progress is cancelled; the database still says what is left, for the next start)."""
        await self._tasks.close()

    def request(self, key: CallKey) -> None:
        """Ask for the call's post-call work (idempotent while it waits)."""
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    @property
    def queued(self) -> int:
        """Calls waiting for post-call work."""
        return len(self._queued)

    async def _scan_loop(self) -> None:
        while True:
            try:
                keys = await asyncio.to_thread(self._pending)
            except Exception as exc:
                logger.warning("cannot look for calls awaiting post-call decoding: %s", exc)
            else:
                for key in keys:
                    self.request(key)
            await asyncio.sleep(self.scan_interval_s)

    def _pending(self) -> list[CallKey]:
        with self._sessions() as session:
            return pending_calls(session, max_attempts=self.max_attempts)

    async def _work_loop(self) -> None:
        while True:
            key = await self._queue.get()
            try:
                result = await self.run_once(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("call %s: post-call work failed unexpectedly", key)
                result = JobResult.RETRY
            finally:
                self._queued.discard(key)
            self.results[key] = result
            if result in (JobResult.DONE, JobResult.NOTHING, JobResult.FAILED) and self.on_settled is not None:
                self.on_settled(key)  # the transcript is as complete as it gets: QA's checks may read it
            if result is JobResult.RETRY:
                attempts = await self._attempts(key)
                delay = min(self.retry_max_s, self.retry_base_s * 2 ** max(0, attempts - 1))
                self._tasks.spawn(self._later(key, delay), f"postcall-retry-{key}")
            elif result is JobResult.NO_RECORDING:
                # The recording is usually on its way (fetched from Asterisk, or the end still in the spool):
                # look again soon, for a while; after that the database scan and RecordingFinished take over.
                waited = self._waiting.get(key, 0) + 1
                self._waiting[key] = waited
                if waited <= self.recheck_times:
                    self._tasks.spawn(self._later(key, self.recheck_s), f"postcall-recheck-{key}")
            else:
                self._waiting.pop(key, None)

    async def _later(self, key: CallKey, delay: float) -> None:
        await asyncio.sleep(delay)
        self.request(key)

    async def _attempts(self, key: CallKey) -> int:
        try:
            state = await asyncio.to_thread(self._read, key)
        except Exception:
            return 1
        return state.attempts if state is not None else 1

    def _read(self, key: CallKey) -> CallState | None:
        with self._sessions() as session:
            return read_state(session, key)

    # ---------------------------------------------------------------------------------------------- work

    async def run_once(self, key: CallKey) -> JobResult:
        """One attempt at the call's post-call work."""
        if self._live_finished is not None:
            await self._live_finished(key)  # never beside the call's live decoding
        try:
            state = await asyncio.to_thread(self._read, key)
        except Exception as exc:
            logger.warning("call %s: post-call work waits for the database: %s", key, exc)
            return JobResult.RETRY
        if state is None:
            return JobResult.RETRY  # the call is still in the spool
        if state.operator is not None and state.operator.needs_decoding and state.ended:
            heard = await self._operator_leg(key, state.operator, state)
            state = replace(state, operator=replace(state.operator, spans=(*state.operator.spans, *heard)))
        if state.status is AsrStatus.COMPLETE and state.ended and self._decoder is not None:
            try:
                await self._redecode(key, state)
            except Exception:
                logger.exception("call %s: re-decoding with the big models failed", key)
            return JobResult.NOTHING
        if state.status is None or not state.status.needs_postcall:
            return JobResult.NOTHING
        if state.recording is None or not state.ended:
            return JobResult.NO_RECORDING  # on its way (being fetched, or the end still in the spool): looked at again
        if self._decoder is None:
            await self._outcome(key, AsrStatus.NO_MODEL, None)
            return JobResult.NOTHING
        spans = state.gaps if state.status is AsrStatus.INCOMPLETE else None
        try:
            decoded = await self._decoder.transcribe_file(state.recording, spans=spans)
        except (AudioFormatError, FileNotFoundError) as exc:
            logger.error("call %s: recording %s cannot be decoded: %s", key, state.recording, exc)
            await self._outcome(key, AsrStatus.POSTCALL_FAILED, f"{type(exc).__name__}: {exc}")
            self.failed += 1
            return JobResult.FAILED
        except Exception as exc:
            if state.attempts + 1 >= self.max_attempts:
                logger.error("call %s: post-call decoding failed %d times; given up: %s", key, state.attempts + 1, exc)
                await self._outcome(key, AsrStatus.POSTCALL_FAILED, f"{type(exc).__name__}: {exc}")
                self.failed += 1
                return JobResult.FAILED
            logger.warning("call %s: post-call decoding failed (%s); retried later", key, exc)
            await self._outcome(key, state.status, f"{type(exc).__name__}: {exc}")
            return JobResult.RETRY
        # The mixed recording holds both voices: where the operator's own leg has their words, these are theirs.
        operator_spans = state.operator.spans if state.operator is not None and recording_is_mixed(state) else ()
        segments = missing_words(decoded, live=(*state.live, *operator_spans), spans=spans)
        for seg in segments:
            self._writer.enqueue(segment_write(key, seg, source="postcall"))
        logger.info("call %s: %d segments decoded from the recording after the call", key, len(segments))
        if segments and self._proposer is not None:
            await self._propose(key, state, segments)
        await self._redecode(key, state)
        await self._outcome(key, AsrStatus.POSTCALL_DONE, None)
        return JobResult.DONE

    async def _operator_leg(
        self, key: CallKey, leg: OperatorLegState, state: CallState
    ) -> tuple[tuple[float, float], ...]:
        """Decode what the operator's live transcript lacks; the spans now transcribed.

        From the mixed recording (ARI), only where the caller's live transcript has no gap and no words: where both
        voices were lost, the words go to the caller (they can make the card; nothing can tell the voices apart).
        Never retried in a loop: a recording that cannot be decoded marks the operator's voice postcall_failed (the
        caller's transcript and the card do not depend on it)."""
        if self._decoder is None:
            await self._writer.enqueue(SetTranscriptState(key, AsrStatus.NO_MODEL, (), Speaker.OPERATOR))
            return ()
        spans = leg.gaps if leg.status is AsrStatus.INCOMPLETE else None
        taken: tuple[tuple[float, float], ...] = leg.spans
        if leg.from_mixed:
            caller_gaps = state.gaps or ()
            if state.status is AsrStatus.DEFERRED:  # the caller was not decoded live at all: the voices are one
                await self._writer.enqueue(SetTranscriptState(key, AsrStatus.POSTCALL_DONE, (), Speaker.OPERATOR))
                return ()
            left = without(spans or (Span(0.0, float("inf")),), caller_gaps)
            spans = tuple(s for s in left if s.end - s.start >= MIN_SPAN_S)  # slivers between clocks hold no words
            taken = (*leg.spans, *state.live)
        try:
            decoded = await self._decoder.transcribe_file(leg.recording, spans=spans) if spans != () else []
        except Exception as exc:
            logger.error("call %s: the operator's recording %s cannot be decoded: %s", key, leg.recording, exc)
            await self._writer.enqueue(SetTranscriptState(key, AsrStatus.POSTCALL_FAILED, None, Speaker.OPERATOR))
            return ()
        segments = missing_words(decoded, live=taken, spans=spans)
        for seg in segments:
            self._writer.enqueue(segment_write(key, seg, source="postcall", speaker=Speaker.OPERATOR))
        await self._writer.enqueue(SetTranscriptState(key, AsrStatus.POSTCALL_DONE, (), Speaker.OPERATOR))
        logger.info("call %s: %d segments of the operator's voice decoded after the call", key, len(segments))
        return tuple((seg.start, seg.end) for seg in segments)

    async def _redecode(self, key: CallKey, state: CallState) -> None:
        """With big models configured, store their whole-call transcript beside the live one (source redecode)."""
        redecode = getattr(self._decoder, "redecode", None)
        if redecode is None or state.redecoded or state.recording is None:
            return
        segments = await redecode(state.recording)
        for seg in segments or ():
            self._writer.enqueue(segment_write(key, seg, source="redecode"))

    async def _propose(self, key: CallKey, state: CallState, segments: Sequence[FinalSegment]) -> None:
        assert self._proposer is not None
        parts = sorted([*state.text, *((s.start, s.text) for s in segments)])
        text = " ".join(t for _, t in parts if t)
        proposal = await asyncio.to_thread(self._proposer.propose, text)
        future = self._writer.enqueue(
            StoreProposal(call_key=key, proposal=proposal_dict(proposal), model_version=proposal.model_version)
        )
        card_id = await future
        if self._hub is not None:
            self._hub.publish(
                CardProposedMessage(call_key=key, call_id=state.call_id, card_id=card_id, proposal=proposal)
            )

    async def _outcome(self, key: CallKey, status: AsrStatus, error: str | None) -> None:
        await self._writer.enqueue(PostCallOutcome(call_key=key, status=status, error=error))


def recording_is_mixed(state: CallState) -> bool:
    """Whether the caller's words are decoded from the mixed recording (both voices), not from the caller's leg."""
    return state.recording_kind == "mixed"


def without(spans: Sequence[Span], remove: Sequence[Span]) -> tuple[Span, ...]:
    """``spans`` with every part inside ``remove`` cut out."""
    out = list(spans)
    for cut in remove:
        kept: list[Span] = []
        for span in out:
            if cut.end <= span.start or cut.start >= span.end:
                kept.append(span)
                continue
            if span.start < cut.start:
                kept.append(Span(span.start, cut.start))
            if cut.end < span.end:
                kept.append(Span(cut.end, span.end))
        out = kept
    return tuple(out)
