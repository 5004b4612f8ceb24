"""GeoReport v2's errors: a list of {"code": <HTTP status>, "description": "<sentence>"}, in the path's format.

``Open311Error`` is raised by the Open311 routes; ``install_open311_errors`` turns it, FastAPI's own refusals
(an unknown path 404, a wrong method 405) and anything unexpected (500, logged with a reference) into that list.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.open311.render import format_of, render
from api.open311.schemas import ErrorItem

logger = logging.getLogger(__name__)


class Open311Error(Exception):
    """An Open311 refusal: the HTTP status and a sentence for people."""

    def __init__(self, status_code: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.description = description
        self.headers = headers


def error_response(request: Request, status_code: int, description: str) -> Response:
    """The error list as the path's format asks."""
    return render(
        [ErrorItem(code=status_code, description=description)],
        format_of(request.url.path),
        root="errors",
        status_code=status_code,
    )


def install_open311_errors(app: FastAPI) -> None:
    """Every answer of ``app`` other than a success is GeoReport's error list."""

    @app.exception_handler(Open311Error)
    async def open311_error(request: Request, exc: Open311Error) -> Response:
        response = error_response(request, exc.status_code, exc.description)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            sentence = f"There is nothing at {request.url.path}; see /open311/v2/discovery.json."
        elif exc.status_code == 405:
            sentence = f"{request.url.path} does not accept {request.method}."
        else:
            sentence = str(exc.detail)
        return error_response(request, exc.status_code, sentence)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 400, "The request is not valid: " + str(exc.errors()[0].get("msg", "")) + ".")

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        response = error_response(request, 503, "The database did not answer; try again in a moment.")
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:8]
        logger.exception("unhandled error on %s %s (ref %s)", request.method, request.url.path, ref)
        return error_response(request, 500, f"Something went wrong on the server; it was logged with reference {ref}.")
