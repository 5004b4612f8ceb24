"""The API documentation page, /api/docs: Swagger UI served from callcard itself, under the pages' strict CSP.

FastAPI's own docs page loads Swagger UI from a CDN: an outside request, without an integrity check, from a
page on the app's origin. This one serves the vendored ``swagger-ui-dist`` files (api/web/vendor/swagger-ui,
with their licence) and a start script from /static, so the page makes no request outside the origin.
The application mounts ``router`` and passes ``docs_url=None`` to FastAPI.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.errors import ApiError
from api.web.pages import HEADERS, PAGES_DIR, WEB_DIR

DOCS_URL = "/api/docs"
VENDOR_DIR = WEB_DIR / "vendor" / "swagger-ui"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

router = APIRouter(include_in_schema=False)


@router.api_route(DOCS_URL, methods=["GET", "HEAD"], response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """Swagger UI over /api/openapi.json."""
    html = (PAGES_DIR / "api-docs.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=HEADERS)


@router.api_route(DOCS_URL + "/{asset}", methods=["GET", "HEAD"])
def api_docs_asset(asset: str) -> FileResponse:
    """One of Swagger UI's two files (nothing else from the vendored folder is served)."""
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise ApiError(404, f"There is no documentation asset {asset!r}.")
    return FileResponse(
        VENDOR_DIR / asset,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
