"""The records: Call, Recording, TranscriptSegment, Card, RegistrationCounter, User, AuditEvent, AuthSession,
LoginThrottle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow

# Enum values are stored as plain strings guarded by CHECK constraints, so models/ imports nothing of ours.
CALL_STATES = ("ringing", "live", "ended", "failed")
CARD_STATUSES = ("draft", "confirmed", "routed", "accepted", "in_progress", "returned", "resolved", "closed")
DEADLINE_STAGES = ("on_time", "due_soon", "overdue", "reminded", "escalated")  # core.types.DeadlineStage
PRIORITIES = ("normal", "urgent")
ROLES = ("operator", "supervisor", "qa", "admin", "executor")
# Why a login session ended early (auth_sessions.revoked_reason).
REVOKE_REASONS = ("logout", "password_changed", "deactivated", "role_changed", "admin")
SPEAKERS = ("caller", "operator")
LANGUAGES = ("ru", "kk", "mixed")
HOUSE_STATUSES = ("heard", "uncertain", "absent")  # classifier.base.HouseStatus
SEGMENT_SOURCES = ("live", "postcall", "redecode", "qa")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    """A person who logs in: operator, supervisor, QA reviewer or admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # The username's confusable skeleton (NFKC, casefolded, look-alike letters mapped): two users whose names a
    # person could mistake for each other ("admin" and a Cyrillic "аdmin") cannot both exist.
    username_key: Mapped[str] = mapped_column(String(128), unique=True)
    # Set for a password someone else chose (the first admin's, an admin's reset): the next login must change it.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    ui_language: Mapped[str] = mapped_column(String(2), default="ru")
    # An executor's organisation (role "executor" only): they see and work on that organisation's cards.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Call(Base):
    """One incoming call as Asterisk identified it, from ring to hang-up."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(_in("state", CALL_STATES), name="state"),
        Index("ix_calls_caller_number", "caller_number"),
        Index("ix_calls_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(150), unique=True)  # Asterisk channel uniqueid
    linkedid: Mapped[str | None] = mapped_column(String(150), index=True)
    channel: Mapped[str | None] = mapped_column(String(255))  # channel name, e.g. PJSIP/trunk-00000001
    caller_number: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    dialled_number: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="ari")  # ari | agi | demo
    media_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)  # AudioSocket stream id
    state: Mapped[str] = mapped_column(String(16), default="ringing")
    language: Mapped[str | None] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    transferred_to: Mapped[str | None] = mapped_column(String(8))  # emergency code the caller was moved to
    frames_dropped: Mapped[int] = mapped_column(Integer, default=0)
    asr_status: Mapped[str | None] = mapped_column(String(32))  # calls.lifecycle.AsrStatus
    # Call-time spans [[start, end], ...] that live decoding missed (re-decoded from the recording after the call).
    asr_gaps: Mapped[list[list[float]] | None] = mapped_column(JSON)
    # The operator's leg (issue 15), kept apart from the caller's: its status (calls.lifecycle.AsrStatus) and the
    # spans its live decoding missed, decoded after the call from the operator-leg recording.
    operator_asr_status: Mapped[str | None] = mapped_column(String(32))
    operator_asr_gaps: Mapped[list[list[float]] | None] = mapped_column(JSON)
    postcall_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    postcall_error: Mapped[str | None] = mapped_column(Text)
    # The retention policy's work on this call (privacy.retention): when its recordings were deleted, its
    # transcript anonymised, and the appellant's number removed. None: not yet.
    recordings_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transcript_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    caller_number_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recordings: Mapped[list[Recording]] = relationship(back_populates="call", order_by="Recording.id")
    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="call", order_by="TranscriptSegment.start_s"
    )
    card: Mapped[Card | None] = relationship(back_populates="call", uselist=False)


class Recording(Base):
    """An audio file of a call (the whole conversation, or the caller's leg)."""

    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("call_id", "path", name="uq_recordings_call_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="mixed")  # mixed | caller | operator
    path: Mapped[str] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(16), default="wav")
    sample_rate: Mapped[int] = mapped_column(Integer, default=8000)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    call: Mapped[Call] = relationship(back_populates="recordings")


class TranscriptSegment(Base):
    """A final stretch of recognised speech, with its words; QA corrections sit beside the original."""

    __tablename__ = "transcript_segments"
    __table_args__ = (
        CheckConstraint(_in("speaker", SPEAKERS), name="speaker"),
        CheckConstraint(_in("source", SEGMENT_SOURCES), name="source"),
        CheckConstraint("end_s >= start_s", name="times"),
        UniqueConstraint("call_id", "segment_key", name="uq_transcript_segments_call_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(String(16), default="caller")
    language: Mapped[str | None] = mapped_column(String(8))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    # [{"word": str, "start": float, "end": float, "conf": float}, ...]
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    confidence: Mapped[float | None] = mapped_column(Float)
    is_final: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="live")  # live | postcall | redecode | qa
    # Idempotency key of a machine-made segment (source, times, text): a replayed write stores it once.
    segment_key: Mapped[str | None] = mapped_column(String(80))
    engine: Mapped[str | None] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(128))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("transcript_segments.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    call: Mapped[Call] = relationship(back_populates="segments")


class Card(Base):
    """An appeal: the model's proposal and the operator's confirmed values side by side."""

    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint(_in("status", CARD_STATUSES), name="status"),
        CheckConstraint(_in("deadline_stage", DEADLINE_STAGES), name="deadline_stage"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_in("proposed_house_status", HOUSE_STATUSES), name="proposed_house_status"),
        Index("ix_cards_status_created", "status", "created_at"),
        Index("ix_cards_open_due", "status", "due_at"),
        Index("ix_cards_caller_number", "caller_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: made by the classifier
    caller_number: Mapped[str | None] = mapped_column(String(64))

    # What the model proposed (never edited by people).
    proposed_topic: Mapped[str | None] = mapped_column(String(64))
    proposed_service: Mapped[str | None] = mapped_column(String(64))
    proposed_emergency: Mapped[str | None] = mapped_column(String(8))
    proposed_emergency_also: Mapped[list[str]] = mapped_column(JSON, default=list)
    proposed_street: Mapped[str | None] = mapped_column(String(200))
    proposed_house: Mapped[str | None] = mapped_column(String(32))
    proposed_building: Mapped[str | None] = mapped_column(String(32))
    proposed_apartment: Mapped[str | None] = mapped_column(String(32))
    proposed_district: Mapped[str | None] = mapped_column(String(32))
    proposed_landmark: Mapped[str | None] = mapped_column(String(200))
    proposed_summary: Mapped[str | None] = mapped_column(Text)
    proposed_language: Mapped[str | None] = mapped_column(String(8))
    # heard | uncertain ("street heard, house unsure": ask the caller) | absent; None before this was recorded
    proposed_house_status: Mapped[str | None] = mapped_column(String(16))
    # {"topic": 0.93, "service": 0.93, "emergency": 0.99, "address": 0.7, ...}
    proposed_confidence: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    # {"topic": [{"id": ..., "confidence": ...}, ...], "service": [...]}
    proposed_alternatives: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_version: Mapped[str | None] = mapped_column(String(128))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # What the operator confirmed (or corrected).
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    service: Mapped[str | None] = mapped_column(String(64), index=True)
    emergency: Mapped[str | None] = mapped_column(String(8), index=True)
    emergency_also: Mapped[list[str]] = mapped_column(JSON, default=list)
    street: Mapped[str | None] = mapped_column(String(200))
    house: Mapped[str | None] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(32))
    apartment: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32), index=True)
    landmark: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))

    reg_number: Mapped[str | None] = mapped_column(String(20), unique=True)  # 109-YYYY-NNNNNN
    reg_year: Mapped[int | None] = mapped_column(Integer)
    reg_seq: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    first_call_resolution: Mapped[bool | None] = mapped_column(Boolean)
    # The organisation that owns the problem (models.handover.Organisation), set at confirmation; None when no
    # organisation was found (the card then waits for the monitoring department). How it was chosen: the routing
    # rule's code (None for an operator's choice) and the sentence saying why ("chosen by <operator>").
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    routing_rule: Mapped[str | None] = mapped_column(String(64))
    routing_reason: Mapped[str | None] = mapped_column(Text)
    # The second line: the organisation's progress, its last word (Open311's status_notes), deadline control.
    priority: Mapped[str] = mapped_column(String(8), default="normal", server_default="normal")
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_notes: Mapped[str | None] = mapped_column(Text)
    return_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deadline_stage: Mapped[str] = mapped_column(String(16), default="on_time", server_default="on_time")
    deadline_stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    emergency_transferred_to: Mapped[str | None] = mapped_column(String(8))
    emergency_transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emergency_dismissed_reason: Mapped[str | None] = mapped_column(Text)
    # QA's marks of classification errors: {"topic": "should be heating", ...}
    qa_marks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Working fields a person has set; later proposals no longer overwrite them.
    operator_edited: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A legal hold stops the retention policy from deleting anything of this card's call.
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    call: Mapped[Call | None] = relationship(back_populates="card", foreign_keys=[call_id])

    __mapper_args__ = {"version_id_col": version}


class RegistrationCounter(Base):
    """The last registration number handed out in a year; incremented inside the confirming transaction."""

    __tablename__ = "registration_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Who changed what, from what, to what, and when: one row per change of a card or transcript."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system:<component>"
    entity: Mapped[str] = mapped_column(String(32))  # card | transcript | call | user | organisation | routing_rule
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuthSession(Base):
    """One login: every access token names its session, so a logout or an admin's change ends it at once."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        CheckConstraint("revoked_reason IS NULL OR " + _in("revoked_reason", REVOKE_REASONS), name="revoked_reason"),
        Index("ix_auth_sessions_user_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, carried as the token's "sid"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(64))  # the address the login came from


class LoginThrottle(Base):
    """Failed logins counted per key ("user:<name>", "client:<address>", "pair:<name>|<address>").

    ``next_try_at`` is when the key may be tried again: a short delay that grows with the failures.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
