"""What telephony reports to the rest of callcard: typed, frozen call events and the sink that receives them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.types import Speaker


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
    # Seconds the call's recording has been running when this stream's audio starts: 0 for a new call, more for a
    # call re-adopted after callcard restarted (what was said before is in the recording, not in this stream).
    audio_offset_s: float = 0.0


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
    kind: str = "mixed"  # mixed | caller | operator (the legs: each voice alone)
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
    """An AudioSocket stream for a known call connected: the caller's voice, or the operator's (what the caller
    hears)."""

    uniqueid: str
    media_uuid: str
    speaker: Speaker = Speaker.CALLER


@dataclass(frozen=True, slots=True)
class AudioStreamEnded:
    """An AudioSocket stream ended (hang-up frame, error frame or closed socket)."""

    uniqueid: str
    media_uuid: str
    frames: int = 0
    dropped: int = 0
    reason: str = "hangup"
    speaker: Speaker = Speaker.CALLER


CallEvent = CallStarted | CallAnswered | RecordingFinished | CallEnded | AudioStreamStarted | AudioStreamEnded


class CallEventSink(Protocol):
    """Where telephony delivers call events (implemented by calls/)."""

    async def on_event(self, event: CallEvent) -> None:
        """Handle one event; must not raise for a single call's failure."""
        ...


class AudioSink(Protocol):
    """Where telephony delivers a call's audio frames (implemented by calls/)."""

    def push_audio(self, uniqueid: str, pcm: bytes, speaker: Speaker = Speaker.CALLER) -> bool:
        """Queue 8 kHz s16le frames of one voice of the call without blocking; False if dropped (buffer full)."""
        ...


class CallIdResolver(Protocol):
    """Answers callcard's database id of a call once it is registered (implemented by calls/)."""

    async def call_id_for(self, uniqueid: str) -> int | None:
        """The call's id, or None while it is not (yet) stored, e.g. during a database outage."""
        ...


# ------------------------------------------------------------------------------------------------- reconciling


class ReconciledCause(StrEnum):
    """Hang-up causes of calls the reconciler ends (part of telephony.causes' vocabulary)."""

    CHANNEL_GONE = "channel gone (reconciled)"  # Asterisk has no channel for an open call
    RECORDING_CLOSED = "recording closed (reconciled)"  # FastAGI: MixMonitor closed its file, no hang-up seen
    RECORDING_STALLED = "recording stalled (reconciled)"  # FastAGI: the file stopped growing, no hang-up seen
    NO_HANGUP_SEEN = "no hang-up seen (reconciled by age)"  # nothing to go by but the call's age
    ADOPTED = "recorded while callcard was down (adopted)"  # a recording no event of callcard's ever announced


class RecordingState(StrEnum):
    """What Asterisk's side shows of a call's recording, as the reconciler needs to know it."""

    MISSING = "missing"  # no file (yet), nothing stored
    GROWING = "growing"  # a writer still appends to it: the call is still up
    CLOSED = "closed"  # its writer closed it (MixMonitor ends with the channel) or Asterisk stored it
    ABANDONED = "abandoned"  # never closed and no longer written (Asterisk died): adopted as incomplete


@dataclass(frozen=True, slots=True)
class RecordingEvidence:
    """A call's recording as found by telephony, with the time audio was last written, if known."""

    state: RecordingState
    last_write: datetime | None = None
    recordings: tuple[RecordingFinished, ...] = ()  # adopted files (on callcard's disk, described), if any


class AsteriskInventory(Protocol):
    """What Asterisk has, for the reconciler (implemented by telephony.inventory)."""

    async def channels(self) -> frozenset[str] | None:
        """The uniqueids of every channel Asterisk has up; None when that cannot be known (no ARI, unreachable)."""
        ...

    def following(self, uniqueid: str) -> bool:
        """True while telephony itself follows the call (its hang-up will be reported without the reconciler)."""
        ...

    def recorded_calls(self, *, idle_s: float) -> list[tuple[str, str]]:
        """(uniqueid, path) of the calls' recording files in callcard's recordings directory that have not been
        written for ``idle_s`` seconds (candidates for adoption when no call row knows them)."""
        ...

    async def recording(self, uniqueid: str, *, source: str, gone: bool) -> RecordingEvidence:
        """Look for the call's recording; adopt it (fetch, describe, repair) when it is finished or ``gone``.

        ``source``: how the call came (ari: Asterisk's stored recordings; agi, demo: the MixMonitor file).
        ``gone``: the call's channel is known to be gone, so a file left unclosed is adopted as soon as it has not
        been written for a few seconds (a file still written is reported GROWING: something still records it).
        """
        ...
