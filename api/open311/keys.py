"""Which organisation's system is asking: its ``api_key`` (models/repo/apikeys.py).

GeoReport v2 sends ``api_key`` as a parameter (the query string of a GET, the form body of a POST). callcard also
takes it as the password of HTTP Basic authentication (any user name), so a client that cannot add parameters to
its reads (the `georeport` package, which sends the key on no GET) can send it from a netrc file. A missing,
unknown or revoked key, or one of an inactive organisation, gets 403.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from api.open311.errors import Open311Error
from api.open311.params import Fields, check_text
from models.handover import Organisation
from models.repo import apikeys
from models.repo.cards import Actor

MAX_KEY_CHARS = 200
NO_KEY = "An api_key is required: send the key the city gave your organisation's system as 'api_key'."
BAD_KEY = "This api_key is not valid: it is unknown, revoked, or its organisation is inactive."


@dataclass(frozen=True, slots=True)
class Caller:
    """The organisation's system behind a valid key."""

    key_id: int
    key_name: str
    organisation: Organisation

    @property
    def actor(self) -> Actor:
        """Who changes cards in the audit trail: ``apikey:<name>``."""
        return Actor(name=f"apikey:{self.key_name}")


def _basic_password(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise Open311Error(403, "Only HTTP Basic authentication (the api_key as the password) is accepted here.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Open311Error(403, "The Authorization header is not valid Basic credentials.") from None
    return decoded.partition(":")[2] or None


def key_given(request: Request, *fields: Fields) -> str | None:
    """The api_key sent as a parameter (query string or form) or as the Basic password; 400 when two differ."""
    given = {f.values["api_key"] for f in fields if f.values.get("api_key")}
    password = _basic_password(request)
    if password:
        given.add(password)
    if len(given) > 1:
        raise Open311Error(400, "Two different api_keys were sent; send one.")
    if not given:
        return None
    return check_text("api_key", given.pop(), MAX_KEY_CHARS)


def authenticate(request: Request, session: Session, *fields: Fields) -> Caller:
    """The caller behind the request's api_key; 403 without a valid one."""
    key = key_given(request, *fields)
    if key is None:
        raise Open311Error(403, NO_KEY)
    found = apikeys.verify(session, key)
    if found is None:
        raise Open311Error(403, BAD_KEY)
    return Caller(key_id=found.id, key_name=found.name, organisation=found.organisation)
