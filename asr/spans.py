"""Arithmetic on call-time spans: clamping to a recording, ordering and merging."""

from __future__ import annotations

from collections.abc import Iterable

from asr.base import Span


def merge_spans(spans: Iterable[Span], *, join_within_s: float = 0.0) -> list[Span]:
    """The spans sorted, with overlapping ones (or ones closer than ``join_within_s``) merged; empty ones dropped."""
    out: list[Span] = []
    for span in sorted((s for s in spans if s.end > s.start), key=lambda s: (s.start, s.end)):
        if out and span.start <= out[-1].end + join_within_s:
            last = out[-1]
            out[-1] = Span(last.start, max(last.end, span.end))
        else:
            out.append(span)
    return out


def clamp_spans(spans: Iterable[Span], *, duration: float) -> list[Span]:
    """The spans cut to [0, ``duration``], sorted and merged; what lies wholly outside is dropped."""
    cut = (Span(max(0.0, s.start), min(duration, s.end)) for s in spans)
    return merge_spans(cut)


def add_span(spans: list[Span], span: Span) -> None:
    """Add ``span`` to an ordered list of disjoint spans in place, merging what touches or overlaps."""
    if span.end > span.start:
        spans[:] = merge_spans([*spans, span])
