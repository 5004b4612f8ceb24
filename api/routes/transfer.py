"""POST /api/live/{call_key}/transfer: the emergency transfer of a live call, by its key, database or not.

The desk always knows a live call's key (Asterisk's uniqueid), even when the database was down as the call
started and no card exists. The transfer goes to Asterisk at once; the attempt and its outcome go through the
durable path (stored now, or spooled and stored when the database is back), so a database outage neither delays
an emergency nor loses its record.
"""

from __future__ import annotations

import asyncio
import logging
import time as clock
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from api.context import ApiContext
from api.deps import CtxDep, EmergencyCaller, EmergencyUser
from api.errors import ApiError
from api.policy import Action, CallFacts, Outcome, Role, Viewer, decide
from api.schemas import CardTransfer, TransferFailed
from api.transfer_errors import no_telephony, transfer_failed
from api.validation import check_emergency_code
from calls.apply import apply_write
from calls.writes import RecordTransfer
from models.records import Call

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

TRANSFER_BUDGET_S = 1.8  # the operator sees the outcome within 2 s

CallKeyPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=150,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The call's key: Asterisk's uniqueid of the caller's channel (`call_key` of the live feed).",
    ),
]


class TransferDone(BaseModel):
    """The caller was SEEN at the emergency service."""

    call_key: str
    call_id: int | None = Field(description="The call's database id; null while the database is unreachable")
    code: str
    destination: str = Field(description='"context,exten,priority" where Asterisk showed the caller')
    method: str = Field(description='"continue" (caller still in Stasis) or "redirect" (via a Local channel)')
    elapsed_s: float
    recorded: bool = Field(description="False: the database was unreachable; the record is spooled and lands later")


def _check_call(ctx: ApiContext, key: str, who: EmergencyCaller) -> int | None:
    """The call's id when the database answers (409 if it ended or another operator has it); None otherwise."""
    try:
        with ctx.sessionmaker() as session:
            row = session.execute(select(Call.id, Call.state, Call.operator_id).where(Call.uniqueid == key)).first()
    except SQLAlchemyError as exc:
        logger.warning("call %s: database unreachable (%s); transferring without checking it", key, exc)
        return None
    if row is None:
        return None  # the database has not taken the call yet (its start is spooled): Asterisk is the judge
    call_id, state, operator_id = row
    decision = decide(
        Viewer(who.user_id, Role(who.role)),
        Action.TRANSFER_CALL,
        now=datetime.now(UTC),
        call=CallFacts(state=state, operator_id=operator_id, ended_at=None),
    )
    if not decision.allowed:
        raise ApiError(409 if decision.outcome is Outcome.CONFLICT else 403, f"Call {key}: {decision.reason}")
    return int(call_id)


async def _record(ctx: ApiContext, write: RecordTransfer) -> bool:
    """Hand the record to the durable path; True when it is stored already, False when it waits in the spool."""
    if ctx.writer is not None:
        future = ctx.writer.enqueue(write)
        try:
            return await asyncio.wait_for(asyncio.shield(future), 0.5) is not None
        except TimeoutError:
            return False
        except Exception:
            logger.exception("call %s: the transfer record could not be handed over", write.call_key)
            return False

    def direct() -> bool:
        with ctx.sessionmaker() as session:
            return apply_write(session, write, lambda key, call_id: None) is not None

    try:
        return await run_in_threadpool(direct)
    except SQLAlchemyError:
        logger.exception("call %s: the transfer record could not be stored", write.call_key)
        return False


@router.post(
    "/live/{call_key}/transfer",
    response_model=TransferDone,
    responses={
        502: {"model": TransferFailed, "description": "The caller was not moved: dial the service by hand."},
        504: {"model": TransferFailed, "description": "No outcome within the deadline: dial the service by hand."},
    },
)
async def transfer_live_call(
    call_key: CallKeyPath, body: CardTransfer, ctx: CtxDep, who: EmergencyUser
) -> TransferDone:
    """Move the live caller to emergency service ``code`` (101..104); 200 only once the caller was SEEN there.

    Works while the database is down (the signed token vouches for the operator; the record is spooled).
    Otherwise 502 (or 504 when no outcome came within the deadline) with a sentence ending "Dial <code> by
    hand.". The attempt and its outcome are both audited on the call's card.
    """
    check_emergency_code(ctx.taxonomy, body.code)
    if ctx.transfer is None:
        raise no_telephony(body.code)
    call_id = await run_in_threadpool(_check_call, ctx, call_key, who)
    record = RecordTransfer(
        call_key=call_key,
        code=body.code,
        status="attempt",
        at=datetime.now(UTC),
        actor=who.username,
        user_id=who.user_id,
    )
    attempt = asyncio.ensure_future(_record(ctx, record))  # never in the way of the transfer itself
    started = clock.monotonic()
    try:
        async with asyncio.timeout(TRANSFER_BUDGET_S):
            outcome = await ctx.transfer.transfer(uniqueid=call_key, code=body.code)
    except TimeoutError:
        took = round(clock.monotonic() - started, 3)
        detail = f"Asterisk did not show the caller at {body.code} within {TRANSFER_BUDGET_S:g} s"
        await attempt
        await _record(ctx, _outcome(record, "failed", reason="timeout", detail=detail, elapsed_s=took))
        raise transfer_failed(504, body.code, "timeout", detail, took) from None
    await attempt
    if not outcome.transferred:
        logger.warning("call %s: transfer to %s failed (%s): %s", call_key, body.code, outcome.reason, outcome.detail)
        await _record(
            ctx,
            _outcome(record, "failed", reason=outcome.reason, detail=outcome.detail, elapsed_s=outcome.elapsed_s),
        )
        status_code = 504 if outcome.timed_out else 502
        raise transfer_failed(status_code, body.code, outcome.reason, outcome.detail, outcome.elapsed_s)
    recorded = await _record(
        ctx,
        _outcome(
            record,
            "transferred",
            method=outcome.method,
            destination=outcome.destination,
            elapsed_s=outcome.elapsed_s,
        ),
    )
    logger.info("call %s transferred to %s by %s (recorded: %s)", call_key, body.code, who.username, recorded)
    return TransferDone(
        call_key=call_key,
        call_id=call_id,
        code=body.code,
        destination=outcome.destination,
        method=outcome.method,
        elapsed_s=outcome.elapsed_s,
        recorded=recorded,
    )


def _outcome(
    attempt: RecordTransfer,
    status: str,
    *,
    reason: str = "",
    detail: str = "",
    method: str = "",
    destination: str = "",
    elapsed_s: float = 0.0,
) -> RecordTransfer:
    return RecordTransfer(
        call_key=attempt.call_key,
        code=attempt.code,
        status="transferred" if status == "transferred" else "failed",
        at=datetime.now(UTC),
        actor=attempt.actor,
        user_id=attempt.user_id,
        method=method,
        destination=destination,
        reason=reason,
        detail=detail,
        elapsed_s=elapsed_s,
    )
