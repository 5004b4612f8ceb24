"""Calls, recordings and transcripts (qa, admin; operators their own and live calls), audio with HTTP Range."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from api.access import CallReader, enforce, registry_view, viewer
from api.access_log import log_access
from api.deps import CtxDep, SessionDep, end_reads
from api.errors import ApiError
from api.params import Offset, OptionalRecordId, RecordId
from api.personal_data import (
    card_as_seen,
    cards_as_seen,
    masked_call,
    masked_card_text,
    masked_segment,
    number_shown,
    view_of,
)
from api.policy import Action, PersonalDataView, Surface, listable_cards, readable_calls, readable_cards
from api.routes.cards import parse_when, to_public, to_public_list
from api.schemas import CallDetail, CallPublic, CallsPublic, CardsPublic, RecordingPublic, SegmentPublic
from models.records import CALL_STATES, Call, Card, Recording, User
from models.repo import calls, cards

router = APIRouter(tags=["calls"])

CHUNK = 64 * 1024
CallState = Annotated[str | None, Query(pattern="^(" + "|".join(CALL_STATES) + ")$")]


def _visible_call(session: SessionDep, call_id: int, user: User) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise ApiError(404, f"Call {call_id} does not exist.")
    enforce(user, Action.READ_CALL, call=call)
    return call


@router.get("/calls", response_model=CallsPublic)
def list_calls(
    session: SessionDep,
    user: CallReader,
    state: CallState = None,
    caller: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[str | None, Query(max_length=40)] = None,
    date_to: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> CallsPublic:
    """Calls, newest first (operators: the live calls nobody has taken and the calls they took)."""
    rows, total = calls.list_calls(
        session,
        state=state,
        caller=caller,
        date_from=parse_when(date_from, name="date_from"),
        date_to=parse_when(date_to, name="date_to", end=True),
        visible=readable_calls(viewer(user), datetime.now(UTC)),
        limit=limit,
        offset=offset,
    )
    now = datetime.now(UTC)
    data = [
        CallPublic.of(call, card_id)
        if view_of(user, call, Surface.LISTING, now) is PersonalDataView.UNMASKED
        else masked_call(CallPublic.of(call, card_id), keep_number=number_shown(user, call, Surface.LISTING, now))
        for call, card_id in rows
    ]
    end_reads(session)
    return CallsPublic(data=data, count=total)


@router.get("/calls/{call_id}", response_model=CallDetail)
def get_call(call_id: RecordId, request: Request, session: SessionDep, user: CallReader) -> CallDetail:
    """A call with its recordings, transcript segments (live and QA corrections) and card.

    Personal data is shown as the policy says (docs/access.md, "Personal data"): unmasked to the operator holding
    the live call and to QA and admins, each such view written to the access log first (503 when it cannot be);
    masked to everyone else.
    """
    call = _visible_call(session, call_id, user)
    card = calls.find_card_of_call(session, call_id=call.id)
    base = CallPublic.of(call, card.id if card else None).model_dump()
    detail = CallDetail(
        **base,
        recordings=[RecordingPublic.of(r) for r in call.recordings],
        segments=[SegmentPublic.of(s) for s in sorted(call.segments, key=lambda s: (s.start_s, s.id))],
        card=card_as_seen(user, card, to_public(session, card), Surface.CALL_PAGE) if card else None,
    )
    if view_of(user, call, Surface.CALL_PAGE) is PersonalDataView.UNMASKED:
        log_access(session, request, user, kind="unmasked_transcript", call_id=call.id)
        return detail
    end_reads(session)
    masked = masked_call(detail, keep_number=number_shown(user, call, Surface.CALL_PAGE))
    return masked.model_copy(update={"segments": [masked_segment(s) for s in masked.segments]})


@router.get("/callers/{number}/history", response_model=CardsPublic)
def caller_history(
    number: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    user: CallReader,
    exclude_card_id: OptionalRecordId = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CardsPublic:
    """Earlier cards of a caller number, newest first, so an operator sees a repeat caller's history.

    An operator may ask only about the number of a call they may open (the caller they are talking to), and
    sees other operators' cards by their registry fields only.
    """
    now = datetime.now(UTC)
    who = viewer(user)
    if not who.sees_every_call:
        own = session.scalar(select(Call.id).where(Call.caller_number == number, readable_calls(who, now)).limit(1))
        if own is None:
            end_reads(session)
            raise ApiError(403, "Operators may look up the history of the caller they are handling only.")
    rows = cards.caller_history(
        session,
        caller_number=number,
        exclude_card_id=exclude_card_id,
        limit=limit,
        visible=listable_cards(who, now),
    )
    full = set(session.scalars(select(Card.id).where(Card.id.in_([c.id for c in rows]), readable_cards(who, now))))
    public = to_public_list(session, rows)
    seen = cards_as_seen(user, rows, public)
    data = [s if p.id in full else registry_view(masked_card_text(p)) for p, s in zip(public, seen, strict=True)]
    return CardsPublic(data=data, count=len(data))


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a Range header asks for; None for the whole file.

    Malformed or multi-range headers are ignored (the whole file is sent, as RFC 9110 allows);
    a well-formed range that lies outside the file raises ValueError (answered with 416).
    """
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].strip()
    if "," in spec or "-" not in spec:
        return None
    first, _, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or (not first and not last):
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # "bytes=9-3" is not a valid range: ignored, like any malformed one
    if start >= size:  # "bytes=N-" and "bytes=N-M" with N at or past the end: nothing of the file is left
        raise ValueError("range starts at or after the end of the file")
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def _read(path: FilePath, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


@router.head("/calls/{call_id}/audio", response_class=StreamingResponse, include_in_schema=False)
@router.get(
    "/calls/{call_id}/audio",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/wav": {}}},
        206: {"description": "Partial content"},
        410: {"description": "The recording was deleted under the retention policy"},
        416: {},
    },
)
def call_audio(
    call_id: RecordId,
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    user: CallReader,
    recording_id: OptionalRecordId = None,
) -> StreamingResponse:
    """The call's recording (WAV); honours ``Range: bytes=...`` (206, or 416 outside the file)."""
    call = _visible_call(session, call_id, user)
    if call.recordings_removed_at is not None:
        day = call.recordings_removed_at.date().isoformat()
        raise ApiError(410, f"The recording of call {call_id} was deleted under the retention policy on {day}.")
    stmt = select(Recording).where(Recording.call_id == call.id)
    if recording_id is not None:
        stmt = stmt.where(Recording.id == recording_id)
    recs = list(session.scalars(stmt.order_by(Recording.id)))
    rec = next((r for r in recs if r.kind == "mixed"), recs[0] if recs else None)
    if rec is None:
        raise ApiError(404, f"Call {call_id} has no recording" + (f" {recording_id}." if recording_id else "."))
    path = FilePath(rec.path)
    if not path.is_absolute():
        path = ctx.settings.recordings_path / path
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ApiError(404, f"The recording file of call {call_id} is missing on the server.") from exc
    media = "audio/wav" if rec.format == "wav" else f"audio/{rec.format}"
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": f'inline; filename="call-{call_id}.{rec.format}"'}
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except ValueError as exc:
        end_reads(session)
        raise ApiError(
            416,
            f"The requested range is outside the recording ({size} bytes).",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        ) from exc
    if request.method == "GET" and (wanted is None or wanted[0] == 0):  # a new listen; later ranges continue it
        log_access(session, request, user, kind="listen", call_id=call.id, detail=f"recording {rec.id}")
    end_reads(session)  # before streaming: SQLite holds its write lock for the whole transaction
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(path, 0, size), media_type=media, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(_read(path, start, end - start + 1), status_code=206, media_type=media, headers=headers)
