"""The second line's records: Organisation (who does the work), RoutingRule (which cards go to whom), the
organisations' API keys (Open311), the photos an organisation attaches to its cards, and the webhook outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow

# How an organisation receives its cards (several allowed): its inbox in callcard, Open311, signed webhooks.
RECEIVE_CHANNELS = ("inbox", "open311", "webhook")
# Weekdays of Organisation.working_hours, in order.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Organisation(Base):
    """A concrete body that does the work: a utility, a heat-network company, a lift company, a district akimat.

    ``code`` is its stable id in files and rules; ``services`` are the taxonomy service ids it serves;
    ``working_hours`` maps a weekday (WEEKDAYS) to "HH:MM-HH:MM" (a missing day is a day off; "00:00-24:00" on
    every day is 24/7); ``receives`` lists RECEIVE_CHANNELS.
    """

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_kk: Mapped[str] = mapped_column(String(300))
    name_ru: Mapped[str] = mapped_column(String(300))
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    working_hours: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    receives: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Hours to resolve, overriding the topic's deadline for this organisation: by priority ("normal", "urgent").
    deadline_hours: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Signed webhooks: where to POST the events, and the HMAC key (set by an admin; never exported to files).
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RoutingRule(Base):
    """One line of the routing table: when a card matches every condition given, it goes to the organisation.

    Conditions (all optional, combined with AND): ``services``/``topics`` (taxonomy ids), ``districts`` (taxonomy
    district ids), ``street`` (a canonical street name of the street list) with ``houses`` (ranges such as
    "1-99 odd", "2-40 even", "10-20"), and ``named_object`` (matched against the card's landmark, ignoring case).
    Rules are tried by ``position``; a ``fallback`` rule (services only) is used when no ordinary rule matches.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (Index("ix_routing_rules_position", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    street: Mapped[str | None] = mapped_column(String(200))
    houses: Mapped[list[str]] = mapped_column(JSON, default=list)
    named_object: Mapped[str | None] = mapped_column(String(200))
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()


class ApiKey(Base):
    """An organisation's system's key for Open311 (``api_key``): only its SHA-256 is stored; shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the key's first characters, to tell keys apart in lists
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()


class CardPhoto(Base):
    """A photo an organisation attached to a card (its report of the work), kept in the database."""

    __tablename__ = "card_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    uploaded_by: Mapped[str] = mapped_column(String(100))  # a username or "apikey:<name>"
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    """The transactional outbox: one event for one organisation, written in the card change's transaction.

    ``body`` is the exact JSON that is POSTed (and signed) on every attempt; ``delivery_id`` is its UUID, the same
    on every retry. ``pending`` deliveries are tried at ``next_attempt_at``; ``delivered`` got a 2xx; ``failed``
    gave up after the configured time and waits for an admin's retry.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An admin's retry of a failed delivery: its retries' give-up window starts again here.
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
