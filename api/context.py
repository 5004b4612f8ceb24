"""What the API is handed by the composition root: settings, database, taxonomy, hub, and telephony's transfer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from calls.hub import CardHub
from core.config import Settings
from core.taxonomy import Taxonomy


class CallTransfer(Protocol):
    """Moves a live caller to an emergency service (implemented by telephony, wired by the composition root)."""

    async def transfer(self, *, uniqueid: str, code: str) -> str:
        """Move the caller on channel ``uniqueid`` to emergency ``code`` ("101".."104"); return where to."""
        ...


@dataclass
class ApiContext:
    """Everything a route may use. Built once per process."""

    settings: Settings
    sessionmaker: sessionmaker[Session]
    taxonomy: Taxonomy
    hub: CardHub
    transfer: CallTransfer | None = None
    # Status reporters shown by GET /api/ready, e.g. {"asr": engine.status, "classifier": ...}; each returns a
    # dict whose "status" (if present) is "ok" when the part works.
    components: dict[str, Callable[[], dict[str, object]]] = field(default_factory=dict)
