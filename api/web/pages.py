"""The HTML pages: static shells whose JS modules talk to the API; strict CSP, no outside requests."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.context import ApiContext
from api.deps import user_from_token
from api.errors import ApiError

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent
PAGES_DIR = WEB_DIR / "pages"
STATIC_DIR = WEB_DIR / "static"
TOKEN_COOKIE = "callcard_token"  # set by the login page so media elements (audio Range requests) are signed in

# Everything comes from callcard itself: no CDN, no web font, no outside request of any kind.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Pages only some roles may open (checked here when the browser sends its token cookie, and again by the API).
PAGE_ROLES = {"qa.html": ("qa", "admin")}

router = APIRouter(include_in_schema=False)


def _page(name: str, status_code: int = 200) -> HTMLResponse:
    html = (PAGES_DIR / name).read_text(encoding="utf-8")
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _refused(request: Request, name: str) -> bool:
    """True when the browser's token cookie names a user whose role may not open page ``name``."""
    roles = PAGE_ROLES.get(name)
    token = request.cookies.get(TOKEN_COOKIE)
    if roles is None or not token:
        return False
    ctx: ApiContext = request.app.state.ctx
    try:
        with ctx.sessionmaker() as session:
            user = user_from_token(ctx, session, token)
    except ApiError:
        return False  # not signed in: the page itself sends the person to the login
    return user.role not in roles and user.role != "admin"


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    """Sends a signed-in person to their role's start page, anyone else to the login."""
    return _page("index.html")


@router.get("/login", response_class=HTMLResponse)
def login() -> HTMLResponse:
    """The login form."""
    return _page("login.html")


@router.get("/desk", response_class=HTMLResponse)
def desk() -> HTMLResponse:
    """The operator desk: live calls, transcript and card."""
    return _page("desk.html")


@router.get("/registry", response_class=HTMLResponse)
def registry() -> HTMLResponse:
    """The registry of cards."""
    return _page("registry.html")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    """The dashboard."""
    return _page("dashboard.html")


@router.get("/qa/{call_id}", response_class=HTMLResponse)
def qa_review(call_id: int, request: Request) -> HTMLResponse:
    """QA review of one call (qa, admin): an operator's browser gets 403 here and from the API."""
    if _refused(request, "qa.html"):
        return _page("forbidden.html", status_code=403)
    return _page("qa.html")


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico; point them at the SVG icon."""
    return RedirectResponse("/static/favicon.svg", status_code=308)
