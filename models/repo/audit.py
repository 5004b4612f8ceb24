"""Audit events: who changed which card or transcript, from what, to what, and when."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.records import AuditEvent, Card

logger = logging.getLogger(__name__)

# A card's content: what the model proposes and a person confirms or corrects.
CONTENT_FIELDS: tuple[str, ...] = (
    "topic",
    "service",
    "emergency",
    "emergency_also",
    "street",
    "house",
    "building",
    "apartment",
    "district",
    "landmark",
    "summary",
    "language",
)

# Audit actions of an emergency transfer: the attempt is recorded before Asterisk is asked, then its outcome.
TRANSFER_ATTEMPT = "transfer_attempt"
TRANSFER_DONE = "transfer"
TRANSFER_FAILED = "transfer_failed"

# The card fields an audit event records (everything a person or the model can change).
CARD_FIELDS: tuple[str, ...] = (
    "status",
    "caller_number",
    *CONTENT_FIELDS,
    "reg_number",
    "due_at",
    "confirmed_by_id",
    "confirmed_at",
    "routed_at",
    "resolved_at",
    "closed_at",
    "resolution",
    "first_call_resolution",
    "priority",
    "accepted_at",
    "status_notes",
    "return_count",
    "reopen_count",
    "deadline_stage",
    "emergency_transferred_to",
    "emergency_transferred_at",
    "emergency_dismissed_reason",
    "qa_marks",
    "proposed_topic",
    "proposed_service",
    "proposed_emergency",
    "proposed_emergency_also",
    "proposed_street",
    "proposed_house",
    "proposed_building",
    "proposed_apartment",
    "proposed_district",
    "proposed_landmark",
    "proposed_summary",
    "proposed_language",
    "proposed_confidence",
    "proposed_house_status",
    "model_version",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def card_snapshot(card: Card, fields: Iterable[str] = CARD_FIELDS) -> dict[str, Any]:
    """A JSON-safe copy of ``card``'s auditable fields."""
    return {name: _jsonable(getattr(card, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: int,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    user_id: int | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add an audit event to the session's current transaction (the caller commits)."""
    event = AuditEvent(
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        action=action,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        user_id=user_id,
    )
    if at is not None:
        event.at = at
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    entity: str | None = None,
    entity_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Audit events, newest first, optionally of one entity; returns (page, total)."""
    stmt = select(AuditEvent)
    if entity is not None:
        stmt = stmt.where(AuditEvent.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total
