"""The lifecycle of a background worker (the webhook worker, the deadline runner)."""

from __future__ import annotations

from enum import StrEnum


class Lifecycle(StrEnum):
    """idle (built, not started) -> running -> stopping (finishing what is in flight) -> stopped."""

    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
