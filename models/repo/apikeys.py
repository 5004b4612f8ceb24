"""Data functions for the organisations' API keys (Open311's ``api_key``): issue, verify, revoke, list.

A key is ``secrets.token_urlsafe(32)`` (43 characters, 256 bits). Only its SHA-256 (hex) is stored, with its first
characters (``prefix``) to tell keys apart in lists; the key itself is shown once, when it is issued. A key is
refused once revoked, or when its organisation is inactive.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.handover import ApiKey, Organisation
from models.repo import audit
from models.repo.errors import InvalidTransition, RecordNotFound

PREFIX_CHARS = 8
# An organisation must receive its cards over Open311 to be given a key.
OPEN311_CHANNEL = "open311"
MAX_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: its record and the key itself (shown once, never stored)."""

    record: ApiKey
    key: str


def key_hash(key: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def find_organisation(session: Session, ref: str) -> Organisation:
    """The organisation with code ``ref``, or with id ``ref`` when it is a number; RecordNotFound otherwise."""
    org = session.scalar(select(Organisation).where(Organisation.code == ref))
    if org is None and ref.isdigit():
        org = session.get(Organisation, int(ref))
    if org is None:
        raise RecordNotFound(f"there is no organisation with code or id {ref!r}")
    return org


def issue(session: Session, *, name: str, organisation_id: int, actor: str, now: datetime | None = None) -> IssuedKey:
    """A new key named ``name`` for the organisation. ValueError (nothing written) unless the name is 1-100
    characters and the organisation exists, is active and receives its cards over Open311."""
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_CHARS:
        raise ValueError(f"a key's name must be 1 to {MAX_NAME_CHARS} characters")
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise ValueError(f"organisation {organisation_id} does not exist")
    if not org.active:
        raise ValueError(f"organisation {org.code} is inactive; activate it before giving it a key")
    if OPEN311_CHANNEL not in (org.receives or ()):
        raise ValueError(
            f"organisation {org.code} does not receive its cards over Open311 (receives: "
            f"{', '.join(org.receives or ()) or 'nothing'}); add 'open311' to its receives first"
        )
    key = secrets.token_urlsafe(32)
    record = ApiKey(
        name=clean,
        organisation_id=org.id,
        key_hash=key_hash(key),
        prefix=key[:PREFIX_CHARS],
        created_at=now or utcnow(),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        user_id=None,
        entity="api_key",
        entity_id=record.id,
        action="create",
        before=None,
        after={"name": record.name, "organisation_id": org.id, "prefix": record.prefix},
    )
    session.commit()
    return IssuedKey(record=record, key=key)


def verify(session: Session, key: str) -> ApiKey | None:
    """The live key ``key`` is (its organisation loaded); None when the key is unknown, revoked, or its organisation
    inactive. Writes nothing: ``mark_used`` stamps the key once its request succeeded."""
    if not key:
        return None
    found = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash(key)))
    if found is None or found.revoked_at is not None or not found.organisation.active:
        return None
    return found


def mark_used(session: Session, *, key_id: int, now: datetime | None = None) -> None:
    """Set the key's ``last_used_at`` (committed)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now or utcnow()))
    session.commit()


def revoke(session: Session, *, key_id: int, actor: str, now: datetime | None = None) -> ApiKey:
    """Revoke key ``key_id`` (RecordNotFound; InvalidTransition when it is revoked already)."""
    found = session.get(ApiKey, key_id)
    if found is None:
        raise RecordNotFound(f"there is no API key {key_id}")
    if found.revoked_at is not None:
        raise InvalidTransition(f"API key {key_id} was revoked at {found.revoked_at.isoformat()}")
    found.revoked_at = now or utcnow()
    audit.record(
        session,
        actor=actor,
        user_id=None,
        entity="api_key",
        entity_id=found.id,
        action="revoke",
        before=None,
        after={"revoked_at": found.revoked_at.isoformat()},
    )
    session.commit()
    return found


def list_keys(session: Session) -> list[ApiKey]:
    """Every key (revoked ones too), with its organisation, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)).all())
