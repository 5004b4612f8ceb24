"""Working hours of an organisation: "24/7", or per weekday "mon-fri 08:00-18:00; sat 09:00-13:00".

Stored as a mapping weekday -> "HH:MM-HH:MM" (models.handover.WEEKDAYS; a missing day is a day off), written in
files as the short text above so that a CSV cell and a YAML value read the same. A YAML file may also give the
mapping itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # models.handover.WEEKDAYS
ROUND_THE_CLOCK = "24/7"
ALL_DAY = "00:00-24:00"

_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class HoursError(ValueError):
    """Working hours that cannot be read."""


def _check_span(span: str, where: str) -> str:
    text = span.replace(" ", "")
    match = _SPAN.match(text)
    if match is None:
        raise HoursError(f"{where}: {span!r} is not a time span like 08:00-18:00")
    start = int(match.group(1)) * 60 + int(match.group(2))
    end = int(match.group(3)) * 60 + int(match.group(4))
    if end > 24 * 60 or end <= start:
        raise HoursError(f"{where}: {span!r} must end after it starts, by 24:00 at the latest")
    return text


def _days(text: str) -> list[str]:
    days: list[str] = []
    for part in text.split(","):
        ends = [d.strip().lower()[:3] for d in part.split("-")]
        if len(ends) > 2 or any(d not in WEEKDAYS for d in ends):
            raise HoursError(f"{part.strip()!r} is not a weekday or a span of weekdays (mon, tue, ... sun)")
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise HoursError(f"{part.strip()!r}: the days run backwards")
        days.extend(WEEKDAYS[first : last + 1])
    return days


def parse_hours(value: object) -> dict[str, str]:
    """The weekday mapping for "24/7", "mon-fri 08:00-18:00; sat 09:00-13:00", a mapping, or nothing (unknown)."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, span in value.items():
            for day in _days(str(key)):
                out[day] = _check_span(str(span), day)
        return {d: out[d] for d in WEEKDAYS if d in out}
    if not isinstance(value, str):
        raise HoursError(f"working hours {value!r} must be text such as '24/7' or 'mon-fri 08:00-18:00'")
    if value.strip().lower() == ROUND_THE_CLOCK:
        return dict.fromkeys(WEEKDAYS, ALL_DAY)
    out = {}
    for part in value.split(";"):
        pieces = part.split()
        if len(pieces) < 2:
            raise HoursError(f"{part.strip()!r} needs days and a time span, e.g. 'mon-fri 08:00-18:00'")
        for day in _days("".join(pieces[:-1])):
            out[day] = _check_span(pieces[-1], day)
    return {d: out[d] for d in WEEKDAYS if d in out}


def format_hours(hours: Mapping[str, str]) -> str:
    """The short text of a weekday mapping: "24/7", or runs of days with equal hours ("mon-fri 08:00-18:00")."""
    if not hours:
        return ""
    if all(hours.get(d) == ALL_DAY for d in WEEKDAYS):
        return ROUND_THE_CLOCK
    parts: list[str] = []
    run: list[str] = []
    for day in (*WEEKDAYS, None):
        if run and (day is None or hours.get(day) != hours.get(run[0])):
            if hours.get(run[0]):
                span = run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}"
                parts.append(f"{span} {hours[run[0]]}")
            run = []
        if day is not None:
            run.append(day)
    return "; ".join(parts)
