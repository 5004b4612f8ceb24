"""The login page's ``next``: only plain same-origin paths survive, on the server (safe_next and the /login
route); and the pages' role rules agree between api/web/pages.py and the pages' scripts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from api.web.pages import PAGE_ROLES, safe_next
from models.records import ROLES

JS = Path(__file__).resolve().parents[2] / "api" / "web" / "static" / "js"

PLAIN = (
    "/",
    "/registry",
    "/qa/12",
    "/desk#card",
    "/registry?q=%D0%B2%D1%8B%D0%B2%D0%BE%D0%B7+%D0%BC%D1%83%D1%81%D0%BE%D1%80&status=draft",
    "/registry?q=a%20b",  # a decoded "%20" is an ordinary space in a search
    "/registry?q=a%2Fb",  # a "/" further in is just a character of the search
    "/dashboard?from=2024-01-01&to=2024-01-31",
    "/login?next=/desk",
)
# As the server sees them: the query string already percent-decoded once.
HOSTILE = (
    "/\\example.org/phish",  # the next=/%5Cexample.org/phish
    "/\t/example.org/phish",  # the next=/%09/example.org/phish
    "//example.org",
    "//example.org/phish",
    "/\\\\example.org",
    "\\\\example.org",
    "/\\/example.org",
    "https://example.org/phish",
    "http:/example.org",
    "https:example.org",
    "HTTPS://example.org",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "example.org",
    "./example.org",
    " //example.org",
    "\t//example.org",
    "/\n/example.org",
    "/\r/example.org",
    "/\x00/example.org",
    "/x\x7f",
    "/\u2028/example.org",
    "/\u200b/example.org",
    "/\ufeff/example.org",
    "/ /example.org",
    "/%5Cexample.org/phish",  # encoded twice in the address
    "/%5cexample.org",
    "/%09/example.org/phish",
    "/%0A/example.org",
    "/%0d/example.org",
    "/%2F/example.org",
    "/%2f%2fexample.org",
    "%2F%2Fexample.org",
    "/%252F/example.org",
    "/%25255C/example.org",
    "/%2525252F/example.org",  # nested deeper than anyone would
    "/%E2%80%8B/example.org",
    "/%ff",  # not UTF-8
    "/registry\\..\\..",
    "/" + "a" * 2001,
    "",
)


@pytest.mark.parametrize("value", PLAIN)
def test_safe_next_keeps_plain_same_origin_paths(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_next_refuses_everything_else(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", [None, 17, b"/registry", ["/registry"]])
def test_safe_next_refuses_what_is_not_text(value: object) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    "query",
    [
        "next=/%5Cexample.org/phish",
        "next=/%09/example.org/phish",
        "next=//example.org",
        "next=/%5C%5Cexample.org",
        "next=https://example.org/phish",
        "next=https%3A%2F%2Fexample.org",
        "next=%2F%2Fexample.org",
        "next=/%255Cexample.org",
        "next=/%0A/example.org",
        "next=%09//example.org",
        "next=javascript:alert(1)",
        "next=/registry&next=//example.org",  # the browser reads the first, the server the last: refuse both
        "next=//example.org&next=/registry",
    ],
)
def test_the_login_page_drops_an_unsafe_next_before_it_is_served(client: Any, query: str) -> None:
    answer = client.get(f"/login?{query}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert "example.org" not in answer.text
    page = client.get(answer.headers["location"], follow_redirects=False)
    assert page.status_code == 200 and 'id="login-form"' in page.text


def test_the_login_page_keeps_a_safe_next(client: Any) -> None:
    for query, kept in (("", None), ("next=%2Fregistry", "/registry"), ("next=/qa/7%3Fx%3D1", "/qa/7?x=1")):
        answer = client.get(f"/login?{query}", follow_redirects=False)
        assert answer.status_code == 200, query
        assert 'id="change-form"' in answer.text
        if kept:
            assert parse_qs(urlsplit(str(answer.url)).query)["next"] == [kept]


def test_only_next_is_vetted_and_it_comes_once(client: Any) -> None:
    answer = client.get("/login?next=/desk&utm=%0A", follow_redirects=False)
    assert answer.status_code == 200  # other parameters are not read by the page
    several = client.get("/login?next=/desk&next=/desk", follow_redirects=False)
    assert several.status_code == 303 and several.headers["location"] == "/login"


def test_the_qa_page_is_refused_to_roles_that_do_not_correct(client: Any, make_user: Any) -> None:
    for role, status in (("operator", 403), ("supervisor", 403), ("qa", 200), ("admin", 200)):
        make_user(role, username=f"page-{role}", password="page-pass-109-x")
        login = client.post("/api/auth/login", json={"username": f"page-{role}", "password": "page-pass-109-x"})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        client.cookies.set("callcard_token", token)
        try:
            assert client.get("/qa/1").status_code == status, role
            for page in ("/desk", "/registry", "/dashboard"):
                assert client.get(page).status_code == 200, (role, page)
        finally:
            client.cookies.clear()


def _js_list(text: str, name: str) -> list[str]:
    match = re.search(rf"export const {name} = \[([^\]]*)\]", text)
    assert match, name
    return re.findall(r'"(\w+)"', match.group(1))


def test_the_pages_scripts_follow_page_roles() -> None:
    shell = (JS / "shell.js").read_text(encoding="utf-8")
    names = ("EVERY_ROLE", "QA_ROLES", "INBOX_ROLES", "MONITORING_ROLES")
    lists = {name: _js_list(shell, name) for name in names}
    assert sorted(lists["EVERY_ROLE"]) == sorted(set(ROLES) - {"executor"}), "the hotline's own people"
    expected = {"desk": "desk.html", "registry": "registry.html", "dashboard": "dashboard.html", "qa": "qa.html"}
    expected |= {"inbox": "inbox.html", "monitoring": "monitoring.html"}
    for script, page in expected.items():
        text = (JS / f"{script}.js").read_text(encoding="utf-8")
        match = re.search(r"startPage\(\{ page: \"[^\"]*\", roles: (\w+) \}\)", text)
        assert match, script
        assert sorted(lists[match.group(1)]) == sorted(PAGE_ROLES[page]), script
    assert set(PAGE_ROLES["qa.html"]) == {"qa", "admin"}  # a supervisor does not correct transcripts
    # Every role has a start page it may open, and a label in both languages.
    api = (JS / "api.js").read_text(encoding="utf-8")
    table = re.search(r"START_PAGES = \{([^}]*)\}", api)
    assert table
    start = dict(re.findall(r'(\w+): "(/\w+)"', table.group(1)))
    assert set(start) == set(ROLES)
    assert start["supervisor"] == "/registry"
    for role, path in start.items():
        assert role in PAGE_ROLES[f"{path.strip('/')}.html"], role
    i18n = (JS / "i18n.js").read_text(encoding="utf-8")
    for role in ROLES:
        assert len(re.findall(rf'^\s+"role\.{role}": "[^"]+",$', i18n, re.M)) == 2, role
