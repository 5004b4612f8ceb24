"""After hang-up: transcribe a finished recording when the call had no live transcript, or re-decode it with
the big models, store the segments, and propose the card from the whole text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr.base import FinalSegment, SpeechEngine
from calls.hub import CARD_PROPOSED, CardHub
from calls.live import CallInfo
from calls.session import proposal_dict, store_segment
from classifier.base import CardProposer
from models.records import Card, TranscriptSegment
from models.repo import calls as repo
from telephony.events import RecordingFinished

logger = logging.getLogger(__name__)


class FileDecoder(Protocol):
    """What post-call work needs of the speech engine (VoskSpeechEngine has both)."""

    async def transcribe_file(self, path: str, *, language: str = "auto") -> list[FinalSegment]:
        """Decode a recording with the live models."""
        ...

    async def redecode(self, path: str, *, language: str = "auto") -> list[FinalSegment] | None:
        """Decode a recording with the big models; None when none is configured."""
        ...


class PostCallTranscriber:
    """The manager's ``on_recording`` hook."""

    def __init__(
        self,
        *,
        speech: SpeechEngine | None,
        proposer: CardProposer | None,
        sessions: sessionmaker[Session],
        hub: CardHub | None = None,
    ) -> None:
        self._speech = speech
        self._proposer = proposer
        self._sessions = sessions
        self._hub = hub

    async def __call__(self, info: CallInfo | None, event: RecordingFinished) -> None:
        """Handle one finished recording; failures are logged, the recording itself is already stored."""
        if event.kind != "mixed" or self._speech is None:
            return
        try:
            await self._process(info, event)
        except Exception:
            logger.exception("post-call transcription of %s failed; the recording is kept", event.path)

    async def _process(self, info: CallInfo | None, event: RecordingFinished) -> None:
        call_id = info.call_id if info is not None else None
        if call_id is None:
            call_id = await asyncio.to_thread(self._call_id, event.uniqueid)
        if call_id is None:
            logger.warning("recording %s belongs to no stored call yet; not transcribed", event.path)
            return
        decoder: FileDecoder = self._speech  # type: ignore[assignment]
        counts, asr_status = await asyncio.to_thread(self._transcript_state, call_id)
        if counts.get("redecode"):
            return  # this recording was decoded already (a repeated RecordingFinished changes nothing)
        live_segments = counts.get("live", 0)
        live_complete = live_segments > 0 and asr_status not in ("failed", "incomplete")
        segments: Sequence[FinalSegment] | None = None
        if hasattr(decoder, "redecode"):
            segments = await decoder.redecode(event.path)  # big models, when configured
        if segments is None and not live_complete and hasattr(decoder, "transcribe_file"):
            # A dialplan-only (FastAGI) call, live audio that never arrived, or a live decoder that failed or
            # lost stretches of the call: decode the whole recording now.
            segments = await decoder.transcribe_file(event.path)
        if not segments:
            return
        stored = await asyncio.to_thread(self._store, call_id, segments)
        logger.info("stored %d segments decoded from the recording", stored)
        if not live_complete and self._proposer is not None:
            text = " ".join(s.text for s in segments if s.text)
            proposal = await asyncio.to_thread(self._proposer.propose, text)
            data = proposal_dict(proposal)
            card = await asyncio.to_thread(self._save, call_id, data, proposal.model_version)
            if self._hub is not None:
                self._hub.publish({"type": CARD_PROPOSED, "call_id": call_id, "card_id": card.id, "proposal": data})

    def _call_id(self, uniqueid: str) -> int | None:
        with self._sessions() as session:
            call = repo.find_call(session, uniqueid=uniqueid)
            return call.id if call is not None else None

    def _transcript_state(self, call_id: int) -> tuple[dict[str, int], str | None]:
        with self._sessions() as session:
            query = (
                select(TranscriptSegment.source, func.count())
                .where(TranscriptSegment.call_id == call_id)
                .group_by(TranscriptSegment.source)
            )
            counts = {str(source): int(n) for source, n in session.execute(query)}
            call = repo.find_call(session, call_id=call_id)
            return counts, (call.asr_status if call is not None else None)

    def _store(self, call_id: int, segments: Sequence[FinalSegment]) -> int:
        with self._sessions() as session:
            for seg in segments:
                store_segment(session, call_id=call_id, seg=seg, source="redecode")
        return len(segments)

    def _save(self, call_id: int, data: dict[str, object], version: str) -> Card:
        with self._sessions() as session:
            return repo.save_proposal(session, call_id=call_id, proposal=data, model_version=version)
