"""Bank card numbers: 13-19 digits passing the Luhn check (ISO/IEC 7812-1)."""

from __future__ import annotations

CARD_LENGTHS = range(13, 20)


def luhn_valid(digits: str) -> bool:
    """The Luhn check: doubling every second digit from the right, the sum is a multiple of 10."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """Whether ``digits`` looks like a bank card number: 13-19 digits, not all zeros, Luhn-valid."""
    return len(digits) in CARD_LENGTHS and digits.strip("0") != "" and luhn_valid(digits)
