"""The live messages callcard publishes about calls: one frozen dataclass each, serialised in one place.

Every message names its call by ``call_key``, the key a call has from its first telephony event (Asterisk's
uniqueid). ``call_id`` is the database id, None while the database has not taken the call yet (an outage at
call start): the desk follows a call by its key and learns the id when a later message carries it.

``encode`` turns a message into its JSON object; ``message_schema`` is the JSON Schema of the union, published
in the OpenAPI document so the desk and other clients have a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from classifier.base import CardProposal
from core.types import Speaker

CallKey = str


class LiveTranscription(StrEnum):
    """How a call's speech is being transcribed, as the desk shows it."""

    LIVE = "live"  # decoded as the caller speaks
    AFTER_CALL = "after_call"  # beyond this node's real-time capacity (or live decoding failed): after hang-up
    OFF = "off"  # no speech models: the call is recorded, the card is made by hand


@dataclass(frozen=True, slots=True)
class LiveWord:
    """One recognised word; times in seconds on the call's clock."""

    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """A final stretch of speech as the desk shows it (``id`` is None until the database stored it)."""

    id: int | None
    start: float
    end: float
    text: str
    language: str
    confidence: float
    words: tuple[LiveWord, ...] = ()
    speaker: Speaker = Speaker.CALLER  # the operator's own words are shown small and grey, and never feed the card


@dataclass(frozen=True, slots=True)
class CallStartedMessage:
    """A caller reached callcard."""

    call_key: CallKey
    call_id: int | None
    caller_number: str | None
    started_at: datetime
    transcription: LiveTranscription = LiveTranscription.LIVE
    type: Literal["call_started"] = "call_started"


@dataclass(frozen=True, slots=True)
class CallStoredMessage:
    """The database took a call that started while it was unavailable: this is its id."""

    call_key: CallKey
    call_id: int
    type: Literal["call_stored"] = "call_stored"


@dataclass(frozen=True, slots=True)
class TranscriptionChangedMessage:
    """The call's transcription mode changed (e.g. audio was lost: the rest is decoded after hang-up)."""

    call_key: CallKey
    call_id: int | None
    transcription: LiveTranscription
    reason: str = ""
    type: Literal["transcription_changed"] = "transcription_changed"


@dataclass(frozen=True, slots=True)
class TranscriptPartialMessage:
    """Words of the utterance in progress; replaced by the next partial or final."""

    call_key: CallKey
    call_id: int | None
    text: str
    language: str
    start: float
    speaker: Speaker = Speaker.CALLER
    type: Literal["transcript_partial"] = "transcript_partial"


@dataclass(frozen=True, slots=True)
class TranscriptFinalMessage:
    """A finished utterance."""

    call_key: CallKey
    call_id: int | None
    segment: LiveSegment
    stored_at: datetime
    type: Literal["transcript_final"] = "transcript_final"


@dataclass(frozen=True, slots=True)
class CardProposedMessage:
    """The model's (new) card proposal for the call."""

    call_key: CallKey
    call_id: int | None
    card_id: int | None
    proposal: CardProposal
    type: Literal["card_proposed"] = "card_proposed"


@dataclass(frozen=True, slots=True)
class EmergencyAlertMessage:
    """An emergency was heard: the desk offers the transfer at once."""

    call_key: CallKey
    call_id: int | None
    card_id: int | None
    emergency: str
    emergency_also: tuple[str, ...]
    confidence: float
    evidence: str
    type: Literal["emergency_alert"] = "emergency_alert"


@dataclass(frozen=True, slots=True)
class CardUpdatedMessage:
    """A person changed the call's card (edit, confirm, transfer, ...)."""

    call_key: CallKey | None
    call_id: int | None
    card_id: int
    status: str
    reg_number: str | None = None
    type: Literal["card_updated"] = "card_updated"


@dataclass(frozen=True, slots=True)
class CallClaimedMessage:
    """An operator took the call."""

    call_key: CallKey
    call_id: int
    operator_id: int
    operator: str
    type: Literal["call_claimed"] = "call_claimed"


@dataclass(frozen=True, slots=True)
class CallEndedMessage:
    """The caller hung up."""

    call_key: CallKey
    call_id: int | None
    ended_at: datetime
    type: Literal["call_ended"] = "call_ended"


LiveMessage = (
    CallStartedMessage
    | CallStoredMessage
    | TranscriptionChangedMessage
    | TranscriptPartialMessage
    | TranscriptFinalMessage
    | CardProposedMessage
    | EmergencyAlertMessage
    | CardUpdatedMessage
    | CallClaimedMessage
    | CallEndedMessage
)

_Tagged = Annotated[LiveMessage, Field(discriminator="type")]


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(_Tagged)


def encode(message: LiveMessage) -> dict[str, Any]:
    """The message as its JSON object (times as ISO 8601, tuples as lists)."""
    out: dict[str, Any] = _adapter().dump_python(message, mode="json")
    return out


def decode(data: dict[str, Any]) -> LiveMessage:
    """A JSON object back as its message (for clients and tests). Raises pydantic.ValidationError."""
    message: LiveMessage = _adapter().validate_python(data)
    return message


def message_schema() -> dict[str, Any]:
    """JSON Schema of every live message (a union discriminated by ``type``)."""
    schema: dict[str, Any] = _adapter().json_schema(ref_template="#/components/schemas/{model}")
    return schema
