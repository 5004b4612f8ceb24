"""Webhook headers and signatures: what callcard sends with each POST, and how a receiver checks it.

Every delivery carries ``X-Callcard-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed with the
organisation's ``webhook_secret``, ``X-Callcard-Event`` (the event type) and ``X-Callcard-Delivery`` (the
delivery id, the same on every retry of one event, so a receiver can drop duplicates).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Callcard-Signature"
EVENT_HEADER = "X-Callcard-Event"
DELIVERY_HEADER = "X-Callcard-Delivery"
USER_AGENT = "callcard-webhooks/1"
SCHEME = "sha256="


def signature(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the hex HMAC-SHA256 keyed with ``secret``."""
    return SCHEME + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """The receiver's check: True when ``header`` is the signature of the raw ``body`` with ``secret``."""
    if not header or not header.startswith(SCHEME):
        return False
    return hmac.compare_digest(signature(body, secret), header.strip())


def headers(*, body: bytes, secret: str, event: str, delivery_id: str) -> dict[str, str]:
    """Every header of one delivery's POST."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(body, secret),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
