"""Password hashing (argon2) and signed access tokens (JWT, HS256) for the API; login throttling is in
api/throttle.py, login sessions in api/login_sessions.py."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
MAX_USER_ID = 2**31 - 1  # users.id is a 32-bit integer on PostgreSQL
# argon2id with the library's recommended defaults; a stateless configuration, not mutable state.
_HASHER = PasswordHasher()
# Verified against unknown usernames so a failed login takes as long whether or not the user exists.
_DUMMY_HASH = _HASHER.hash("callcard-dummy-password")


class InvalidToken(Exception):
    """The bearer token is missing its parts, expired, or not signed by us."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash`` (a None hash is checked against a dummy, then fails)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password a person can type (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def _signing_key(secret: str) -> bytes:
    """A 32-byte HMAC key derived from the configured secret (any length of secret gives a full-size key)."""
    return hashlib.sha256(f"callcard-jwt:{secret}".encode()).digest()


def create_access_token(*, user_id: int, role: str, session_id: str, secret: str, ttl_minutes: int) -> str:
    """A signed token naming the user and their login session (``sid``), valid for ``ttl_minutes`` and only
    while that session is open (api.deps checks it on every request)."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "sid": session_id,
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=ttl_minutes),
    }
    return jwt.encode(payload, _signing_key(secret), algorithm=ALGORITHM)


def decode_access_token(token: str, *, secret: str) -> dict[str, Any]:
    """The token's claims; InvalidToken if it is expired, tampered with or malformed."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, _signing_key(secret), algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("your session has expired; log in again") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("the access token is not valid; log in again") from exc
    subject = str(claims.get("sub", ""))
    if not (subject.isascii() and subject.isdigit() and 0 < int(subject) <= MAX_USER_ID):
        raise InvalidToken("the access token is not valid; log in again")
    return claims
