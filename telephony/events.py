"""What telephony reports to the rest of callcard: typed, frozen call events and the sink that receives them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A caller reached callcard (StasisStart, an AGI request, or a demo call)."""

    uniqueid: str
    at: datetime
    channel: str | None = None
    linkedid: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    dialled_number: str | None = None
    source: str = "ari"  # ari | agi | demo
    media_uuid: str | None = None  # the AudioSocket stream that will carry the caller's voice


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The call was answered."""

    uniqueid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingFinished:
    """A recording of the call is complete on callcard's disk."""

    uniqueid: str
    path: str
    kind: str = "mixed"  # mixed | caller
    format: str = "wav"
    sample_rate: int = 8000
    duration_s: float | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    complete: bool = True  # False: the file was stored although its writer never closed it properly


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The caller hung up or the channel was destroyed."""

    uniqueid: str
    at: datetime
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class AudioStreamStarted:
    """An AudioSocket stream for a known call connected."""

    uniqueid: str
    media_uuid: str


@dataclass(frozen=True, slots=True)
class AudioStreamEnded:
    """An AudioSocket stream ended (hang-up frame, error frame or closed socket)."""

    uniqueid: str
    media_uuid: str
    frames: int = 0
    dropped: int = 0
    reason: str = "hangup"


CallEvent = (
    CallStarted | CallAnswered | RecordingFinished | CallEnded | AudioStreamStarted | AudioStreamEnded
)


class CallEventSink(Protocol):
    """Where telephony delivers call events (implemented by calls/)."""

    async def on_event(self, event: CallEvent) -> None:
        """Handle one event; must not raise for a single call's failure."""
        ...


class AudioSink(Protocol):
    """Where telephony delivers a call's audio frames (implemented by calls/)."""

    def push_audio(self, uniqueid: str, pcm: bytes) -> bool:
        """Queue 8 kHz s16le frames for the call without blocking; False if dropped (buffer full)."""
        ...


class CallIdResolver(Protocol):
    """Answers callcard's database id of a call once it is registered (implemented by calls/)."""

    async def call_id_for(self, uniqueid: str) -> int | None:
        """The call's id, or None while it is not (yet) stored, e.g. during a database outage."""
        ...
