"""The webhook outbox: events about a card, written in the same transaction as the card change.

An organisation that receives webhooks (``"webhook"`` in ``receives`` and a ``webhook_url``) gets one
``WebhookDelivery`` row per event about its cards. The row holds the exact body that will be POSTed and signed,
and a ``delivery_id`` (UUID) that stays the same on every retry. Nothing here sends anything:
``handover.webhooks`` delivers what this writes, so a crash between the card's commit and the POST loses nothing,
and a rolled-back change leaves no event behind.

Event types (``EVENTS``): ``card.routed`` (the card was handed over to this organisation), ``card.updated``
(its status, content or notes changed), ``card.reopened`` (the appellant says it is not fixed), ``card.due_soon``
and ``card.overdue`` (deadline control; ``deadline_stage`` tells a reminder and an escalation apart), and
``card.withdrawn`` (the card was routed away from this organisation).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, true, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.handover import Organisation, WebhookDelivery
from models.records import Card

ROUTED = "card.routed"
UPDATED = "card.updated"
REOPENED = "card.reopened"
DUE_SOON = "card.due_soon"
OVERDUE = "card.overdue"
WITHDRAWN = "card.withdrawn"
EVENTS = (ROUTED, UPDATED, REOPENED, DUE_SOON, OVERDUE, WITHDRAWN)

# Open311's two statuses: an organisation's card is closed once it reported it done (or the 109 side closed it).
CLOSED_STATUSES = ("resolved", "closed")


def open311_status(status: str) -> str:
    """``open`` or ``closed``, as GeoReport v2 has it."""
    return "closed" if status in CLOSED_STATUSES else "open"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class EventAddress:
    street: str | None
    house: str | None
    building: str | None
    apartment: str | None
    district: str | None
    landmark: str | None


@dataclass(frozen=True, slots=True)
class EventCard:
    """What an organisation's system learns of a card (no caller number, no transcript)."""

    card_id: int
    service_request_id: str | None  # the registration number, as in Open311
    status: str
    open311_status: str
    status_notes: str | None
    service: str | None
    topic: str | None
    emergency: str | None
    priority: str
    summary: str | None
    language: str | None
    address: EventAddress
    organisation: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    deadline_stage: str
    reopen_count: int
    return_count: int

    @classmethod
    def of(cls, card: Card, organisation_code: str | None) -> EventCard:
        return cls(
            card_id=card.id,
            service_request_id=card.reg_number,
            status=card.status,
            open311_status=open311_status(card.status),
            status_notes=card.status_notes,
            service=card.service,
            topic=card.topic,
            emergency=card.emergency,
            priority=card.priority,
            summary=card.summary,
            language=card.language,
            address=EventAddress(card.street, card.house, card.building, card.apartment, card.district, card.landmark),
            organisation=organisation_code,
            requested_datetime=_iso(card.confirmed_at),
            updated_datetime=_iso(card.updated_at),
            expected_datetime=_iso(card.due_at),
            deadline_stage=card.deadline_stage,
            reopen_count=card.reopen_count,
            return_count=card.return_count,
        )


@dataclass(frozen=True, slots=True)
class CardEvent:
    """The JSON body of one webhook: the event, its delivery id, when it happened, the card, and why."""

    event: str
    delivery_id: str
    occurred_at: str
    card: EventCard
    reason: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _receives_webhooks(org: Organisation | None) -> bool:
    return org is not None and org.active and "webhook" in (org.receives or ()) and bool(org.webhook_url)


def enqueue(
    session: Session,
    *,
    card: Card,
    organisation_id: int | None,
    event: str,
    now: datetime | None = None,
    reason: str | None = None,
) -> WebhookDelivery | None:
    """Add one event for ``organisation_id`` about ``card`` to the session (the caller's transaction commits it).

    Returns None when that organisation does not receive webhooks.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if organisation_id is None:
        return None
    org = session.get(Organisation, organisation_id)
    if org is None or not _receives_webhooks(org):
        return None
    at = now or utcnow()
    session.flush()  # the card's updated_at and id as they will be committed
    body = CardEvent(
        event=event,
        delivery_id=str(uuid.uuid4()),
        occurred_at=at.isoformat(),
        card=EventCard.of(card, org.code),
        reason=reason,
    )
    row = WebhookDelivery(
        delivery_id=body.delivery_id,
        organisation_id=org.id,
        card_id=card.id,
        event=event,
        body=body.to_json(),
        state="pending",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    session.add(row)
    return row


def card_change_events(
    *, action: str, status_before: str, status_after: str, org_before: int | None, org_after: int | None
) -> list[tuple[int, str]]:
    """Which (organisation id, event) a card change produces."""
    if status_after == "draft":
        return []
    out: list[tuple[int, str]] = []
    if org_before is not None and org_before != org_after:
        out.append((org_before, WITHDRAWN))
    if org_after is None:
        return out
    handed_over = status_after == "routed" and (status_before != "routed" or org_before != org_after)
    if action == "reopen":
        out.append((org_after, REOPENED))
    elif handed_over or (org_before != org_after):
        out.append((org_after, ROUTED))
    else:
        out.append((org_after, UPDATED))
    return out


# ------------------------------------------------------------------------------------------- delivery side


def claim_due(session: Session, *, now: datetime, limit: int, lease_s: float) -> list[WebhookDelivery]:
    """Pending deliveries due now, leased for ``lease_s`` (their next attempt moves on, so a second worker, or
    this one after a crash, takes them again only once the lease has run out). Commits."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(stmt))
    lease_until = now + timedelta(seconds=lease_s)
    for row in rows:
        row.next_attempt_at = lease_until
    session.commit()
    return rows


def record_delivered(session: Session, *, row_id: int, status: int, now: datetime) -> None:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == row_id, WebhookDelivery.state == "pending")
        .values(
            state="delivered",
            delivered_at=now,
            last_status=status,
            last_error=None,
            attempts=WebhookDelivery.attempts + 1,
        )
    )
    session.commit()


def record_failure(
    session: Session,
    *,
    row_id: int,
    status: int | None,
    error: str,
    now: datetime,
    retry_at: datetime | None,
) -> None:
    """One failed attempt: try again at ``retry_at``, or give up (state ``failed``) when it is None."""
    values: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "last_status": status,
        "last_error": error[:1000],
    }
    if retry_at is None:
        values.update(state="failed", failed_at=now)
    else:
        values.update(next_attempt_at=retry_at)
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == row_id, WebhookDelivery.state == "pending").values(**values)
    )
    session.commit()


def retry(session: Session, *, row_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """An admin's retry of a failed delivery: pending again, due now, same delivery id and body, with a new
    give-up window from now. Commits."""
    row = session.get(WebhookDelivery, row_id)
    if row is None:
        return None
    if row.state == "failed":
        at = now or utcnow()
        row.state = "pending"
        row.failed_at = None
        row.next_attempt_at = at
        row.retried_at = at
        session.commit()
    return row


def list_deliveries(
    session: Session,
    *,
    state: str | None = None,
    organisation_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[WebhookDelivery]:
    conditions = []
    if state is not None:
        conditions.append(WebhookDelivery.state == state)
    if organisation_id is not None:
        conditions.append(WebhookDelivery.organisation_id == organisation_id)
    stmt = (
        select(WebhookDelivery).where(and_(*conditions) if conditions else true()).order_by(WebhookDelivery.id.desc())
    )
    return list(session.scalars(stmt.limit(limit).offset(offset)))
