"""Claiming a call (POST /api/calls/{id}/claim): the call becomes one operator's, as the access policy allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import or_, select, update

from api.access import allow, enforce
from api.deps import CtxDep, SessionDep, publish
from api.errors import ApiError
from api.params import RecordId
from api.policy import LIVE_STATES, Action
from api.schemas import CallPublic
from calls.messages import CallClaimedMessage
from models.records import Call, Card, User
from models.repo import audit

router = APIRouter(tags=["live"])


@router.post("/calls/{call_id}/claim", response_model=CallPublic)
def claim_call(
    call_id: RecordId, ctx: CtxDep, session: SessionDep, user: Annotated[User, Depends(allow(Action.CLAIM_CALL))]
) -> CallPublic:
    """Take a live call: it becomes this operator's, and other operators' desks stop showing it.

    Claiming a call one already has is harmless; a call another operator has, or a call that has ended, is
    refused with 409 (api.policy: only live calls nobody has taken can be taken).
    """
    call = session.get(Call, call_id)
    if call is None:
        raise ApiError(404, f"Call {call_id} does not exist.")
    enforce(user, Action.CLAIM_CALL, call=call)
    if call.operator_id == user.id:  # already this operator's: nothing changes, nothing to announce
        return CallPublic.of(call, session.scalar(select(Card.id).where(Card.call_id == call_id)))
    # The same rule, atomically: the call is still live and still nobody's when the row changes.
    result = session.execute(
        update(Call)
        .where(
            Call.id == call_id,
            Call.state.in_(LIVE_STATES),
            or_(Call.operator_id.is_(None), Call.operator_id == user.id),
        )
        .values(operator_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        session.refresh(call)
        enforce(user, Action.CLAIM_CALL, call=call)  # says why: ended, or taken meanwhile
        raise ApiError(409, f"Call {call_id} changed while you took it; reload it.")
    audit.record(
        session,
        actor=user.username,
        user_id=user.id,
        entity="call",
        entity_id=call_id,
        action="claim",
        after={"operator_id": user.id},
    )
    session.commit()
    call = session.get(Call, call_id)
    assert call is not None
    session.refresh(call)
    card_id = session.scalar(select(Card.id).where(Card.call_id == call_id))
    publish(
        ctx, CallClaimedMessage(call_key=call.uniqueid, call_id=call_id, operator_id=user.id, operator=user.username)
    )
    return CallPublic.of(call, card_id)
