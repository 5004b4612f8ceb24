"""CallSession: one call's live processing — audio → ASR → proposals → durable writes → hub messages.

The session knows its call by key. It publishes what it learns at once (an emergency before any database
round trip) and hands every segment and proposal to the CallWriter, which stores it or spools it while the
database is down: nothing the call produces is dropped. Audio that never reached it (dropped frames, a restart)
shows as a jump in the chunks' call-clock times; the speech session skips it and reports it as a gap, which the
recording fills after hang-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from asr.base import FinalSegment, PartialSegment, Segment, Span, SpeechEngine, SpeechSession
from calls.hub import CardHub
from calls.live import AudioChunk, AudioItem, CallInfo, EndOfAudio, LiveOutcome
from calls.messages import (
    CardProposedMessage,
    EmergencyAlertMessage,
    LiveSegment,
    LiveWord,
    TranscriptFinalMessage,
    TranscriptPartialMessage,
)
from calls.writes import CallWriter, SegmentWord, StoreProposal, StoreSegment
from classifier.base import CallScorer, CardProposal, CardProposer, EmergencyHint, HeardWord
from core.logging import current_call
from core.types import NO_EMERGENCY, SAMPLE_RATE, SAMPLE_WIDTH, Speaker

logger = logging.getLogger(__name__)

MAX_BATCH_FRAMES = 50  # at most 1 s of 20 ms frames per recognizer call
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
CLOCK_SLACK_S = 0.005  # a chunk later than the clock by more than this means audio was lost before it


def proposal_dict(p: CardProposal) -> dict[str, Any]:
    """The proposal as the JSON shape of contracts.md (API ``proposed``, the stored proposal)."""
    return {
        "topic": p.topic,
        "service": p.service,
        "emergency": p.emergency,
        "emergency_also": list(p.emergency_also),
        "language": p.language,
        "address": asdict(p.address),
        "summary": p.summary,
        "confidence": dict(p.confidence),
        "alternatives": {
            field: [{"id": s.id, "confidence": s.confidence} for s in scored]
            for field, scored in p.alternatives.items()
        },
        "model_version": p.model_version,
        "house_status": p.house_status.value,
    }


def segment_write(call_key: str, seg: FinalSegment, *, source: str, speaker: Speaker = Speaker.CALLER) -> StoreSegment:
    """The durable write of one final segment of one voice (live, or decoded from a recording after the call)."""
    return StoreSegment(
        call_key=call_key,
        source=source,
        start=seg.start,
        end=max(seg.end, seg.start),
        text=seg.text,
        language=seg.language if seg.language in ("ru", "kk") else None,
        confidence=seg.confidence,
        words=tuple(SegmentWord(w.text, w.start, w.end, w.conf) for w in seg.words),
        engine=seg.engine,
        model_version=seg.model_version,
        speaker=speaker,
    )


def live_segment(seg: FinalSegment, segment_id: int | None, speaker: Speaker = Speaker.CALLER) -> LiveSegment:
    """A final segment as the desk shows it."""
    return LiveSegment(
        id=segment_id,
        start=seg.start,
        end=seg.end,
        text=seg.text,
        language=seg.language,
        confidence=seg.confidence,
        words=tuple(LiveWord(w.text, w.start, w.end, w.conf) for w in seg.words),
        speaker=speaker,
    )


def segment_dict(seg: FinalSegment, segment_id: int | None) -> dict[str, Any]:
    """A final segment as a JSON object (``callcard transcribe --json``, the desk's ``segment``)."""
    shown = live_segment(seg, segment_id)
    return {
        "id": shown.id,
        "start": shown.start,
        "end": shown.end,
        "text": shown.text,
        "language": shown.language,
        "confidence": shown.confidence,
        "words": [asdict(w) for w in shown.words],
    }


@dataclass
class SessionStats:
    """What happened during one call's live processing (for logs and tests)."""

    chunks: int = 0
    bytes: int = 0
    partials: int = 0
    finals: int = 0
    proposals: int = 0
    alerts: int = 0
    skipped_s: float = 0.0
    asr_failed: bool = False


class CallSession:
    """Live processing of one voice of a call. Failures of ASR or the classifier never stop the audio draining.

    The caller's voice feeds the card proposal and the emergency banner; the operator's voice (``speaker``
    OPERATOR) is transcribed, stored and shown, and never reaches the classifier: an operator asking "пожар?" must
    not raise the banner, and their words must not change the proposed topic.
    """

    def __init__(
        self,
        info: CallInfo,
        *,
        speech: SpeechEngine | None,
        proposer: CardProposer | None,
        writer: CallWriter,
        hub: CardHub,
        language: str = "auto",
        emergency_threshold: float = 0.5,
        id_wait: float = 0.5,
        speaker: Speaker = Speaker.CALLER,
    ) -> None:
        self.info = info
        self.speaker = speaker
        self._speech = speech
        self._proposer = proposer if speaker is Speaker.CALLER else None
        self._writer = writer
        self._hub = hub
        self._language = language
        self._threshold = emergency_threshold
        self._id_wait = id_wait
        self.card_id: int | None = None
        self.stats = SessionStats()
        self._stream: SpeechSession | None = None
        self._scorer: CallScorer | None = None
        self._alerted: set[str] = set()
        self._clock = info.start_s
        self._failed_at: float | None = None  # call time at which live recognition stopped working

    @property
    def key(self) -> str:
        """The call's key."""
        return self.info.key

    async def run(self, audio: asyncio.Queue[AudioItem]) -> LiveOutcome:
        """Consume the call's audio until EndOfAudio, then flush recognition and the card."""
        token = current_call.set(self.key)
        try:
            self._start()
            pending: AudioItem | None = None
            while True:
                item = pending if pending is not None else await audio.get()
                pending = None
                if isinstance(item, EndOfAudio):
                    break
                # Whatever queued up contiguously while the last chunk decoded goes to the recognizer in one piece.
                parts = [item.pcm]
                expected = item.at_s + len(item.pcm) / BYTES_PER_SECOND
                while len(parts) < MAX_BATCH_FRAMES and not audio.empty():
                    nxt = audio.get_nowait()
                    if isinstance(nxt, EndOfAudio) or abs(nxt.at_s - expected) > CLOCK_SLACK_S:
                        pending = nxt
                        break
                    parts.append(nxt.pcm)
                    expected = nxt.at_s + len(nxt.pcm) / BYTES_PER_SECOND
                await self._feed(AudioChunk(b"".join(parts), item.at_s))
                self.stats.chunks += len(parts)
            return await self._finish()
        finally:
            await self._close()
            current_call.reset(token)

    # -- start / stop -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._speech is not None:
            try:
                self._stream = self._speech.open_session(
                    call_id=self.key if self.speaker is Speaker.CALLER else f"{self.key}/{self.speaker.value}",
                    language=self._language,
                    start_s=self.info.start_s,
                )
            except Exception:
                self.stats.asr_failed = True
                logger.exception("could not open a recognition session; the call is decoded after hang-up")
        if self._proposer is not None:
            try:
                self._scorer = self._proposer.open_call()
            except Exception:
                logger.exception("could not open the card scorer; cards can still be made by hand")

    async def _finish(self) -> LiveOutcome:
        if self._stream is not None and self._failed_at is None:
            try:
                await self._handle(await self._stream.finish())
            except Exception:
                self._failed(self._clock, "flushing recognition failed")
        if self._stream is None:
            return LiveOutcome(decoded=False)
        gaps: list[Span] = list(self._stream.gaps)
        if self._failed_at is not None and self._clock > self._failed_at:
            gaps.append(Span(self._failed_at, self._clock))
        if gaps:
            logger.warning(
                "live transcript has %d gap(s); they are decoded from the recording after the call", len(gaps)
            )
        return LiveOutcome(gaps=tuple(gaps), decoded=True)

    async def _close(self) -> None:
        if self._stream is not None:
            try:
                await self._stream.aclose()
            except Exception:
                logger.exception("closing the recognition session failed")

    def _failed(self, at: float, what: str) -> None:
        self.stats.asr_failed = True
        if self._failed_at is None:
            self._failed_at = at
        logger.exception("%s at %.1f s; the rest of the call is decoded from the recording", what, at)

    # -- audio and segments ------------------------------------------------------------------

    async def _feed(self, chunk: AudioChunk) -> None:
        lost = chunk.at_s - self._clock
        self._clock = max(self._clock, chunk.at_s) + len(chunk.pcm) / BYTES_PER_SECOND
        self.stats.bytes += len(chunk.pcm)
        if self._stream is None or self._failed_at is not None:
            return
        try:
            if lost > CLOCK_SLACK_S:
                self.stats.skipped_s += lost
                await self._handle(await self._stream.skip(lost))
            segments = await self._stream.feed(chunk.pcm)
        except Exception:
            self._failed(chunk.at_s, "recognition failed mid-call")
            return
        await self._handle(segments)

    async def _handle(self, segments: Sequence[Segment]) -> None:
        for seg in segments:
            if isinstance(seg, PartialSegment):
                await self._on_partial(seg)
            else:
                await self._on_final(seg)

    async def _on_partial(self, seg: PartialSegment) -> None:
        self.stats.partials += 1
        self._hub.publish(
            TranscriptPartialMessage(
                call_key=self.key,
                call_id=self._call_id(),
                text=seg.text,
                language=seg.language,
                start=seg.start,
                speaker=self.speaker,
            )
        )
        if self._scorer is not None and seg.text:
            try:
                hint = self._scorer.check_partial(seg.text)
            except Exception:
                logger.exception("emergency check on a partial result failed")
                return
            await self._maybe_alert(hint, seg.text)

    async def _on_final(self, seg: FinalSegment) -> None:
        if not seg.text.strip():
            return
        self.stats.finals += 1
        segment_id = await self._store(segment_write(self.key, seg, source="live", speaker=self.speaker))
        self._hub.publish(
            TranscriptFinalMessage(
                call_key=self.key,
                call_id=self._call_id(),
                segment=live_segment(seg, segment_id, self.speaker),
                stored_at=datetime.now(UTC),
            )
        )
        if self._scorer is not None:
            scorer = self._scorer
            try:
                heard = tuple(HeardWord(w.text, w.conf) for w in seg.words)
                proposal = await asyncio.to_thread(scorer.add_final, seg.text, heard)
            except Exception:
                logger.exception("the classifier failed on a segment; the operator fills the card by hand")
                return
            await self._save_proposal(proposal)
            await self._maybe_alert(
                EmergencyHint(
                    emergency=proposal.emergency,
                    emergency_also=proposal.emergency_also,
                    confidence=proposal.confidence.get("emergency", 1.0),
                    evidence=seg.text,
                ),
                seg.text,
            )

    # -- proposals and alerts ----------------------------------------------------------------

    async def _save_proposal(self, proposal: CardProposal) -> None:
        self.stats.proposals += 1
        card_id = await self._store(
            StoreProposal(call_key=self.key, proposal=proposal_dict(proposal), model_version=proposal.model_version)
        )
        if card_id is not None:
            self.card_id = card_id
        self._hub.publish(
            CardProposedMessage(call_key=self.key, call_id=self._call_id(), card_id=self.card_id, proposal=proposal)
        )

    async def _maybe_alert(self, hint: EmergencyHint, text: str) -> None:
        if hint.emergency == NO_EMERGENCY or hint.confidence < self._threshold:
            return
        if hint.emergency in self._alerted:
            return
        self._alerted.add(hint.emergency)
        self.stats.alerts += 1
        alert = EmergencyAlertMessage(
            call_key=self.key,
            call_id=self._call_id(),
            card_id=self.card_id,
            emergency=hint.emergency,
            emergency_also=tuple(hint.emergency_also),
            confidence=hint.confidence,
            evidence=hint.evidence or text,
        )
        # Publish first: the operator must see an emergency before any database round trip.
        self._hub.publish(alert)
        logger.warning("emergency %s proposed (confidence %.2f)", hint.emergency, hint.confidence)
        if self.card_id is None and self._proposer is not None:
            proposer = self._proposer
            try:
                proposal = await asyncio.to_thread(proposer.propose, text)
            except Exception:
                logger.exception("could not build a card for the emergency")
                return
            if proposal.emergency == NO_EMERGENCY:
                # The partial-text rule fired; keep its verdict on the card the operator sees.
                proposal = _with_emergency(proposal, hint)
            await self._save_proposal(proposal)
            if self.card_id is not None:
                self._hub.publish(replace(alert, card_id=self.card_id, call_id=self._call_id()))

    # -- plumbing ----------------------------------------------------------------------------

    def _call_id(self) -> int | None:
        return self._writer.known_id(self.key)

    async def _store(self, write: StoreSegment | StoreProposal) -> int | None:
        """Hand a write over (it is never lost); its id if the database gives it within ``id_wait``."""
        future = self._writer.enqueue(write)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._id_wait)
        except TimeoutError:
            return None  # stored later, in order; the desk shows it without its id meanwhile
        except Exception:
            logger.exception("storing a %s failed", type(write).__name__)
            return None


def _with_emergency(p: CardProposal, hint: EmergencyHint) -> CardProposal:
    confidence = {**p.confidence, "emergency": hint.confidence}
    return replace(p, emergency=hint.emergency, emergency_also=hint.emergency_also, confidence=confidence)


def session_factory(
    *,
    speech: SpeechEngine | None,
    proposer: CardProposer | None,
    writer: CallWriter,
    hub: CardHub,
    language: str = "auto",
    speaker: Speaker = Speaker.CALLER,
) -> Callable[[CallInfo], CallSession]:
    """A calls.live.ProcessorFactory that builds a CallSession per call, for one voice."""

    def build(info: CallInfo) -> CallSession:
        return CallSession(
            info, speech=speech, proposer=proposer, writer=writer, hub=hub, language=language, speaker=speaker
        )

    return build
