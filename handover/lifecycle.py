"""The lifecycle of a background worker (the webhook worker, the deadline runner): core.periodic's."""

from __future__ import annotations

from core.periodic import Lifecycle

__all__ = ["Lifecycle"]
