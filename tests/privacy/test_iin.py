"""The ИИН check digit (both weightings) and the embedded birth date."""

from __future__ import annotations

import pytest

from privacy.card import is_card_number, luhn_valid
from privacy.iin import BirthDate, iin_birth_date, iin_check_digit, is_valid_iin
from privacy.phone import is_kz_phone


def test_check_digit_with_the_first_weights() -> None:
    # 9,0,0,8,1,2,3,5,0,1,2 weighted 1..11: 9+0+0+32+5+12+21+40+0+10+22 = 151 = 13*11 + 8
    assert iin_check_digit("90081235012") == 8
    assert is_valid_iin("900812350128")
    assert not is_valid_iin("900812350127")


def test_check_digit_falls_back_to_the_second_weights_when_the_first_remainder_is_ten() -> None:
    # weights 1..11: 6+8+0+32+5+36+21+72+0+50+88 = 318 = 28*11 + 10 → second weights 3..11,1,2:
    # 18+16+0+48+7+48+27+90+0+5+16 = 275 = 25*11 + 0
    assert iin_check_digit("64081639058") == 0
    assert is_valid_iin("640816390580")
    assert not is_valid_iin("640816390581")


def test_no_check_digit_when_both_remainders_are_ten() -> None:
    first = "71070734366"
    assert sum(int(c) * w for c, w in zip(first, range(1, 12), strict=True)) % 11 == 10
    assert iin_check_digit(first) is None
    assert not any(is_valid_iin(first + str(d)) for d in range(10))


@pytest.mark.parametrize(
    ("iin", "date"),
    [
        ("900812350128", BirthDate(1990, 8, 12)),
        ("040229500000", BirthDate(2004, 2, 29)),  # 2004 is a leap year
        ("991231412345", BirthDate(1999, 12, 31)),
    ],
)
def test_birth_date_is_read_with_the_century_digit(iin: str, date: BirthDate) -> None:
    assert iin_birth_date(iin) == date


@pytest.mark.parametrize(
    "iin",
    [
        "901312350128",  # month 13
        "900012350128",  # month 0
        "900231350128",  # 31 February
        "030229500000",  # 29 February 2003
        "900812750128",  # century digit 7
        "900812050128",  # century digit 0
    ],
)
def test_implausible_birth_dates_are_rejected(iin: str) -> None:
    assert iin_birth_date(iin) is None
    head = iin[:11]
    check = iin_check_digit(head)
    assert check is None or not is_valid_iin(head + str(check))  # even with the right check digit


def test_luhn_and_card_lengths() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert is_card_number("4111111111111111")
    assert not is_card_number("411111111111")  # 12 digits: not a card length
    assert not is_card_number("0000000000000000")


@pytest.mark.parametrize(
    ("digits", "phone"),
    [
        ("87012345678", True),
        ("77012345678", True),
        ("7012345678", True),
        ("83012345678", False),
        ("8701234567", False),
        ("97012345678", False),
    ],
)
def test_kazakhstan_phone_shapes(digits: str, phone: bool) -> None:
    assert is_kz_phone(digits) is phone
