"""Personal data: the access log (admins) and a recording with its personal data replaced by a tone (admins)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.access import allow
from api.access_log import log_access
from api.deps import CtxDep, SessionDep, end_reads
from api.errors import ApiError
from api.masked_audio import Stretch, UnsupportedAudio, padded, toned_wav
from api.params import Offset, OptionalMoment, OptionalRecordId, RecordId
from api.personal_data import word_spans
from api.policy import Action
from models.records import Call, Recording, TranscriptSegment, User
from models.repo import access_log

PLACEHOLDERS = ("<iin>", "<phone>", "<card>")  # privacy.mask's tokens

router = APIRouter(tags=["privacy"])

AccessLogReader = Annotated[User, Depends(allow(Action.READ_ACCESS_LOG))]
MaskedAudioExporter = Annotated[User, Depends(allow(Action.EXPORT_MASKED_AUDIO))]

# Which speaker's words hide which recording: the caller's leg the caller's words, the operator's leg the
# operator's, the mixed recording everyone's.
SPEAKERS_OF_KIND: dict[str, tuple[str, ...]] = {
    "caller": ("caller",),
    "operator": ("operator",),
    "mixed": ("caller", "operator"),
}


class AccessLogEntryPublic(BaseModel):
    """One access to a call's personal data."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    actor: str
    role: str
    call_id: int | None
    kind: str
    detail: str | None
    client: str | None


class AccessLogPublic(BaseModel):
    """Entries of the access log, newest first."""

    data: list[AccessLogEntryPublic]
    count: int


@router.get("/privacy/access-log", response_model=AccessLogPublic)
def read_access_log(
    session: SessionDep,
    _user: AccessLogReader,
    call_id: OptionalRecordId = None,
    user_id: OptionalRecordId = None,
    since: OptionalMoment = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Offset = 0,
) -> AccessLogPublic:
    """Who listened to which recording, read which unmasked transcript or exported which toned recording, and
    when (newest first), filtered by call, user and time."""
    rows = access_log.list_entries(session, call_id=call_id, user_id=user_id, since=since, limit=limit, offset=offset)
    data = [AccessLogEntryPublic.model_validate(r) for r in rows]
    end_reads(session)
    return AccessLogPublic(data=data, count=len(data))


@router.get(
    "/calls/{call_id}/recordings/{recording_id}/masked",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}},
        410: {"description": "The recordings were deleted under the retention policy"},
    },
)
async def masked_recording(
    call_id: RecordId,
    recording_id: RecordId,
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    user: MaskedAudioExporter,
) -> Response:
    """The recording as WAV with each ИИН, phone and card number its speaker said (padded by 0.15 s) replaced by
    a 1 kHz tone; logged as masked_audio_export."""
    call = session.get(Call, call_id)
    if call is None:
        raise ApiError(404, f"Call {call_id} does not exist.")
    if call.recordings_removed_at is not None:
        raise ApiError(
            410,
            f"The recordings of call {call_id} were deleted under the retention policy on "
            f"{call.recordings_removed_at:%Y-%m-%d}.",
        )
    rec = session.scalar(select(Recording).where(Recording.id == recording_id, Recording.call_id == call_id))
    if rec is None:
        raise ApiError(404, f"Call {call_id} has no recording {recording_id}.")
    if rec.format != "wav":
        raise ApiError(422, f"Recording {recording_id} is {rec.format}; only WAV recordings can be toned.")
    speakers = SPEAKERS_OF_KIND.get(rec.kind, ("caller", "operator"))
    segments = session.scalars(
        select(TranscriptSegment).where(TranscriptSegment.call_id == call_id, TranscriptSegment.speaker.in_(speakers))
    ).all()
    stretches = padded(
        [
            *(Stretch(s.start, s.end) for seg in segments for s in word_spans(seg.words or [])),
            # A transcript the retention policy anonymised keeps only the placeholders, with their times.
            *(
                Stretch(float(w.get("start", 0.0)), float(w.get("end", 0.0)))
                for seg in segments
                for w in seg.words or []
                if w.get("word") in PLACEHOLDERS
            ),
        ]
    )
    path = FilePath(rec.path)
    if not path.is_absolute():
        path = ctx.settings.recordings_path / path
    if not path.is_file():
        end_reads(session)
        raise ApiError(404, f"The recording file of call {call_id} is missing on the server.")
    try:
        body = await run_in_threadpool(toned_wav, path, stretches)
    except UnsupportedAudio as exc:
        end_reads(session)
        raise ApiError(422, f"Recording {recording_id} is not PCM WAV audio ({exc}); it cannot be toned.") from exc
    detail = f"recording {recording_id}, {len(stretches)} spans toned"
    log_access(session, request, user, kind="masked_audio_export", call_id=call_id, detail=detail)
    end_reads(session)
    headers = {"Content-Disposition": f'attachment; filename="call-{call_id}-{recording_id}-masked.wav"'}
    return Response(body, media_type="audio/wav", headers=headers)
