"""The parameters of an Open311 request (query string or form-encoded body), parsed and checked here.

The /api InputGuard does not look at /open311 (its bodies are form-encoded, not JSON), so every value is checked
here: UTF-8 only (400), each parameter at most once (400), only the parameters the endpoint knows (400), no NUL
character and no unpaired surrogate (422: the databases cannot store them), each within its length (422).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import parse_qsl

from api.open311.errors import Open311Error

MAX_PARAMETERS = 40
LOCALES = ("ru", "kk")
DEFAULT_LOCALE = "ru"


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "contains the NUL character (\\u0000), which cannot be stored"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains an unpaired surrogate (\\ud800-\\udfff), which is not text"
    return None


def check_text(name: str, value: str, max_chars: int) -> str:
    """``value`` unless it holds what cannot be stored or is longer than ``max_chars`` (422)."""
    why = unstorable(value)
    if why:
        raise Open311Error(422, f"The value of {name!r} {why}; remove it.")
    if len(value) > max_chars:
        raise Open311Error(422, f"{name!r} is {len(value)} characters long; at most {max_chars} are accepted.")
    return value


@dataclass(frozen=True, slots=True)
class Fields:
    """The parameters of one request by name (each given once), with the checks the routes need."""

    values: dict[str, str]
    where: str  # "query string" or "form body", for the sentences

    @classmethod
    def parse(cls, raw: bytes, where: str) -> Fields:
        """Parse ``raw`` (application/x-www-form-urlencoded); 400 unless UTF-8 and each name given once."""
        try:
            text = raw.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise Open311Error(400, f"The {where} is not UTF-8 text; percent-encode UTF-8.") from None
        except ValueError as exc:
            raise Open311Error(400, f"The {where} could not be parsed ({exc}).") from None
        if len(pairs) > MAX_PARAMETERS:
            raise Open311Error(400, f"The {where} has {len(pairs)} parameters; at most {MAX_PARAMETERS} are accepted.")
        values: dict[str, str] = {}
        for name, value in pairs:
            why = unstorable(name)
            if why:
                raise Open311Error(422, f"A parameter name in the {where} {why}; remove it.")
            why = unstorable(value)
            if why:
                raise Open311Error(422, f"The value of {name[:40]!r} in the {where} {why}; remove it.")
            if name in values:
                raise Open311Error(400, f"{name!r} is given twice in the {where}; give it once (comma-separate lists).")
            values[name] = value
        return cls(values, where)

    def only(self, known: Iterable[str]) -> None:
        """400 for a parameter the endpoint does not know."""
        unknown = sorted(set(self.values) - set(known))
        if unknown:
            names = ", ".join(repr(name[:40]) for name in unknown[:5])
            raise Open311Error(400, f"This endpoint does not take {names} in the {self.where}.")

    def text(self, name: str, max_chars: int, *, required: bool = False, why: str = "") -> str | None:
        """The parameter's value stripped (None when absent or blank); 400 when ``required`` and missing."""
        raw = self.values.get(name)
        value = check_text(name, raw, max_chars).strip() if raw is not None else None
        if not value:
            if required:
                raise Open311Error(400, f"{name!r} is required{why}.")
            return None
        return value


def parse_datetime(name: str, value: str) -> datetime:
    """A W3C date-time with its time zone (2026-01-31T10:00:00Z, 2026-01-31T15:00:00+05:00) or a date (midnight
    UTC); 400 otherwise."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Open311Error(
            400, f"{name!r} is not a W3C date-time such as 2026-01-31T10:00:00Z (got {value[:40]!r})."
        ) from None
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name!r} needs its time zone, e.g. 2026-01-31T10:00:00Z or ...+05:00.")
    return parsed.astimezone(UTC)


def comma_list(name: str, value: str, max_items: int) -> list[str]:
    """The comma-separated items of ``value`` (blank items dropped); 400 when none or more than ``max_items``."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise Open311Error(400, f"{name!r} is empty.")
    if len(items) > max_items:
        raise Open311Error(400, f"{name!r} lists {len(items)} values; at most {max_items} are accepted.")
    return items


def locale_of(asked: str | None, accept_language: str | None) -> str:
    """The answer's language: ``locale`` (or ``lang``) when given (kk, ru, kk-KZ, ru_RU...; else 400), then the
    first of kk/ru in Accept-Language by its q weights, else Russian."""
    if asked is not None:
        primary = asked.replace("_", "-").split("-", 1)[0].lower()
        if primary not in LOCALES:
            raise Open311Error(400, f"locale {asked[:20]!r} is not offered; use kk or ru.")
        return primary
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().split("-", 1)[0].lower()
        if primary in LOCALES and weight > 0:
            ranked.append((-weight, index, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT_LOCALE
