"""CardHub: in-process publish/subscribe of typed live call messages, one bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from calls.messages import (
    CallEndedMessage,
    CallKey,
    CallStartedMessage,
    CallStoredMessage,
    LiveMessage,
    TranscriptPartialMessage,
)

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue. Slow subscribers lose their oldest messages, never block publishers."""

    queue: asyncio.Queue[LiveMessage]
    dropped: int = 0

    async def get(self) -> LiveMessage:
        """The next message."""
        return await self.queue.get()


@dataclass
class CardHub:
    """Fan-out of live messages to subscribers (operator WebSockets), and the latest state of each live call."""

    queue_size: int = 1000
    _subs: set[Subscription] = field(default_factory=set)
    _last: dict[CallKey, dict[str, LiveMessage]] = field(default_factory=dict)

    def publish(self, message: LiveMessage) -> None:
        """Deliver ``message`` to every subscriber; never blocks."""
        key = message.call_key
        if key is not None:
            if isinstance(message, CallStartedMessage):
                self._last[key] = {message.type: message}
            elif isinstance(message, CallEndedMessage):
                self._last.pop(key, None)
            elif isinstance(message, CallStoredMessage) and key in self._last:
                started = self._last[key].get("call_started")
                if isinstance(started, CallStartedMessage):
                    self._last[key]["call_started"] = CallStartedMessage(
                        call_key=key,
                        call_id=message.call_id,
                        caller_number=started.caller_number,
                        started_at=started.started_at,
                        transcription=started.transcription,
                    )
            elif not isinstance(message, TranscriptPartialMessage) and key in self._last:
                # Only calls seen starting are live: a later card_updated must not revive an ended call.
                self._last[key][message.type] = message
        for sub in list(self._subs):
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
                if sub.dropped in (1, 100) or sub.dropped % 1000 == 0:
                    logger.warning("hub subscriber is slow: %d messages dropped", sub.dropped)
            sub.queue.put_nowait(message)

    def live_calls(self) -> list[CallKey]:
        """Keys of calls that started and have not ended."""
        return list(self._last)

    def snapshot(self, key: CallKey) -> list[LiveMessage]:
        """The latest message of each kind for a live call (call_started first), so a late subscriber catches up."""
        return list(self._last.get(key, {}).values())

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """Subscribe for the duration of a ``with`` block."""
        sub = Subscription(queue=asyncio.Queue(self.queue_size))
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        """How many subscribers are connected."""
        return len(self._subs)
