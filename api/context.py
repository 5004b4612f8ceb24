"""What the API is handed by the composition root: settings, database, taxonomy, hub, and telephony's transfer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from calls.hub import CardHub
from calls.writes import CallWriter
from core.config import Settings
from core.taxonomy import Taxonomy


class TransferOutcome(Protocol):
    """How one transfer attempt ended (telephony.transfer.TransferOutcome)."""

    @property
    def transferred(self) -> bool:
        """The caller's channel was SEEN at the emergency destination (never just "Asterisk said 2xx")."""
        ...

    @property
    def timed_out(self) -> bool:
        """No outcome was seen before the deadline."""
        ...

    @property
    def code(self) -> str: ...

    @property
    def destination(self) -> str:
        """ "context,exten,priority"."""
        ...

    @property
    def method(self) -> str:
        """ "continue", "redirect", or "" when Asterisk was not asked to move the caller."""
        ...

    @property
    def reason(self) -> str:
        """Empty when transferred; else caller_gone, dialplan_missing, refused, transfer_channel_failed,
        asterisk_unreachable, timeout or unknown_code."""
        ...

    @property
    def detail(self) -> str:
        """A sentence for people."""
        ...

    @property
    def elapsed_s(self) -> float: ...


class CallTransfer(Protocol):
    """Moves a live caller to an emergency service (implemented by telephony, wired by the composition root)."""

    async def transfer(self, *, uniqueid: str, code: str) -> TransferOutcome:
        """Move the caller on channel ``uniqueid`` to emergency ``code`` ("101".."104") and watch it get there.

        Returns within about 1.5 s with the outcome; it does not raise for Asterisk's answers.
        """
        ...


StatusProbe = Callable[[], Awaitable[dict[str, object]]]


@dataclass
class ApiContext:
    """Everything a route may use. Built once per process."""

    settings: Settings
    sessionmaker: sessionmaker[Session]
    taxonomy: Taxonomy
    hub: CardHub
    transfer: CallTransfer | None = None
    # The durable path for what a call produces (the CallRegistry): written now, or spooled while the database is
    # down. None: routes write directly (tests without a registry).
    writer: CallWriter | None = None
    # Status reporters shown by GET /api/ready, e.g. {"asr": engine.status, "classifier": ...}; each returns a
    # dict whose "status" (if present) is "ok" when the part works.
    components: dict[str, Callable[[], dict[str, object]]] = field(default_factory=dict)
    # Async status probes that must ask something over the network (e.g. {"telephony": AriReadiness.report});
    # GET /api/ready merges each one's dict into the component of the same name, bounded by a short timeout.
    probes: dict[str, StatusProbe] = field(default_factory=dict)
    # The canonical street names routing rules may name: the classifier's street list, handed over by the
    # composition root (api/ does not import the classifier).
    street_names: tuple[str, ...] = ()
