"""Cards: list, search, export, read, create, edit, confirm, route, resolve, close, transfer, dismiss emergency."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time as clock
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import CardExporter, CardReader, DeskUser, Reopener, enforce, registry_view, viewer
from api.context import ApiContext, TransferOutcome
from api.deps import CtxDep, SessionDep, actor_of, end_reads, publish
from api.errors import ApiError
from api.params import Offset, OptionalRecordId, RecordId
from api.personal_data import (
    card_as_seen,
    cards_as_seen,
    mask_caller_number,
    mask_text,
    masked_card_text,
    masked_event,
    number_shown,
    view_of,
)
from api.policy import Action, Outcome, PersonalDataView, Surface, listable_cards, readable_cards
from api.schemas import (
    AuditEventPublic,
    AuditEventsPublic,
    CardClose,
    CardConfirm,
    CardCreate,
    CardDismissEmergency,
    CardEdits,
    CardPublic,
    CardReopen,
    CardResolve,
    CardRoute,
    CardsPublic,
    CardStatusName,
    CardTransfer,
    OrganisationRef,
    RoutingPreview,
    TransferFailed,
)
from api.transfer_errors import no_telephony, transfer_failed
from api.validation import check_card_changes, check_emergency_code, check_id
from calls.messages import CardUpdatedMessage
from handover.assignment import decide, route_for
from handover.routing import CardFacts
from models.handover import Organisation
from models.records import Call, Card, User
from models.repo import audit, cards
from models.repo.cards import Actor

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/cards", tags=["cards"])
T = TypeVar("T")
EXPORT_LIMIT = 100_000
# The operator must learn a transfer's outcome within 2 s of pressing the button; telephony bounds itself at about
# 1.5 s, and this bounds any CallTransfer the same way.
TRANSFER_BUDGET_S = 1.8
# However slow the database was before Asterisk is asked, Asterisk gets at least this long to move the caller.
MIN_WAIT_S = 0.5
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "reg_number",
    "status",
    "created_at",
    "confirmed_at",
    "due_at",
    "caller_number",
    "topic",
    "service",
    "emergency",
    "emergency_also",
    "district",
    "street",
    "house",
    "building",
    "apartment",
    "landmark",
    "summary",
    "language",
    "confirmed_by",
    "routed_at",
    "resolved_at",
    "closed_at",
    "resolution",
    "emergency_transferred_to",
    "id",
    "call_id",
)
# Columns people type into, where a number may be written: masked in the export.
CSV_FREE_TEXT = frozenset({"summary", "landmark", "resolution"})


def parse_when(value: str | None, *, name: str, end: bool = False) -> datetime | None:
    """An ISO date or date-time from the query string, in UTC (naive: UTC; a bare date as ``end``: through it).

    ApiError 422 for text that is not one, and for moments that have no UTC date-time (e.g. 9999-12-31 as the
    end, or 0001-01-01T00:00+05:00), so the edges of the calendar never reach the database as an overflow.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.min, tzinfo=UTC) + (timedelta(days=1) if end else timedelta())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as exc:
        sentence = f"{name} is at the very edge of the calendar; use a date between 0001-01-02 and 9999-12-30."
        raise ApiError(422, sentence, field=name) from exc
    except ValueError as exc:
        raise ApiError(
            422, f"{name} must be a date (2026-05-04) or a date and time (2026-05-04T10:30:00Z).", field=name
        ) from exc


def card_filters(
    ctx: CtxDep,
    status: CardStatusName | None = None,
    topic: Annotated[str | None, Query(max_length=64)] = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    emergency: Annotated[str | None, Query(max_length=8)] = None,
    district: Annotated[str | None, Query(max_length=32)] = None,
    date_from: Annotated[str | None, Query(max_length=40, description="created at or after (ISO date/time)")] = None,
    date_to: Annotated[str | None, Query(max_length=40, description="created before (a date: through it)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="search summary, address, transcript")] = None,
    caller: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Card filters from the query string, checked against the taxonomy."""
    for kind, value in (("topic", topic), ("service", service), ("emergency", emergency), ("district", district)):
        check_id(ctx.taxonomy, kind, value)
    return {
        "status": status,
        "topic": topic,
        "service": service,
        "emergency": emergency,
        "district": district,
        "date_from": parse_when(date_from, name="date_from"),
        "date_to": parse_when(date_to, name="date_to", end=True),
        "q": q or None,
        "caller": caller,
    }


Filters = Annotated[dict[str, Any], Depends(card_filters)]


def _usernames(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {int(user_id): str(name) for user_id, name in rows}


def _organisations(session: Session, ids: set[int | None]) -> dict[int, Organisation]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(wanted)))}


def to_public(session: Session, card: Card) -> CardPublic:
    """A card record as CardPublic (with the confirming user's name and the card's organisation)."""
    return to_public_list(session, [card])[0]


def to_public_list(session: Session, rows: list[Card]) -> list[CardPublic]:
    """Many cards, with one lookup of user names and one of organisations."""
    names = _usernames(session, {c.confirmed_by_id for c in rows})
    orgs = _organisations(session, {c.organisation_id for c in rows})
    public = [
        CardPublic.of(
            c,
            names.get(c.confirmed_by_id) if c.confirmed_by_id else None,
            orgs.get(c.organisation_id) if c.organisation_id is not None else None,
        )
        for c in rows
    ]
    end_reads(session)
    return public


def _unprocessable(work: Callable[[], T]) -> T:
    """Run a data function; its ValueErrors (bad values) become 422."""
    try:
        return work()
    except ValueError as exc:
        text = str(exc)
        raise ApiError(422, f"{text[:1].upper()}{text[1:]}.") from exc


def _card_updated(card: Card) -> CardUpdatedMessage:
    call = card.call
    return CardUpdatedMessage(
        call_key=call.uniqueid if call is not None else None,
        call_id=card.call_id,
        card_id=card.id,
        status=card.status,
        reg_number=card.reg_number,
    )


def _announce(ctx: ApiContext, card: Card) -> None:
    publish(ctx, _card_updated(card))


def _local_year(ctx: ApiContext, at: datetime) -> int:
    try:
        return at.astimezone(ZoneInfo(ctx.settings.local_timezone)).year
    except (KeyError, ValueError):
        logger.warning("unknown local_timezone %r; counting registration years in UTC", ctx.settings.local_timezone)
        return at.year


def _guard(user: User, action: Action) -> Callable[[Card], None]:
    """The access policy's check of ``user`` doing ``action``, run on the locked card before the change."""

    def check(card: Card) -> None:
        enforce(user, action, card=card)

    return check


@router.get("", response_model=CardsPublic)
def list_cards(
    session: SessionDep,
    user: CardReader,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> CardsPublic:
    """Cards, newest first, filtered; ``q`` searches summary, address, registration number and transcript.

    Operators find the cards of the calls they handle in full and other registered appeals by their registry
    fields only; their text search looks into transcripts and proposals only of the calls they may open.
    """
    now = datetime.now(UTC)
    who = viewer(user)
    rows, total = cards.list_cards(
        session,
        limit=limit,
        offset=offset,
        visible=listable_cards(who, now),
        deep=readable_cards(who, now),
        **filters,
    )
    return CardsPublic(data=_as_seen_by(session, user, rows, now), count=total)


def _as_seen_by(session: Session, user: User, rows: list[Card], now: datetime) -> list[CardPublic]:
    """The cards as ``user`` may read them: in full, or (someone else's appeal, for an operator) registry fields."""
    who = viewer(user)
    if who.sees_every_call or not rows:
        return cards_as_seen(user, rows, to_public_list(session, rows))
    ids = [c.id for c in rows]
    full = set(session.scalars(select(Card.id).where(Card.id.in_(ids), readable_cards(who, now))))
    public = to_public_list(session, rows)
    seen = cards_as_seen(user, rows, public)
    return [s if p.id in full else registry_view(masked_card_text(p)) for p, s in zip(public, seen, strict=True)]


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_csv(session: SessionDep, user: CardExporter, filters: Filters) -> Response:
    """The filtered cards as CSV (UTF-8 with BOM, so spreadsheet programs read Kazakh and Russian)."""
    now = datetime.now(UTC)
    who = viewer(user)
    rows, total = cards.list_cards(
        session,
        limit=EXPORT_LIMIT,
        offset=0,
        visible=listable_cards(who, now),
        deep=readable_cards(who, now),
        **filters,
    )
    names = _usernames(session, {c.confirmed_by_id for c in rows})
    end_reads(session)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for card in rows:
        values = []
        for column in CSV_COLUMNS:
            if column == "confirmed_by":
                value: Any = names.get(card.confirmed_by_id) if card.confirmed_by_id else ""
            elif column == "caller_number":  # exports are masked for everyone (docs/access.md, "Personal data")
                value = mask_caller_number(card.caller_number)
            elif column in CSV_FREE_TEXT:
                value = mask_text(getattr(card, column))
            else:
                value = getattr(card, column)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, list):
                value = " ".join(value)
            if isinstance(value, str) and value[:1] in FORMULA_STARTS:
                value = "'" + value  # a spreadsheet must show it as text, never run it as a formula
            values.append("" if value is None else value)
        writer.writerow(values)
    headers = {"Content-Disposition": 'attachment; filename="cards.csv"', "X-Total-Count": str(total)}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.post("", response_model=CardPublic, status_code=status.HTTP_201_CREATED)
def create_card(body: CardCreate, ctx: CtxDep, session: SessionDep, user: DeskUser) -> CardPublic:
    """A manual card (a call without a proposal, a walk-in, a letter); optionally tied to a call the operator
    handles."""
    changes = check_card_changes(ctx.taxonomy, body.changes())
    if body.call_id is not None:
        call = session.get(Call, body.call_id)
        if call is None:
            raise ApiError(404, f"Call {body.call_id} does not exist.")
        enforce(user, Action.CREATE_CARD, call=call)
    end_reads(session)
    card = _unprocessable(
        lambda: cards.create_card(session, actor=actor_of(user), values=changes, call_id=body.call_id)
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


@router.get("/{card_id}", response_model=CardPublic)
def get_card(card_id: RecordId, session: SessionDep, user: CardReader) -> CardPublic:
    """One card (for an operator, someone else's registered appeal shows its registry fields only)."""
    card = cards.get_card(session, card_id=card_id)
    decision = enforce(user, Action.READ_CARD, card=card)
    public = to_public(session, card)
    if decision.outcome is Outcome.REGISTRY_ONLY:
        return registry_view(masked_card_text(public))
    return card_as_seen(user, card, public)


@router.get("/{card_id}/audit", response_model=AuditEventsPublic)
def card_audit(
    card_id: RecordId,
    session: SessionDep,
    user: CardReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditEventsPublic:
    """Every change of the card: who, what, before, after, when (newest first)."""
    card = cards.get_card(session, card_id=card_id)
    enforce(user, Action.READ_CARD_AUDIT, card=card)
    rows, total = audit.list_events(session, entity="card", entity_id=card_id, limit=limit, offset=offset)
    events = [AuditEventPublic.model_validate(e) for e in rows]
    if view_of(user, card.call, Surface.LISTING) is not PersonalDataView.UNMASKED:
        keep = number_shown(user, card.call, Surface.LISTING)
        events = [masked_event(e, keep_number=keep) for e in events]
    end_reads(session)
    return AuditEventsPublic(data=events, count=total)


@router.patch("/{card_id}", response_model=CardPublic)
def update_card(card_id: RecordId, body: CardEdits, ctx: CtxDep, session: SessionDep, user: DeskUser) -> CardPublic:
    """Edit a draft (or a confirmed card's working fields). Send ``version`` to refuse stale edits (409).

    ``organisation_id`` chooses where the card goes (an active organisation serving its service, else 422);
    null withdraws the choice, so the routing rules decide at confirmation.
    """
    changes = check_card_changes(ctx.taxonomy, body.changes()) | body.choice()
    if not changes:
        raise ApiError(422, "Nothing to change: send at least one card field.")
    card = _unprocessable(
        lambda: cards.update_card(
            session,
            card_id=card_id,
            actor=actor_of(user),
            changes=changes,
            expected_version=body.version,
            guard=_guard(user, Action.EDIT_CARD),
        )
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


@router.post("/{card_id}/confirm", response_model=CardPublic)
def confirm_card(
    card_id: RecordId,
    ctx: CtxDep,
    session: SessionDep,
    user: DeskUser,
    body: Annotated[CardConfirm | None, Body()] = None,
) -> CardPublic:
    """Confirm a draft with optional last edits: it gets its registration number 109-YYYY-NNNNNN, due date and
    organisation: the one chosen (``organisation_id`` here or in an earlier edit; 422 unless it is active and
    serves the card's service), else the routing rules'. A card no rule routes is confirmed with the reason
    (``routing_reason``) and no organisation: the monitoring department routes it."""
    edits = body or CardConfirm()
    changes = check_card_changes(ctx.taxonomy, edits.changes()) | edits.choice()
    now = datetime.now(UTC)
    card = _unprocessable(
        lambda: cards.confirm_card(
            session,
            card_id=card_id,
            actor=actor_of(user),
            changes=changes,
            due_hours=ctx.taxonomy.deadline_hours,
            expected_version=edits.version,
            now=now,
            year=_local_year(ctx, now),
            default_service=ctx.taxonomy.service_for,
            guard=_guard(user, Action.EDIT_CARD),
            router=route_for,
        )
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


@router.post("/{card_id}/route", response_model=CardPublic)
def route_card(
    card_id: RecordId,
    ctx: CtxDep,
    session: SessionDep,
    user: DeskUser,
    body: Annotated[CardRoute | None, Body()] = None,
) -> CardPublic:
    """Send a confirmed card to its service (or to ``service``) and organisation: ``organisation_id`` re-routes
    it (an active organisation serving the service, else 422); without one, a card with no organisation serving
    its service is routed by the rules again. Audited with the organisation before and after."""
    edits = body or CardRoute()
    check_id(ctx.taxonomy, "service", edits.service)
    card = _unprocessable(
        lambda: cards.route_card(
            session,
            card_id=card_id,
            actor=actor_of(user),
            service=edits.service,
            organisation_id=edits.organisation_id,
            router=route_for,
            expected_version=edits.version,
            guard=_guard(user, Action.HANDLE_CARD),
        )
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


FormText = Annotated[str | None, Query(max_length=200, description="the desk's value (empty: none)")]


@router.get("/{card_id}/routing", response_model=RoutingPreview)
def routing_preview(
    card_id: RecordId,
    ctx: CtxDep,
    session: SessionDep,
    user: CardReader,
    topic: Annotated[str | None, Query(max_length=64)] = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    district: Annotated[str | None, Query(max_length=32)] = None,
    street: FormText = None,
    house: Annotated[str | None, Query(max_length=32, description="the desk's value (empty: none)")] = None,
    landmark: FormText = None,
    organisation_id: OptionalRecordId = None,
) -> RoutingPreview:
    """Where the card would go if confirmed now: the organisation chosen (``organisation_id``, else the card's
    stored choice), or the routing rules' answer for its working fields. The desk sends its unsaved values as
    the query (a parameter left out: the card's stored value). Same access as reading the card in full."""
    card = cards.get_card(session, card_id=card_id)
    if enforce(user, Action.READ_CARD, card=card).outcome is Outcome.REGISTRY_ONLY:
        raise ApiError(403, "Operators may see where a card goes only for the cards of the calls they handle.")
    for kind, value in (("topic", topic), ("service", service), ("district", district)):
        check_id(ctx.taxonomy, kind, value)

    def pick(value: str | None, stored: str | None) -> str | None:
        return stored if value is None else (value.strip() or None)

    facts = CardFacts(
        topic=pick(topic, card.topic),
        service=pick(service, card.service),
        district=pick(district, card.district),
        street=pick(street, card.street),
        house=pick(house, card.house),
        landmark=pick(landmark, card.landmark),
    )
    if facts.service is None and facts.topic is not None:
        facts = replace(facts, service=ctx.taxonomy.service_for(facts.topic))
    preview = _preview(session, card, facts, organisation_id, user)
    end_reads(session)
    return preview


def _preview(session: Session, card: Card, facts: CardFacts, choice: int | None, user: User) -> RoutingPreview:
    """The chosen organisation (422 when a choice sent now cannot take the card), else the rules' answer."""
    note = ""
    if choice is not None:
        org = _unprocessable(lambda: cards.check_choice(session, choice, facts.service))
        return RoutingPreview(
            organisation=OrganisationRef.of(org),
            routing_rule=None,
            routing_reason=cards.chosen_by(actor_of(user)),
            chosen=True,
        )
    if cards.CHOSEN in (card.operator_edited or ()) and card.organisation_id is not None:
        try:
            org = cards.check_choice(session, card.organisation_id, facts.service)
        except ValueError as exc:
            note = f"the chosen {exc}; "
        else:
            reason = card.routing_reason or cards.chosen_by(actor_of(user))
            return RoutingPreview(
                organisation=OrganisationRef.of(org), routing_rule=None, routing_reason=reason, chosen=True
            )
    routing = decide(session, facts)
    found = session.get(Organisation, routing.organisation_id) if routing.organisation_id is not None else None
    return RoutingPreview(
        organisation=OrganisationRef.of(found) if found is not None else None,
        routing_rule=routing.rule,
        routing_reason=note + routing.reason,
        chosen=False,
    )


@router.post("/{card_id}/resolve", response_model=CardPublic)
def resolve_card(card_id: RecordId, body: CardResolve, ctx: CtxDep, session: SessionDep, user: DeskUser) -> CardPublic:
    """Record what was done for a confirmed or routed card."""
    card = _unprocessable(
        lambda: cards.resolve_card(
            session,
            card_id=card_id,
            actor=actor_of(user),
            resolution=body.resolution,
            first_call_resolution=body.first_call_resolution,
            expected_version=body.version,
            guard=_guard(user, Action.HANDLE_CARD),
        )
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


@router.post("/{card_id}/close", response_model=CardPublic)
def close_card(
    card_id: RecordId,
    ctx: CtxDep,
    session: SessionDep,
    user: DeskUser,
    body: Annotated[CardClose | None, Body()] = None,
) -> CardPublic:
    """Close a card (a draft closed this way never gets a registration number)."""
    edits = body or CardClose()
    card = cards.close_card(
        session,
        card_id=card_id,
        actor=actor_of(user),
        reason=edits.reason,
        expected_version=edits.version,
        guard=_guard(user, Action.HANDLE_CARD),
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


@router.post("/{card_id}/reopen", response_model=CardPublic)
def reopen_card(card_id: RecordId, body: CardReopen, ctx: CtxDep, session: SessionDep, user: Reopener) -> CardPublic:
    """The appellant says it is not fixed: a resolved or closed card goes back to its organisation (routed; or
    to the monitoring department's queue when it has none), counted as a reopening, with what they said."""
    card = _unprocessable(
        lambda: cards.reopen_card(
            session,
            card_id=card_id,
            actor=actor_of(user),
            reason=body.reason,
            expected_version=body.version,
            guard=_guard(user, Action.REOPEN_CARD),
        )
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


@router.post("/{card_id}/dismiss-emergency", response_model=CardPublic)
def dismiss_emergency(
    card_id: RecordId, body: CardDismissEmergency, ctx: CtxDep, session: SessionDep, user: DeskUser
) -> CardPublic:
    """The emergency alert was wrong: the card's emergency becomes "none" and the reason is kept."""
    card = _unprocessable(
        lambda: cards.dismiss_emergency(
            session,
            card_id=card_id,
            actor=actor_of(user),
            reason=body.reason,
            expected_version=body.version,
            guard=_guard(user, Action.EDIT_CARD),
        )
    )
    _announce(ctx, card)
    return card_as_seen(user, card, to_public(session, card))


def _transfer_target(ctx: ApiContext, card_id: int, user: User) -> tuple[str, str]:
    """(uniqueid of the live call, card status) or an ApiError saying why the caller cannot be moved."""
    with ctx.sessionmaker() as session:
        card = cards.get_card(session, card_id=card_id)
        if card.status not in cards.TRANSITIONS["transfer"]:
            raise ApiError(409, f"Card {card_id} is {card.status}; its caller can no longer be transferred.")
        enforce(user, Action.TRANSFER_CALL, card=card)
        assert card.call is not None  # the policy refuses a card without a call
        return card.call.uniqueid, card.status


def _audit_attempt(ctx: ApiContext, card_id: int, user: User, code: str, uniqueid: str) -> None:
    """Record the attempt before Asterisk is asked; a database failure must not delay an emergency transfer."""
    try:
        with ctx.sessionmaker() as session:
            cards.record_transfer_attempt(
                session, card_id=card_id, actor=Actor(user.username, user.id), code=code, uniqueid=uniqueid
            )
    except Exception:
        logger.exception("card %s: could not audit the transfer attempt to %s; transferring anyway", card_id, code)


def _record_transfer(ctx: ApiContext, card_id: int, user: User, outcome: TransferOutcome) -> CardPublic:
    with ctx.sessionmaker() as session:
        card = cards.record_transfer(
            session,
            card_id=card_id,
            actor=Actor(user.username, user.id),
            code=outcome.code,
            outcome={"method": outcome.method, "elapsed_s": outcome.elapsed_s, "destination": outcome.destination},
        )
        return to_public(session, card)


def _record_failure(
    ctx: ApiContext, card_id: int, user: User, code: str, reason: str, detail: str, took: float
) -> None:
    try:
        with ctx.sessionmaker() as session:
            cards.record_transfer_failure(
                session,
                card_id=card_id,
                actor=Actor(user.username, user.id),
                code=code,
                reason=reason,
                detail=detail,
                elapsed_s=took,
            )
    except Exception:
        logger.exception("card %s: could not audit the failed transfer to %s", card_id, code)


@router.post(
    "/{card_id}/transfer",
    response_model=CardPublic,
    responses={
        502: {"model": TransferFailed, "description": "The caller was not moved: dial the service by hand."},
        504: {"model": TransferFailed, "description": "No outcome within the deadline: dial the service by hand."},
    },
)
async def transfer_call(card_id: RecordId, body: CardTransfer, ctx: CtxDep, user: DeskUser) -> CardPublic:
    """Move the live caller to emergency service ``code`` (101..104) and answer once the caller was SEEN there.

    Answers 200 with the card only when Asterisk showed the caller's channel at the emergency destination; the
    card and the call then record ``transferred_to``. Otherwise 502 (or 504 when no outcome came within the
    deadline) with a sentence that ends "Dial <code> by hand.". Both the attempt and its outcome are audited.
    """
    arrived = clock.monotonic()  # the budget counts from the request, not from after the database's answers
    check_emergency_code(ctx.taxonomy, body.code)
    if ctx.transfer is None:
        raise no_telephony(body.code)
    uniqueid, _status = await run_in_threadpool(_transfer_target, ctx, card_id, user)
    await run_in_threadpool(_audit_attempt, ctx, card_id, user, body.code, uniqueid)
    started = clock.monotonic()
    try:
        async with asyncio.timeout(max(MIN_WAIT_S, TRANSFER_BUDGET_S - (started - arrived))):
            outcome = await ctx.transfer.transfer(uniqueid=uniqueid, code=body.code)
    except TimeoutError:
        took = round(clock.monotonic() - started, 3)
        detail = f"Asterisk did not show the caller at {body.code} within {TRANSFER_BUDGET_S:g} s"
        await run_in_threadpool(_record_failure, ctx, card_id, user, body.code, "timeout", detail, took)
        raise transfer_failed(504, body.code, "timeout", detail, took) from None
    if not outcome.transferred:
        logger.warning("card %s: transfer to %s failed (%s): %s", card_id, body.code, outcome.reason, outcome.detail)
        await run_in_threadpool(
            _record_failure, ctx, card_id, user, body.code, outcome.reason, outcome.detail, outcome.elapsed_s
        )
        status_code = 504 if outcome.timed_out else 502
        raise transfer_failed(status_code, body.code, outcome.reason, outcome.detail, outcome.elapsed_s)
    public = await run_in_threadpool(_record_transfer, ctx, card_id, user, outcome)
    ctx.hub.publish(
        CardUpdatedMessage(
            call_key=uniqueid,
            call_id=public.call_id,
            card_id=public.id,
            status=public.status,
            reg_number=public.reg_number,
        )
    )
    return public
