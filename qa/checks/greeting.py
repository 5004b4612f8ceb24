"""The operator greets within N seconds of the answer, in the caller's language (a mixed caller: either)."""

from __future__ import annotations

from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation
from qa.checks.common import no_operator_voice
from qa.rules import GreetingRule
from qa.text import PhraseHit, phrase_hits, quote, seconds

LANGUAGE_NAMES = {"kk": "Kazakh", "ru": "Russian"}


def expected_languages(caller_language: str | None) -> tuple[str, ...]:
    """The greetings that count: the caller's language; either for a mixed or unknown caller."""
    if caller_language in ("kk", "ru"):
        return (caller_language,)
    return ("kk", "ru")


def check(rule: GreetingRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    if not talk.operator:
        return no_operator_voice(rule.id)
    answered = facts.answered_s or 0.0
    limit = answered + rule.parameters.within_s
    early = [t for t in talk.operator if t.start <= limit]
    hits: list[PhraseHit] = [h for t in early for h in phrase_hits(t, rule.phrases.pairs()) if h.at_s <= limit]
    wanted = expected_languages(facts.caller_language)
    good = [h for h in hits if h.language in wanted]
    if good:
        first = min(good, key=lambda h: h.at_s)
        return CheckResult(
            rule.id,
            CheckOutcome.PASSED,
            first.at_s,
            f"The operator greeted «{first.phrase}» ({first.language}) "
            f"{seconds(first.at_s - answered)} after the answer.",
        )
    language = " or ".join(LANGUAGE_NAMES[w] for w in wanted)
    if hits:
        first = min(hits, key=lambda h: h.at_s)
        return CheckResult(
            rule.id,
            CheckOutcome.FAILED,
            first.at_s,
            f"The operator greeted «{first.phrase}» in {LANGUAGE_NAMES[first.language]}, but the caller spoke "
            f"{language}.",
        )
    late = [h for t in talk.operator for h in phrase_hits(t, rule.phrases.pairs()) if h.language in wanted]
    if late:
        first = min(late, key=lambda h: h.at_s)
        return CheckResult(
            rule.id,
            CheckOutcome.FAILED,
            first.at_s,
            f"The operator greeted «{first.phrase}» only {seconds(first.at_s - answered)} after the answer "
            f"(limit {seconds(rule.parameters.within_s)}).",
        )
    said = quote(early[0].text) if early else "nothing"
    return CheckResult(
        rule.id,
        CheckOutcome.FAILED,
        early[0].start if early else None,
        f"No {language} greeting within {seconds(rule.parameters.within_s)} of the answer; the operator said {said}.",
    )
