"""Legal holds and the retention policy's runs.

- ``PUT /api/cards/{id}/legal-hold`` {reason} (supervisors, admins): the retention policy removes nothing of the
  card's call (recordings, transcript, the appellant's number) until ``DELETE`` lifts the hold. Both audited.
- ``GET /api/admin/retention/runs`` (admins): each run of the policy, the policy as applied and what it removed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.access import LegalHolder, RetentionAdmin
from api.deps import SessionDep, end_reads
from api.errors import ApiError
from api.params import Offset, RecordId
from api.routes.cards import to_public
from api.schemas import CardPublic
from models.privacy import RetentionRun
from models.repo import legal_hold, retention
from models.repo.errors import InvalidTransition, RecordNotFound

router = APIRouter()


class LegalHoldIn(BaseModel):
    """Why the card's call must be kept (a court's request, a complaint under investigation)."""

    reason: str = Field(min_length=1, max_length=legal_hold.MAX_REASON, description="Why the data must be kept")


class RetentionRunPublic(BaseModel):
    """One run of the retention policy."""

    id: int
    started_at: datetime = Field(description="The moment the policy was applied at")
    finished_at: datetime | None
    state: Literal["running", "finished", "failed"]
    policy: dict[str, Any] = Field(description="Per kind: action, days and the cut-off applied")
    removed: dict[str, int] = Field(
        description="Calls whose recordings, transcripts and caller numbers were removed; files deleted, already "
        "missing and not deletable; calls skipped under a legal hold"
    )
    error: str | None

    @classmethod
    def of(cls, run: RetentionRun) -> RetentionRunPublic:
        return cls(
            id=run.id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            state=run.state,  # type: ignore[arg-type]
            policy=dict(run.policy or {}),
            removed=dict(run.removed or {}),
            error=run.error,
        )


class RetentionRunsPublic(BaseModel):
    data: list[RetentionRunPublic]
    total: int
    limit: int
    offset: int


@router.put("/cards/{card_id}/legal-hold", response_model=CardPublic, tags=["cards"])
def put_legal_hold(card_id: RecordId, body: LegalHoldIn, session: SessionDep, user: LegalHolder) -> CardPublic:
    """Put the card under a legal hold, or change the hold's reason (audited)."""
    try:
        card = legal_hold.set_legal_hold(
            session,
            card_id=card_id,
            reason=body.reason,
            actor=user.username,
            user_id=user.id,
            now=datetime.now(UTC),
        )
    except RecordNotFound as exc:
        raise ApiError(404, f"Card {card_id} does not exist.") from exc
    except ValueError as exc:
        raise ApiError(422, f"{str(exc).capitalize()}.") from exc
    return to_public(session, card)


@router.delete("/cards/{card_id}/legal-hold", response_model=CardPublic, tags=["cards"])
def delete_legal_hold(card_id: RecordId, session: SessionDep, user: LegalHolder) -> CardPublic:
    """Lift the card's legal hold (audited): the next retention run may remove its call's old data."""
    try:
        card = legal_hold.lift_legal_hold(
            session, card_id=card_id, actor=user.username, user_id=user.id, now=datetime.now(UTC)
        )
    except RecordNotFound as exc:
        raise ApiError(404, f"Card {card_id} does not exist.") from exc
    except InvalidTransition as exc:
        raise ApiError(409, f"{str(exc).capitalize()}.") from exc
    return to_public(session, card)


@router.get("/admin/retention/runs", response_model=RetentionRunsPublic, tags=["privacy"])
def list_retention_runs(
    session: SessionDep,
    _admin: RetentionAdmin,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> RetentionRunsPublic:
    """The retention policy's runs, newest first."""
    rows, total = retention.list_runs(session, limit=limit, offset=offset)
    end_reads(session)
    return RetentionRunsPublic(data=[RetentionRunPublic.of(r) for r in rows], total=total, limit=limit, offset=offset)
