"""Password hashing (argon2) and signed access tokens (JWT, HS256) for the API."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
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


def password_stamp(password_hash: str) -> str:
    """A short fingerprint of a password hash; tokens carry it, so a password change ends old sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def create_access_token(
    *, user_id: int, role: str, secret: str, ttl_minutes: int, password_hash: str | None = None
) -> str:
    """A signed token naming the user, valid for ``ttl_minutes`` (and only while the password is unchanged)."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=ttl_minutes),
    }
    if password_hash is not None:
        payload["pws"] = password_stamp(password_hash)
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
    if not str(claims.get("sub", "")).isdigit():
        raise InvalidToken("the access token is not valid; log in again")
    return claims


@dataclass
class LoginThrottle:
    """Refuses logins for a username after ``max_failures`` failed attempts within ``window_s`` seconds.

    Kept per application (create_app puts one on app.state), in memory: a restart forgets it.
    """

    max_failures: int = 10
    window_s: float = 15 * 60
    max_keys: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().casefold()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key, deque())
        while stamps and now - stamps[0] > self.window_s:
            stamps.popleft()
        return stamps

    def blocked_for(self, username: str) -> float:
        """Seconds until ``username`` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            stamps = self._recent(self._key(username), now)
            if len(stamps) < self.max_failures:
                return 0.0
            return max(0.0, self.window_s - (now - stamps[0]))

    def failed(self, username: str) -> None:
        """Count a failed attempt."""
        now = time.monotonic()
        key = self._key(username)
        with self._lock:
            if key not in self._failures and len(self._failures) >= self.max_keys:
                oldest = min(self._failures, key=lambda k: self._failures[k][-1] if self._failures[k] else 0.0)
                del self._failures[oldest]
            stamps = self._recent(key, now)
            stamps.append(now)
            self._failures[key] = stamps

    def succeeded(self, username: str) -> None:
        """Forget the failures of ``username``."""
        with self._lock:
            self._failures.pop(self._key(username), None)
