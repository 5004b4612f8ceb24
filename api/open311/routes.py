"""The GeoReport v2 endpoints under /open311/v2/, and callcard's extension for an organisation's updates.

Reads of the service list are open to anyone (the taxonomy is public). Requests need the organisation's api_key
and show only that organisation's registered cards; another organisation's request answers 404 like one that does
not exist. Nothing is written on a refusal: every parameter is checked before the first write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.context import ApiContext
from api.deps import CtxDep, SessionDep, end_reads, publish
from api.open311.errors import Open311Error
from api.open311.keys import authenticate
from api.open311.params import Fields, check_text, comma_list, locale_of, parse_datetime
from api.open311.render import Format, render
from api.open311.schemas import Discovery, Endpoint, RequestCreated, ServiceDefinition, ServiceRequest
from api.open311.services import service_list, topic_for_request
from api.open311.view import REG_NUMBER, as_request, organisation_cards
from calls.messages import CardUpdatedMessage
from handover.assignment import route_for
from models.handover import Organisation
from models.records import Card
from models.repo import apikeys, cards
from models.repo.errors import InvalidTransition, RecordNotFound, RepoError, StaleVersion
from models.repo.outbox import CLOSED_STATUSES

router = APIRouter()

OPEN311_PREFIX = "/open311/v2"  # where api.app mounts this application

CHANGESET = "2026-12-07T00:00:00Z"  # when this endpoint's documents last changed (discovery)
WINDOW = timedelta(days=90)  # requests.json: the default and the longest date range (GeoReport v2)
MAX_REQUESTS = 1000  # requests.json: at most this many, newest first (GeoReport v2's default)
MAX_IDS = 100
MAX_BODY_BYTES = 64 * 1024
COMMON = ("jurisdiction_id", "locale", "lang")
FORM = "application/x-www-form-urlencoded"
# POST requests.json: the form fields (GeoReport v2); callcard stores description, address_string, phone.
REQUEST_FIELDS = (
    "api_key",
    "service_code",
    "description",
    "address_string",
    "lat",
    "long",
    "first_name",
    "last_name",
    "phone",
    "email",
    "device_id",
    "account_id",
    *COMMON,
)
# The extension's statuses -> the organisation's steps (models.repo.cards.ORGANISATION_STEPS).
UPDATE_STEPS = {"accepted": "accept", "in_progress": "start", "done": "done", "not_ours": "return", "note": "note"}
NEEDS_NOTES = ("done", "not_ours", "note")

FmtParam = Annotated[str, Path(description="json or xml")]


@dataclass(frozen=True, slots=True)
class Asked:
    """What every endpoint reads from a request: its query parameters, format and locale."""

    query: Fields
    fmt: Format
    locale: str


def _asked(request: Request, fmt: str, known: tuple[str, ...]) -> Asked:
    try:
        format_ = Format(fmt.lower())
    except ValueError:
        raise Open311Error(404, f"Open311 answers in .json or .xml, not .{fmt[:10]}.") from None
    query = Fields.parse(request.scope.get("query_string") or b"", "query string")
    query.only((*known, *COMMON))
    check_text("jurisdiction_id", query.values.get("jurisdiction_id", ""), 64)
    locale, lang = query.text("locale", 35), query.text("lang", 35)
    if locale and lang and locale != lang:
        raise Open311Error(400, "Give the language once, as locale or as lang.")
    return Asked(query, format_, locale_of(locale or lang, request.headers.get("accept-language")))


def _not_found(reg_number: str) -> Open311Error:
    return Open311Error(404, f"Your organisation has no request {reg_number[:40]}.")


def _own_card(session: Session, org_id: int, reg_number: str) -> Card:
    if not REG_NUMBER.fullmatch(reg_number):
        raise _not_found(reg_number)
    card = session.scalar(select(Card).where(Card.reg_number == reg_number, organisation_cards(org_id)))
    if card is None:
        raise _not_found(reg_number)
    return card


def _announce(ctx: ApiContext, card: Card) -> None:
    publish(
        ctx,
        CardUpdatedMessage(
            call_key=card.call.uniqueid if card.call is not None else None,
            call_id=card.call_id,
            card_id=card.id,
            status=card.status,
            reg_number=card.reg_number,
        ),
    )


def _local_year(ctx: ApiContext, at: datetime) -> int:
    try:
        return at.astimezone(ZoneInfo(ctx.settings.local_timezone)).year
    except (KeyError, ValueError):
        return at.year


# ---------------------------------------------------------------------------------------------- discovery, services


@router.get("/discovery.{fmt}")
def discovery(fmt: FmtParam, request: Request) -> Response:
    """Where the endpoint is, in which formats, and how an organisation gets a key."""
    asked = _asked(request, fmt, ())
    base = f"{request.url.scheme}://{request.url.netloc}{OPEN311_PREFIX}"
    body = Discovery(
        changeset=CHANGESET,
        contact="The city's 109 hotline (monitoring department)",
        key_service="An api_key is issued per organisation by the 109 administrators (callcard apikeys add).",
        endpoints=[Endpoint(url=base, changeset=CHANGESET, formats=["application/json", "text/xml"])],
    )
    return render(body, asked.fmt, root="discovery")


@router.get("/services.{fmt}")
def services(fmt: FmtParam, request: Request, ctx: CtxDep) -> Response:
    """The taxonomy's services (service_code = the taxonomy's service id), named in ru or kk."""
    asked = _asked(request, fmt, ())
    return render(service_list(ctx.taxonomy, asked.locale), asked.fmt, root="services")


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: FmtParam, request: Request, ctx: CtxDep) -> Response:
    """A service's definition: no attributes (every service has metadata false); 404 for an unknown code."""
    asked = _asked(request, fmt, ())
    check_text("service_code", service_code, 64)
    if service_code not in ctx.taxonomy.services:
        raise Open311Error(404, f"There is no service {service_code!r}; services.json lists them.")
    return render(ServiceDefinition(service_code=service_code), asked.fmt, root="service_definition")


# ------------------------------------------------------------------------------------------------------- requests


def _date_range(query: Fields, now: datetime) -> tuple[datetime, datetime]:
    start_raw, end_raw = query.text("start_date", 40), query.text("end_date", 40)
    start = parse_datetime("start_date", start_raw) if start_raw else None
    end = parse_datetime("end_date", end_raw) if end_raw else None
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if end < start:
        raise Open311Error(400, "end_date is before start_date.")
    if end - start > WINDOW:
        raise Open311Error(400, f"start_date to end_date spans more than {WINDOW.days} days; ask for less.")
    return start, end


@router.get("/requests.{fmt}")
def list_requests(fmt: FmtParam, request: Request, ctx: CtxDep, session: SessionDep) -> Response:
    """The organisation's registered cards: by service_request_id (a comma list; it overrides the other filters),
    or by service_code, status (open, closed) and requested_datetime between start_date and end_date (the last 90
    days by default, at most 90 days); at most 1000, newest first."""
    asked = _asked(request, fmt, ("api_key", "service_request_id", "service_code", "start_date", "end_date", "status"))
    query = asked.query
    caller = authenticate(request, session, query)
    ids_raw = query.text("service_request_id", MAX_IDS * 16)
    ids = comma_list("service_request_id", ids_raw, MAX_IDS) if ids_raw else None
    for reg in ids or ():
        if not REG_NUMBER.fullmatch(reg):
            raise Open311Error(400, f"service_request_id {reg[:40]!r} is not a registration number 109-YYYY-NNNNNN.")
    codes_raw = query.text("service_code", 2000)
    codes = comma_list("service_code", codes_raw, 50) if codes_raw else None
    for code in codes or ():
        if code not in ctx.taxonomy.services:
            raise Open311Error(400, f"There is no service {code[:64]!r}; services.json lists them.")
    status_raw = query.text("status", 20)
    statuses = set(comma_list("status", status_raw, 2)) if status_raw else {"open", "closed"}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status is open, closed, or open,closed.")
    start, end = _date_range(query, datetime.now(UTC))
    where = [organisation_cards(caller.organisation.id)]
    if ids is not None:
        where.append(Card.reg_number.in_(ids))
    else:
        where += [Card.confirmed_at >= start, Card.confirmed_at <= end]
        if codes is not None:
            where.append(Card.service.in_(codes))
        if statuses == {"open"}:
            where.append(Card.status.not_in(CLOSED_STATUSES))
        elif statuses == {"closed"}:
            where.append(Card.status.in_(CLOSED_STATUSES))
    rows = session.scalars(
        select(Card).where(*where).order_by(Card.confirmed_at.desc(), Card.id.desc()).limit(MAX_REQUESTS)
    ).all()
    out = [as_request(card, caller.organisation, ctx.taxonomy, asked.locale) for card in rows]
    end_reads(session)
    apikeys.mark_used(session, key_id=caller.key_id)
    return render(out, asked.fmt, root="service_requests")


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(service_request_id: str, fmt: FmtParam, request: Request, ctx: CtxDep, session: SessionDep) -> Response:
    """One of the organisation's requests, as a list of one (GeoReport v2); 404 for any other."""
    asked = _asked(request, fmt, ("api_key",))
    check_text("service_request_id", service_request_id, 40)
    caller = authenticate(request, session, asked.query)
    card = _own_card(session, caller.organisation.id, service_request_id)
    out = [as_request(card, caller.organisation, ctx.taxonomy, asked.locale)]
    end_reads(session)
    apikeys.mark_used(session, key_id=caller.key_id)
    return render(out, asked.fmt, root="service_requests")


async def _form(request: Request) -> Fields:
    """The form-encoded body: 413 over MAX_BODY_BYTES, 415 when it is not form-encoded."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise Open311Error(413, f"The request body is larger than the limit of {MAX_BODY_BYTES} bytes.")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if body.strip() and media != FORM:
        raise Open311Error(415, f"Send the body form-encoded ({FORM}), as GeoReport v2 says.")
    return Fields.parse(body, "form body")


@router.post("/requests.{fmt}", status_code=201)
async def post_request(fmt: FmtParam, request: Request, ctx: CtxDep, session: SessionDep) -> Response:
    """A new request of the organisation's system: registered at once (confirmed, with its number and due date),
    and in the organisation's hands when it serves the service; otherwise the city's routing rules decide."""
    asked = _asked(request, fmt, ("api_key",))
    form = await _form(request)
    created = await run_in_threadpool(_create, request, ctx, session, asked, form)
    return render([created], asked.fmt, root="service_requests", status_code=201)


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    digits = "".join(ch for ch in value if ch not in " -().")
    if not (digits.lstrip("+").isdigit() and len(digits.lstrip("+")) <= 20 and digits.count("+") <= 1) or (
        "+" in digits and not digits.startswith("+")
    ):
        raise Open311Error(400, "phone is not a telephone number (digits, with an optional leading +).")
    return digits


def _coordinate(form: Fields, name: str, limit: float) -> float | None:
    raw = form.text(name, 32)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number (got {raw!r}).") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise Open311Error(400, f"{name} must be between -{limit:g} and {limit:g}.")
    return value


def _create(request: Request, ctx: ApiContext, session: Session, asked: Asked, form: Fields) -> RequestCreated:
    attributes = sorted(name for name in form.values if name.startswith("attribute["))
    if attributes:
        raise Open311Error(400, f"callcard's services define no attributes (metadata false); remove {attributes[0]!r}.")
    form.only(REQUEST_FIELDS)
    caller = authenticate(request, session, asked.query, form)
    org = caller.organisation
    service = form.text("service_code", 64, required=True, why=": services.json lists the codes")
    assert service is not None
    if service not in ctx.taxonomy.services:
        raise Open311Error(400, f"There is no service {service!r}; services.json lists them.")
    topic = topic_for_request(ctx.taxonomy, service)
    if topic is None:
        raise Open311Error(400, f"Service {service!r} takes no requests: the taxonomy has no topic for it.")
    description = form.text("description", 4000, required=True, why=": say what is wrong")
    address = form.text("address_string", 200, required=True, why=": callcard routes requests by their address")
    lat, long = _coordinate(form, "lat", 90), _coordinate(form, "long", 180)
    if (lat is None) != (long is None):
        raise Open311Error(400, "Give lat and long together, or neither.")
    for name, limit in (("first_name", 100), ("last_name", 100), ("device_id", 100), ("jurisdiction_id", 64)):
        form.text(name, limit)
    email = form.text("email", 200)
    if email is not None and ("@" not in email or any(ch.isspace() for ch in email)):
        raise Open311Error(400, "email is not an e-mail address.")
    account_id = form.text("account_id", 100)
    phone = _phone(form.text("phone", 64))
    serves = service in (org.services or ())
    end_reads(session)

    values = {"topic": topic, "service": service, "emergency": "none", "summary": description, "street": address}
    if phone is not None:
        values["caller_number"] = phone
    now = datetime.now(UTC)
    draft = cards.create_card(session, actor=caller.actor, values=values)
    try:
        card = cards.confirm_card(
            session,
            card_id=draft.id,
            actor=caller.actor,
            changes={"organisation_id": org.id} if serves else None,
            due_hours=ctx.taxonomy.deadline_hours,
            now=now,
            year=_local_year(ctx, now),
            default_service=ctx.taxonomy.service_for,
            router=route_for,
        )
    except (ValueError, RepoError) as exc:  # checked above; should the organisation change meanwhile, undo the draft
        cards.close_card(session, card_id=draft.id, actor=caller.actor, reason=f"not registered: {exc}")
        raise Open311Error(409, f"The request could not be registered: {exc}.") from exc
    apikeys.mark_used(session, key_id=caller.key_id)
    _announce(ctx, card)
    return RequestCreated(
        service_request_id=str(card.reg_number),
        service_notice=_notice(card, org),
        account_id=account_id,
    )


def _notice(card: Card, org: Organisation) -> str:
    due = card.due_at.isoformat() if card.due_at else "no due date"
    if card.organisation_id == org.id:
        return f"Registered as {card.reg_number}, in your organisation's hands, due {due}."
    if card.organisation_id is not None:
        return (
            f"Registered as {card.reg_number}. Your organisation does not serve {card.service}, so the city's routing "
            "rules sent it to another organisation; it is not among your requests."
        )
    return (
        f"Registered as {card.reg_number}. Your organisation does not serve {card.service} and no routing rule "
        "found one that does: the 109 monitoring department routes it; it is not among your requests."
    )


# ------------------------------------------------------------------ extension: the organisation's updates


@router.post("/requests/{service_request_id}/updates.{fmt}")
async def post_update(
    service_request_id: str, fmt: FmtParam, request: Request, ctx: CtxDep, session: SessionDep
) -> Response:
    """callcard's extension: the organisation reports on its request. ``status``: accepted, in_progress, done
    (resolved; status_notes says what was done), not_ours (returned to the 109 monitoring department; status_notes
    says why) or note (status_notes only). Answers the request as GET does; 404 for another organisation's request,
    409 when the request's state does not allow the step."""
    asked = _asked(request, fmt, ("api_key",))
    form = await _form(request)
    card = await run_in_threadpool(_update, request, ctx, session, asked, form, service_request_id)
    return render([card], asked.fmt, root="service_requests")


def _update(
    request: Request, ctx: ApiContext, session: Session, asked: Asked, form: Fields, reg_number: str
) -> ServiceRequest:
    form.only(("api_key", "status", "status_notes", *COMMON))
    check_text("service_request_id", reg_number, 40)
    caller = authenticate(request, session, asked.query, form)
    org = caller.organisation
    card = _own_card(session, org.id, reg_number)
    status = form.text("status", 20, required=True, why=f": one of {', '.join(UPDATE_STEPS)}")
    assert status is not None
    if status not in UPDATE_STEPS:
        raise Open311Error(400, f"status {status[:20]!r} is not one of {', '.join(UPDATE_STEPS)}.")
    notes = form.text("status_notes", 5000)
    if status in NEEDS_NOTES and notes is None:
        what = {"done": "what was done", "not_ours": "why it is not yours", "note": "the note"}[status]
        raise Open311Error(400, f"status {status} needs status_notes saying {what}.")
    step = UPDATE_STEPS[status]
    allowed = cards.TRANSITIONS[step]
    if card.status not in allowed:
        raise _conflict(reg_number, card.status, status, allowed)
    end_reads(session)
    try:
        changed = cards.organisation_step(
            session, card_id=card.id, actor=caller.actor, step=step, comment=notes, organisation_id=org.id
        )
    except RecordNotFound:
        raise _not_found(reg_number) from None
    except InvalidTransition:  # the card changed since it was read
        fresh = cards.get_card(session, card_id=card.id)
        raise _conflict(reg_number, fresh.status, status, allowed) from None
    except StaleVersion as exc:
        raise Open311Error(409, f"Request {reg_number} was changed at the same time; try again ({exc}).") from None
    except ValueError as exc:
        raise Open311Error(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    apikeys.mark_used(session, key_id=caller.key_id)
    _announce(ctx, changed)
    return as_request(changed, org, ctx.taxonomy, asked.locale)


def _conflict(reg_number: str, now: str, asked: str, allowed: tuple[str, ...]) -> Open311Error:
    return Open311Error(
        409, f"Request {reg_number} is {now}; '{asked}' is possible only while it is {' or '.join(allowed)}."
    )
