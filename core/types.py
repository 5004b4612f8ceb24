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
    """Life cycle of a card: draft -> confirmed -> routed -> resolved / closed."""

    DRAFT = "draft"
    CONFIRMED = "confirmed"
    ROUTED = "routed"
    RESOLVED = "resolved"
    CLOSED = "closed"


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
