"""JSON errors a person can read: the ApiError exception and the handlers create_app installs."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import TaxonomyError
from models.repo.errors import DuplicateRecord, InvalidTransition, RecordNotFound, StaleVersion

logger = logging.getLogger(__name__)

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
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")} for e in exc.errors()
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

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:8]
        logger.exception("unhandled error on %s %s (ref %s)", request.method, request.url.path, ref)
        return _json(500, f"Something went wrong on the server; it was logged with reference {ref}.", ref=ref)
