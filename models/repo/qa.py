"""Data functions for quality review: transcript corrections beside the original, and training rows."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.records import Call, Card, TranscriptSegment
from models.repo import audit
from models.repo.errors import RecordNotFound

logger = logging.getLogger(__name__)

# Cards a person has confirmed: the only ones whose labels are fit to train on.
CONFIRMED_STATUSES = ("confirmed", "routed", "accepted", "in_progress", "returned", "resolved", "closed")
ADDRESS_FIELDS = ("street", "house", "building", "apartment", "district", "landmark")
LANGUAGES = ("ru", "kk", "mixed")
_TOKEN = re.compile(r"\S+")


def aligned_words(original: TranscriptSegment, text: str) -> list[dict[str, Any]]:
    """Word timings for corrected ``text``: the original's when the word count is unchanged, else spread.

    Spreading gives each word a share of the segment's time proportional to its length, so a click on a
    corrected word still lands near where it was spoken.
    """
    tokens = _TOKEN.findall(text)
    old = list(original.words or [])
    if tokens and len(tokens) == len(old):
        return [
            {"word": tok, "start": float(w.get("start", 0.0)), "end": float(w.get("end", 0.0)), "conf": 1.0}
            for tok, w in zip(tokens, old, strict=True)
        ]
    start, end = float(original.start_s), float(original.end_s)
    total = sum(len(tok) for tok in tokens) or 1
    out: list[dict[str, Any]] = []
    at = start
    for tok in tokens:
        span = (end - start) * len(tok) / total
        out.append({"word": tok, "start": round(at, 3), "end": round(at + span, 3), "conf": 1.0})
        at += span
    return out


def add_correction(
    session: Session,
    *,
    segment_id: int,
    text: str,
    actor: str,
    user_id: int | None,
    words: Sequence[dict[str, Any]] | None = None,
) -> TranscriptSegment:
    """Store QA's corrected text of a segment as a new segment (source "qa"); the original is never changed.

    Correcting a correction corrects the same original (``corrects_id`` always names a non-QA segment).
    Leaves an audit event (entity "transcript", action "correct") with the text before and after.
    """
    original = session.get(TranscriptSegment, segment_id)
    if original is None:
        raise RecordNotFound(f"transcript segment {segment_id} does not exist")
    if original.source == "qa" and original.corrects_id is not None:
        root = session.get(TranscriptSegment, original.corrects_id)
        if root is None:
            raise RecordNotFound(f"transcript segment {original.corrects_id} does not exist")
    else:
        root = original
    clean = " ".join(_TOKEN.findall(text))
    if not clean:
        raise ValueError("the corrected text is empty")
    previous = latest_corrections(session, segment_ids=[root.id]).get(root.id)
    before_text = previous.text if previous is not None else root.text
    segment = TranscriptSegment(
        call_id=root.call_id,
        speaker=root.speaker,
        language=root.language,
        start_s=root.start_s,
        end_s=root.end_s,
        text=clean,
        words=list(words) if words is not None else aligned_words(root, clean),
        confidence=1.0,
        is_final=True,
        source="qa",
        engine="qa",
        corrects_id=root.id,
        created_by_id=user_id,
    )
    session.add(segment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        user_id=user_id,
        entity="transcript",
        entity_id=segment.id,
        action="correct",
        before={"segment_id": root.id, "text": before_text},
        after={"segment_id": segment.id, "corrects_id": root.id, "text": clean},
    )
    session.commit()
    return segment


def latest_corrections(session: Session, *, segment_ids: Sequence[int]) -> dict[int, TranscriptSegment]:
    """The newest QA correction of each of ``segment_ids`` that has one."""
    if not segment_ids:
        return {}
    rows = session.scalars(
        select(TranscriptSegment)
        .where(TranscriptSegment.source == "qa", TranscriptSegment.corrects_id.in_(list(segment_ids)))
        .order_by(TranscriptSegment.id)
    ).all()
    out: dict[int, TranscriptSegment] = {}
    for row in rows:
        assert row.corrects_id is not None
        out[row.corrects_id] = row  # ascending ids: the last one wins
    return out


def call_text(segments: Sequence[TranscriptSegment]) -> str:
    """A call's transcript as one text: each live segment in time order, QA's latest correction in its place."""
    latest: dict[int, TranscriptSegment] = {}
    originals: list[TranscriptSegment] = []
    for seg in segments:
        if seg.source == "qa":
            if seg.corrects_id is not None:
                prev = latest.get(seg.corrects_id)
                if prev is None or seg.id > prev.id:
                    latest[seg.corrects_id] = seg
        else:
            originals.append(seg)
    originals.sort(key=lambda s: (s.start_s, s.id))
    parts = [(latest.get(s.id) or s).text.strip() for s in originals]
    return " ".join(p for p in parts if p)


def _language(card: Card, call: Call | None, segments: Sequence[TranscriptSegment]) -> str:
    for value in (card.language, call.language if call is not None else None):
        if value in LANGUAGES:
            return str(value)
    seen = {s.language for s in segments if s.language in ("ru", "kk")}
    if len(seen) == 2:
        return "mixed"
    return seen.pop() if seen else "ru"


def training_rows(
    session: Session,
    *,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    batch: int = 500,
) -> Iterator[dict[str, Any]]:
    """Confirmed cards with their call's transcript, as classifier training rows (the corpus JSONL shape).

    Each row: {"text", "topic", "emergency", "emergency_also", "language", "address", "source": "operator"}.
    The text is the transcript with QA corrections in place of what they correct. Cards without a call,
    without a topic or with an empty transcript are skipped. Streams in batches, oldest confirmation first.
    """
    stmt = (
        select(Card)
        .where(Card.status.in_(CONFIRMED_STATUSES), Card.call_id.is_not(None), Card.topic.is_not(None))
        .order_by(Card.confirmed_at, Card.id)
    )
    if date_from is not None:
        stmt = stmt.where(Card.confirmed_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Card.confirmed_at < date_to)
    last_id = 0
    offset = 0
    while True:
        cards = list(session.scalars(stmt.limit(batch).offset(offset)).all())
        if not cards:
            return
        offset += len(cards)
        call_ids = [c.call_id for c in cards if c.call_id is not None]
        calls = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(call_ids))).all()}
        by_call: dict[int, list[TranscriptSegment]] = {}
        for seg in session.scalars(
            select(TranscriptSegment).where(
                TranscriptSegment.call_id.in_(call_ids), TranscriptSegment.speaker == "caller"
            )
        ).all():
            by_call.setdefault(seg.call_id, []).append(seg)
        for card in cards:
            last_id = card.id
            assert card.call_id is not None
            segs = by_call.get(card.call_id, [])
            text = call_text(segs)
            if not text:
                continue
            address = {name: getattr(card, name) for name in ADDRESS_FIELDS}
            yield {
                "text": text,
                "topic": card.topic,
                "emergency": card.emergency or "none",
                "emergency_also": list(card.emergency_also or []),
                "language": _language(card, calls.get(card.call_id), segs),
                "address": address if any(v for v in address.values()) else None,
                "source": "operator",
            }
        session.expunge_all()
        logger.debug("training export: batch done up to card %d", last_id)
