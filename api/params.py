"""Typed path and query parameters shared by the routes: record ids, paging and moments within what the
databases hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

# PostgreSQL's INTEGER primary keys end at 2^31 - 1; a larger or non-positive id can name no record, so it is
# refused with 422 before any database sees it (SQLite would overflow at 2^63, PostgreSQL at 2^31).
MAX_ID = 2**31 - 1
# Paging: an offset past anything a registry will hold (and far inside a 64-bit integer).
MAX_OFFSET = 10_000_000


def in_utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC (naive: taken as UTC); ValueError (a 422) for a moment with no UTC date-time, such as
    0001-01-01T00:00+05:00, which would otherwise overflow on its way to the database."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        edge = "this moment is at the very edge of the calendar; use one between 0001-01-02 and 9999-12-30"
        raise ValueError(edge) from exc


RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="A record id (1 to 2147483647)")]
OptionalRecordId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="A record id (1 to 2147483647)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many rows to skip")]
# A date-time query parameter, in UTC when the route gets it (naive values are UTC).
OptionalMoment = Annotated[datetime | None, Query(description="An ISO date-time (naive: UTC)"), AfterValidator(in_utc)]
