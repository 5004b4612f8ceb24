"""CallSession: one call's live processing — audio → ASR → proposals → records → hub messages.

The call manager publishes call_started / call_ended; a session publishes what it learns in between."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from asr.base import FinalSegment, PartialSegment, Segment, SpeechEngine, SpeechSession
from calls import hub as msg
from calls.hub import CardHub
from calls.live import CallInfo
from classifier.base import CallScorer, CardProposal, CardProposer, EmergencyHint
from core.logging import current_call
from core.types import NO_EMERGENCY
from models.records import TranscriptSegment
from models.repo import calls as repo

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH_FRAMES = 50  # at most 1 s of 20 ms frames per recognizer call


def proposal_dict(p: CardProposal) -> dict[str, Any]:
    """The proposal as the JSON shape of contracts.md (API ``proposed`` and hub ``proposal``)."""
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
    }


def segment_dict(seg: FinalSegment, segment_id: int | None) -> dict[str, Any]:
    """A final segment as the hub's ``segment`` object."""
    return {
        "id": segment_id,
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "language": seg.language,
        "confidence": seg.confidence,
        "words": [{"word": w.text, "start": w.start, "end": w.end, "conf": w.conf} for w in seg.words],
    }


def store_segment(session: Session, *, call_id: int, seg: FinalSegment, source: str) -> TranscriptSegment:
    """Persist one final segment of ``call_id`` (live, or decoded from the recording after the call)."""
    return repo.add_segment(
        session,
        call_id=call_id,
        text=seg.text,
        start_s=seg.start,
        end_s=max(seg.end, seg.start),
        language=seg.language,
        words=segment_dict(seg, None)["words"],
        confidence=seg.confidence,
        engine=seg.engine,
        model_version=seg.model_version,
        source=source,
    )


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


@dataclass
class SessionStats:
    """What happened during one call's live processing (for logs and tests)."""

    chunks: int = 0
    bytes: int = 0
    partials: int = 0
    finals: int = 0
    proposals: int = 0
    alerts: int = 0
    asr_failed: bool = False
    db_errors: int = 0


class CallSession:
    """Live processing of one call. Failures of ASR, classifier or database never stop the audio draining."""

    def __init__(
        self,
        info: CallInfo,
        *,
        speech: SpeechEngine | None,
        proposer: CardProposer | None,
        sessions: sessionmaker[Session],
        hub: CardHub,
        language: str = "auto",
        emergency_threshold: float = 0.5,
    ) -> None:
        self.info = info
        self._speech = speech
        self._proposer = proposer
        self._sessions = sessions
        self._hub = hub
        self._language = language
        self._threshold = emergency_threshold
        self.call_id: int | None = info.call_id
        self.card_id: int | None = None
        self.stats = SessionStats()
        self._stream: SpeechSession | None = None
        self._scorer: CallScorer | None = None
        self._alerted: set[str] = set()

    async def run(self, frames: asyncio.Queue[bytes | None]) -> None:
        """Consume the call's audio until None, then flush recognition and the card."""
        token = current_call.set(self.info.uniqueid)
        try:
            await self._start()
            ended = False
            while not ended:
                chunk = await frames.get()
                if chunk is None:
                    break
                # Whatever queued up while the last chunk decoded goes to the recognizer in one piece:
                # the session catches up after a slow moment instead of paying per-frame overhead.
                parts = [chunk]
                while len(parts) < MAX_BATCH_FRAMES and not frames.empty():
                    nxt = frames.get_nowait()
                    if nxt is None:
                        ended = True
                        break
                    parts.append(nxt)
                pcm = b"".join(parts)
                self.stats.chunks += len(parts)
                self.stats.bytes += len(pcm)
                await self._feed(pcm)
            await self._finish()
        finally:
            await self._close()
            current_call.reset(token)

    # -- start / stop -------------------------------------------------------------------------

    async def _start(self) -> None:
        await self._resolve_call_id()
        if self._speech is not None:
            try:
                self._stream = self._speech.open_session(call_id=self.info.uniqueid, language=self._language)
            except Exception:
                self.stats.asr_failed = True
                logger.exception("could not open a recognition session; the call is still recorded")
        if self._proposer is not None:
            try:
                self._scorer = self._proposer.open_call()
            except Exception:
                logger.exception("could not open the card scorer; cards can still be made by hand")

    async def _finish(self) -> None:
        if self._stream is not None and not self.stats.asr_failed:
            try:
                await self._handle(await self._stream.finish())
            except Exception:
                self.stats.asr_failed = True
                logger.exception("flushing recognition failed")
        gaps = getattr(self._stream, "gaps", None)
        if gaps and not self.stats.asr_failed:
            # A recognizer worker died mid-call: the live transcript has holes; post-call work re-decodes it.
            logger.warning("live transcript has %d gap(s); the recording will be decoded after the call", len(gaps))
            await self._db(lambda s: _set_asr_status(s, uniqueid=self.info.uniqueid, status="incomplete"))

    async def _close(self) -> None:
        if self._stream is not None:
            try:
                await self._stream.aclose()
            except Exception:
                logger.exception("closing the recognition session failed")

    # -- audio and segments ------------------------------------------------------------------

    async def _feed(self, chunk: bytes) -> None:
        if self._stream is None or self.stats.asr_failed:
            return
        try:
            segments = await self._stream.feed(chunk)
        except Exception:
            self.stats.asr_failed = True
            logger.exception("recognition failed mid-call; audio keeps being recorded, re-decode later")
            await self._db(lambda s: _set_asr_status(s, uniqueid=self.info.uniqueid, status="failed"))
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
        self._publish(
            {"type": msg.TRANSCRIPT_PARTIAL, "text": seg.text, "language": seg.language, "start": seg.start}
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
        await self._resolve_call_id()
        segment_id: int | None = None
        call_id = self.call_id
        if call_id is not None:
            row = await self._db(lambda s: store_segment(s, call_id=call_id, seg=seg, source="live"))
            segment_id = row.id if row is not None else None
        self._publish(
            {
                "type": msg.TRANSCRIPT_FINAL,
                "segment": segment_dict(seg, segment_id),
                "stored_at": _iso(datetime.now(UTC)),
            }
        )
        if self._scorer is not None:
            scorer = self._scorer
            try:
                proposal = await asyncio.to_thread(scorer.add_final, seg.text)
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
        data = proposal_dict(proposal)
        call_id = self.call_id
        if call_id is not None:
            card = await self._db(
                lambda s: repo.save_proposal(
                    s, call_id=call_id, proposal=data, model_version=proposal.model_version
                )
            )
            if card is not None:
                self.card_id = card.id
        self._publish({"type": msg.CARD_PROPOSED, "card_id": self.card_id, "proposal": data})

    async def _maybe_alert(self, hint: EmergencyHint, text: str) -> None:
        if hint.emergency == NO_EMERGENCY or hint.confidence < self._threshold:
            return
        if hint.emergency in self._alerted:
            return
        self._alerted.add(hint.emergency)
        self.stats.alerts += 1
        alert = {
            "type": msg.EMERGENCY_ALERT,
            "card_id": self.card_id,
            "emergency": hint.emergency,
            "emergency_also": list(hint.emergency_also),
            "confidence": hint.confidence,
            "evidence": hint.evidence or text,
        }
        # Publish first: the operator must see an emergency before any database round trip.
        self._publish(alert)
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
                self._publish({**alert, "card_id": self.card_id})

    # -- plumbing ----------------------------------------------------------------------------

    async def _resolve_call_id(self) -> None:
        if self.call_id is not None:
            return
        found = await self._db(lambda s: repo.find_call(s, uniqueid=self.info.uniqueid))
        if found is not None:
            self.call_id = found.id

    async def _db(self, work: Callable[[Session], T]) -> T | None:
        """Run ``work`` in a worker thread with its own session; a database failure is logged, not raised."""

        def run() -> T:
            with self._sessions() as session:
                return work(session)

        started = time.perf_counter()
        try:
            return await asyncio.to_thread(run)
        except Exception:
            self.stats.db_errors += 1
            elapsed_ms = 1000 * (time.perf_counter() - started)
            logger.exception("database write failed (%.0f ms); the live view continues", elapsed_ms)
            return None

    def _publish(self, message: dict[str, Any]) -> None:
        if self.call_id is None:
            return  # operators address calls by call_id; without a row there is nothing to show yet
        self._hub.publish({**message, "call_id": self.call_id})


def _set_asr_status(session: Session, *, uniqueid: str, status: str) -> None:
    call = repo.find_call(session, uniqueid=uniqueid)
    if call is not None:
        call.asr_status = status
        session.commit()


def _with_emergency(p: CardProposal, hint: EmergencyHint) -> CardProposal:
    confidence = {**p.confidence, "emergency": hint.confidence}
    return replace(p, emergency=hint.emergency, emergency_also=hint.emergency_also, confidence=confidence)


def session_factory(
    *,
    speech: SpeechEngine | None,
    proposer: CardProposer | None,
    sessions: sessionmaker[Session],
    hub: CardHub,
    language: str = "auto",
) -> Callable[[CallInfo], CallSession]:
    """A calls.live.ProcessorFactory that builds a CallSession per call."""

    def build(info: CallInfo) -> CallSession:
        return CallSession(
            info, speech=speech, proposer=proposer, sessions=sessions, hub=hub, language=language
        )

    return build
