"""The Kazakhstan ИИН (ЖСН): check digit and embedded birth date.

The algorithm is the one of the standard that defines the number, СТ РК 1616-2006 ("Информационные технологии.
Индивидуальный идентификационный номер"), and of the Rules for forming the ИИН (Order of the Minister of Justice);
it is restated in the public python-stdnum module ``stdnum.kz.iin`` and on ru.wikipedia.org "Индивидуальный
идентификационный номер" (Казахстан):
- digits 1-6 are the birth date YYMMDD; digit 7 is the century and sex (1/2: 19th c., 3/4: 20th c., 5/6: 21st c.;
  odd = male);
- digit 12 is the check digit: the sum of digits 1-11 weighted 1..11, modulo 11; if that is 10, the sum weighted
  3,4,...,11,1,2, modulo 11; if that is 10 again the number is not issued (invalid).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

IIN_LENGTH = 12
_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_CENTURY_BY_DIGIT = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


def iin_check_digit(first_eleven: str) -> int | None:
    """The check digit of the first 11 digits, or None when both weightings give 10 (no ИИН is issued)."""
    digits = [int(c) for c in first_eleven]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


@dataclass(frozen=True, slots=True)
class BirthDate:
    year: int
    month: int
    day: int


def iin_birth_date(iin: str) -> BirthDate | None:
    """The birth date written in an ИИН, when digits 1-7 make a real date (month 1-12, a day the month has,
    century digit 1-6)."""
    if len(iin) < 7 or not iin[:7].isdigit():
        return None
    century = _CENTURY_BY_DIGIT.get(int(iin[6]))
    if century is None:
        return None
    year, month, day = century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return BirthDate(year, month, day)


def is_valid_iin(digits: str) -> bool:
    """Whether ``digits`` is an ИИН: 12 digits, a plausible birth date and the right check digit."""
    if len(digits) != IIN_LENGTH or not digits.isdigit() or iin_birth_date(digits) is None:
        return False
    return iin_check_digit(digits[:11]) == int(digits[11])
