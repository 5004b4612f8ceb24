"""Answers in GeoReport v2's two formats: JSON (lists and objects as they are) and XML (xmltodict, with the root and
item element names the specification gives: services/service, service_requests/request, errors/error, ...)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import xmltodict
from fastapi.responses import Response
from pydantic import BaseModel


class Format(StrEnum):
    """The answer's format: the path's suffix (services.json, services.xml)."""

    JSON = "json"
    XML = "xml"


MEDIA_TYPES = {Format.JSON: "application/json", Format.XML: "text/xml; charset=utf-8"}
# A list's XML element name -> the name of each item's element.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def format_of(path: str) -> Format:
    """The format a path asks for: XML when it ends in .xml, else JSON (also for errors before routing)."""
    return Format.XML if path.lower().endswith(".xml") else Format.JSON


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _xmlify(value: Any, name: str) -> Any:
    """The value as xmltodict's input: a list becomes {item name: [items]}; None an empty element."""
    if isinstance(value, list):
        item = ITEM_NAMES.get(name, "item")
        return {item: [_xmlify(v, item) for v in value]} if value else None
    if isinstance(value, dict):
        return {key: _xmlify(v, key) for key, v in value.items()}
    return value


def render(value: Any, fmt: Format, *, root: str, status_code: int = 200) -> Response:
    """``value`` (a model, a list of models, or plain JSON data) as ``fmt``; ``root`` names the XML document's root
    element (e.g. "services"; for a list, its items get ITEM_NAMES[root])."""
    data = _plain(value)
    if fmt is Format.XML:
        text = xmltodict.unparse({root: _xmlify(data, root)}, full_document=True, encoding="utf-8")
        return Response(text.encode("utf-8"), status_code=status_code, media_type=MEDIA_TYPES[fmt])
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status_code, media_type=MEDIA_TYPES[fmt])
