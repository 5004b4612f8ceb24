"""Where the login page may send a person afterwards: only a plain path on callcard's own origin."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

HOME = "/"
MAX_LENGTH = 2000  # longer than any address the pages build
DECODE_ROUNDS = 4  # "%25255C" hides a "\" three levels deep; anything still encoded after this is refused


def safe_next(value: object) -> str:
    """``value`` when it is a plain same-origin path ("/registry?q=x"), else "/".

    Refused, raw or percent-encoded to any depth: anything not starting with exactly one "/" (absolute and
    protocol-relative addresses, "/\\host", "/%5Chost"), backslashes, whitespace and control characters anywhere
    (browsers drop tabs and newlines inside an address, so "/<tab>/host" becomes "//host"), format characters,
    and escapes that do not decode to UTF-8.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return HOME
    form = value
    for depth in range(DECODE_ROUNDS):
        if not _plain_path(form, decoded=depth > 0):
            return HOME
        try:
            decoded = unquote(form, errors="strict")
        except UnicodeDecodeError:
            return HOME
        if decoded == form:
            return value
        form = decoded
    return HOME


def _plain_path(text: str, *, decoded: bool) -> bool:
    """One leading "/", no backslash, control, format or space character (a decoded "%20" may stay), and no
    scheme or host."""
    if not text.startswith("/") or text[1:2] in ("/", "\\"):
        return False
    allowed = " " if decoded else ""
    if any(ch == "\\" or (unicodedata.category(ch)[0] in ("C", "Z") and ch not in allowed) for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc
