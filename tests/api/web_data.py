"""Records for the web routes' API tests: calls with transcripts, proposals and cards, made through models.repo."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from models.records import Card, TranscriptSegment
from models.repo import calls, cards
from models.repo.cards import Actor

PROPOSAL: dict[str, Any] = {
    "topic": "hot_water",
    "service": "heating_utility",
    "emergency": "none",
    "emergency_also": [],
    "language": "ru",
    "address": {"street": "Кенесары", "house": "12", "apartment": "45", "district": "yesil"},
    "summary": "нет горячей воды",
    "confidence": {"topic": 0.9, "service": 0.9, "emergency": 0.95},
    "alternatives": {"topic": [{"id": "hot_water", "confidence": 0.9}, {"id": "heating", "confidence": 0.05}]},
    "model_version": "test-1",
}


def make_call(
    ctx: Any,
    *,
    caller: str = "+77015550001",
    texts: tuple[str, ...] = ("нет горячей воды", "улица Кенесары дом 12"),
    language: str = "ru",
    proposal: dict[str, Any] | None = None,
    started_at: datetime | None = None,
    live: bool = True,
) -> tuple[int, list[int], int | None]:
    """A call with final segments (one second each, words timed) and, with ``proposal``, its draft card."""
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid=uuid.uuid4().hex, caller_number=caller, started_at=started_at)
        calls.mark_answered(s, uniqueid=call.uniqueid, at=call.started_at)
        seg_ids = []
        for i, text in enumerate(texts):
            words = [
                {"word": w, "start": i + j * 0.2, "end": i + j * 0.2 + 0.15, "conf": 0.4 if j == 0 else 0.9}
                for j, w in enumerate(text.split())
            ]
            seg = calls.add_segment(
                s,
                call_id=call.id,
                text=text,
                start_s=float(i),
                end_s=i + 0.9,
                language=language,
                words=words,
                confidence=0.9,
            )
            seg_ids.append(seg.id)
        card_id = None
        if proposal is not None:
            card_id = calls.save_proposal(s, call_id=call.id, proposal=proposal, model_version="test-1").id
        if not live:
            calls.end_call(s, uniqueid=call.uniqueid, at=call.started_at)
        return call.id, seg_ids, card_id


def confirm(ctx: Any, card_id: int, **changes: Any) -> Card:
    with ctx.sessionmaker() as s:
        return cards.confirm_card(s, card_id=card_id, actor=Actor("test-operator"), changes=changes, due_hours=24)


def segments(ctx: Any, call_id: int) -> list[TranscriptSegment]:
    with ctx.sessionmaker() as s:
        rows = s.query(TranscriptSegment).filter_by(call_id=call_id).order_by(TranscriptSegment.id).all()
        s.expunge_all()
        return rows
