"""The second line's records: Organisation (who does the work) and RoutingRule (which cards go to whom)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
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
