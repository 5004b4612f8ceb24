"""No speech from either side for more than N seconds while the call is up (from the answer to the hang-up)."""

from __future__ import annotations

from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation
from qa.checks.common import Span, merged, no_operator_voice
from qa.rules import SilenceRule
from qa.text import seconds


def silences(talk: Conversation, facts: CallFacts) -> list[Span]:
    """The stretches with nobody speaking between the answer and the end of the call."""
    heard = merged(span for turn in talk.turns for span in turn.spans())
    start = facts.answered_s or 0.0
    end = facts.ended_s if facts.ended_s is not None else (heard[-1][1] if heard else start)
    gaps: list[Span] = []
    at = start
    for s, e in heard:
        if s > at:
            gaps.append((at, min(s, end)))
        at = max(at, e)
    if end > at:
        gaps.append((at, end))
    return [(s, e) for s, e in gaps if e > s]


def check(rule: SilenceRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    if not talk.operator:
        return no_operator_voice(rule.id)
    gaps = silences(talk, facts)
    limit = rule.parameters.longer_than_s
    long = [(s, e) for s, e in gaps if e - s > limit]
    if long:
        shown = ", ".join(f"{s:.1f}–{e:.1f} s ({seconds(e - s)})" for s, e in long[:5])
        more = f" and {len(long) - 5} more" if len(long) > 5 else ""
        return CheckResult(
            rule.id,
            CheckOutcome.FAILED,
            long[0][0],
            f"{len(long)} silence(s) longer than {seconds(limit)}: {shown}{more}.",
        )
    longest = max((e - s for s, e in gaps), default=0.0)
    return CheckResult(rule.id, CheckOutcome.PASSED, None, f"The longest silence was {seconds(longest)}.")
