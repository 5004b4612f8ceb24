"""Data functions for the photos an organisation attaches to its cards (the bytes are checked by the caller)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.handover import CardPhoto
from models.repo import audit


def count_for(session: Session, card_id: int) -> int:
    return int(session.scalar(select(func.count(CardPhoto.id)).where(CardPhoto.card_id == card_id)) or 0)


def list_for(session: Session, card_ids: list[int]) -> dict[int, list[CardPhoto]]:
    """The photos of these cards (without loading their bytes), by card id."""
    if not card_ids:
        return {}
    rows = session.execute(
        select(
            CardPhoto.id,
            CardPhoto.card_id,
            CardPhoto.content_type,
            CardPhoto.size,
            CardPhoto.uploaded_by,
            CardPhoto.created_at,
        )
        .where(CardPhoto.card_id.in_(card_ids))
        .order_by(CardPhoto.id)
    )
    out: dict[int, list[CardPhoto]] = {}
    for row in rows:
        photo = CardPhoto(
            id=row.id,
            card_id=row.card_id,
            content_type=row.content_type,
            size=row.size,
            uploaded_by=row.uploaded_by,
            created_at=row.created_at,
        )
        out.setdefault(row.card_id, []).append(photo)
    return out


def add(
    session: Session,
    *,
    card_id: int,
    organisation_id: int | None,
    uploaded_by: str,
    user_id: int | None,
    content_type: str,
    data: bytes,
) -> CardPhoto:
    """Store a photo and audit it (entity "card", action "photo"); commits."""
    photo = CardPhoto(
        card_id=card_id,
        organisation_id=organisation_id,
        uploaded_by=uploaded_by,
        content_type=content_type,
        size=len(data),
        data=data,
    )
    session.add(photo)
    session.flush()
    audit.record(
        session,
        actor=uploaded_by,
        user_id=user_id,
        entity="card",
        entity_id=card_id,
        action="photo",
        before={},
        after={"photo_id": photo.id, "content_type": content_type, "size": len(data)},
    )
    session.commit()
    return photo


def get(session: Session, *, card_id: int, photo_id: int) -> CardPhoto | None:
    return session.scalars(select(CardPhoto).where(CardPhoto.id == photo_id, CardPhoto.card_id == card_id)).first()
