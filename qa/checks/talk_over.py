"""The caller and the operator talk at once for more than N seconds in all, or for too long at one time."""

from __future__ import annotations

from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation
from qa.checks.common import intersections, no_operator_voice
from qa.rules import TalkOverRule
from qa.text import seconds


def check(rule: TalkOverRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    if not talk.operator:
        return no_operator_voice(rule.id)
    if not talk.caller:
        return CheckResult(rule.id, CheckOutcome.NOT_APPLICABLE, None, "No caller speech was recorded on this call.")
    overlaps = intersections((s for t in talk.caller for s in t.spans()), (s for t in talk.operator for s in t.spans()))
    total = sum(e - s for s, e in overlaps)
    longest = max(overlaps, key=lambda o: o[1] - o[0], default=None)
    p = rule.parameters
    if longest is not None and (total > p.total_s or longest[1] - longest[0] > p.instance_s):
        return CheckResult(
            rule.id,
            CheckOutcome.FAILED,
            longest[0],
            f"Both sides talked at once {len(overlaps)} time(s), {seconds(total)} in all (limit {seconds(p.total_s)}); "
            f"the longest {seconds(longest[1] - longest[0])} at {seconds(longest[0])} (limit {seconds(p.instance_s)}).",
        )
    return CheckResult(
        rule.id,
        CheckOutcome.PASSED,
        None,
        f"Both sides talked at once {len(overlaps)} time(s), {seconds(total)} in all.",
    )
