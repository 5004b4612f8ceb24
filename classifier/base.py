"""The contract of card proposal: what a proposal holds and how a call's card is re-scored incrementally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class HeardWord:
    """One word as the recogniser heard it, with its confidence (Vosk's ``conf``, 0..1)."""

    word: str
    confidence: float


class HouseStatus(StrEnum):
    """What the caller's house number came to: heard, said but not read with confidence, or not said."""

    HEARD = "heard"
    UNCERTAIN = "uncertain"  # a street was heard and a house number said, but its words were misheard or unsure
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Address:
    """Where the problem is; any part may be unknown."""

    street: str | None = None
    house: str | None = None
    building: str | None = None
    apartment: str | None = None
    district: str | None = None  # a taxonomy district id
    landmark: str | None = None


@dataclass(frozen=True, slots=True)
class Scored:
    """A taxonomy id with its calibrated confidence."""

    id: str
    confidence: float


@dataclass(frozen=True, slots=True)
class CardProposal:
    """The model's card. Ids are taxonomy ids; emergency is "none", "101", "102", "103" or "104"."""

    topic: str
    service: str
    emergency: str
    emergency_also: tuple[str, ...] = ()
    language: str = "ru"  # "ru" | "kk" | "mixed"
    address: Address = field(default_factory=Address)
    summary: str = ""
    confidence: dict[str, float] = field(default_factory=dict)  # topic, service, emergency
    alternatives: dict[str, tuple[Scored, ...]] = field(default_factory=dict)  # topic, service: top 3
    model_version: str = ""
    # "street heard, house uncertain": the desk asks the caller for the house rather than trust a guess
    house_status: HouseStatus = HouseStatus.ABSENT


@dataclass(frozen=True, slots=True)
class EmergencyHint:
    """A fast verdict on a partial transcript: is an emergency being described right now."""

    emergency: str  # "none" | "101".."104"
    emergency_also: tuple[str, ...] = ()
    confidence: float = 0.0
    evidence: str = ""  # the words that triggered it


class CallScorer(Protocol):
    """Per-call incremental state: re-scoring on each new segment never re-reads the whole call."""

    def add_final(self, text: str, words: Sequence[HeardWord] = ()) -> CardProposal:
        """Add a final segment's text (and, when the recogniser gave them, its words' confidences)."""
        ...

    def check_partial(self, text: str) -> EmergencyHint:
        """Look at the current partial text (not stored) for an emergency."""
        ...

    def proposal(self) -> CardProposal | None:
        """The latest proposal, or None before any text."""
        ...


class CardProposer(Protocol):
    """A loaded classifier."""

    version: str

    def propose(self, text: str) -> CardProposal:
        """Propose a card for a whole text."""
        ...

    def open_call(self) -> CallScorer:
        """Start incremental scoring of one call."""
        ...
