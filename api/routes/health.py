"""Liveness (the process answers) and readiness (database, taxonomy, wired components).

Readiness is open to anyone (load balancers, monitoring), but its details (file paths, bind addresses, model
versions, error texts) are for admins: an admin's bearer token gets the full report, anyone else the overall
status and each part's status word.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.context import ApiContext, StatusProbe
from api.deps import CtxDep, user_from_token
from api.errors import ApiError
from api.schemas import Health, Ready

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])
PROBE_TIMEOUT_S = 2.0  # a probe that asks over the network (ARI) must not hang readiness
_optional_bearer = HTTPBearer(auto_error=False, description="An admin's token shows the full report")


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up (no dependencies checked)."""
    return Health()


def _database(ctx: ApiContext) -> dict[str, Any]:
    database: dict[str, Any] = {"backend": None, "status": "down"}
    started = time.perf_counter()
    try:
        with ctx.sessionmaker() as session:
            database["backend"] = session.get_bind().dialect.name
            session.execute(text("SELECT 1"))
        database["status"] = "ok"
        database["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    except Exception as exc:  # readiness reports failures, it does not raise them
        logger.warning("readiness: database check failed: %s", exc)
        database["error"] = type(exc).__name__
    return database


async def _probe(name: str, probe: StatusProbe) -> dict[str, Any]:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return dict(await probe())
    except TimeoutError:
        return {"status": "error", "error": f"no answer within {PROBE_TIMEOUT_S:g} s"}
    except Exception as exc:  # a broken probe is itself a status
        logger.warning("readiness: %s probe failed: %s", name, exc)
        return {"status": "error", "error": str(exc)}


def _is_admin(ctx: ApiContext, token: str | None) -> bool:
    """Whether ``token`` is a valid token of an active admin; never raises (no token, a bad one or an
    unreachable database all mean: not an admin)."""
    if not token:
        return False
    try:
        with ctx.sessionmaker() as session:
            return user_from_token(ctx, session, token).role == "admin"
    except (ApiError, SQLAlchemyError):
        return False


def _status_only(part: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a part: its status word."""
    return {"status": part.get("status", "unknown")}


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready}})
async def ready(
    ctx: CtxDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)]
) -> Any:
    """Whether the service can work: database reachable, taxonomy loaded; ASR/classifier status as wired, and
    for telephony whether ARI is connected now and the dialplan has callcard's contexts (checked through ARI,
    cached briefly).

    Open to anyone, who sees ``ready`` and each part's ``status``; with an admin's bearer token, every detail.
    """
    admin = await run_in_threadpool(_is_admin, ctx, credentials.credentials if credentials else None)
    database = await run_in_threadpool(_database, ctx)
    tax = ctx.taxonomy
    taxonomy = {
        "status": "ok",
        "version": tax.version,
        "source": tax.source,
        "topics": len(tax.topics),
        "services": len(tax.services),
        "districts": len(tax.districts),
    }
    components: dict[str, dict[str, Any]] = {}
    for name in ("asr", "classifier", "telephony"):
        components[name] = {"status": "not configured"}
    for name, reporter in ctx.components.items():
        try:
            components[name] = dict(reporter())
        except Exception as exc:  # a broken reporter is itself a status
            components[name] = {"status": "error", "error": str(exc)}
    names = list(ctx.probes)
    answers = await asyncio.gather(*(_probe(name, ctx.probes[name]) for name in names))
    for name, answer in zip(names, answers, strict=True):
        base = components.get(name, {})
        if base.get("status") == "not configured":
            base = {}
        components[name] = {**base, **answer}
    is_ready = database["status"] == "ok"
    if not admin:
        database, taxonomy = _status_only(database), _status_only(taxonomy)
        components = {name: _status_only(part) for name, part in components.items()}
    body = Ready(ready=is_ready, database=database, taxonomy=taxonomy, components=components)
    if is_ready:
        return body
    return JSONResponse(body.model_dump(mode="json") | {"detail": "The database cannot be reached."}, status_code=503)
