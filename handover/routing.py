"""The routing engine: which organisation a confirmed card goes to, by an ordered table of rules (data, not code).

A rule's conditions are all optional and combined with AND: services, topics, districts, a street with house
ranges, a named object. The first active ordinary rule that matches, in order, wins; when none does, the card's
service's fallback rule decides; otherwise the answer is "no organisation" with the reason. It never guesses.
A rule also only applies when its organisation is active and serves the card's service.

Pure: no database, no I/O. ``route(card_facts, rules) -> RoutingDecision``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    """Which side of a street a house range covers."""

    BOTH = "both"
    ODD = "odd"
    EVEN = "even"


_RANGE = re.compile(r"^\s*(?:(\d+)\s*(?:-\s*(\d+))?)?\s*(odd|even)?\s*$", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\s*(?:№\s*)?(\d+)")


class HouseRangeError(ValueError):
    """A house range that cannot be read."""


@dataclass(frozen=True, slots=True)
class HouseRange:
    """Houses ``low``..``high`` (inclusive; None: open end) on one side of the street or both."""

    low: int | None
    high: int | None
    side: Side = Side.BOTH

    @classmethod
    def parse(cls, text: str) -> HouseRange:
        """Read "1-99 odd", "2-40 even", "10-20", "7", "odd" or "even"."""
        match = _RANGE.match(text)
        if match is None or not text.strip():
            raise HouseRangeError(
                f"house range {text!r} is not of the form '1-99 odd', '2-40 even', '10-20', '7', 'odd' or 'even'"
            )
        low_text, high_text, side_text = match.groups()
        low = int(low_text) if low_text else None
        high = int(high_text) if high_text else low
        if low is not None and high is not None and high < low:
            raise HouseRangeError(f"house range {text!r} ends before it starts")
        if low is not None and low <= 0:
            raise HouseRangeError(f"house range {text!r}: house numbers start at 1")
        side = Side(side_text.lower()) if side_text else Side.BOTH
        return cls(low, high, side)

    def covers(self, number: int) -> bool:
        """Whether the house with this leading number lies in the range."""
        if self.side is Side.ODD and number % 2 == 0:
            return False
        if self.side is Side.EVEN and number % 2 == 1:
            return False
        if self.low is not None and number < self.low:
            return False
        return self.high is None or number <= self.high

    def __str__(self) -> str:
        if self.low is None:
            return self.side.value
        span = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return span if self.side is Side.BOTH else f"{span} {self.side.value}"


def house_number(house: str | None) -> int | None:
    """The leading number of a house ("45/1" -> 45, "12А" -> 12, "№ 7" -> 7); None when there is none."""
    if not house:
        return None
    match = _LEADING_NUMBER.match(house)
    return int(match.group(1)) if match else None


def normalise_name(text: str | None) -> str:
    """A street or object name compared without case, extra spaces or the ё/е difference."""
    return " ".join((text or "").replace("ё", "е").replace("Ё", "Е").casefold().split())


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What routing reads from a card: taxonomy ids and the address as the operator confirmed it."""

    service: str | None = None
    topic: str | None = None
    district: str | None = None
    street: str | None = None
    house: str | None = None
    landmark: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The organisation a rule sends cards to, as routing needs it."""

    code: str
    services: frozenset[str]
    active: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the routing table (see the module docstring); empty condition = no condition."""

    code: str
    organisation: Target
    services: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    street: str | None = None
    houses: tuple[HouseRange, ...] = ()
    named_object: str | None = None
    fallback: bool = False
    active: bool = True
    note: str | None = None

    def conditions(self) -> list[str]:
        """The rule's conditions, for people: ["service heating_utility", "district yesil", ...]."""
        out: list[str] = []
        if self.services:
            out.append("service " + " or ".join(sorted(self.services)))
        if self.topics:
            out.append("topic " + " or ".join(sorted(self.topics)))
        if self.districts:
            out.append("district " + " or ".join(sorted(self.districts)))
        if self.street:
            out.append(f"street {self.street}")
        if self.houses:
            out.append("houses " + ", ".join(str(h) for h in self.houses))
        if self.named_object:
            out.append(f"object {self.named_object}")
        return out

    def matches(self, facts: CardFacts) -> bool:
        """Whether every condition of the rule holds for the card (the organisation is checked separately)."""
        if self.services and facts.service not in self.services:
            return False
        if self.topics and facts.topic not in self.topics:
            return False
        if self.districts and facts.district not in self.districts:
            return False
        if self.street and normalise_name(self.street) != normalise_name(facts.street):
            return False
        if self.houses:
            number = house_number(facts.house)
            if number is None or not any(r.covers(number) for r in self.houses):
                return False
        return not self.named_object or normalise_name(self.named_object) == normalise_name(facts.landmark)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where a card goes: the organisation's code and the rule that chose it, or None and why not."""

    organisation: str | None
    rule: Rule | None
    reason: str

    @property
    def routed(self) -> bool:
        """Whether an organisation was found."""
        return self.organisation is not None


def _usable(rule: Rule, facts: CardFacts) -> bool:
    target = rule.organisation
    return rule.active and target.active and (facts.service is None or facts.service in target.services)


def route(facts: CardFacts, rules: Sequence[Rule]) -> RoutingDecision:
    """The organisation for a card: the first matching active rule in order, else its service's fallback."""
    for position, rule in enumerate(rules, start=1):
        if rule.fallback or not _usable(rule, facts) or not rule.matches(facts):
            continue
        why = "; ".join(rule.conditions())
        return RoutingDecision(rule.organisation.code, rule, f"rule {position} ({rule.code}) matches: {why}")
    if facts.service is None:
        return RoutingDecision(None, None, "no rule matches and the card has no service, so no fallback applies")
    fallbacks = [r for r in rules if r.fallback and facts.service in r.services and r.active]
    if not fallbacks:
        return RoutingDecision(None, None, f"no rule matches and service {facts.service} has no fallback")
    if len(fallbacks) > 1:
        codes = ", ".join(r.code for r in fallbacks)
        return RoutingDecision(None, None, f"no rule matches and service {facts.service} has two fallbacks ({codes})")
    fallback = fallbacks[0]
    if not _usable(fallback, facts):
        return RoutingDecision(
            None,
            None,
            f"no rule matches and the fallback {fallback.code} of service {facts.service} goes to "
            f"{fallback.organisation.code}, which is inactive or does not serve it",
        )
    return RoutingDecision(
        fallback.organisation.code, fallback, f"no rule matches; fallback {fallback.code} of service {facts.service}"
    )
