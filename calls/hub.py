"""CardHub: in-process publish/subscribe of live call messages, one bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# Message types published on the hub (the "type" key of every message).
CALL_STARTED = "call_started"
TRANSCRIPT_PARTIAL = "transcript_partial"
TRANSCRIPT_FINAL = "transcript_final"
CARD_PROPOSED = "card_proposed"
EMERGENCY_ALERT = "emergency_alert"
CARD_UPDATED = "card_updated"
CALL_ENDED = "call_ended"
CALL_CLAIMED = "call_claimed"


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue. Slow subscribers lose their oldest messages, never block publishers."""

    queue: asyncio.Queue[dict[str, Any]]
    dropped: int = 0
    call_ids: set[int] | None = None  # None: every call

    async def get(self) -> dict[str, Any]:
        """The next message."""
        return await self.queue.get()


@dataclass
class CardHub:
    """Fan-out of live messages to subscribers (operator WebSockets)."""

    queue_size: int = 1000
    _subs: set[Subscription] = field(default_factory=set)
    _last: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def publish(self, message: dict[str, Any]) -> None:
        """Deliver ``message`` (must carry "type" and "call_id") to every matching subscriber; never blocks."""
        call_id = message.get("call_id")
        if isinstance(call_id, int):
            kind = str(message.get("type"))
            if kind == CALL_STARTED:
                self._last[call_id] = {kind: message}
            elif kind == CALL_ENDED:
                self._last.pop(call_id, None)
            elif kind != TRANSCRIPT_PARTIAL and call_id in self._last:
                # Only calls seen starting are live: a later card_updated must not revive an ended call.
                self._last[call_id][kind] = message
        for sub in list(self._subs):
            if sub.call_ids is not None and call_id not in sub.call_ids:
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
                if sub.dropped in (1, 100) or sub.dropped % 1000 == 0:
                    logger.warning("hub subscriber is slow: %d messages dropped", sub.dropped)
            sub.queue.put_nowait(message)

    def live_calls(self) -> list[int]:
        """Ids of calls that started and have not ended."""
        return list(self._last)

    def snapshot(self, call_id: int) -> list[dict[str, Any]]:
        """The latest message of each kind for a live call, so a late subscriber can catch up."""
        return list(self._last.get(call_id, {}).values())

    @asynccontextmanager
    async def subscribe(self, call_ids: set[int] | None = None) -> AsyncIterator[Subscription]:
        """Subscribe for the duration of a ``with`` block."""
        sub = Subscription(queue=asyncio.Queue(self.queue_size), call_ids=call_ids)
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        """How many subscribers are connected."""
        return len(self._subs)
