"""create_app: the FastAPI application over an ApiContext: routers, JSON errors, input guards, OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from api.context import ApiContext
from api.errors import install_error_handlers
from api.input_guard import InputGuard
from api.limits import BodySizeLimit
from api.open311.app import OPEN311_PREFIX, create_open311_app
from api.openapi import build_openapi
from api.routes import (
    asr_quality,
    auth,
    calls,
    cards,
    claim,
    directory,
    health,
    inbox,
    legal_hold,
    live,
    organisations,
    privacy,
    qa,
    qa_review,
    qa_rules,
    stats,
    taxonomy,
    transfer,
    users,
    webhooks,
)
from api.routes.inbox import PHOTO_UPLOAD_PATH
from api.throttle import LoginLimits
from api.web import docs as api_docs
from api.web import mount_web
from calls.messages import message_schema
from handover.photos import MAX_PHOTO_BYTES

API_PREFIX = "/api"
# Routers mounted under /api. Add new resources here (the web helper's live, stats, QA routers too).
API_ROUTERS: list[APIRouter] = [
    auth.router,
    cards.router,
    calls.router,
    taxonomy.router,
    health.router,
    users.router,
    live.router,
    claim.router,
    transfer.router,
    stats.router,
    asr_quality.router,
    qa.router,
    privacy.router,
    qa_review.router,
    qa_rules.router,
    organisations.router,
    inbox.router,
    webhooks.router,
    directory.router,
    legal_hold.router,
]
# Routers mounted at the root (HTML pages, static files are mounted by whoever owns them).
# Routers mounted at the root: the OpenAPI docs page, served with its assets from the package (no CDN).
PAGE_ROUTERS: list[APIRouter] = [api_docs.router]


def _operation_id(route: APIRoute) -> str:
    """Stable OpenAPI operation ids (tag_function), so generated clients keep their names."""
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{tag}_{route.name}"


def create_app(ctx: ApiContext) -> FastAPI:
    """The HTTP application: JSON API under /api, OpenAPI at /api/openapi.json and docs at /api/docs."""
    app = FastAPI(
        title="callcard",
        summary="Registry and live operator desk of a city's 109 hotline",
        version="0.1.0",
        openapi_url="/api/openapi.json",
        docs_url=None,  # api.web.docs serves /api/docs from vendored assets under the pages' CSP
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.ctx = ctx
    app.state.login_throttle = LoginLimits()  # the rules; the counts are in the database (api/throttle.py)
    install_error_handlers(app)
    # The last middleware added runs first: the size limit, then the input guard (NUL, non-JSON bodies).
    app.add_middleware(InputGuard, uploads=[PHOTO_UPLOAD_PATH])
    app.add_middleware(
        BodySizeLimit,
        max_bytes=ctx.settings.max_body_bytes,
        larger=[(PHOTO_UPLOAD_PATH, MAX_PHOTO_BYTES + 64 * 1024)],
    )
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    # Open311 GeoReport v2 (docs/open311.md): its own small application, with GeoReport's error lists.
    app.mount(OPEN311_PREFIX, create_open311_app(ctx), name="open311")
    mount_web(app)
    app.openapi = lambda: _openapi_document(app, ctx)  # type: ignore[method-assign]
    return app


def _openapi_document(app: FastAPI, ctx: ApiContext) -> dict[str, Any]:
    """The OpenAPI document (api.openapi.build_openapi), built once, with the live WebSocket's message union
    (``LiveMessage``) in its components."""
    if app.openapi_schema is None:
        live = message_schema()
        extra: dict[str, Any] = live.pop("$defs", {})
        extra["LiveMessage"] = live
        app.openapi_schema = build_openapi(app, API_ROUTERS, API_PREFIX, ctx.taxonomy, extra)
    return app.openapi_schema
