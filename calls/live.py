"""The seam between the call manager and live per-call processing (ASR, proposals, hub)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What live processing knows of a call when it starts. call_id is None while the database is down."""

    uniqueid: str
    call_id: int | None
    caller_number: str | None
    started_at: datetime


class CallProcessor(Protocol):
    """Consumes one call's audio until the manager puts None (end of call)."""

    async def run(self, frames: asyncio.Queue[bytes | None]) -> None:
        """Process 8 kHz s16le PCM chunks from ``frames`` in order; return after None."""
        ...


ProcessorFactory = Callable[[CallInfo], CallProcessor]
