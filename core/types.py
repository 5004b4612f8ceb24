"""Shared enums, identifiers and audio constants used across callcard's packages."""

from __future__ import annotations

from enum import StrEnum

# The one audio format inside callcard: what Asterisk's AudioSocket sends (slin, 8 kHz).
SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes, signed 16-bit little-endian
CHANNELS = 1
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * SAMPLE_WIDTH * FRAME_MS // 1000  # 320


class Language(StrEnum):
    """Language of a transcript segment or of a card."""

    RU = "ru"
    KK = "kk"
    MIXED = "mixed"


class Role(StrEnum):
    """What a user may do."""

    OPERATOR = "operator"
    QA = "qa"
    ADMIN = "admin"


class CardStatus(StrEnum):
    """Life cycle of a card (models.repo.cards.TRANSITIONS says which action leads where).

    draft -> confirmed (registered; no organisation yet: the monitoring department's queue)
          -> routed (handed over to its organisation) -> accepted -> in_progress -> resolved (the organisation
          reports it done) -> closed (the 109 side closes it, or reopens it: back to routed).
    An organisation may return a card as "not ours": returned, back in the monitoring queue to be routed again.
    """

    DRAFT = "draft"
    CONFIRMED = "confirmed"
    ROUTED = "routed"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RETURNED = "returned"
    RESOLVED = "resolved"
    CLOSED = "closed"


class DeadlineStage(StrEnum):
    """How far an open card's deadline control has gone (each stage is reached once, in order)."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"  # the organisation was told the due date is near
    OVERDUE = "overdue"  # past due: the organisation was told
    REMINDED = "reminded"  # still overdue after the reminder step: the organisation reminded again
    ESCALATED = "escalated"  # still overdue after the last step: the monitoring department's supervisor


class CallState(StrEnum):
    """Life cycle of a call as callcard sees it."""

    RINGING = "ringing"
    LIVE = "live"
    ENDED = "ended"
    FAILED = "failed"


class Speaker(StrEnum):
    """Who spoke a transcript segment."""

    CALLER = "caller"
    OPERATOR = "operator"


NO_EMERGENCY = "none"
