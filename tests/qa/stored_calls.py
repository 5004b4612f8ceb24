"""A stored call for the scoring tests: the ru fire dialogue written through the repository functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.records import AuditEvent, Call, Card
from models.repo import calls, cards, qa
from tests.qa.dialogues import DIALOGUES

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ASR = "vosk-model-small-ru-0.22"


def store_fire_call(
    session: Session, *, uniqueid: str = "fire.1", operator_id: int | None = None, t0: datetime = T0
) -> Call:
    """The ru fire call: banner at 12 s, transfer asked at 16 s, seen at 17 s, number read back only in QA's
    correction (the live transcript misheard it), ended at 23 s."""
    dialogue = next(d for d in DIALOGUES if d.name == "ru_fire_handled_well")
    call, _ = calls.get_or_create_call(session, uniqueid=uniqueid, caller_number="+77010001122", started_at=t0)
    calls.mark_answered(session, uniqueid=uniqueid, at=t0)
    misheard = None
    for turn in dialogue.turns:
        text = turn.text
        if "номер сто двадцать три" in text:
            text = "ваше обращение зарегистрировано ну мир сто двадцать"  # what the recogniser printed
        words = [{"word": w.text, "start": w.start, "end": w.end, "conf": w.conf} for w in turn.words]
        if text != turn.text:
            words = [{**w, "word": t, "conf": 0.4} for w, t in zip(words, text.split(), strict=False)]
        segment = calls.add_segment(
            session,
            call_id=call.id,
            text=text,
            start_s=turn.start,
            end_s=turn.end,
            words=words,
            speaker=turn.speaker.value,
            language="ru",
            model_version=ASR,
        )
        if text != turn.text:
            misheard = segment
    assert misheard is not None
    qa.add_correction(
        session,
        segment_id=misheard.id,
        text="ваше обращение зарегистрировано номер сто двадцать три",
        actor="qa1",
        user_id=None,
    )
    card = calls.save_proposal(
        session, call_id=call.id, proposal={"topic": "fire", "emergency": "101"}, model_version="clf-2026.12"
    )
    actor = cards.Actor("op1", operator_id)
    cards.record_transfer_attempt(session, card_id=card.id, actor=actor, code="101", uniqueid=uniqueid)
    cards.record_transfer(session, card_id=card.id, actor=actor, code="101", now=t0 + timedelta(seconds=17))
    times = {"propose": 12.0, "create": 1.0, "transfer_attempt": 16.0, "transfer": 17.0}
    for event in session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "card", AuditEvent.entity_id == card.id)
    ):
        event.at = t0 + timedelta(seconds=times.get(event.action, 1.0))
    stored = session.get(Card, card.id)
    assert stored is not None
    stored.reg_number, stored.language = "109-2026-000123", "ru"
    call.operator_id = operator_id
    session.commit()
    calls.end_call(session, uniqueid=uniqueid, at=t0 + timedelta(seconds=23))
    return call
