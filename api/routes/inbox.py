"""An organisation's inbox: its executors see its cards and work on them (accept, start, report done, return as
"not ours", add a note or photos). The monitoring department (supervisors, admins) reads every organisation's.

An executor asking for a card that is not in its organisation's hands gets 404, the same answer as for a card
that does not exist: an organisation learns nothing of another's cards, not even that they exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile, status
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.access import allow, enforce
from api.deps import CtxDep, SessionDep, actor_of, end_reads, publish
from api.errors import ApiError
from api.params import Offset, RecordId
from api.personal_data import mask_text, view_of
from api.policy import Action, CardFacts, Outcome, PersonalDataView, Role, Surface, Viewer, decide, inbox_cards
from api.schemas import (
    ADDRESS_FIELDS,
    Address,
    CardStatusName,
    InboxCard,
    InboxCards,
    InboxStep,
    InboxStepIn,
    OrganisationRef,
    PhotoPublic,
)
from calls.messages import CardUpdatedMessage
from handover.photos import PhotoRefused, check_photo
from models.handover import CardPhoto, Organisation
from models.records import Card, TranscriptSegment, User
from models.repo import cards, photos
from models.repo.errors import RecordNotFound

router = APIRouter(prefix="/inbox", tags=["inbox"])

InboxReader = Annotated[User, Depends(allow(Action.INBOX_READ))]
InboxWorker = Annotated[User, Depends(allow(Action.INBOX_WORK))]

EXCERPT_CHARS = 600
PHOTO_UPLOAD_PATH = r"/api/inbox/[0-9]+/photos"


def _excerpts(session: Session, call_ids: list[int]) -> dict[int, str]:
    """The start of what each caller said (final caller segments, in order), by call id."""
    if not call_ids:
        return {}
    rows = session.execute(
        select(TranscriptSegment.call_id, TranscriptSegment.text)
        .where(
            TranscriptSegment.call_id.in_(call_ids),
            TranscriptSegment.speaker == "caller",
            TranscriptSegment.is_final.is_(True),
        )
        .order_by(TranscriptSegment.call_id, TranscriptSegment.start_s, TranscriptSegment.id)
    )
    out: dict[int, str] = {}
    for call_id, text in rows:
        so_far = out.get(call_id, "")
        if len(so_far) < EXCERPT_CHARS and text:
            out[call_id] = (so_far + " " + text).strip()[:EXCERPT_CHARS]
    return out


def to_inbox(session: Session, rows: list[Card], user: User) -> list[InboxCard]:
    """Cards as their organisation sees them, personal numbers masked; executors get none of the transcript
    (docs/access.md, "Personal data"), the monitoring department the caller's first words, masked."""
    org_ids = {c.organisation_id for c in rows if c.organisation_id is not None}
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))}
    transcripts = view_of(user, None, Surface.LISTING) is not PersonalDataView.NONE
    excerpts = _excerpts(session, [c.call_id for c in rows if c.call_id is not None]) if transcripts else {}
    attached = photos.list_for(session, [c.id for c in rows])
    out = []
    for card in rows:
        org = orgs.get(card.organisation_id) if card.organisation_id is not None else None
        out.append(
            InboxCard(
                id=card.id,
                reg_number=card.reg_number,
                status=card.status,  # type: ignore[arg-type]
                priority=card.priority,  # type: ignore[arg-type]
                topic=card.topic,
                service=card.service,
                emergency=card.emergency,
                address=Address(
                    **{f: getattr(card, f) for f in ADDRESS_FIELDS} | {"landmark": mask_text(card.landmark)}
                ),
                summary=mask_text(card.summary),
                language=card.language,
                excerpt=mask_text(excerpts.get(card.call_id, "")) or "" if card.call_id is not None else "",
                organisation=OrganisationRef.of(org) if org is not None else None,
                confirmed_at=card.confirmed_at,
                routed_at=card.routed_at,
                accepted_at=card.accepted_at,
                resolved_at=card.resolved_at,
                due_at=card.due_at,
                deadline_stage=card.deadline_stage,  # type: ignore[arg-type]
                status_notes=mask_text(card.status_notes),
                return_count=card.return_count,
                reopen_count=card.reopen_count,
                photos=[PhotoPublic.of(p) for p in attached.get(card.id, [])],
                version=card.version,
            )
        )
    return out


def _not_found(card_id: int) -> ApiError:
    return ApiError(404, f"There is no card {card_id} in your inbox.")


def _check(user: User, action: Action, card: Card) -> None:
    """The policy's decision on this card; an organisation's refusal is a 404 (no existence oracle)."""
    if user.role == Role.EXECUTOR:
        decision = decide(Viewer.of(user), action, now=card.updated_at, card=CardFacts.of(card))
        if decision.outcome is not Outcome.ALLOWED:
            raise _not_found(card.id)
        return
    if card.organisation_id is None or card.status == "draft":
        raise _not_found(card.id)
    enforce(user, action, card=card)


def _load(session: Session, user: User, card_id: int, action: Action) -> Card:
    try:
        card = cards.get_card(session, card_id=card_id)
    except RecordNotFound:
        raise _not_found(card_id) from None
    _check(user, action, card)
    return card


@router.get("", response_model=InboxCards)
def list_inbox(
    session: SessionDep,
    user: InboxReader,
    status_: Annotated[CardStatusName | None, Query(alias="status", description="only cards in this status")] = None,
    organisation_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="only this organisation's (monitoring department)")
    ] = None,
    overdue: Annotated[bool | None, Query(description="only cards past their due date (or only not)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> InboxCards:
    """The organisation's cards, newest hand-over first (an executor: its own organisation's only)."""
    where = [inbox_cards(Viewer.of(user))]
    if status_ is not None:
        where.append(Card.status == status_)
    if organisation_id is not None:
        where.append(Card.organisation_id == organisation_id)
    if overdue is not None:
        late = Card.deadline_stage.in_(("overdue", "reminded", "escalated"))
        where.append(late if overdue else ~late)
    total = int(session.scalar(select(func.count(Card.id)).where(*where)) or 0)
    rows = list(
        session.scalars(
            select(Card)
            .where(*where)
            .order_by(Card.routed_at.desc().nulls_last(), Card.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    items = to_inbox(session, rows, user)
    end_reads(session)
    return InboxCards(data=items, count=total)


@router.get("/{card_id}", response_model=InboxCard)
def get_inbox_card(card_id: RecordId, session: SessionDep, user: InboxReader) -> InboxCard:
    """One card of the organisation."""
    card = _load(session, user, card_id, Action.INBOX_READ)
    out = to_inbox(session, [card], user)[0]
    end_reads(session)
    return out


@router.post(
    "/{card_id}/photos",
    response_model=PhotoPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"x-max-body-bytes": "5 MiB"},
)
async def add_photo(
    card_id: RecordId,
    session: SessionDep,
    user: InboxWorker,
    photo: Annotated[UploadFile, File(description="a JPEG, PNG or WebP image of at most 5 MiB")],
) -> PhotoPublic:
    """Attach a photo of the work to the organisation's card (its bytes are checked, not its name)."""
    card = _load(session, user, card_id, Action.INBOX_WORK)
    if card.status not in cards.OPEN_STATUSES + ("resolved",):
        raise ApiError(409, f"Card {card_id} is {card.status}; photos are added while it is open.")
    data = await photo.read()
    try:
        kind = check_photo(data, already=photos.count_for(session, card_id))
    except PhotoRefused as exc:
        raise ApiError(413 if exc.too_large else 422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
    stored = photos.add(
        session,
        card_id=card_id,
        organisation_id=user.organisation_id,
        uploaded_by=user.username,
        user_id=user.id,
        content_type=kind,
        data=data,
    )
    return PhotoPublic.of(stored)


@router.get(
    "/{card_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def get_photo(card_id: RecordId, photo_id: RecordId, session: SessionDep, user: InboxReader) -> Response:
    """A photo of the card, as it was uploaded."""
    _load(session, user, card_id, Action.INBOX_READ)
    found: CardPhoto | None = photos.get(session, card_id=card_id, photo_id=photo_id)
    if found is None:
        raise ApiError(404, f"Card {card_id} has no photo {photo_id}.")
    data, kind = found.data, found.content_type
    end_reads(session)
    return Response(data, media_type=kind, headers={"Cache-Control": "private, no-store"})


@router.post("/{card_id}/{step}", response_model=InboxCard)
def work_on_card(
    card_id: RecordId,
    step: InboxStep,
    ctx: CtxDep,
    session: SessionDep,
    user: InboxWorker,
    body: InboxStepIn | None = None,
) -> InboxCard:
    """accept, start (in progress), done (what was done: the card is resolved and the 109 side closes it), return
    (why it is not ours: back to the monitoring department's queue), or note (a comment, the status stays).
    409 when the card's status does not allow the step; 422 without the comment done and return need."""
    given = body or InboxStepIn()

    def guard(card: Card) -> None:
        _check(user, Action.INBOX_WORK, card)

    try:
        card = cards.organisation_step(
            session,
            card_id=card_id,
            actor=actor_of(user),
            step=step,
            comment=given.comment,
            organisation_id=user.organisation_id,
            expected_version=given.version,
            guard=guard,
        )
    except RecordNotFound:
        raise _not_found(card_id) from None
    except ValueError as exc:
        text = str(exc)
        raise ApiError(422, f"{text[:1].upper()}{text[1:]}.") from exc
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
    return to_inbox(session, [card], user)[0]
