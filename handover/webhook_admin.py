"""An admin's changes to webhooks: set an organisation's URL with a new secret, stop its webhooks, retry a failed
delivery. Each change is one audit event (entity "organisation") in the change's own transaction; the secret is
returned once and never written to the audit log."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from models.handover import Organisation, WebhookDelivery
from models.repo import audit, outbox
from models.repo.errors import InvalidTransition, RecordNotFound

ENTITY = "organisation"
MAX_URL_CHARS = 500  # Organisation.webhook_url's column


def check_url(url: str) -> str:
    """``url`` stripped, when it is an absolute http(s) URL with a host and no user or password; else ValueError."""
    value = url.strip()
    if not value:
        raise ValueError("give the webhook URL, e.g. https://example.kz/callcard/events")
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"the webhook URL is longer than {MAX_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("the webhook URL must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise ValueError(f"the webhook URL is not a valid URL ({exc})") from exc
    if parts.scheme not in ("https", "http"):
        raise ValueError("the webhook URL must start with https:// (or http://)")
    if not parts.hostname:
        raise ValueError("the webhook URL needs a host name, e.g. https://example.kz/callcard/events")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put no user name or password in the webhook URL: callcard signs every request instead")
    return value


def new_secret() -> str:
    """A fresh HMAC key: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class WebhookSet:
    """The organisation with its new URL, and the new secret (shown once)."""

    organisation: Organisation
    secret: str


def set_webhook(
    session: Session, *, organisation_id: int, url: str, actor: str, user_id: int | None = None
) -> WebhookSet:
    """Point ``organisation_id``'s webhooks at ``url`` with a new secret (and add "webhook" to what it receives).

    RecordNotFound when there is no such organisation, ValueError for a bad URL (nothing written). Commits.
    """
    clean = check_url(url)
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise RecordNotFound(f"organisation {organisation_id} does not exist")
    before = {"webhook_url": org.webhook_url, "receives": list(org.receives or ())}
    secret = new_secret()
    org.webhook_url = clean
    org.webhook_secret = secret
    org.receives = [*(org.receives or ()), "webhook"] if "webhook" not in (org.receives or ()) else list(org.receives)
    audit.record(
        session,
        actor=actor,
        user_id=user_id,
        entity=ENTITY,
        entity_id=org.id,
        action="webhook_set",
        before=before,
        after={"webhook_url": clean, "receives": list(org.receives), "secret": "new"},
    )
    session.commit()
    return WebhookSet(org, secret)


def remove_webhook(session: Session, *, organisation_id: int, actor: str, user_id: int | None = None) -> Organisation:
    """Stop ``organisation_id``'s webhooks: no URL, no secret, "webhook" no longer received. Commits (nothing is
    written when it had none). Deliveries still pending fail until the give-up time."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise RecordNotFound(f"organisation {organisation_id} does not exist")
    receives = [r for r in org.receives or () if r != "webhook"]
    if org.webhook_url is None and org.webhook_secret is None and receives == list(org.receives or ()):
        session.rollback()
        return org
    before = {"webhook_url": org.webhook_url, "receives": list(org.receives or ())}
    org.webhook_url = None
    org.webhook_secret = None
    org.receives = receives
    audit.record(
        session,
        actor=actor,
        user_id=user_id,
        entity=ENTITY,
        entity_id=org.id,
        action="webhook_removed",
        before=before,
        after={"webhook_url": None, "receives": receives},
    )
    session.commit()
    return org


def retry_delivery(session: Session, *, row_id: int, actor: str, user_id: int | None = None) -> WebhookDelivery:
    """A failed delivery is pending again, due now, with the same delivery id and body (audited). Commits.

    RecordNotFound for no such delivery; InvalidTransition unless it is failed.
    """
    row = session.get(WebhookDelivery, row_id)
    if row is None:
        raise RecordNotFound(f"webhook delivery {row_id} does not exist")
    if row.state != "failed":
        session.rollback()
        raise InvalidTransition(f"webhook delivery {row_id} is {row.state}; only a failed delivery can be retried")
    audit.record(
        session,
        actor=actor,
        user_id=user_id,
        entity=ENTITY,
        entity_id=row.organisation_id,
        action="webhook_retry",
        before={"delivery_id": row.delivery_id, "state": "failed", "last_error": row.last_error},
        after={"delivery_id": row.delivery_id, "state": "pending"},
    )
    retried = outbox.retry(session, row_id=row_id)  # commits the audit event with the change
    assert retried is not None
    return retried
