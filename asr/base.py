"""The engine-neutral contract of speech recognition: words, partial and final segments, sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times in seconds on the call's clock (from the start of the call's audio)."""

    text: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class PartialSegment:
    """Words recognised so far in the current utterance; replaced by the next partial or a final."""

    text: str
    language: str  # "ru" | "kk"
    start: float


@dataclass(frozen=True, slots=True)
class FinalSegment:
    """A finished utterance with its words."""

    text: str
    language: str  # "ru" | "kk"
    start: float
    end: float
    words: tuple[Word, ...] = field(default_factory=tuple)
    confidence: float = 0.0
    engine: str = "vosk"
    model_version: str = ""


Segment = PartialSegment | FinalSegment


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the call, in call-time seconds (``start`` <= ``end``)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


class SpeechSession(Protocol):
    """One call's recognition stream. Feed audio in order; results come back in order."""

    async def feed(self, pcm: bytes) -> Sequence[Segment]:
        """Accept 8 kHz s16le mono PCM (any length); return the segments it completed or updated."""
        ...

    async def skip(self, seconds: float) -> Sequence[Segment]:
        """``seconds`` of the call's audio were lost here (e.g. frames dropped under overload).

        The session flushes what it had and returns those final segments, moves its clock on by ``seconds``
        (later segments stay on the call's clock) and records the lost span in ``gaps``.
        """
        ...

    async def finish(self) -> Sequence[Segment]:
        """Flush the stream at the end of the call; return the last final segments."""
        ...

    @property
    def gaps(self) -> Sequence[Span]:
        """Call-time spans this session did not decode (skipped, or lost with a crashed worker); in order."""
        ...

    async def aclose(self) -> None:
        """Release the session's resources (idempotent)."""
        ...


class SpeechEngine(Protocol):
    """A loaded recognizer that opens one session per call."""

    def open_session(self, *, call_id: str, language: str = "auto", start_s: float = 0.0) -> SpeechSession:
        """Start recognising one call; ``language`` is "auto", "ru" or "kk".

        Every segment and word is timed on the call's clock: the first byte fed is ``start_s`` seconds
        into the call (a call re-adopted after a restart resumes its stream part-way through).
        """
        ...

    def status(self) -> dict[str, object]:
        """What is loaded and usable, for health checks (e.g. {"ru": "ok", "kk": "missing"})."""
        ...

    async def aclose(self) -> None:
        """Stop workers and free the models."""
        ...
