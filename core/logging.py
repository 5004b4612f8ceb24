"""Logging setup: one format, a contextvar that stamps call_id on every record of a call, and redaction of
secrets and personal data (tokens, caller numbers, search text) from every line, the access log included."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

current_call: ContextVar[str] = ContextVar("current_call", default="-")

MASK = "***"


class CallIdFilter(logging.Filter):
    """Adds ``record.call_id`` from the current context."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = current_call.get()
        return True


# Query parameters whose values never reach a log: secrets (any ``...token``, ``api_key``, ``password``) and
# personal data (``caller`` and ``number``: a caller's phone number; ``q``: search text, which may hold names,
# addresses and numbers). A name counts only as a whole parameter name: ``faq=`` is not ``q=``.
_SENSITIVE_QUERY = re.compile(
    r"(?<![\w.-])(\w*token|api_key|\w*password|caller\w*|\w*number|q)=[^&\s\"']+", re.IGNORECASE
)
# Path segments that are a caller's number: /api/callers/{number}/history.
_CALLER_PATH = re.compile(r"(/api/callers/)[^/?#\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with secret and personal query values and caller numbers in paths replaced by ***."""
    text = _SENSITIVE_QUERY.sub(rf"\1={MASK}", text)
    return _CALLER_PATH.sub(rf"\1{MASK}", text)


class RedactFilter(logging.Filter):
    """Keeps access tokens (e.g. the live WebSocket's ``?token=``), caller numbers and search text out of every
    log line, uvicorn's access log included.

    String arguments are redacted one by one, so a record keeps its ``args`` for formatters that read them
    (uvicorn's own access formatter unpacks them); a value split between the format and an argument is caught
    on the formatted message, which then replaces both.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is the handler's business, not ours
            return True
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
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [call=%(call_id)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn.error", "uvicorn.access"):  # also for handlers other than ours
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())
