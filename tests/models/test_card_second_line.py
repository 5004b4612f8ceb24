"""The card's second-line life on SQLite and PostgreSQL: confirming hands a card over at once, the organisation's
steps, "not ours", reopening, deadlines per organisation and priority, and the webhook outbox written in the same
transaction as each change (and not at all when the change fails)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.handover import Organisation, WebhookDelivery
from models.records import AuditEvent, Card
from models.repo import InvalidTransition, RecordNotFound, cards, outbox
from models.repo.cards import Actor, Routing

OP = Actor("aigerim", None)
EXEC = Actor("executor-1", None)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DRAFT = {"topic": "heating", "service": "heating_utility", "emergency": "none", "summary": "Батарея суық", "house": "7"}


def _org(session: Session, code: str, *, webhook: bool = True, hours: dict[str, int] | None = None) -> Organisation:
    org = Organisation(
        code=code,
        name_kk=f"{code} ЖШС",
        name_ru=f"ТОО {code}",
        services=["heating_utility", "water_utility"],
        receives=["inbox", "webhook"] if webhook else ["inbox"],
        deadline_hours=hours or {},
        webhook_url="http://127.0.0.1:9/hook" if webhook else None,
        webhook_secret="s3cret" if webhook else None,
    )
    session.add(org)
    session.commit()
    return org


def _router_to(org_id: int | None) -> cards.Router:
    def route(_session: Session, _card: Card) -> Routing:
        return Routing(org_id, "rule-1" if org_id else None, "test rule" if org_id else "no rule matches")

    return route


def _confirmed(session: Session, org_id: int | None, **values: object) -> Card:
    card = cards.create_card(session, actor=OP, values={**DRAFT, **values})
    return cards.confirm_card(session, card_id=card.id, actor=OP, due_hours=24, now=NOW, router=_router_to(org_id))


def _events(session: Session, card_id: int) -> list[tuple[int, str]]:
    rows = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.card_id == card_id).order_by(WebhookDelivery.id)
    )
    return [(r.organisation_id, r.event) for r in rows]


def test_confirming_hands_the_card_over_at_once_with_one_routed_event(session: Session) -> None:
    org = _org(session, "heat")
    card = _confirmed(session, org.id)
    assert card.status == "routed" and card.routed_at == NOW and card.organisation_id == org.id
    assert _events(session, card.id) == [(org.id, outbox.ROUTED)]
    row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.card_id == card.id)).one()
    body = json.loads(row.body)
    assert body["event"] == "card.routed" and body["delivery_id"] == row.delivery_id
    assert body["card"]["service_request_id"] == card.reg_number and body["card"]["open311_status"] == "open"
    assert body["card"]["organisation"] == "heat" and body["card"]["address"]["house"] == "7"
    assert "caller_number" not in body["card"], "an organisation's system never gets the caller's number"


def test_no_organisation_found_waits_in_the_monitoring_queue_and_writes_no_event(session: Session) -> None:
    card = _confirmed(session, None)
    assert card.status == "confirmed" and card.organisation_id is None
    assert _events(session, card.id) == []


def test_an_organisation_without_webhooks_gets_no_outbox_rows(session: Session) -> None:
    org = _org(session, "inbox-only", webhook=False)
    card = _confirmed(session, org.id)
    assert card.status == "routed" and _events(session, card.id) == []


def test_the_organisations_steps_follow_the_status_machine(session: Session) -> None:
    org = _org(session, "heat")
    card = _confirmed(session, org.id)
    with pytest.raises(ValueError, match="say what was done"):
        cards.organisation_step(session, card_id=card.id, actor=EXEC, step="done", organisation_id=org.id)
    accepted = cards.organisation_step(session, card_id=card.id, actor=EXEC, step="accept", organisation_id=org.id)
    assert accepted.status == "accepted" and accepted.accepted_at is not None
    with pytest.raises(InvalidTransition):
        cards.organisation_step(session, card_id=card.id, actor=EXEC, step="accept", organisation_id=org.id)
    started = cards.organisation_step(session, card_id=card.id, actor=EXEC, step="start", organisation_id=org.id)
    assert started.status == "in_progress"
    done = cards.organisation_step(
        session, card_id=card.id, actor=EXEC, step="done", comment="Радиатор ауыстырылды", organisation_id=org.id
    )
    assert done.status == "resolved" and done.resolution == "Радиатор ауыстырылды" and done.resolved_at is not None
    assert done.status_notes == "Радиатор ауыстырылды"
    assert [e for _, e in _events(session, card.id)] == ["card.routed", "card.updated", "card.updated", "card.updated"]
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "card", AuditEvent.entity_id == card.id)
    ).all()
    assert actions == ["create", "confirm", "accept", "start", "done"]


def test_another_organisation_cannot_step_on_the_card_and_nothing_is_written(session: Session) -> None:
    mine, other = _org(session, "heat"), _org(session, "water")
    card = _confirmed(session, mine.id)
    before = session.scalar(select(func.count(WebhookDelivery.id)))
    with pytest.raises(RecordNotFound):
        cards.organisation_step(session, card_id=card.id, actor=EXEC, step="accept", organisation_id=other.id)
    session.expire_all()
    assert session.get(Card, card.id).status == "routed"  # type: ignore[union-attr]
    assert session.scalar(select(func.count(WebhookDelivery.id))) == before


def test_not_ours_goes_back_to_the_monitoring_queue_and_rerouting_tells_both(session: Session) -> None:
    first, second = _org(session, "heat"), _org(session, "water")
    card = _confirmed(session, first.id)
    with pytest.raises(ValueError, match="say why"):
        cards.organisation_step(session, card_id=card.id, actor=EXEC, step="return", organisation_id=first.id)
    returned = cards.organisation_step(
        session, card_id=card.id, actor=EXEC, step="return", comment="Бұл біздің желі емес", organisation_id=first.id
    )
    assert returned.status == "returned" and returned.return_count == 1
    with pytest.raises(ValueError, match="choose the organisation"):
        cards.route_card(session, card_id=card.id, actor=OP, router=_router_to(first.id))
    rerouted = cards.route_card(session, card_id=card.id, actor=OP, organisation_id=second.id)
    assert rerouted.status == "routed" and rerouted.organisation_id == second.id
    assert _events(session, card.id) == [
        (first.id, "card.routed"),
        (first.id, "card.updated"),
        (first.id, "card.withdrawn"),
        (second.id, "card.routed"),
    ]


def test_reopen_sends_it_back_to_the_same_organisation_counted(session: Session) -> None:
    org = _org(session, "heat")
    card = _confirmed(session, org.id)
    cards.organisation_step(session, card_id=card.id, actor=EXEC, step="done", comment="done", organisation_id=org.id)
    cards.close_card(session, card_id=card.id, actor=OP)
    with pytest.raises(ValueError):
        cards.reopen_card(session, card_id=card.id, actor=OP, reason="  ")
    reopened = cards.reopen_card(session, card_id=card.id, actor=OP, reason="Әлі де суық дейді")
    assert reopened.status == "routed" and reopened.reopen_count == 1 and reopened.resolved_at is None
    assert _events(session, card.id)[-1] == (org.id, "card.reopened")


def test_deadline_comes_from_the_organisation_and_priority(session: Session) -> None:
    org = _org(session, "heat", hours={"urgent": 2, "normal": 48})
    normal = _confirmed(session, org.id)
    urgent = _confirmed(session, org.id, emergency="104")
    no_org = _confirmed(session, None, emergency="104")
    assert normal.priority == "normal" and normal.due_at == NOW + timedelta(hours=48)
    assert urgent.priority == "urgent" and urgent.due_at == NOW + timedelta(hours=2)
    assert no_org.priority == "urgent" and no_org.due_at == NOW + timedelta(hours=24), "the topic's deadline"


def test_a_failed_change_leaves_no_event_behind(session: Session) -> None:
    org = _org(session, "heat")
    card = cards.create_card(session, actor=OP, values={**DRAFT, "topic": None})
    with pytest.raises(ValueError, match="topic"):
        cards.confirm_card(session, card_id=card.id, actor=OP, due_hours=24, now=NOW, router=_router_to(org.id))
    assert session.scalar(select(func.count(WebhookDelivery.id))) == 0
