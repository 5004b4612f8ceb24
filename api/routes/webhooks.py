"""Webhooks, for admins: the deliveries (pending, delivered, failed), the retry of a failed one, and setting or
removing an organisation's webhook URL (a new secret is made each time and shown once, in that answer).

Deliveries themselves are made by handover.webhook_worker; docs/webhooks.md is what a receiver needs to know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import and_, func, select, true

from api.access import HandoverAdmin
from api.deps import SessionDep, end_reads
from api.errors import ApiError
from api.params import MAX_ID, Offset, RecordId
from handover.webhook_admin import check_url, remove_webhook, retry_delivery, set_webhook
from models.handover import Organisation, WebhookDelivery
from models.repo.errors import InvalidTransition, RecordNotFound

router = APIRouter(tags=["webhooks"])

DeliveryState = Literal["pending", "delivered", "failed"]


class DeliveryPublic(BaseModel):
    """One webhook delivery: one event for one organisation, and how its attempts went."""

    id: int
    delivery_id: str = Field(description="The X-Callcard-Delivery header: the same on every retry")
    organisation_id: int
    organisation: str | None = Field(description="The organisation's code")
    card_id: int | None
    event: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next")
    last_status: int | None = Field(description="The receiver's last HTTP status (none: no answer)")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None = Field(description="When it was given up; an admin may retry it")

    @classmethod
    def of(cls, row: WebhookDelivery, code: str | None) -> DeliveryPublic:
        return cls(
            id=row.id,
            delivery_id=row.delivery_id,
            organisation_id=row.organisation_id,
            organisation=code,
            card_id=row.card_id,
            event=row.event,
            state=row.state,  # type: ignore[arg-type]
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if row.state == "pending" else None,
            last_status=row.last_status,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            failed_at=row.failed_at,
        )


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]
    total: int = Field(description="Deliveries matching the filters")
    limit: int
    offset: int


class WebhookIn(BaseModel):
    """Where an organisation's events go."""

    url: str = Field(max_length=2000, description="An https:// (or http://) URL that accepts POSTed JSON events")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class WebhookPublic(BaseModel):
    """An organisation's webhook; ``secret`` is only in the answer that made it (keep it: it is not shown again)."""

    organisation_id: int
    organisation: str
    url: str | None
    receives: list[str]
    secret: str | None = Field(default=None, description="The HMAC-SHA256 key of X-Callcard-Signature, shown this once")


@router.get("/webhooks/deliveries", response_model=DeliveriesPublic)
def list_deliveries(
    session: SessionDep,
    _admin: HandoverAdmin,
    state: Annotated[DeliveryState | None, Query(description="only deliveries in this state")] = None,
    organisation_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only this organisation's deliveries")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> DeliveriesPublic:
    """Webhook deliveries, newest first, with their attempts and last error."""
    conditions = []
    if state is not None:
        conditions.append(WebhookDelivery.state == state)
    if organisation_id is not None:
        conditions.append(WebhookDelivery.organisation_id == organisation_id)
    where = and_(*conditions) if conditions else true()
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(where)) or 0
    rows = list(
        session.scalars(
            select(WebhookDelivery).where(where).order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
        )
    )
    in_page = {r.organisation_id for r in rows}
    found = session.execute(select(Organisation.id, Organisation.code).where(Organisation.id.in_(in_page)))
    codes = {org_id: code for org_id, code in found}
    end_reads(session)
    data = [DeliveryPublic.of(r, codes.get(r.organisation_id)) for r in rows]
    return DeliveriesPublic(data=data, total=total, limit=limit, offset=offset)


@router.post("/webhooks/deliveries/{row_id}/retry", response_model=DeliveryPublic)
def retry(row_id: RecordId, session: SessionDep, admin: HandoverAdmin) -> DeliveryPublic:
    """Send a failed delivery again now: same delivery id, same body (audited)."""
    try:
        row = retry_delivery(session, row_id=row_id, actor=admin.username, user_id=admin.id)
    except RecordNotFound as exc:
        raise ApiError(404, f"Webhook delivery {row_id} does not exist.") from exc
    except InvalidTransition as exc:
        raise ApiError(409, f"{str(exc).capitalize()}.") from exc
    code = session.scalar(select(Organisation.code).where(Organisation.id == row.organisation_id))
    end_reads(session)
    return DeliveryPublic.of(row, code)


@router.put("/organisations/{organisation_id}/webhook", response_model=WebhookPublic)
def put_webhook(organisation_id: RecordId, body: WebhookIn, session: SessionDep, admin: HandoverAdmin) -> WebhookPublic:
    """Send the organisation's card events to ``url``, signed with a new secret returned in this answer only
    (the old secret stops working at once)."""
    try:
        done = set_webhook(
            session, organisation_id=organisation_id, url=body.url, actor=admin.username, user_id=admin.id
        )
    except RecordNotFound as exc:
        raise ApiError(404, f"Organisation {organisation_id} does not exist.") from exc
    org = done.organisation
    return WebhookPublic(
        organisation_id=org.id,
        organisation=org.code,
        url=org.webhook_url,
        receives=list(org.receives),
        secret=done.secret,
    )


@router.delete("/organisations/{organisation_id}/webhook", response_model=WebhookPublic)
def delete_webhook(organisation_id: RecordId, session: SessionDep, admin: HandoverAdmin) -> WebhookPublic:
    """Stop the organisation's webhooks (its URL and secret are removed; its inbox and Open311 stay)."""
    try:
        org = remove_webhook(session, organisation_id=organisation_id, actor=admin.username, user_id=admin.id)
    except RecordNotFound as exc:
        raise ApiError(404, f"Organisation {organisation_id} does not exist.") from exc
    return WebhookPublic(organisation_id=org.id, organisation=org.code, url=None, receives=list(org.receives or ()))
