"""Caller numbers, search text and tokens never reach the log: uvicorn's real access log lines, as callcard
serves them (``log_config=None``, core.logging.setup_logging), and the rules of ``redact`` itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from core.logging import CallIdFilter, RedactFilter, redact, setup_logging

NUMBER = "+77015550101"
SEARCH = "водопровод Абая 45"


@pytest.fixture
def callcard_logging() -> Iterator[None]:
    """setup_logging as `callcard serve` calls it, undone afterwards (the root logger is the whole session's)."""
    root = logging.getLogger()
    before = list(root.handlers), root.level
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn.access")]
    kept = [(lg, list(lg.filters), list(lg.handlers), lg.propagate, lg.level) for lg in uvicorn_loggers]
    for lg in uvicorn_loggers:  # as in a fresh `callcard serve`: no uvicorn dictConfig ran (another test's may have)
        lg.handlers[:], lg.propagate = [], True
    setup_logging("INFO")
    try:
        yield
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
        for lg, filters, handlers, propagate, level in kept:
            lg.filters[:], lg.handlers[:], lg.propagate = filters, handlers, propagate
            lg.setLevel(level)


def test_the_access_log_masks_caller_numbers_search_text_and_tokens(
    ctx: Any, callcard_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import threading

    import uvicorn

    from api.app import create_app
    from tests.web.harness import free_port

    port = free_port()
    config = uvicorn.Config(  # as callcard.app.run_services configures it
        create_app(ctx), host="127.0.0.1", port=port, log_level="info", lifespan="on", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                if server.started:
                    break
                thread.join(0.05)
            http.get("/api/cards", params={"q": SEARCH, "caller": NUMBER, "status": "draft"})
            http.get(f"/api/callers/{quote(NUMBER)}/history", params={"limit": 5})
            http.get("/api/calls", params={"number": NUMBER, "token": "eyJhbGciOi.secret.sig"})
    finally:
        server.should_exit = True
        thread.join(15)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 3, lines
    text = "\n".join(lines)
    for secret in (NUMBER, NUMBER[1:], "77015550101", quote(SEARCH), "eyJhbGciOi", "%D0%B2%D0%BE"):
        assert secret not in text, f"{secret!r} reached the access log:\n{text}"
    assert "/api/cards?q=***&caller=***&status=draft" in lines[0]
    assert "/api/callers/***/history?limit=5" in lines[1]
    assert "/api/calls?number=***&token=***" in lines[2]
    assert all('" 401' in line for line in lines), "the rest of the line (status) is kept"


def test_redact_masks_whole_parameter_names_only() -> None:
    assert redact("GET /api/cards?q=%D0%B2&faq=1&caller=%2B7701&caller_number=1 HTTP/1.1") == (
        "GET /api/cards?q=***&faq=1&caller=***&caller_number=*** HTTP/1.1"
    )
    assert redact("/api/callers/+77015550101") == "/api/callers/***"
    assert redact("ws://h/api/live?access_token=abc&page=2") == "ws://h/api/live?access_token=***&page=2"
    assert redact("nothing here: sequence=4 quality=good") == "nothing here: sequence=4 quality=good"


def test_a_redacted_access_record_keeps_its_arguments_for_uvicorns_own_formatter() -> None:
    from uvicorn.logging import AccessFormatter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/callers/{NUMBER}/history?q=x", "1.1", 200),
        None,
    )
    assert RedactFilter().filter(record) and CallIdFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == '127.0.0.1:5000 - "GET /api/callers/***/history?q=*** HTTP/1.1" 200 OK'


def test_a_secret_split_between_format_and_argument_is_still_masked() -> None:
    record = logging.LogRecord("callcard", logging.INFO, __file__, 1, "asked with caller=%s", (NUMBER,), None)
    RedactFilter().filter(record)
    assert record.getMessage() == "asked with caller=***"
