"""JSON errors a person can read: the ApiError exception and the handlers create_app installs."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import TaxonomyError
from models.repo.errors import DuplicateRecord, InvalidTransition, RecordNotFound, StaleVersion

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 2  # how long a client should wait after a 503 (the database did not answer)
STATUS_SENTENCES = {
    400: "The request is not valid.",
    401: "You need to log in first.",
    403: "Your role may not do this.",
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
    409: "This conflicts with the record's current state.",
    413: "The request body is too large.",
    415: "Send the body as JSON (Content-Type: application/json).",
    422: "Some of the data sent is not valid.",
    429: "Too many requests; wait a little and try again.",
    500: "Something went wrong on the server.",
    503: "The service is not available right now.",
}


class FieldProblem(BaseModel):
    """One field a 422 refused: where it is (``loc``, e.g. ["body", "address", "district"]), why, and the kind."""

    loc: list[str | int] = Field(description="Where the value is: body/query/path, then field names and indexes")
    msg: str = Field(description="What is wrong with it, in English")
    type: str | None = Field(default=None, description="The kind of problem, e.g. missing, string_too_long")


class ApiErrorBody(BaseModel):
    """Every error the API answers with: a sentence for people in ``detail``, sometimes with fields that help.

    422 answers to malformed input list each refused field in ``errors``; answers about one field name it in
    ``field`` (with the ids it accepts in ``allowed``); 500 answers give the log reference ``ref``.
    """

    model_config = ConfigDict(extra="allow")

    detail: str = Field(description="A sentence for people saying what went wrong and, where it can, what to do")
    errors: list[FieldProblem] | None = Field(default=None, description="Each refused field (422)")
    field: str | None = Field(default=None, description="The field the answer is about")
    allowed: list[str] | None = Field(default=None, description="The values that field accepts")
    code: str | None = Field(default=None, description="A code the answer is about, e.g. an emergency service")
    ref: str | None = Field(default=None, description="Reference of the server's log entry (500)")


class ApiError(Exception):
    """An HTTP error with a sentence for people and optional extra JSON fields (raised only in api/)."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        self.extra = extra


def _json(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_sentence(errors: list[dict[str, Any]]) -> str:
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = next((e.get("ctx") or {} for e in errors if e.get("type") == "json_invalid"), {})
        return f"The request body is not valid JSON ({ctx.get('error', 'could not parse it')})."
    parts = []
    for e in errors[:5]:
        where = _loc(e.get("loc", ()))
        msg = str(e.get("msg", "is not valid"))
        if e.get("type") == "extra_forbidden":
            msg = "is not a field you can send here"
        elif e.get("type") == "missing":
            msg = "is required"
        parts.append(f"{where}: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "Some of the data sent is not valid: " + "; ".join(parts) + more + "."


def install_error_handlers(app: FastAPI) -> None:
    """Turn every error into JSON {"detail": "<sentence>", ...}."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status_code, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is nothing at {request.url.path}."
        elif not isinstance(detail, str) or detail in ("Method Not Allowed", "Unauthorized", "Forbidden"):
            detail = STATUS_SENTENCES.get(exc.status_code, str(detail))
        return _json(exc.status_code, str(detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [part if isinstance(part, int) else str(part) for part in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "value_error")),
            }
            for e in exc.errors()
        ]
        return _json(422, _validation_sentence(list(exc.errors())), errors=errors)

    # Domain errors carry a sentence for people; each kind maps to one status.
    statuses: dict[type[Exception], int] = {
        RecordNotFound: 404,
        InvalidTransition: 409,
        StaleVersion: 409,
        DuplicateRecord: 409,
        TaxonomyError: 422,
    }

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        status = next(code for kind, code in statuses.items() if isinstance(exc, kind))
        return _json(status, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")

    for kind in statuses:
        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return _json(
            503, "The database did not answer; try again in a moment.", headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:8]
        logger.exception("unhandled error on %s %s (ref %s)", request.method, request.url.path, ref)
        return _json(500, f"Something went wrong on the server; it was logged with reference {ref}.", ref=ref)
