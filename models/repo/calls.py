"""Data functions for calls, recordings, transcript segments and the model's card proposals."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models.base import utcnow
from models.records import (
    HOUSE_STATUSES,
    LANGUAGES,
    SEGMENT_SOURCES,
    SPEAKERS,
    Call,
    Card,
    Recording,
    TranscriptSegment,
)
from models.repo import audit
from models.repo.errors import RecordNotFound

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLASSIFIER_ACTOR = "system:classifier"
ADDRESS_FIELDS = ("street", "house", "building", "apartment", "district", "landmark")
# Working fields a proposal may pre-fill on a draft card (until a person edits them).
PREFILL_FIELDS = ("topic", "service", "emergency", "emergency_also", *ADDRESS_FIELDS, "summary", "language")
_RETRIES = 5


def _retry(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` (which commits); on a lost insert race or a stale version, roll back and try again."""
    for attempt in range(_RETRIES):
        try:
            return work()
        except (IntegrityError, StaleDataError):
            session.rollback()
            if attempt == _RETRIES - 1:
                raise
            logger.debug("concurrent change, retrying (attempt %d)", attempt + 2)
    raise AssertionError("unreachable")


def _clip(value: Any, length: int) -> str | None:
    """A string fitting a column of ``length`` characters (None stays None)."""
    if value is None:
        return None
    text = str(value)
    return text[:length] if len(text) > length else text


def find_call(
    session: Session, *, uniqueid: str | None = None, media_uuid: str | None = None, call_id: int | None = None
) -> Call | None:
    """The call with this database id, Asterisk uniqueid or AudioSocket media UUID (the first one given)."""
    if call_id is not None:
        return session.get(Call, call_id)
    if uniqueid is not None:
        return session.scalars(select(Call).where(Call.uniqueid == uniqueid)).first()
    if media_uuid is not None:
        return session.scalars(select(Call).where(Call.media_uuid == media_uuid)).first()
    raise ValueError("find_call needs uniqueid, media_uuid or call_id")


def _require_call(session: Session, uniqueid: str) -> Call:
    call = find_call(session, uniqueid=uniqueid)
    if call is None:
        raise RecordNotFound(f"no call with uniqueid {uniqueid!r}")
    return call


def get_or_create_call(
    session: Session,
    *,
    uniqueid: str,
    linkedid: str | None = None,
    channel: str | None = None,
    caller_number: str | None = None,
    caller_name: str | None = None,
    dialled_number: str | None = None,
    source: str = "ari",
    media_uuid: str | None = None,
    started_at: datetime | None = None,
) -> tuple[Call, bool]:
    """The call of ``uniqueid``, created if new; returns (call, created).

    Idempotent: a repeated StasisStart creates nothing. Two processes racing to create the same call both end
    with the one row (the loser's insert hits the unique uniqueid and re-reads). Fields still empty on an
    existing call are filled in from the arguments.
    """
    if not uniqueid:
        raise ValueError("a call needs its Asterisk uniqueid")
    given: dict[str, Any] = {
        "linkedid": _clip(linkedid, 150),
        "channel": _clip(channel, 255),
        "caller_number": _clip(caller_number, 64),
        "caller_name": _clip(caller_name, 200),
        "dialled_number": _clip(dialled_number, 64),
        "media_uuid": media_uuid,
    }
    existing = find_call(session, uniqueid=uniqueid)
    if existing is None:
        call = Call(uniqueid=uniqueid, source=source, state="ringing", started_at=started_at or utcnow(), **given)
        session.add(call)
        try:
            session.commit()
            return call, True
        except IntegrityError:
            session.rollback()
            existing = find_call(session, uniqueid=uniqueid)
            if existing is None:  # the conflict was something else (e.g. a media_uuid already in use)
                raise
    missing = {k: v for k, v in given.items() if v is not None and getattr(existing, k) is None}
    if missing:
        for key, value in missing.items():
            setattr(existing, key, value)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            logger.warning("call %s: could not fill in %s (already used elsewhere)", existing.id, sorted(missing))
            existing = _require_call(session, uniqueid)
    return existing, False


def mark_answered(session: Session, *, uniqueid: str, at: datetime) -> Call:
    """Record that the call was answered (idempotent: the first answer time stays)."""
    call = _require_call(session, uniqueid)
    if call.answered_at is None:
        call.answered_at = at
    if call.state == "ringing":
        call.state = "live"
    session.commit()
    return call


def end_call(
    session: Session,
    *,
    uniqueid: str,
    at: datetime,
    cause: str | None = None,
    state: str = "ended",
    frames_dropped: int = 0,
) -> Call:
    """Record the hang-up (idempotent: a second end changes nothing but a larger dropped-frame count)."""
    if state not in ("ended", "failed"):
        raise ValueError(f"a call ends as 'ended' or 'failed', not {state!r}")
    call = _require_call(session, uniqueid)
    if call.ended_at is None:
        call.ended_at = at
        call.state = state
        call.hangup_cause = _clip(cause, 64)
    call.frames_dropped = max(call.frames_dropped or 0, frames_dropped)
    session.commit()
    return call


def add_recording(
    session: Session,
    *,
    uniqueid: str,
    path: str,
    kind: str = "mixed",
    format: str = "wav",
    sample_rate: int = 8000,
    duration_s: float | None = None,
    size_bytes: int | None = None,
    sha256: str | None = None,
    complete: bool = True,
) -> Recording:
    """Attach an audio file to a call; adding the same path again updates that recording instead."""
    call = _require_call(session, uniqueid)

    def work() -> Recording:
        rec = session.scalars(select(Recording).where(Recording.call_id == call.id, Recording.path == path)).first()
        if rec is None:
            rec = Recording(call_id=call.id, path=path)
            session.add(rec)
        rec.kind = kind
        rec.format = format
        rec.sample_rate = sample_rate
        if duration_s is not None:
            rec.duration_s = duration_s
        if size_bytes is not None:
            rec.size_bytes = size_bytes
        if sha256 is not None:
            rec.sha256 = sha256
        rec.complete = complete
        session.commit()
        return rec

    return _retry(session, work)


def _word_dict(word: Any) -> dict[str, Any]:
    """One word as {"word", "start", "end", "conf"}, from a dict or a dataclass such as asr.base.Word."""
    if dataclasses.is_dataclass(word) and not isinstance(word, type):
        raw: Mapping[str, Any] = dataclasses.asdict(word)
    elif isinstance(word, Mapping):
        raw = word
    else:
        raise ValueError(f"a word must be a mapping or a dataclass, not {type(word).__name__}")
    text = raw.get("word", raw.get("text"))
    if text is None:
        raise ValueError("a word needs its text ('word' or 'text')")
    return {
        "word": str(text),
        "start": float(raw.get("start", 0.0)),
        "end": float(raw.get("end", 0.0)),
        "conf": float(raw.get("conf", raw.get("confidence", 0.0))),
    }


def add_segment(
    session: Session,
    *,
    call_id: int,
    text: str,
    start_s: float,
    end_s: float,
    language: str | None = None,
    words: Iterable[Any] = (),
    confidence: float | None = None,
    speaker: str = "caller",
    engine: str | None = None,
    model_version: str | None = None,
    source: str = "live",
    segment_key: str | None = None,
) -> TranscriptSegment:
    """Store one final transcript segment of a call.

    With ``segment_key`` the write is idempotent: a segment of the call with the same key is returned as it is.
    """
    if speaker not in SPEAKERS:
        raise ValueError(f"speaker must be one of {SPEAKERS}, not {speaker!r}")
    if source not in SEGMENT_SOURCES:
        raise ValueError(f"source must be one of {SEGMENT_SOURCES}, not {source!r}")
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    if session.get(Call, call_id) is None:
        raise RecordNotFound(f"no call with id {call_id}")
    if segment_key is not None:
        existing = session.scalars(
            select(TranscriptSegment).where(
                TranscriptSegment.call_id == call_id, TranscriptSegment.segment_key == segment_key
            )
        ).first()
        if existing is not None:
            return existing
    if end_s < start_s:
        logger.warning("call %s: segment ends (%.2f) before it starts (%.2f); clamped", call_id, end_s, start_s)
        end_s = start_s
    segment = TranscriptSegment(
        call_id=call_id,
        text=text,
        start_s=float(start_s),
        end_s=float(end_s),
        language=language,
        words=[_word_dict(w) for w in words],
        confidence=confidence,
        speaker=speaker,
        engine=_clip(engine, 32),
        model_version=_clip(model_version, 128),
        source=source,
        segment_key=segment_key,
        is_final=True,
    )
    session.add(segment)
    session.commit()
    return segment


def _proposal_values(proposal: Mapping[str, Any]) -> dict[str, Any]:
    """The proposal dict mapped onto the card's working field names (topic, street, ...)."""
    address = proposal.get("address") or {}
    values: dict[str, Any] = {
        "topic": _clip(proposal.get("topic"), 64),
        "service": _clip(proposal.get("service"), 64),
        "emergency": _clip(proposal.get("emergency"), 8),
        "emergency_also": [str(c) for c in proposal.get("emergency_also") or ()],
        "summary": proposal.get("summary") or None,
        "language": _clip(proposal.get("language"), 8),
    }
    lengths = {"street": 200, "house": 32, "building": 32, "apartment": 32, "district": 32, "landmark": 200}
    for name in ADDRESS_FIELDS:
        values[name] = _clip(address.get(name) or None, lengths[name])
    return values


def _house_status(value: Any) -> str | None:
    """The proposal's house status if it is one of heard | uncertain | absent; anything else is not recorded."""
    return value if isinstance(value, str) and value in HOUSE_STATUSES else None


def _jsonify(value: Any) -> Any:
    """Tuples and dataclasses (e.g. classifier.base.Scored) as plain JSON structures."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [_jsonify(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonify(v) for k, v in value.items()}
    return value


def find_card_of_call(session: Session, *, call_id: int) -> Card | None:
    """The card made for a call, if any."""
    return session.scalars(select(Card).where(Card.call_id == call_id)).first()


def ensure_card(session: Session, *, call: Call) -> Card:
    """The call's card, creating its draft if there is none (commits; safe against a racing creator)."""
    card = find_card_of_call(session, call_id=call.id)
    if card is not None:
        return card
    card = Card(call_id=call.id, status="draft", caller_number=call.caller_number)
    session.add(card)
    try:
        session.flush()
        audit.record(
            session,
            actor=CLASSIFIER_ACTOR,
            entity="card",
            entity_id=card.id,
            action="create",
            after=audit.card_snapshot(card),
        )
        session.commit()
        return card
    except IntegrityError:
        session.rollback()
        card = find_card_of_call(session, call_id=call.id)
        if card is None:
            raise
        return card


def save_proposal(session: Session, *, call_id: int, proposal: Mapping[str, Any], model_version: str | None) -> Card:
    """Store the model's proposal on the call's card (creating its draft card if none).

    The proposed_* fields always follow the latest proposal. While the card is a draft, its working fields
    are pre-filled from the proposal too, except those a person has already edited. Confirmed cards keep
    their working values. Every change leaves an audit event by ``system:classifier``.
    """
    call = session.get(Call, call_id)
    if call is None:
        raise RecordNotFound(f"no call with id {call_id}")
    values = _proposal_values(proposal)
    version = _clip(model_version or proposal.get("model_version") or None, 128)

    def work() -> Card:
        card_id = ensure_card(session, call=call).id
        # Lock the row (PostgreSQL) and re-read it: an operator may have edited it since we loaded it.
        card = session.scalars(
            select(Card).where(Card.id == card_id).with_for_update().execution_options(populate_existing=True)
        ).one()
        before = audit.card_snapshot(card)
        for name, value in values.items():
            setattr(card, f"proposed_{name}", value)
        card.proposed_confidence = {
            str(k): float(v)
            for k, v in (proposal.get("confidence") or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        card.proposed_house_status = _house_status(proposal.get("house_status"))
        card.proposed_alternatives = _jsonify(proposal.get("alternatives") or {})
        card.model_version = version
        card.proposed_at = utcnow()
        if card.status == "draft":
            edited = set(card.operator_edited or ())
            for name in PREFILL_FIELDS:
                if name not in edited:
                    setattr(card, name, values[name])
        old, new = audit.diff(before, audit.card_snapshot(card))
        if new:
            audit.record(
                session,
                actor=CLASSIFIER_ACTOR,
                entity="card",
                entity_id=card.id,
                action="propose",
                before=old,
                after=new,
            )
        session.commit()
        return card

    return _retry(session, work)


LIVE_STATES = ("ringing", "live")


def list_calls(
    session: Session,
    *,
    state: str | None = None,
    caller: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    visible: ColumnElement[bool] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[Call, int | None]], int]:
    """Calls newest first with their card id; returns (page, total). ``visible`` (a WHERE clause on Call, from
    the access policy) limits them to the calls the asker may open."""
    stmt = select(Call, Card.id).outerjoin(Card, Card.call_id == Call.id)
    if state is not None:
        stmt = stmt.where(Call.state == state)
    if caller is not None:
        stmt = stmt.where(Call.caller_number == caller)
    if date_from is not None:
        stmt = stmt.where(Call.started_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Call.started_at < date_to)
    if visible is not None:
        stmt = stmt.where(visible)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit).offset(offset))
    return [(call, card_id) for call, card_id in rows.all()], int(total)


def list_open_calls(session: Session, *, limit: int = 1000) -> list[Call]:
    """Calls still ``ringing`` or ``live`` (no hang-up stored), oldest first; for the reconciler."""
    stmt = select(Call).where(Call.state.in_(LIVE_STATES), Call.ended_at.is_(None))
    return list(session.scalars(stmt.order_by(Call.started_at, Call.id).limit(limit)))
