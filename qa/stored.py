"""The scorer models.repo.qa_scoring.score_call takes: a stored call (read structurally, qa/ does not import
models) scored with the rule set stored with it, or the shipped default as version 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from qa.base import CallFacts, Turn
from qa.rules import rule_set_of
from qa.scorecard import Scorecard, score


class StoredTurnLike(Protocol):
    @property
    def speaker(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def words(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def language(self) -> str | None: ...


class StoredCallLike(Protocol):
    """models.repo.qa_scoring.StoredCall."""

    @property
    def turns(self) -> Sequence[StoredTurnLike]: ...
    @property
    def answered_s(self) -> float | None: ...
    @property
    def ended_s(self) -> float | None: ...
    @property
    def caller_language(self) -> str | None: ...
    @property
    def reg_number(self) -> str | None: ...
    @property
    def emergency_code(self) -> str | None: ...
    @property
    def emergency_s(self) -> float | None: ...
    @property
    def transfer_s(self) -> float | None: ...
    @property
    def transfer_code(self) -> str | None: ...
    @property
    def emergency_dismissed_s(self) -> float | None: ...
    @property
    def rule_set_version(self) -> int | None: ...
    @property
    def rules(self) -> Sequence[Mapping[str, Any]] | None: ...


def facts_of(call: StoredCallLike) -> CallFacts:
    return CallFacts(
        answered_s=call.answered_s,
        ended_s=call.ended_s,
        caller_language=call.caller_language,
        reg_number=call.reg_number,
        emergency_code=call.emergency_code,
        emergency_s=call.emergency_s,
        transfer_s=call.transfer_s,
        transfer_code=call.transfer_code,
        emergency_dismissed_s=call.emergency_dismissed_s,
    )


def score_stored(call: StoredCallLike) -> Scorecard:
    """Score a stored call with its rule set (RuleSetError if stored rules no longer read)."""
    turns = [
        Turn.of(speaker=t.speaker, start=t.start_s, end=t.end_s, text=t.text, words=t.words, language=t.language)
        for t in call.turns
    ]
    rules = None if call.rules is None else [dict(r) for r in call.rules]
    return score(turns, facts_of(call), rule_set_of(call.rule_set_version, rules))
