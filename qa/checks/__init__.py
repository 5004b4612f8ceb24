"""One module per check kind; ``run`` sends a rule to its check."""

from __future__ import annotations

from qa.base import CallFacts, CheckResult, Conversation
from qa.checks import emergency_transfer, forbidden_phrase, greeting, readback, repeated_question, silence, talk_over
from qa.rules import (
    EmergencyTransferRule,
    ForbiddenPhraseRule,
    GreetingRule,
    ReadbackRule,
    RepeatedQuestionRule,
    Rule,
    SilenceRule,
    TalkOverRule,
)


def run(rule: Rule, talk: Conversation, facts: CallFacts) -> CheckResult:
    """The outcome of ``rule`` on one call."""
    if isinstance(rule, GreetingRule):
        return greeting.check(rule, talk, facts)
    if isinstance(rule, ReadbackRule):
        return readback.check(rule, talk, facts)
    if isinstance(rule, EmergencyTransferRule):
        return emergency_transfer.check(rule, talk, facts)
    if isinstance(rule, SilenceRule):
        return silence.check(rule, talk, facts)
    if isinstance(rule, TalkOverRule):
        return talk_over.check(rule, talk, facts)
    if isinstance(rule, RepeatedQuestionRule):
        return repeated_question.check(rule, talk, facts)
    if isinstance(rule, ForbiddenPhraseRule):
        return forbidden_phrase.check(rule, talk, facts)
    raise TypeError(f"no check for rule kind {type(rule).__name__}")
