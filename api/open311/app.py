"""The Open311 application: GeoReport v2's routes with GeoReport's errors, mounted by api.app at /open311/v2."""

from __future__ import annotations

from fastapi import FastAPI

from api.context import ApiContext
from api.open311.errors import install_open311_errors
from api.open311.routes import OPEN311_PREFIX, router

__all__ = ["OPEN311_PREFIX", "create_open311_app"]


def create_open311_app(ctx: ApiContext) -> FastAPI:
    """GeoReport v2 over the same context as the API. Its specification is GeoReport v2 itself and
    docs/open311.md (the paths are not in /api/openapi.json: their errors and forms are not the /api's)."""
    app = FastAPI(title="callcard Open311", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    install_open311_errors(app)
    app.include_router(router)
    return app
