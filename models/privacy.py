"""Personal data's records: who listened to which recording or read which unmasked transcript, and each run of the
retention policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

# What a person did with a call's personal data (privacy access log).
ACCESS_KINDS = (
    "listen",  # played or downloaded a recording
    "unmasked_transcript",  # read a transcript with its personal data shown
    "masked_audio_export",  # exported a recording with personal data replaced by a tone
    "unmasked_export",  # exported transcripts or cards with personal data shown
)
RETENTION_RUN_STATES = ("running", "finished", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AccessLogEntry(Base):
    """One access to a call's personal data: who, when, which call, what (append-only; never edited)."""

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(_in("kind", ACCESS_KINDS), name="kind"),
        Index("ix_access_log_call_at", "call_id", "at"),
        Index("ix_access_log_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    # No foreign key: the log outlives the call's data under the retention policy.
    call_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)  # e.g. the recording id, the export's filter
    client: Mapped[str | None] = mapped_column(String(64))


class RetentionRun(Base):
    """One application of the retention policy: the policy as it was, and what it removed or anonymised."""

    __tablename__ = "retention_runs"
    __table_args__ = (CheckConstraint(_in("state", RETENTION_RUN_STATES), name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="running")
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"recordings": n, "transcripts": n, "caller_numbers": n, "held": n, "files_missing": n}
    removed: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
