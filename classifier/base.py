"""The contract of card proposal: what a proposal holds and how a call's card is re-scored incrementally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


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


@dataclass(frozen=True, slots=True)
class EmergencyHint:
    """A fast verdict on a partial transcript: is an emergency being described right now."""

    emergency: str  # "none" | "101".."104"
    emergency_also: tuple[str, ...] = ()
    confidence: float = 0.0
    evidence: str = ""  # the words that triggered it


class CallScorer(Protocol):
    """Per-call incremental state: re-scoring on each new segment never re-reads the whole call."""

    def add_final(self, text: str) -> CardProposal:
        """Add a final segment's text and return the updated proposal."""
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
