"""create_app: the FastAPI application over an ApiContext: routers, JSON errors, body limit, OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.context import ApiContext
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.routes import auth, calls, cards, health, live, qa, stats, taxonomy, transfer, users
from api.security import LoginThrottle
from api.web import mount_web
from calls.messages import message_schema

# Routers mounted under /api. Add new resources here (the web helper's live, stats, QA routers too).
API_ROUTERS: list[APIRouter] = [
    auth.router,
    cards.router,
    calls.router,
    taxonomy.router,
    health.router,
    users.router,
    live.router,
    transfer.router,
    stats.router,
    qa.router,
]
# Routers mounted at the root (HTML pages, static files are mounted by whoever owns them).
PAGE_ROUTERS: list[APIRouter] = []


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
        docs_url="/api/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.ctx = ctx
    app.state.login_throttle = LoginThrottle()
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=ctx.settings.max_body_bytes)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api")
    for router in PAGE_ROUTERS:
        app.include_router(router)
    mount_web(app)
    app.openapi = lambda: _openapi_with_live_messages(app)  # type: ignore[method-assign]
    return app


def _openapi_with_live_messages(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the live WebSocket's message union (``LiveMessage``) in its components."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        live = message_schema()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in live.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["LiveMessage"] = live
        app.openapi_schema = schema
    return app.openapi_schema
