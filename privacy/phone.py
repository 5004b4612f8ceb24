"""Kazakhstan phone numbers: +7 / 8, then a 10-digit national number whose operator or area code starts with 7."""

from __future__ import annotations

NATIONAL_LENGTH = 10
_TRUNK_PREFIXES = ("7", "8")  # +7 (country code) or 8 (the domestic trunk prefix)


def is_kz_phone(digits: str) -> bool:
    """Whether ``digits`` is a Kazakhstan number: 7xxxxxxxxx, or 8/7 followed by it (87012345678, 77012345678)."""
    if not digits.isdigit():
        return False
    if len(digits) == NATIONAL_LENGTH + 1 and digits[0] in _TRUNK_PREFIXES:
        digits = digits[1:]
    return len(digits) == NATIONAL_LENGTH and digits[0] == "7"
