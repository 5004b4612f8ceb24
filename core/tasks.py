"""TaskGroup-like owner of background tasks: every task is named, held, logged when it fails, and awaited on close.

Cancellation is never swallowed: a task that is cancelled ends as cancelled, and ``close`` cancels what is
left and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundTasks:
    """The background tasks of one component (the call manager, a reconciler, ...)."""

    def __init__(self, owner: str) -> None:
        """``owner`` prefixes the log lines of failed tasks."""
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Run ``coro`` as a named task; its exception (not its cancellation) is logged when it ends."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error("%s: task %s failed", self.owner, task.get_name(), exc_info=error)

    def __len__(self) -> int:
        return len(self._tasks)

    def named(self, prefix: str) -> list[asyncio.Task[Any]]:
        """The running tasks whose name starts with ``prefix``."""
        return [t for t in self._tasks if t.get_name().startswith(prefix)]

    async def wait(self, *, within: float | None = None) -> bool:
        """Wait until every task (including ones spawned meanwhile) ended; False if ``within`` seconds ran out."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def close(self) -> None:
        """Cancel every task and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
