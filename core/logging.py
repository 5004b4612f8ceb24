"""Logging setup: one format, and a contextvar that stamps call_id on every record of a call."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

current_call: ContextVar[str] = ContextVar("current_call", default="-")


class CallIdFilter(logging.Filter):
    """Adds ``record.call_id`` from the current context."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = current_call.get()
        return True


_SECRET_QUERY = re.compile(r"((?:token|api_key|password)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with token/api_key/password query values replaced by ***."""
    return _SECRET_QUERY.sub(r"\1***", text)


class RedactFilter(logging.Filter):
    """Keeps access tokens (e.g. the live WebSocket's ``?token=``) out of every log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(f, CallIdFilter) for h in root.handlers for f in h.filters):
        root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.addFilter(CallIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [call=%(call_id)s] %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn.error", "uvicorn.access"):  # also for handlers other than ours
        logging.getLogger(name).addFilter(RedactFilter())
