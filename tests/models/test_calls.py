"""models.repo.calls on SQLite and PostgreSQL: idempotent call events, recordings, segments and proposals."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr.base import Word
from models.records import AuditEvent, Call, Card, Recording, TranscriptSegment
from models.repo import RecordNotFound, calls

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

PROPOSAL = {
    "topic": "heating",
    "service": "heating_utility",
    "emergency": "none",
    "emergency_also": [],
    "language": "kk",
    "address": {"street": "Абай даңғылы", "house": "12", "district": "almaty"},
    "summary": "Батареялар суық",
    "confidence": {"topic": 0.91, "service": 0.91, "emergency": 0.99},
    "alternatives": {"topic": [{"id": "hot_water", "confidence": 0.05}]},
    "model_version": "sk-1",
}


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_repeated_stasis_start_creates_one_call(session: Session) -> None:
    call, created = calls.get_or_create_call(
        session, uniqueid="1700000000.1", caller_number="+77011234567", channel="PJSIP/trunk-1", started_at=T0
    )
    again, created_again = calls.get_or_create_call(session, uniqueid="1700000000.1", media_uuid="m-1")
    assert created and not created_again
    assert again.id == call.id
    assert count(session, Call) == 1
    # fields still empty are filled in; given ones stay
    assert again.media_uuid == "m-1" and again.caller_number == "+77011234567"
    assert again.started_at == T0 and again.state == "ringing"
    assert calls.find_call(session, media_uuid="m-1").id == call.id
    assert calls.find_call(session, call_id=call.id).uniqueid == "1700000000.1"
    assert calls.find_call(session, uniqueid="nope") is None


def test_racing_creators_share_one_call(sessionmaker: sessionmaker[Session]) -> None:
    barrier = threading.Barrier(8)
    ids: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with sessionmaker() as s:
                barrier.wait()
                call, _ = calls.get_or_create_call(s, uniqueid="race.1", caller_number="+7700")
                ids.append(call.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(ids)) == 1 and len(ids) == 8
    with sessionmaker() as s:
        assert count(s, Call) == 1


def test_answer_and_end_are_idempotent(session: Session) -> None:
    calls.get_or_create_call(session, uniqueid="u1", started_at=T0)
    call = calls.mark_answered(session, uniqueid="u1", at=T0 + timedelta(seconds=2))
    assert call.state == "live"
    calls.mark_answered(session, uniqueid="u1", at=T0 + timedelta(seconds=9))
    assert call.answered_at == T0 + timedelta(seconds=2)
    ended = calls.end_call(session, uniqueid="u1", at=T0 + timedelta(seconds=60), cause="16", frames_dropped=3)
    again = calls.end_call(session, uniqueid="u1", at=T0 + timedelta(seconds=99), cause="other", frames_dropped=1)
    assert again.ended_at == ended.ended_at == T0 + timedelta(seconds=60)
    assert again.hangup_cause == "16" and again.frames_dropped == 3 and again.state == "ended"
    with pytest.raises(RecordNotFound):
        calls.end_call(session, uniqueid="missing", at=T0)
    with pytest.raises(RecordNotFound):
        calls.mark_answered(session, uniqueid="missing", at=T0)
    with pytest.raises(ValueError):
        calls.end_call(session, uniqueid="u1", at=T0, state="weird")


def test_add_recording_is_idempotent_on_path(session: Session) -> None:
    calls.get_or_create_call(session, uniqueid="u2")
    first = calls.add_recording(session, uniqueid="u2", path="/rec/u2.wav", complete=False)
    second = calls.add_recording(
        session, uniqueid="u2", path="/rec/u2.wav", duration_s=12.5, size_bytes=200044, sha256="ab" * 32
    )
    other = calls.add_recording(session, uniqueid="u2", path="/rec/u2-caller.wav", kind="caller")
    assert first.id == second.id != other.id
    assert second.complete and second.duration_s == 12.5
    assert count(session, Recording) == 2
    with pytest.raises(RecordNotFound):
        calls.add_recording(session, uniqueid="missing", path="/x.wav")


def test_add_segment_keeps_kazakh_text_and_words(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="u3")
    words = [Word(text="сәлеметсіз", start=0.1, end=0.8, conf=0.9), {"word": "бе", "start": 0.8, "end": 1.0}]
    seg = calls.add_segment(
        session,
        call_id=call.id,
        text="сәлеметсіз бе",
        start_s=0.1,
        end_s=1.0,
        language="kk",
        words=words,
        confidence=0.88,
        engine="vosk",
        model_version="vosk-kk-0.4",
    )
    session.expire_all()
    stored = session.get(TranscriptSegment, seg.id)
    assert stored.text == "сәлеметсіз бе"
    assert stored.words[0] == {"word": "сәлеметсіз", "start": 0.1, "end": 0.8, "conf": 0.9}
    assert stored.words[1]["conf"] == 0.0
    clamped = calls.add_segment(session, call_id=call.id, text="x", start_s=5.0, end_s=4.0)
    assert clamped.end_s == 5.0
    for bad in ({"speaker": "robot"}, {"source": "x"}, {"language": "en"}):
        with pytest.raises(ValueError):
            calls.add_segment(session, call_id=call.id, text="x", start_s=0, end_s=1, **bad)
    with pytest.raises(RecordNotFound):
        calls.add_segment(session, call_id=call.id + 999, text="x", start_s=0, end_s=1)
    assert count(session, TranscriptSegment) == 2


def test_save_proposal_creates_one_draft_and_follows_the_model(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="u4", caller_number="+77015550000")
    card = calls.save_proposal(session, call_id=call.id, proposal=PROPOSAL, model_version=None)
    assert card.status == "draft" and card.caller_number == "+77015550000"
    assert card.proposed_topic == "heating" and card.topic == "heating"
    assert card.street == "Абай даңғылы" and card.district == "almaty"
    assert card.model_version == "sk-1" and card.proposed_confidence["topic"] == 0.91

    # a person edits the topic; the next proposal updates proposed_* and untouched fields only
    card.topic = "hot_water"
    card.operator_edited = ["topic"]
    session.commit()
    second = dict(PROPOSAL, topic="water_supply", service="water_utility", summary="Суық су жоқ")
    card2 = calls.save_proposal(session, call_id=call.id, proposal=second, model_version="sk-2")
    assert card2.id == card.id
    assert card2.proposed_topic == "water_supply" and card2.topic == "hot_water"
    assert card2.summary == "Суық су жоқ" and card2.model_version == "sk-2"
    assert count(session, Card) == 1

    # once confirmed, working values no longer follow the model
    card2.status = "confirmed"
    session.commit()
    calls.save_proposal(session, call_id=call.id, proposal=dict(PROPOSAL, summary="late"), model_version="sk-3")
    assert card2.summary == "Суық су жоқ" and card2.proposed_summary == "late"

    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "card").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "propose", "propose", "propose"]
    assert {e.actor for e in events} == {"system:classifier"}
    assert events[2].before["proposed_topic"] == "heating" and events[2].after["proposed_topic"] == "water_supply"
    with pytest.raises(RecordNotFound):
        calls.save_proposal(session, call_id=call.id + 999, proposal=PROPOSAL, model_version=None)


def test_odd_proposals_are_stored_safely(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="odd")
    odd = {
        "topic": "heating",
        "confidence": {"topic": None, "service": "high", "emergency": 0.5},
        "address": {"street": "ұ" * 500, "house": None},
        "alternatives": {"topic": ({"id": "hot_water", "confidence": 0.1},)},
    }
    card = calls.save_proposal(session, call_id=call.id, proposal=odd, model_version=None)
    assert card.proposed_confidence == {"emergency": 0.5}
    assert len(card.proposed_street) == 200 and card.proposed_house is None
    assert card.proposed_alternatives == {"topic": [{"id": "hot_water", "confidence": 0.1}]}


def test_racing_proposals_make_one_card(sessionmaker: sessionmaker[Session]) -> None:
    with sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="u5")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with sessionmaker() as s:
                barrier.wait()
                calls.save_proposal(s, call_id=call.id, proposal=dict(PROPOSAL, summary=f"v{i}"), model_version="m")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with sessionmaker() as s:
        assert count(s, Card) == 1
        card = s.scalars(select(Card)).one()
        assert card.proposed_summary in {f"v{i}" for i in range(6)}


def test_corrections_sit_beside_the_original_and_are_audited(session: Session) -> None:
    from models.repo import qa

    call, _ = calls.get_or_create_call(session, uniqueid="c1")
    seg = calls.add_segment(session, call_id=call.id, text="лифт истемейди", start_s=1, end_s=2, language="kk")
    fixed = qa.add_correction(session, segment_id=seg.id, text="лифт істемейді", actor="qa-dana", user_id=None)
    assert fixed.corrects_id == seg.id and fixed.source == "qa" and fixed.start_s == 1
    again = qa.add_correction(session, segment_id=fixed.id, text="лифт істемей тұр", actor="qa-dana", user_id=None)
    assert again.corrects_id == seg.id  # a correction of a correction still names the original
    session.expire_all()
    assert session.get(TranscriptSegment, seg.id).text == "лифт истемейди"
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "transcript")).all()
    assert [e.after["text"] for e in events] == ["лифт істемейді", "лифт істемей тұр"]
    assert events[0].before["text"] == "лифт истемейди"
    assert qa.latest_corrections(session, segment_ids=[seg.id])[seg.id].id == again.id
    with pytest.raises(RecordNotFound):
        qa.add_correction(session, segment_id=seg.id + 100, text="x", actor="qa", user_id=None)
