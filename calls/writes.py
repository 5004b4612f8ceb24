"""Everything a call produces for the database, as typed write operations that can wait in the spool.

Each operation names its call by the call key (Asterisk's uniqueid), never by the database id, so it can be
made while the database is down and applied later. ``to_record`` / ``from_record`` are the one place where
operations become spool lines and back; records written by earlier versions (``uniqueid`` instead of
``call_key``) still read.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, TypeAdapter

from calls.lifecycle import AsrStatus
from calls.messages import CallKey
from core.types import Speaker


@dataclass(frozen=True, slots=True)
class StoreCall:
    """Register the call (idempotent on the key)."""

    call_key: CallKey
    started_at: datetime
    channel: str | None = None
    linkedid: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    dialled_number: str | None = None
    source: str = "ari"
    media_uuid: str | None = None
    op: Literal["call_started"] = "call_started"


@dataclass(frozen=True, slots=True)
class MarkAnswered:
    """The call was answered."""

    call_key: CallKey
    at: datetime
    op: Literal["call_answered"] = "call_answered"


@dataclass(frozen=True, slots=True)
class EndCall:
    """The call ended (idempotent: the first end time stays, the dropped-frame count only grows)."""

    call_key: CallKey
    at: datetime
    cause: str | None = None
    frames_dropped: int = 0
    state: str = "ended"
    op: Literal["call_ended"] = "call_ended"


@dataclass(frozen=True, slots=True)
class AttachRecording:
    """A finished recording of the call (idempotent on the call and path)."""

    call_key: CallKey
    path: str
    kind: str = "mixed"
    format: str = "wav"
    sample_rate: int = 8000
    duration_s: float | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    complete: bool = True
    op: Literal["recording"] = "recording"


@dataclass(frozen=True, slots=True)
class SegmentWord:
    """One word of a stored segment, on the call's clock."""

    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class StoreSegment:
    """A final transcript segment (idempotent on source, times and text)."""

    call_key: CallKey
    source: str  # live | postcall | redecode
    start: float
    end: float
    text: str
    language: str | None
    confidence: float | None
    words: tuple[SegmentWord, ...] = ()
    engine: str | None = None
    model_version: str | None = None
    speaker: Speaker = Speaker.CALLER
    op: Literal["segment"] = "segment"

    @property
    def segment_key(self) -> str:
        """What makes a replayed segment the same segment (a caller's keys are as before the operator's voice)."""
        digest = zlib.crc32(self.text.encode("utf-8"))
        voice = "" if self.speaker is Speaker.CALLER else f"{self.speaker.value}:"
        return f"{voice}{self.source}:{round(self.start * 1000)}:{round(self.end * 1000)}:{digest:08x}"


@dataclass(frozen=True, slots=True)
class StoreProposal:
    """The model's card proposal (the JSON of calls.proposals.proposal_json); creates the draft card."""

    call_key: CallKey
    proposal: dict[str, Any]
    model_version: str | None = None
    op: Literal["proposal"] = "proposal"


@dataclass(frozen=True, slots=True)
class SetTranscriptState:
    """The transcript's status, and the call-time spans live decoding missed (None: leave them), of one voice."""

    call_key: CallKey
    status: AsrStatus
    gaps: tuple[tuple[float, float], ...] | None = None
    speaker: Speaker = Speaker.CALLER
    op: Literal["asr_status"] = "asr_status"


@dataclass(frozen=True, slots=True)
class PostCallOutcome:
    """One attempt of post-call decoding: its status afterwards and the error, if it failed.

    ``operator_status``: the operator leg's status after the attempt (None: the attempt did not touch it)."""

    call_key: CallKey
    status: AsrStatus
    error: str | None = None
    operator_status: AsrStatus | None = None
    op: Literal["postcall"] = "postcall"


@dataclass(frozen=True, slots=True)
class RecordTransfer:
    """An emergency transfer of the call, as the operator asked for it and as Asterisk showed its outcome.

    ``status`` "attempt" is written before Asterisk is asked; then "transferred" (the caller was SEEN at the
    destination: the card and the call record ``transferred_to``) or "failed" (audited only). Idempotent: the same
    outcome at the same time is recorded once.
    """

    call_key: CallKey
    code: str
    status: Literal["attempt", "transferred", "failed"]
    at: datetime
    actor: str
    user_id: int | None = None
    method: str = ""
    destination: str = ""
    reason: str = ""
    detail: str = ""
    elapsed_s: float = 0.0
    op: Literal["transfer"] = "transfer"


CallWrite = (
    StoreCall
    | MarkAnswered
    | EndCall
    | AttachRecording
    | StoreSegment
    | StoreProposal
    | SetTranscriptState
    | PostCallOutcome
    | RecordTransfer
)

_Tagged = Annotated[CallWrite, Field(discriminator="op")]


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(_Tagged)


def to_record(write: CallWrite) -> dict[str, Any]:
    """The operation as a JSON object for the spool."""
    record: dict[str, Any] = _adapter().dump_python(write, mode="json")
    return record


def from_record(record: dict[str, Any]) -> CallWrite:
    """A spool line back as its operation. Raises pydantic.ValidationError for a record that is not one."""
    data = dict(record)
    if "call_key" not in data and "uniqueid" in data:  # written before calls had their own key
        data["call_key"] = data.pop("uniqueid")
    write: CallWrite = _adapter().validate_python(data)
    return write


class CallWriter(Protocol):
    """Where a call's writes go (the CallRegistry): applied in the order handed over, or spooled."""

    def enqueue(self, write: CallWrite) -> asyncio.Future[int | None]:
        """Hand ``write`` over without waiting; the future gives the id it produced (None if spooled)."""
        ...

    def known_id(self, call_key: CallKey) -> int | None:
        """The call's database id if already known, without a database round trip."""
        ...
