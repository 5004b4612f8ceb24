"""The browser UI: HTML pages (api.web.pages) and their static assets (api/web/static), served by callcard."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web.pages import STATIC_DIR, router

__all__ = ["mount_web", "router"]


def mount_web(app: FastAPI) -> None:
    """Serve the pages at /, /login, /desk, /registry, /qa/{call_id}, /dashboard and assets under /static."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
