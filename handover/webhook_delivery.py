"""One webhook attempt, and when to try again: the POST of a claimed outbox row, and the retry schedule.

An attempt is a 2xx (delivered) or a failure (any other status, a timeout, a refused connection). After a
failure the next attempt comes after an exponential back-off with full jitter (tenacity's
``wait_random_exponential``: a random wait in [0, min(cap, base * 2**(n-1))]), never later than the give-up time;
an attempt that fails at or after ``created_at + give_up_after`` marks the delivery failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from tenacity import RetryCallState, Retrying, wait_random_exponential

from handover.webhook_signing import headers


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Back-off between attempts and the time after which a delivery is given up."""

    give_up_after: timedelta = timedelta(hours=24)
    backoff_base_s: float = 1.0
    backoff_max_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.give_up_after <= timedelta(0) or self.backoff_base_s <= 0 or self.backoff_max_s < self.backoff_base_s:
            raise ValueError("webhook retries: give_up_after > 0 and 0 < backoff_base_s <= backoff_max_s")

    def backoff_s(self, attempt: int) -> float:
        """The wait after the ``attempt``-th failed attempt (1-based): full jitter under an exponential cap."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = max(1, attempt)
        return float(wait_random_exponential(multiplier=self.backoff_base_s, max=self.backoff_max_s)(state))

    def next_attempt(self, *, attempt: int, created_at: datetime, now: datetime) -> datetime | None:
        """When to try again after the ``attempt``-th failure at ``now``; None: give up (mark it failed)."""
        give_up_at = created_at + self.give_up_after
        if now >= give_up_at:
            return None
        return min(now + timedelta(seconds=self.backoff_s(attempt)), give_up_at)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased outbox row with what is needed to send it (read in the claim's transaction)."""

    row_id: int
    delivery_id: str
    event: str
    body: str
    attempts: int  # attempts made before this one
    created_at: datetime  # when the give-up window started: the event's creation, or an admin's retry
    url: str | None  # None: the organisation no longer receives webhooks
    secret: str


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST gave: the outcome, the HTTP status (None without an answer), and why it failed."""

    outcome: Outcome
    status: int | None
    error: str = ""


async def post(client: httpx.AsyncClient, claimed: Claimed) -> Attempt:
    """POST the stored body byte for byte, signed; never raises for network trouble (it is a failed attempt)."""
    if not claimed.url:
        return Attempt(Outcome.FAILED, None, "the organisation no longer receives webhooks (no webhook URL)")
    body = claimed.body.encode("utf-8")
    sent = headers(body=body, secret=claimed.secret, event=claimed.event, delivery_id=claimed.delivery_id)
    try:
        answer = await client.post(claimed.url, content=body, headers=sent)
    except httpx.TimeoutException as exc:
        return Attempt(Outcome.FAILED, None, f"timed out: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Attempt(Outcome.FAILED, None, f"{type(exc).__name__}: {exc}")
    if 200 <= answer.status_code < 300:
        return Attempt(Outcome.DELIVERED, answer.status_code)
    return Attempt(Outcome.FAILED, answer.status_code, f"HTTP {answer.status_code}: {answer.text[:200]}")
