"""ASGI middleware refusing, before any route runs, API input no route can take: text the databases cannot
store (the NUL character, unpaired UTF-16 surrogates) anywhere in the path, the query string or a JSON body
(422), request bodies that are not JSON (415) and bodies that are not UTF-8 (400).

PostgreSQL refuses NUL in text ("A string literal cannot contain NUL (0x00) characters") and neither database
driver can encode a lone surrogate, so without this check such input would reach the database as a 500.
Checking at the edge covers every route at once, including the ones added later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import STATUS_SENTENCES
from api.limits import replaying

API_PREFIX = "/api/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "contains the NUL character (\\u0000), which cannot be stored"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains an unpaired surrogate (\\ud800-\\udfff), which is not text"
    return None


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON value (object keys too), with where it is (e.g. "address.street")."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}.{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where != "body" else str(key)
            yield name, str(key)
            yield from _strings(item, name)


def _problem_in_query(query_string: bytes) -> tuple[str, str] | None:
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8"):
        for text in (name, value):
            why = _bad_text(text)
            if why:
                return name, why
    return None


def _problem_in_body(body: bytes) -> tuple[str, str] | None:
    # A raw NUL byte (or a raw surrogate) makes the body invalid JSON, which the route refuses with its own 422;
    # here only the escaped forms matter. The scan below runs only when the bytes could hold one.
    if b"\\u" not in body and b"\\U" not in body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's validation says so
    for where, text in _strings(parsed, "body"):
        why = _bad_text(text)
        if why:
            return where, why
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class InputGuard:
    """Refuse NUL and unpaired surrogates in the path, query or JSON body of /api requests (422), non-JSON
    request bodies (415) and bodies that are not UTF-8 (400); everything else passes through untouched."""

    def __init__(self, app: ASGIApp, uploads: Sequence[str] = ()) -> None:
        self.app = app
        # Paths (regular expressions) that take a multipart/form-data upload instead of JSON (photos).
        self.uploads = [re.compile(pattern) for pattern in uploads]

    def _takes_upload(self, path: str, content_type: str) -> bool:
        media = content_type.split(";", 1)[0].strip().lower()
        return media == "multipart/form-data" and any(p.fullmatch(path) for p in self.uploads)

    async def _refuse(self, send: Send, status: int, detail: str, field: str | None = None) -> None:
        payload: dict[str, Any] = {"detail": detail}
        if field is not None:
            payload["field"] = field
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        why = _bad_text(str(scope.get("path", "")))
        if why:
            await self._refuse(send, 422, f"The address {why}; remove it.", "path")
            return
        found = _problem_in_query(scope.get("query_string") or b"")
        if found:
            await self._refuse(send, 422, f"The query parameter {found[0]!r} {found[1]}; remove it.", found[0])
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        if body.strip():
            headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if self._takes_upload(str(scope.get("path", "")), content_type):
                await self.app(scope, replaying(body, receive), send)  # the route checks the file's bytes
                return
            if not _is_json(content_type):
                sent = f" (this request sent {content_type!r})" if content_type else ""
                await self._refuse(send, 415, STATUS_SENTENCES[415].rstrip(".") + sent + ".")
                return
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                await self._refuse(send, 400, "The request body is not UTF-8 text; send JSON encoded as UTF-8.")
                return
            found = _problem_in_body(body)
            if found:
                await self._refuse(send, 422, f"The field {found[0]!r} {found[1]}; remove it.", found[0])
                return
        await self.app(scope, replaying(body, receive), send)
