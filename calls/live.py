"""The seam between the call manager and live per-call processing (ASR, proposals, hub): typed items and outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from asr.base import Span
from asr.spans import merge_spans
from calls.messages import CallKey


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What live processing knows of a call when it starts.

    ``start_s`` is the call-clock time of the first audio this process will receive: 0 for a new call, later for
    a call re-adopted after callcard restarted (its recording began before). ``call_id`` is None while the
    database has not taken the call; processing never needs it (writes and messages use ``key``).
    """

    key: CallKey
    call_id: int | None
    caller_number: str | None
    started_at: datetime
    start_s: float = 0.0


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """8 kHz s16le mono PCM and where it starts on the call's clock (a jump means audio was lost before it)."""

    pcm: bytes
    at_s: float


@dataclass(frozen=True, slots=True)
class EndOfAudio:
    """No more audio: the call's audio ended at ``at_s`` on its clock (anything after the last chunk was lost)."""

    at_s: float


AudioItem = AudioChunk | EndOfAudio


@dataclass(frozen=True, slots=True)
class LiveOutcome:
    """What live processing achieved: the call-time spans it did not decode, and whether decoding ran at all."""

    gaps: tuple[Span, ...] = ()
    decoded: bool = True  # False: no live transcript at all (no engine, or it failed at once)


class CallProcessor(Protocol):
    """Consumes one call's audio until EndOfAudio."""

    async def run(self, audio: asyncio.Queue[AudioItem]) -> LiveOutcome:
        """Process the chunks in order; return after EndOfAudio with what was (not) decoded."""
        ...


ProcessorFactory = Callable[[CallInfo], CallProcessor]


def missed_spans(spans: list[Span], *, min_length: float = 0.05) -> tuple[Span, ...]:
    """The spans live decoding missed, sorted and merged (touching ones joined); slivers under ``min_length`` are
    dropped: a few milliseconds of set-up hold no words."""
    merged = merge_spans(spans, join_within_s=1e-3)
    return tuple(Span(round(s.start, 3), round(s.end, 3)) for s in merged if s.end - s.start >= min_length)
