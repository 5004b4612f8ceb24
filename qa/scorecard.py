"""A call's scorecard: every enabled rule of the rule set in force, checked on the call's turns and facts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation, Turn
from qa.checks import run
from qa.rules import RuleSet


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The results of one rule set version on one call.

    ``checks`` counts the checks that applied (passed or failed); ``failed`` those that failed.
    """

    rule_set_version: int
    results: tuple[CheckResult, ...]

    @property
    def checks(self) -> int:
        return sum(1 for r in self.results if r.outcome is not CheckOutcome.NOT_APPLICABLE)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.outcome is CheckOutcome.FAILED)

    def results_json(self) -> list[dict[str, Any]]:
        """The stored ``results`` (models.quality.QaScorecard)."""
        return [r.as_json() for r in self.results]


def score(turns: Iterable[Turn], facts: CallFacts, rule_set: RuleSet) -> Scorecard:
    """Check the call against every enabled rule of ``rule_set``, in the rule set's order."""
    talk = Conversation(tuple(turns))
    return Scorecard(rule_set.version, tuple(run(rule, talk, facts) for rule in rule_set.enabled()))
