"""An organisation's card as GeoReport v2's service request, and which cards an organisation may see.

``service_request_id`` is the registration number (109-YYYY-NNNNNN); ``status`` open or closed
(models.repo.outbox.open311_status); ``requested_datetime`` when the card was confirmed (registered);
``expected_datetime`` its due date; ``address`` the street and house, and the district's name; ``lat``/``long`` are
null (callcard keeps no coordinates).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ColumnElement, and_

from api.open311.schemas import ServiceRequest
from core.taxonomy import Taxonomy
from models.handover import Organisation
from models.records import Card
from models.repo.outbox import open311_status

REG_NUMBER = re.compile(r"109-[0-9]{4}-[0-9]{6}")


def organisation_cards(organisation_id: int) -> ColumnElement[bool]:
    """A WHERE clause on Card: the organisation's registered cards (in its hands, or returned by it)."""
    return and_(Card.organisation_id == organisation_id, Card.status != "draft", Card.reg_number.is_not(None))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def address_of(card: Card, taxonomy: Taxonomy, locale: str) -> str | None:
    """ "street house, district" with whatever parts the card has; None when it has none."""
    place = " ".join(part for part in (card.street, card.house) if part)
    district = taxonomy.districts.get(card.district) if card.district else None
    parts = [part for part in (place, district.name(locale) if district else card.district) if part]
    return ", ".join(parts) or None


def as_request(card: Card, org: Organisation, taxonomy: Taxonomy, locale: str) -> ServiceRequest:
    service = taxonomy.services.get(card.service) if card.service else None
    return ServiceRequest(
        service_request_id=str(card.reg_number),
        status="closed" if open311_status(card.status) == "closed" else "open",
        status_notes=card.status_notes,
        service_name=service.name(locale) if service else card.service,
        service_code=card.service,
        description=card.summary,
        agency_responsible=org.name_kk if locale == "kk" else org.name_ru,
        service_notice=None,
        requested_datetime=_iso(card.confirmed_at),
        updated_datetime=_iso(card.updated_at),
        expected_datetime=_iso(card.due_at),
        address=address_of(card, taxonomy, locale),
    )
