"""What several checks share: the results for a call without the operator's voice, and time spans."""

from __future__ import annotations

from collections.abc import Iterable

from qa.base import CheckOutcome, CheckResult

Span = tuple[float, float]


def no_operator_voice(rule: str) -> CheckResult:
    """The call's transcript has no operator turns (their leg was not recorded): nothing to judge."""
    return CheckResult(rule, CheckOutcome.NOT_APPLICABLE, None, "No operator speech was recorded on this call.")


def merged(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans joined, in time order."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def intersections(a: Iterable[Span], b: Iterable[Span]) -> list[Span]:
    """Where two sets of spans overlap (each set merged first), in time order."""
    left, right = merged(a), merged(b)
    out: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if end > start:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out
