"""A legal hold on a card: while it is set, the retention policy removes nothing of the card's call (recordings,
transcript, the appellant's number). Setting, changing and lifting it are audited (entity "card")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models.records import Card
from models.repo import audit
from models.repo.cards import get_card
from models.repo.errors import InvalidTransition

MAX_REASON = 2000


def _state(card: Card) -> dict[str, object]:
    return {
        "legal_hold_at": card.legal_hold_at,
        "legal_hold_by_id": card.legal_hold_by_id,
        "legal_hold_reason": card.legal_hold_reason,
    }


def set_legal_hold(
    session: Session, *, card_id: int, reason: str, actor: str, user_id: int | None, now: datetime
) -> Card:
    """Put the card under a legal hold (or change the reason of the hold it has; the date stays); commits."""
    clean = " ".join(reason.split())
    if not clean:
        raise ValueError("a legal hold needs a reason")
    if len(clean) > MAX_REASON:
        raise ValueError(f"the reason is longer than {MAX_REASON} characters")
    card = get_card(session, card_id=card_id, lock=True)
    before = _state(card)
    if card.legal_hold_at is None:
        card.legal_hold_at = now
    card.legal_hold_by_id = user_id
    card.legal_hold_reason = clean
    audit.record(
        session,
        actor=actor,
        user_id=user_id,
        entity="card",
        entity_id=card.id,
        action="legal_hold" if before["legal_hold_at"] is None else "legal_hold_changed",
        before=before,
        after=_state(card),
        at=now,
    )
    session.commit()
    return card


def lift_legal_hold(session: Session, *, card_id: int, actor: str, user_id: int | None, now: datetime) -> Card:
    """Lift the card's legal hold (the next retention run may then remove its call's old data); commits."""
    card = get_card(session, card_id=card_id, lock=True)
    if card.legal_hold_at is None:
        raise InvalidTransition(f"card {card_id} is not under a legal hold")
    before = _state(card)
    card.legal_hold_at = None
    card.legal_hold_by_id = None
    card.legal_hold_reason = None
    audit.record(
        session,
        actor=actor,
        user_id=user_id,
        entity="card",
        entity_id=card.id,
        action="legal_hold_lifted",
        before=before,
        after=_state(card),
        at=now,
    )
    session.commit()
    return card
