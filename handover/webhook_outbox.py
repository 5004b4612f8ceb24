"""The worker's side of the outbox table (sync SQLAlchemy; the worker runs these off the event loop)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from handover.webhook_delivery import Attempt, Claimed, Outcome, RetryPolicy
from models.handover import Organisation, WebhookDelivery
from models.repo import outbox

NEW_ROWS = "callcard.webhook_rows_added"


def claim(sessions: sessionmaker[Session], *, now: datetime, limit: int, lease_s: float) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries (models.repo.outbox.claim_due) with their organisation's URL and key."""
    with sessions() as session:
        rows = outbox.claim_due(session, now=now, limit=limit, lease_s=lease_s)
        out: list[Claimed] = []
        for row in rows:
            org = session.get(Organisation, row.organisation_id)
            receives = org is not None and org.active and "webhook" in (org.receives or ())
            out.append(
                Claimed(
                    row_id=row.id,
                    delivery_id=row.delivery_id,
                    event=row.event,
                    body=row.body,
                    attempts=row.attempts,
                    created_at=row.retried_at or row.created_at,  # where the give-up window starts
                    url=org.webhook_url if org is not None and receives else None,
                    secret=(org.webhook_secret or "") if org is not None else "",
                )
            )
        return out


def record(
    sessions: sessionmaker[Session], *, claimed: Claimed, attempt: Attempt, policy: RetryPolicy, now: datetime
) -> None:
    """Store one attempt's outcome: delivered, or failed with the next attempt's time (or given up)."""
    with sessions() as session:
        if attempt.outcome is Outcome.DELIVERED:
            outbox.record_delivered(session, row_id=claimed.row_id, status=attempt.status or 200, now=now)
            return
        retry_at = policy.next_attempt(attempt=claimed.attempts + 1, created_at=claimed.created_at, now=now)
        outbox.record_failure(
            session, row_id=claimed.row_id, status=attempt.status, error=attempt.error, now=now, retry_at=retry_at
        )


def on_new_rows(sessions: sessionmaker[Session], wake: Callable[[], None]) -> None:
    """Call ``wake`` after each commit of a session made by ``sessions`` that added outbox rows."""
    key = (NEW_ROWS, object())  # this registration's own mark: several may watch one sessionmaker

    def flushed(session: Session, *_: object) -> None:
        if any(isinstance(obj, WebhookDelivery) for obj in session.new):
            session.info[key] = True

    def committed(session: Session) -> None:
        if session.info.pop(key, False):
            wake()

    def rolled_back(session: Session, *_: object) -> None:
        session.info.pop(key, None)

    event.listen(sessions, "before_flush", flushed)
    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_soft_rollback", rolled_back)
