"""Login throttling: a short delay that grows with failed logins, per username, per client address and per pair.

Each login attempt is reserved in the database (models.repo.throttle) before the password is checked. The first
few failures of a key cost nothing; then each attempt makes the key wait 1 s, 2 s, 4 s ... up to a cap: 60 s
for an address and for a username-and-address pair, and a gentler cap for a username alone, so that nobody can
keep its owner (the admin, say) out for long. A successful login forgets its username's and pair's failures
and takes back the attempt it cost its address. Rows whose wait is over and whose window has passed are pruned.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session

from api.errors import ApiError
from models.base import utcnow
from models.repo import throttle
from models.repo.usernames import username_key

_MAX_KEY = 200  # login_throttle.key


@dataclass(frozen=True, slots=True)
class Backoff:
    """``free`` failures cost nothing; each attempt after them waits ``first_s``, then twice as long, up to
    ``cap_s`` seconds."""

    free: int
    cap_s: float
    first_s: float = 1.0

    def __call__(self, failures: int) -> timedelta:
        """How long to wait after the ``failures``-th failure within the window."""
        over = failures - self.free
        if over <= 0:
            return timedelta(0)
        return timedelta(seconds=min(self.cap_s, self.first_s * 2 ** min(over - 1, 30)))


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The throttle's rules (create_app keeps one on ``app.state.login_throttle``; the counts are in the
    database). ``window_s``: failures older than this are forgotten."""

    username: Backoff = field(default_factory=lambda: Backoff(free=10, cap_s=15))
    client: Backoff = field(default_factory=lambda: Backoff(free=30, cap_s=60))
    pair: Backoff = field(default_factory=lambda: Backoff(free=5, cap_s=60))
    window_s: float = 15 * 60

    @property
    def window(self) -> timedelta:
        """``window_s`` as a timedelta."""
        return timedelta(seconds=self.window_s)


@dataclass(frozen=True, slots=True)
class LoginKeys:
    """The throttle keys of one login attempt."""

    username: str
    client: str
    pair: str

    @classmethod
    def of(cls, username: str, client: str) -> LoginKeys:
        """The keys of ``username`` (in any letter case or look-alike form) tried from address ``client``."""
        name = _part(username_key(username))
        address = _part(client)
        return cls(username=f"user:{name}", client=f"client:{address}", pair=f"pair:{name}|{address}")


def _part(text: str) -> str:
    """``text`` as a key part: as it is when short and printable, else a digest (so it fits and is storable)."""
    if len(text) <= 90 and text.isprintable() and "|" not in text:
        return text
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def reserve_login(session: Session, rules: LoginLimits, keys: LoginKeys) -> None:
    """Count this attempt before the password is checked; ApiError 429 (with Retry-After) when a key must wait."""
    wait = throttle.reserve(
        session,
        keys={keys.username: rules.username, keys.client: rules.client, keys.pair: rules.pair},
        now=utcnow(),
        window=rules.window,
    )
    if wait > timedelta(0):
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise ApiError(
            429,
            f"Too many failed logins for this username or from this address; try again in {seconds} "
            f"second{'s' if seconds > 1 else ''}.",
            headers={"Retry-After": str(seconds)},
        )


def login_succeeded(session: Session, rules: LoginLimits, keys: LoginKeys) -> None:
    """Forget the username's and the pair's failures; take back the attempt this login cost its address."""
    throttle.clear(session, keys=[keys.username, keys.pair])
    throttle.refund(session, keys={keys.client: rules.client}, now=utcnow(), window=rules.window)


def login_failed(session: Session, rules: LoginLimits) -> None:
    """The attempt stays counted; prune the rows that no longer make anyone wait."""
    throttle.prune(session, now=utcnow(), window=rules.window)
