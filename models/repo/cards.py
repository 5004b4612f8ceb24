"""Data functions for cards: create, edit, confirm (registration number), route, resolve, close, search."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models.base import utcnow
from models.handover import Organisation
from models.records import Call, Card, RegistrationCounter, TranscriptSegment
from models.repo import audit, outbox
from models.repo.errors import DuplicateRecord, InvalidTransition, RecordNotFound, StaleVersion

logger = logging.getLogger(__name__)

# Working fields a person may set through create/update/confirm.
EDITABLE_FIELDS = (*audit.CONTENT_FIELDS, "caller_number")
# The operator's choice of organisation: an edit (update/confirm) but not a content field, set through _choose.
CHOSEN = "organisation_id"
# What a card's audit event says about its routing (these columns are not in audit.CARD_FIELDS).
ROUTING_FIELDS = ("organisation_id", "routing_rule", "routing_reason")
# Statuses in which a card is in an organisation's hands (or waiting to be routed again).
WITH_ORGANISATION = ("routed", "accepted", "in_progress")
OPEN_STATUSES = ("confirmed", *WITH_ORGANISATION, "returned")
# Which statuses each action may start from (the card's status machine; core.types.CardStatus).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "edit": ("draft", "confirmed", "returned"),
    "confirm": ("draft",),
    "route": ("confirmed", "returned", *WITH_ORGANISATION),
    # the 109 side records a resolution: answered at first contact, or reported by the organisation by phone
    "resolve": OPEN_STATUSES,
    "close": ("draft", *OPEN_STATUSES, "resolved"),
    "reopen": ("resolved", "closed"),
    # the organisation's side (its inbox, its Open311 system)
    "accept": ("routed",),
    "start": ("routed", "accepted"),
    "done": WITH_ORGANISATION,
    "return": WITH_ORGANISATION,
    "note": (*OPEN_STATUSES, "resolved"),
    "transfer": ("draft", *OPEN_STATUSES),
    "dismiss_emergency": ("draft", *OPEN_STATUSES),
    "qa_marks": ("draft", *OPEN_STATUSES, "resolved", "closed"),
    # deadline control (models.repo.deadlines)
    "deadline": OPEN_STATUSES,
}
# Actions that tell the card's organisation nothing new (no webhook event).
SILENT_ACTIONS = frozenset({"qa_marks", "transfer", "dismiss_emergency", "deadline"})


# A check of the locked card before a change; it raises to refuse the change.
Guard = Callable[[Card], None]


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a card goes: the organisation's id (None: no organisation found), the rule's code, and why."""

    organisation_id: int | None
    rule: str | None
    reason: str


# The routing engine over the stored rules, asked for a card's organisation from its working fields
# (handover.assignment.route_card). models/ does not know the rules; the caller passes this in.
Router = Callable[[Session, Card], Routing]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a user (id and username) or a system component ("system:<name>")."""

    name: str
    user_id: int | None = None


def registration_number(year: int, seq: int) -> str:
    """The card's public number: 109-YYYY-NNNNNN."""
    return f"109-{year:04d}-{seq:06d}"


def chosen_by(actor: Actor) -> str:
    """The routing reason of an operator's (or supervisor's) choice of organisation."""
    return f"chosen by {actor.name}"


def check_choice(session: Session, organisation_id: int, service: str | None) -> Organisation:
    """The organisation a person chose for a card of ``service``; ValueError (a 422) unless it exists, is active
    and serves that service."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise ValueError(f"organisation {organisation_id} does not exist")
    if not org.active:
        raise ValueError(f"organisation {org.code} ({org.name_ru}) is inactive; choose another")
    if service is not None and service not in (org.services or ()):
        raise ValueError(f"organisation {org.code} ({org.name_ru}) does not serve {service}; choose one that does")
    return org


def _set_routing(card: Card, routing: Routing) -> None:
    card.organisation_id = routing.organisation_id
    card.routing_rule = routing.rule
    card.routing_reason = routing.reason


def _choose(card: Card, organisation_id: int | None, actor: Actor) -> None:
    """Record a person's choice of organisation (checked at confirmation); None withdraws it (the rules decide)."""
    edited = [name for name in card.operator_edited or () if name != CHOSEN]
    if organisation_id is None:
        card.organisation_id = card.routing_rule = card.routing_reason = None
        card.operator_edited = edited
        return
    _set_routing(card, Routing(organisation_id, None, chosen_by(actor)))
    card.operator_edited = [*edited, CHOSEN]


def _serves(session: Session, card: Card) -> bool:
    """Whether the card's organisation is set, active and serves the card's service."""
    if card.organisation_id is None:
        return False
    try:
        check_choice(session, card.organisation_id, card.service)
    except ValueError:
        return False
    return True


def _split_choice(changes: Mapping[str, Any]) -> tuple[dict[str, Any], bool, int | None]:
    """(the working-field changes, whether an organisation was chosen or withdrawn, the organisation's id)."""
    rest = dict(changes)
    chose = CHOSEN in rest
    organisation_id = rest.pop(CHOSEN, None)
    return _clean_changes(rest), chose, organisation_id


def _routing_note(card: Card, before: int | None) -> dict[str, Any]:
    """The routing columns for the audit event (with the organisation before, when it changed)."""
    note: dict[str, Any] = {name: getattr(card, name) for name in ROUTING_FIELDS}
    if before != card.organisation_id:
        note["organisation_id_before"] = before
    return note


def reason_of(note: Mapping[str, Any] | None) -> str | None:
    """The "why" an audit note carries, for the webhook event."""
    value = (note or {}).get("reason")
    return str(value) if value else None


def get_card(session: Session, *, card_id: int, lock: bool = False) -> Card:
    """The card with ``card_id`` (row-locked until commit if ``lock``, where the database supports it)."""
    stmt = select(Card).where(Card.id == card_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    card = session.scalars(stmt).first()
    if card is None:
        raise RecordNotFound(f"card {card_id} does not exist")
    return card


def _check_transition(card: Card, action: str) -> None:
    allowed = TRANSITIONS[action]
    if card.status not in allowed:
        raise InvalidTransition(
            f"card {card.id} is {card.status}; {action.replace('_', ' ')} needs a card that is {' or '.join(allowed)}"
        )


def _check_version(card: Card, expected_version: int | None) -> None:
    if expected_version is not None and card.version != expected_version:
        raise StaleVersion(
            f"card {card.id} was changed by someone else (version {card.version}, you had {expected_version}); "
            "reload it and try again"
        )


def _clean_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"fields that cannot be set on a card: {', '.join(sorted(unknown))}")
    out = dict(changes)
    if "emergency_also" in out:
        out["emergency_also"] = [str(c) for c in out["emergency_also"] or ()]
    return out


def _apply(card: Card, changes: Mapping[str, Any]) -> None:
    """Set working fields and remember which ones a person edited."""
    edited = list(card.operator_edited or ())
    for name, value in changes.items():
        setattr(card, name, value)
        if name not in edited:
            edited.append(name)
    card.operator_edited = edited


def _change(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    action: str,
    mutate: Callable[[Card], None],
    expected_version: int | None = None,
    transition: str | None = None,
    note: Mapping[str, Any] | None = None,
    guard: Guard | None = None,
) -> Card:
    """Load and lock the card, check state and version, apply ``mutate``, audit the difference, commit.

    ``note`` adds facts that are not card fields to the audit event's ``after`` (e.g. a transfer's outcome).
    ``guard`` sees the locked card first and raises to refuse the change (the access policy's check, made on the
    row as it is now, so a claim or hand-over racing the change cannot slip between check and write).
    """
    try:
        card = get_card(session, card_id=card_id, lock=True)
        if guard is not None:
            guard(card)
        _check_transition(card, transition or action)
        _check_version(card, expected_version)
        before = audit.card_snapshot(card)
        status_before, org_before = card.status, card.organisation_id
        mutate(card)
        old, new = audit.diff(before, audit.card_snapshot(card))
        if action not in SILENT_ACTIONS and (old or new or action in ("reopen", "note")):
            for organisation_id, event in outbox.card_change_events(
                action=action,
                status_before=status_before,
                status_after=card.status,
                org_before=org_before,
                org_after=card.organisation_id,
            ):
                outbox.enqueue(session, card=card, organisation_id=organisation_id, event=event, reason=reason_of(note))
        audit.record(
            session,
            actor=actor.name,
            user_id=actor.user_id,
            entity="card",
            entity_id=card.id,
            action=action,
            before=old,
            after={**new, **(note or {})},
        )
        session.commit()
        return card
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(f"card {card_id} was changed by someone else at the same time; reload it") from exc
    except Exception:
        session.rollback()
        raise


def create_card(session: Session, *, actor: Actor, values: Mapping[str, Any], call_id: int | None = None) -> Card:
    """A manual draft card (optionally for a call that has none yet)."""
    changes = _clean_changes(values)
    card = Card(status="draft", call_id=call_id, created_by_id=actor.user_id)
    if call_id is not None:
        call = session.get(Call, call_id)
        if call is None:
            raise RecordNotFound(f"call {call_id} does not exist")
        card.caller_number = call.caller_number
    _apply(card, changes)
    session.add(card)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise DuplicateRecord(f"call {call_id} already has a card") from exc
    audit.record(
        session,
        actor=actor.name,
        user_id=actor.user_id,
        entity="card",
        entity_id=card.id,
        action="create",
        before=None,
        after=audit.card_snapshot(card),
    )
    session.commit()
    return card


def update_card(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    guard: Guard | None = None,
) -> Card:
    """Edit working fields of a draft or confirmed card.

    ``changes`` may hold ``organisation_id``: a person's choice of organisation (checked to exist, be active and
    serve the card's service), or None to withdraw it so the routing rules decide at confirmation.
    """
    clean, chose, organisation_id = _split_choice(changes)
    note: dict[str, Any] = {}

    def mutate(card: Card) -> None:
        before = card.organisation_id
        _apply(card, clean)
        if chose:
            if organisation_id is not None:
                check_choice(session, organisation_id, card.service)
            _choose(card, organisation_id, actor)
            note.update(_routing_note(card, before))

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="edit",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
        note=note,
    )


def _next_seq(session: Session, year: int) -> int:
    """Increment the year's counter inside the current transaction and return the new value.

    The counter row stays locked until commit, so concurrent confirmations queue; a rolled-back
    confirmation rolls its increment back too, which leaves no gap.
    """
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(RegistrationCounter)
            .values(year=year, last_seq=1)
            .on_conflict_do_update(
                index_elements=[RegistrationCounter.year],
                set_={"last_seq": RegistrationCounter.last_seq + 1},
            )
            .returning(RegistrationCounter.last_seq)
        )
        return int(session.execute(stmt).scalar_one())
    row = session.scalars(select(RegistrationCounter).where(RegistrationCounter.year == year).with_for_update()).first()
    if row is None:
        row = RegistrationCounter(year=year, last_seq=0)
        session.add(row)
    row.last_seq += 1
    session.flush()
    return row.last_seq


def priority_of(card: Card) -> str:
    """``urgent`` for a card with an emergency service's code, else ``normal``."""
    return "urgent" if card.emergency not in (None, "", "none") else "normal"


def deadline_hours(session: Session, card: Card, topic_hours: int) -> int:
    """Hours to resolve: the organisation's override for the card's priority, else the topic's deadline."""
    if card.organisation_id is None:
        return topic_hours
    org = session.get(Organisation, card.organisation_id)
    override = (org.deadline_hours or {}).get(card.priority) if org is not None else None
    return int(override) if override else topic_hours


def confirm_card(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    changes: Mapping[str, Any] | None = None,
    due_hours: int | Callable[[str], int],
    expected_version: int | None = None,
    guard: Guard | None = None,
    now: datetime | None = None,
    year: int | None = None,
    default_service: Callable[[str], str] | None = None,
    router: Router | None = None,
) -> Card:
    """Confirm a draft (with optional edits): registration number, due date, who and when, and its organisation.

    The organisation: a person's choice (``changes["organisation_id"]``, or one made by an earlier edit) is kept
    when it is active and serves the confirmed service (else ValueError, nothing written); otherwise ``router``
    decides from the confirmed fields. A card for which no organisation is found is confirmed all the same, with
    the reason, and waits for the monitoring department. The audit event carries ``ROUTING_FIELDS``.

    Args:
        due_hours: hours until due, or a function of the confirmed topic giving them.
        year: the registration year (default: ``now``'s year in UTC; pass the city's local year).
        default_service: the service of a topic, used when the card has a topic but no service.
        router: the routing engine over the stored rules (None: the card's organisation is left as it is).
    """
    clean, chose, organisation_id = _split_choice(changes or {})
    at = now or utcnow()
    reg_year = year if year is not None else at.astimezone(UTC).year
    note: dict[str, Any] = {}

    def mutate(card: Card) -> None:
        before = card.organisation_id
        _apply(card, clean)
        if not card.topic:
            raise ValueError("a card needs a topic before it can be confirmed")
        if not card.service and default_service is not None:
            card.service = default_service(card.topic)
        if not card.service:
            raise ValueError("a card needs a service before it can be confirmed")
        if not card.emergency:
            card.emergency = "none"
        if chose:
            if organisation_id is not None:
                check_choice(session, organisation_id, card.service)
            _choose(card, organisation_id, actor)
        if CHOSEN in (card.operator_edited or ()) and card.organisation_id is not None:
            check_choice(session, card.organisation_id, card.service)
            card.routing_rule = None
            card.routing_reason = card.routing_reason or chosen_by(actor)
        elif router is not None:
            _set_routing(card, router(session, card))
        note.update(_routing_note(card, before))
        card.priority = priority_of(card)
        hours = due_hours(card.topic) if callable(due_hours) else due_hours
        seq = _next_seq(session, reg_year)
        card.reg_year, card.reg_seq = reg_year, seq
        card.reg_number = registration_number(reg_year, seq)
        card.confirmed_at = at
        card.confirmed_by_id = actor.user_id
        card.due_at = at + timedelta(hours=deadline_hours(session, card, hours))
        if card.organisation_id is not None:  # handed over at once: the organisation has it from now on
            card.status = "routed"
            card.routed_at = at
        else:  # no organisation found: the monitoring department's queue routes it
            card.status = "confirmed"

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="confirm",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
        note=note,
    )


def route_card(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    service: str | None = None,
    organisation_id: int | None = None,
    router: Router | None = None,
    expected_version: int | None = None,
    guard: Guard | None = None,
    now: datetime | None = None,
) -> Card:
    """Send a confirmed card to its service (optionally another service than the confirmed one).

    ``organisation_id`` re-routes it to that organisation (a supervisor's choice; it must be active and serve the
    card's service, else ValueError). Without one, a card whose organisation is missing or no longer serves its
    service is routed again by ``router``. The audit event carries ``ROUTING_FIELDS``.
    """
    note: dict[str, Any] = {}

    def mutate(card: Card) -> None:
        before = card.organisation_id
        if service is not None:
            card.service = service
        if organisation_id is not None:
            check_choice(session, organisation_id, card.service)
            _choose(card, organisation_id, actor)
        elif router is not None and not _serves(session, card):
            _set_routing(card, router(session, card))
        if card.status == "returned" and organisation_id is None and card.organisation_id == before:
            raise ValueError(
                "this card was returned as not theirs by its organisation: choose the organisation it goes to"
            )
        note.update(_routing_note(card, before))
        card.status = "routed"
        card.routed_at = now or utcnow()
        card.accepted_at = None

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="route",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
        note=note,
    )


# The organisation's steps: the action, the status it leads to, whether a comment is required.
ORGANISATION_STEPS: dict[str, tuple[str, bool]] = {
    "accept": ("accepted", False),
    "start": ("in_progress", False),
    "done": ("resolved", True),
    "return": ("returned", True),
    "note": ("", True),  # a comment only: the status stays
}


def organisation_step(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    step: str,
    comment: str | None = None,
    organisation_id: int | None = None,
    expected_version: int | None = None,
    guard: Guard | None = None,
    now: datetime | None = None,
) -> Card:
    """The organisation works on its card: accept, start, report done (resolved), return as "not ours", note.

    ``organisation_id`` is the organisation acting: the card must be in its hands (else ValueError, nothing
    written). A returned card leaves the organisation (its ``organisation_id`` is kept, to show who returned it)
    and waits in the monitoring department's queue to be routed again. ``comment`` becomes the card's
    ``status_notes`` (Open311's); done and return need one.
    """
    if step not in ORGANISATION_STEPS:
        raise ValueError(f"unknown step {step!r}; one of {', '.join(ORGANISATION_STEPS)}")
    target, needs_comment = ORGANISATION_STEPS[step]
    text = (comment or "").strip()
    if needs_comment and not text:
        raise ValueError(
            "say what was done" if step == "done" else "say why" if step == "return" else "a note needs some text"
        )
    at = now or utcnow()
    note: dict[str, Any] = {"reason": text} if text else {}

    def mutate(card: Card) -> None:
        if organisation_id is not None and card.organisation_id != organisation_id:
            raise RecordNotFound(f"card {card.id} is not in this organisation's hands")
        if target:
            card.status = target
        if text:
            card.status_notes = text
        if step == "accept" or (step == "start" and card.accepted_at is None):
            card.accepted_at = at
        if step == "done":
            card.resolution = text
            card.resolved_at = at
        if step == "return":
            card.return_count = (card.return_count or 0) + 1

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action=step,
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
        note=note,
    )


def reopen_card(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    reason: str,
    expected_version: int | None = None,
    guard: Guard | None = None,
    now: datetime | None = None,
) -> Card:
    """The appellant says it is not fixed: back to the same organisation (routed), counted as a reopening."""
    text = reason.strip()
    if not text:
        raise ValueError("say why the card is reopened (what the appellant said)")
    at = now or utcnow()

    def mutate(card: Card) -> None:
        card.status = "routed" if card.organisation_id is not None else "confirmed"
        card.reopen_count = (card.reopen_count or 0) + 1
        card.routed_at = at if card.organisation_id is not None else card.routed_at
        card.accepted_at = None
        card.resolved_at = None
        card.closed_at = None
        card.status_notes = text
        card.deadline_stage = "on_time" if card.due_at is None or card.due_at > at else card.deadline_stage

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="reopen",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
        note={"reason": text},
    )


def advance_deadline(session: Session, *, card_id: int, stage: str, event: str, now: datetime, actor: Actor) -> Card:
    """Move an open card's deadline control on to ``stage`` and tell its organisation (``event``), audited."""

    def mutate(card: Card) -> None:
        card.deadline_stage = stage
        card.deadline_stage_at = now
        outbox.enqueue(session, card=card, organisation_id=card.organisation_id, event=event, now=now, reason=stage)

    return _change(session, card_id=card_id, actor=actor, action="deadline", mutate=mutate, note={"reason": stage})


def cards_to_watch(session: Session, *, horizon: datetime, limit: int = 500) -> list[tuple[int, datetime, str]]:
    """(id, due_at, deadline_stage) of the open cards due before ``horizon`` whose control is not finished."""
    stmt = (
        select(Card.id, Card.due_at, Card.deadline_stage)
        .where(
            Card.status.in_(OPEN_STATUSES),
            Card.due_at.is_not(None),
            Card.due_at <= horizon,
            Card.deadline_stage != "escalated",
        )
        .order_by(Card.due_at)
        .limit(limit)
    )
    return [(row.id, row.due_at, row.deadline_stage) for row in session.execute(stmt)]


def resolve_card(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    resolution: str,
    first_call_resolution: bool | None = None,
    expected_version: int | None = None,
    guard: Guard | None = None,
    now: datetime | None = None,
) -> Card:
    """Record how a confirmed or routed card was resolved."""
    if not resolution.strip():
        raise ValueError("a resolution needs some text saying what was done")

    def mutate(card: Card) -> None:
        card.status = "resolved"
        card.resolution = resolution
        card.resolved_at = now or utcnow()
        if first_call_resolution is not None:
            card.first_call_resolution = first_call_resolution

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="resolve",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
    )


def close_card(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    reason: str | None = None,
    expected_version: int | None = None,
    guard: Guard | None = None,
    now: datetime | None = None,
) -> Card:
    """Close a card (a draft closed this way never gets a registration number)."""

    def mutate(card: Card) -> None:
        card.status = "closed"
        card.closed_at = now or utcnow()
        if reason and not card.resolution:
            card.resolution = reason

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="close",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
    )


def record_transfer_attempt(session: Session, *, card_id: int, actor: Actor, code: str, uniqueid: str) -> None:
    """Audit that ``actor`` asked to move the caller to ``code`` (before Asterisk is asked; the card is unchanged)."""
    card = get_card(session, card_id=card_id)
    _check_transition(card, "transfer")
    audit.record(
        session,
        actor=actor.name,
        user_id=actor.user_id,
        entity="card",
        entity_id=card.id,
        action=audit.TRANSFER_ATTEMPT,
        after={"code": code, "uniqueid": uniqueid},
    )
    session.commit()


def record_transfer_failure(
    session: Session, *, card_id: int, actor: Actor, code: str, reason: str, detail: str, elapsed_s: float
) -> None:
    """Audit that the caller was NOT moved to ``code``, and why (the card and the call stay as they were)."""
    get_card(session, card_id=card_id)
    audit.record(
        session,
        actor=actor.name,
        user_id=actor.user_id,
        entity="card",
        entity_id=card_id,
        action=audit.TRANSFER_FAILED,
        after={"outcome": "failed", "code": code, "reason": reason, "detail": detail, "elapsed_s": elapsed_s},
    )
    session.commit()


def record_transfer(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    code: str,
    now: datetime | None = None,
    outcome: Mapping[str, Any] | None = None,
) -> Card:
    """Note that the caller was SEEN at emergency service ``code`` (card and call).

    The transfer is the operator's decision about the emergency: "emergency" becomes an operator-edited field, so
    later proposals of the model go beside it (proposed_emergency) and never reset it. ``outcome`` (method,
    elapsed time) is kept in the audit event.
    """
    at = now or utcnow()

    def mutate(card: Card) -> None:
        card.emergency_transferred_to = code
        card.emergency_transferred_at = at
        edited = list(card.operator_edited or ())
        if card.status == "draft" and "emergency" not in edited:
            card.emergency = code
        if "emergency" not in edited:
            card.operator_edited = [*edited, "emergency"]
        if card.call is not None:
            card.call.transferred_to = code

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action=audit.TRANSFER_DONE,
        mutate=mutate,
        note={"outcome": "transferred", **(outcome or {})},
    )


def dismiss_emergency(
    session: Session,
    *,
    card_id: int,
    actor: Actor,
    reason: str,
    expected_version: int | None = None,
    guard: Guard | None = None,
) -> Card:
    """The operator judged the emergency alert wrong: emergency becomes "none", the reason is kept."""
    if not reason.strip():
        raise ValueError("say why the emergency is dismissed")

    def mutate(card: Card) -> None:
        card.emergency_dismissed_reason = reason
        _apply(card, {"emergency": "none", "emergency_also": []})

    return _change(
        session,
        card_id=card_id,
        actor=actor,
        action="dismiss_emergency",
        expected_version=expected_version,
        mutate=mutate,
        guard=guard,
    )


def set_qa_marks(session: Session, *, card_id: int, actor: Actor, marks: Mapping[str, str]) -> Card:
    """Merge QA's marks of classification errors into the card (any status)."""

    def mutate(card: Card) -> None:
        merged = dict(card.qa_marks or {})
        merged.update({str(k): str(v) for k, v in marks.items()})
        card.qa_marks = merged

    return _change(session, card_id=card_id, actor=actor, action="qa_marks", mutate=mutate)


def _like(session: Session, column: Any, needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match that also folds Cyrillic and Kazakh letters."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if session.get_bind().dialect.name == "sqlite":
        return func.casefold(column).like(f"%{escaped.casefold()}%", escape="\\")
    return column.ilike(f"%{escaped}%", escape="\\")


def _filtered(
    session: Session,
    stmt: Select[Any],
    *,
    status: str | None = None,
    topic: str | None = None,
    service: str | None = None,
    emergency: str | None = None,
    district: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    q: str | None = None,
    caller: str | None = None,
    created_by_id: int | None = None,
    visible: ColumnElement[bool] | None = None,
    deep: ColumnElement[bool] | None = None,
) -> Select[Any]:
    for column, value in (
        (Card.status, status),
        (Card.topic, topic),
        (Card.service, service),
        (Card.emergency, emergency),
        (Card.district, district),
        (Card.caller_number, caller),
        (Card.created_by_id, created_by_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if date_from is not None:
        stmt = stmt.where(Card.created_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Card.created_at < date_to)
    if visible is not None:
        stmt = stmt.where(visible)
    if q:
        needle = q.strip()
        transcript = exists().where(
            TranscriptSegment.call_id == Card.call_id, _like(session, TranscriptSegment.text, needle)
        )
        # The proposal and the transcript are searched only where the asker may read them (``deep``): a search
        # must not answer yes or no about words in calls they may not open.
        hidden = or_(
            _like(session, Card.proposed_summary, needle), _like(session, Card.proposed_street, needle), transcript
        )
        stmt = stmt.where(
            or_(
                _like(session, Card.summary, needle),
                _like(session, Card.street, needle),
                _like(session, Card.house, needle),
                _like(session, Card.landmark, needle),
                _like(session, Card.reg_number, needle),
                hidden if deep is None else and_(deep, hidden),
            )
        )
    return stmt


def list_cards(session: Session, *, limit: int = 50, offset: int = 0, **filters: Any) -> tuple[list[Card], int]:
    """Cards matching the filters, newest first; returns (page, total).

    Filters: status, topic, service, emergency, district, date_from, date_to (created_at, [from, to)),
    q (summary, address, registration number and transcript text), caller (exact number); ``visible`` (a WHERE
    clause on Card: the cards the asker may find) and ``deep`` (the cards whose proposal and transcript their
    text search may look into), both from the access policy.
    """
    stmt = _filtered(session, select(Card), **filters)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.order_by(Card.created_at.desc(), Card.id.desc()).limit(limit).offset(offset))
    return list(rows.all()), int(total)


def caller_history(
    session: Session,
    *,
    caller_number: str,
    exclude_card_id: int | None = None,
    limit: int = 20,
    visible: ColumnElement[bool] | None = None,
) -> list[Card]:
    """Earlier cards of the same caller number, newest first (only ``visible`` ones, when given)."""
    stmt = select(Card).where(Card.caller_number == caller_number)
    if visible is not None:
        stmt = stmt.where(visible)
    if exclude_card_id is not None:
        stmt = stmt.where(Card.id != exclude_card_id)
    return list(session.scalars(stmt.order_by(Card.created_at.desc(), Card.id.desc()).limit(limit)).all())
