"""Applies one typed call write to the database through models.repo (blocking; the registry's worker thread runs it).

Every operation is idempotent, because a spooled write is applied again if callcard dies between applying it
and saving the spool's offset.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.lifecycle import AsrStatus
from calls.messages import CallKey
from calls.writes import (
    AttachRecording,
    CallWrite,
    EndCall,
    MarkAnswered,
    PostCallOutcome,
    RecordTransfer,
    SetTranscriptState,
    StoreCall,
    StoreProposal,
    StoreSegment,
)
from core.types import Speaker
from models.records import AuditEvent, Call
from models.repo import audit, cards
from models.repo import calls as repo
from models.repo.errors import RecordNotFound

Stored = Callable[[CallKey, int], None]


def _call(session: Session, call_key: CallKey, stored: Stored) -> Call:
    call = repo.find_call(session, uniqueid=call_key)
    if call is None:
        raise RecordNotFound(f"no call with key {call_key!r}")
    stored(call_key, call.id)
    return call


def apply_write(session: Session, write: CallWrite, stored: Stored) -> int | None:
    """Apply ``write``; the id it produced (call, segment or card), if any. ``stored`` learns key -> id."""
    if isinstance(write, StoreCall):
        call, _created = repo.get_or_create_call(
            session,
            uniqueid=write.call_key,
            linkedid=write.linkedid,
            channel=write.channel,
            caller_number=write.caller_number,
            caller_name=write.caller_name,
            dialled_number=write.dialled_number,
            source=write.source,
            media_uuid=write.media_uuid,
            started_at=write.started_at,
        )
        stored(write.call_key, call.id)
        return call.id
    if isinstance(write, MarkAnswered):
        repo.mark_answered(session, uniqueid=write.call_key, at=write.at)
        return None
    if isinstance(write, EndCall):
        repo.end_call(
            session,
            uniqueid=write.call_key,
            at=write.at,
            cause=write.cause,
            state=write.state,
            frames_dropped=write.frames_dropped,
        )
        return None
    if isinstance(write, AttachRecording):
        repo.add_recording(
            session,
            uniqueid=write.call_key,
            path=write.path,
            kind=write.kind,
            format=write.format,
            sample_rate=write.sample_rate,
            duration_s=write.duration_s,
            size_bytes=write.size_bytes,
            sha256=write.sha256,
            complete=write.complete,
        )
        return None
    if isinstance(write, StoreSegment):
        call = _call(session, write.call_key, stored)
        segment = repo.add_segment(
            session,
            call_id=call.id,
            text=write.text,
            start_s=write.start,
            end_s=max(write.end, write.start),
            language=write.language,
            words=[{"word": w.word, "start": w.start, "end": w.end, "conf": w.conf} for w in write.words],
            confidence=write.confidence,
            engine=write.engine,
            model_version=write.model_version,
            source=write.source,
            segment_key=write.segment_key,
            speaker=write.speaker.value,
        )
        return segment.id
    if isinstance(write, StoreProposal):
        call = _call(session, write.call_key, stored)
        card = repo.save_proposal(session, call_id=call.id, proposal=write.proposal, model_version=write.model_version)
        return card.id
    if isinstance(write, SetTranscriptState):
        call = _call(session, write.call_key, stored)
        gaps = [[round(a, 3), round(b, 3)] for a, b in write.gaps] if write.gaps is not None else None
        if write.speaker is Speaker.OPERATOR:
            call.operator_asr_status = write.status.value
            if gaps is not None:
                call.operator_asr_gaps = gaps or None
        else:
            call.asr_status = write.status.value
            if gaps is not None:
                call.asr_gaps = gaps
        session.commit()
        return None
    if isinstance(write, PostCallOutcome):
        call = _call(session, write.call_key, stored)
        call.asr_status = write.status.value
        call.postcall_attempts = (call.postcall_attempts or 0) + 1
        call.postcall_error = write.error
        if write.status is AsrStatus.POSTCALL_DONE:
            call.asr_gaps = None
        if write.operator_status is not None:
            call.operator_asr_status = write.operator_status.value
            if write.operator_status is AsrStatus.POSTCALL_DONE:
                call.operator_asr_gaps = None
        session.commit()
        return None
    if isinstance(write, RecordTransfer):
        call = _call(session, write.call_key, stored)
        return _record_transfer(session, call, write)
    raise ValueError(f"unknown call write {type(write).__name__}")


def _record_transfer(session: Session, call: Call, write: RecordTransfer) -> int:
    """The transfer's audit (and, when it happened, the card's and call's ``transferred_to``); the card's id."""
    card = repo.ensure_card(session, call=call)
    actor = cards.Actor(write.actor, write.user_id)
    action = {
        "attempt": audit.TRANSFER_ATTEMPT,
        "transferred": audit.TRANSFER_DONE,
        "failed": audit.TRANSFER_FAILED,
    }[write.status]
    stamp = write.at.isoformat()
    earlier = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "card", AuditEvent.entity_id == card.id, AuditEvent.action == action
        )
    ).all()
    if any((event.after or {}).get("at") == stamp for event in earlier):
        return card.id  # replayed from the spool: already recorded
    if write.status == "transferred":
        cards.record_transfer(
            session,
            card_id=card.id,
            actor=actor,
            code=write.code,
            now=write.at,
            outcome={
                "method": write.method,
                "elapsed_s": write.elapsed_s,
                "destination": write.destination,
                "at": stamp,
            },
        )
        return card.id
    after: dict[str, object] = {"code": write.code, "uniqueid": call.uniqueid, "at": stamp}
    if write.status == "failed":
        after = {
            "outcome": "failed",
            "code": write.code,
            "reason": write.reason,
            "detail": write.detail,
            "elapsed_s": write.elapsed_s,
            "at": stamp,
        }
    audit.record(
        session, actor=actor.name, user_id=actor.user_id, entity="card", entity_id=card.id, action=action, after=after
    )
    session.commit()
    return card.id
