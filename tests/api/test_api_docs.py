"""/api/docs is Swagger UI served by callcard itself: only same-origin URLs, a strict CSP, and in chromium the
page renders the API's operations without a single request outside the origin or a CSP violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ATTRIBUTE_URL = re.compile(r'\b(?:src|href|action)\s*=\s*["\']([^"\']*)["\']', re.IGNORECASE)


def test_the_docs_page_references_only_same_origin_urls_under_a_strict_csp(client: Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    urls = ATTRIBUTE_URL.findall(page.text)
    assert urls, "the page loads Swagger UI from somewhere"
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{url} is not a same-origin path"
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
        assert client.head(url).status_code == 200, url
    assert "<script>" not in page.text.replace(" ", ""), "an inline script would need 'unsafe-inline'"
    assert client.get("/api/docs/LICENSE.txt").status_code == 404, "only Swagger UI's two files are served"


def test_the_openapi_document_is_still_served(client: Any) -> None:
    assert client.get("/api/openapi.json").json()["info"]["title"] == "callcard"


@pytest.mark.browser
def test_swagger_ui_renders_in_chromium_without_outside_requests(ctx: Any, tmp_path: Path) -> None:
    from api.app import create_app
    from tests.web.harness import LiveServer, external_requests, make_driver, wait_for

    server = LiveServer(create_app(ctx))
    server.start()
    driver = make_driver(tmp_path / "profile")
    try:
        driver.get(f"{server.url}/api/docs")
        wait_for(driver, lambda d: len(d.find_elements("css selector", ".opblock")) > 10, what="operations shown")
        assert "/api/auth/login" in driver.page_source
        assert external_requests(driver, server.url) == []
        violations = [
            e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")
        ]
        assert violations == []
    finally:
        driver.quit()
        server.stop()
