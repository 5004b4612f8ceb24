"""The HTML pages: static shells whose JS modules talk to the API; strict CSP, no outside requests."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.context import ApiContext
from api.deps import user_from_token
from api.errors import ApiError
from api.web.next_path import safe_next

__all__ = ["CSP", "HEADERS", "PAGE_ROLES", "router", "safe_next"]

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
# Which roles may open each signed-in page (checked here when the browser sends its token cookie, again by the
# page's script, and by the API behind it). A supervisor (monitoring department, shift lead) reads every call and
# card and edits and routes cards, but does not correct transcripts (QA) or manage users. An executor opens only
# its organisation's inbox. Each role's start page is homeFor() in static/js/api.js: operator the desk,
# supervisor and qa the registry, admin the dashboard, executor the inbox.
EVERY_ROLE = ("operator", "supervisor", "qa", "admin")
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "desk.html": EVERY_ROLE,
    "registry.html": EVERY_ROLE,
    "dashboard.html": EVERY_ROLE,
    "qa.html": ("qa", "admin"),
    "inbox.html": ("executor", "supervisor", "admin"),  # an organisation's cards (executors: their own only)
    "monitoring.html": ("supervisor", "admin"),  # routing queue, closing and reopening, deadlines
    "directory.html": ("admin",),  # organisations and routing rules
}

router = APIRouter(include_in_schema=False)


def _page(name: str, status_code: int = 200) -> HTMLResponse:
    html = (PAGES_DIR / name).read_text(encoding="utf-8")
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _refused(request: Request, name: str) -> bool:
    """True when the browser's token cookie names a user whose role may not open page ``name``."""
    roles = PAGE_ROLES.get(name)
    token = request.cookies.get(TOKEN_COOKIE)
    if roles is None or roles == EVERY_ROLE or not token:
        return False
    ctx: ApiContext = request.app.state.ctx
    try:
        with ctx.sessionmaker() as session:
            user = user_from_token(ctx, session, token)
    except ApiError:
        return False  # not signed in: the page itself sends the person to the login
    return user.role not in roles and user.role != "admin"


@router.api_route("/", response_class=HTMLResponse, methods=["GET", "HEAD"])
def index() -> HTMLResponse:
    """Sends a signed-in person to their role's start page, anyone else to the login."""
    return _page("index.html")


def _role_page(request: Request, name: str) -> HTMLResponse:
    """Page ``name``, or the "access refused" page for a signed-in role that may not open it."""
    if _refused(request, name):
        return _page("forbidden.html", status_code=403)
    return _page(name)


@router.api_route("/login", response_class=HTMLResponse, methods=["GET", "HEAD"])
def login(request: Request) -> Response:
    """The login form (and the forced password change). It is only ever served with a safe ``next``: any other
    ``next`` (an outside address, "/\\host", tabs, several values) is dropped by a redirect to plain /login."""
    wanted = request.query_params.getlist("next")
    if not wanted or (len(wanted) == 1 and safe_next(wanted[0]) == wanted[0]):
        return _page("login.html")
    target = safe_next(wanted[0]) if len(wanted) == 1 else "/"
    query = "" if target == "/" else "?" + urlencode({"next": target})
    return RedirectResponse(f"/login{query}", status_code=303, headers=HEADERS)


@router.api_route("/desk", response_class=HTMLResponse, methods=["GET", "HEAD"])
def desk(request: Request) -> HTMLResponse:
    """The operator desk: live calls, transcript and card."""
    return _role_page(request, "desk.html")


@router.api_route("/registry", response_class=HTMLResponse, methods=["GET", "HEAD"])
def registry(request: Request) -> HTMLResponse:
    """The registry of cards."""
    return _role_page(request, "registry.html")


@router.api_route("/dashboard", response_class=HTMLResponse, methods=["GET", "HEAD"])
def dashboard(request: Request) -> HTMLResponse:
    """The dashboard."""
    return _role_page(request, "dashboard.html")


@router.api_route("/inbox", response_class=HTMLResponse, methods=["GET", "HEAD"])
def inbox(request: Request) -> HTMLResponse:
    """An organisation's inbox: its executors accept, work on and report its cards."""
    return _role_page(request, "inbox.html")


@router.api_route("/monitoring", response_class=HTMLResponse, methods=["GET", "HEAD"])
def monitoring(request: Request) -> HTMLResponse:
    """The monitoring department: cards to route, resolved cards to close or reopen, deadlines per organisation."""
    return _role_page(request, "monitoring.html")


@router.api_route("/qa/{call_id}", response_class=HTMLResponse, methods=["GET", "HEAD"])
def qa_review(call_id: int, request: Request) -> HTMLResponse:
    """QA review of one call (qa, admin): an operator's or supervisor's browser gets 403 here and from the API."""
    return _role_page(request, "qa.html")


@router.api_route("/admin/directory", response_class=HTMLResponse, methods=["GET", "HEAD"])
def directory(request: Request) -> HTMLResponse:
    """Organisations and routing rules (admin): the tables, the file editor, check and apply."""
    return _role_page(request, "directory.html")


@router.api_route("/favicon.ico", methods=["GET", "HEAD"])
def favicon() -> Response:
    """Browsers ask for /favicon.ico; point them at the SVG icon."""
    return RedirectResponse("/static/favicon.svg", status_code=308)
