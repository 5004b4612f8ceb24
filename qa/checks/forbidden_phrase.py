"""The operator says none of the listed phrases (the kk and the ru list, whatever the call's language)."""

from __future__ import annotations

from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation
from qa.checks.common import no_operator_voice
from qa.rules import ForbiddenPhraseRule
from qa.text import phrase_hits, quote, seconds


def check(rule: ForbiddenPhraseRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    if not talk.operator:
        return no_operator_voice(rule.id)
    found = [(hit, turn) for turn in talk.operator for hit in phrase_hits(turn, rule.phrases.pairs())]
    if not found:
        return CheckResult(rule.id, CheckOutcome.PASSED, None, "The operator said none of the forbidden phrases.")
    shown = "; ".join(f"«{h.phrase}» at {seconds(h.at_s)} in {quote(t.text, 60)}" for h, t in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return CheckResult(rule.id, CheckOutcome.FAILED, found[0][0].at_s, f"The operator said {shown}{more}.")
