"""Typed messages of the automatic QA checks: the conversation's turns, the call's facts, each check's result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class CheckOutcome(Enum):
    """What one check found on one call (models.quality.CHECK_OUTCOMES)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"


class Speaker(Enum):
    """Who spoke a turn (models.records.SPEAKERS)."""

    CALLER = "caller"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time on the call's clock (seconds) and the recogniser's confidence."""

    text: str
    start: float
    end: float
    conf: float = 1.0


@dataclass(frozen=True, slots=True)
class Turn:
    """One stretch of speech by one side: a stored transcript segment (QA's correction in place of its original)."""

    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None

    @classmethod
    def of(
        cls,
        *,
        speaker: str,
        start: float,
        end: float,
        text: str,
        words: Sequence[Mapping[str, Any]] = (),
        language: str | None = None,
    ) -> Turn:
        """A turn from stored values (words as {"word", "start", "end", "conf"} dicts)."""
        parsed = tuple(
            Word(
                text=str(w.get("word", "")),
                start=float(w.get("start", start)),
                end=float(w.get("end", w.get("start", start))),
                conf=float(w.get("conf", 1.0)),
            )
            for w in words
            if str(w.get("word", "")).strip()
        )
        return cls(Speaker(speaker), float(start), float(end), text, parsed, language)

    def spans(self) -> list[tuple[float, float]]:
        """When this side was heard: each word's time, or the whole turn when it has no word timings."""
        if self.words:
            return [(w.start, max(w.start, w.end)) for w in self.words]
        return [(self.start, max(self.start, self.end))]


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the checks know of a call besides its words; times are seconds on the call's clock (0 = answer).

    ``caller_language`` is ru, kk or mixed (None: unknown). ``reg_number`` is the card's 109-YYYY-NNNNNN (None:
    not registered). ``emergency_s`` is when the desk first showed the emergency banner, ``transfer_s`` when the
    operator moved the caller to the emergency service, ``emergency_dismissed_s`` when they dismissed the banner.
    """

    answered_s: float | None = 0.0
    ended_s: float | None = None
    caller_language: str | None = None
    reg_number: str | None = None
    emergency_code: str | None = None
    emergency_s: float | None = None
    transfer_s: float | None = None
    transfer_code: str | None = None
    emergency_dismissed_s: float | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One rule's outcome on one call: when it was decided on the call's clock (None: nowhere in particular) and
    a sentence saying why, quoting what was said."""

    rule: str
    outcome: CheckOutcome
    at_s: float | None
    evidence: str

    def as_json(self) -> dict[str, Any]:
        """The stored shape (models.quality.QaScorecard.results)."""
        at = None if self.at_s is None else round(self.at_s, 2)
        return {"rule": self.rule, "outcome": self.outcome.value, "at_s": at, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class Conversation:
    """A call's turns in time order, split by side."""

    turns: tuple[Turn, ...]
    caller: tuple[Turn, ...] = field(init=False)
    operator: tuple[Turn, ...] = field(init=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.turns, key=lambda t: (t.start, t.end)))
        object.__setattr__(self, "turns", ordered)
        object.__setattr__(self, "caller", tuple(t for t in ordered if t.speaker is Speaker.CALLER))
        object.__setattr__(self, "operator", tuple(t for t in ordered if t.speaker is Speaker.OPERATOR))
