"""Find ИИН, phone and card numbers said as words in a transcript, with their word span and times."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from privacy.base import PersonalDataKind, PersonalDataSpan, TimedWord
from privacy.card import CARD_LENGTHS, is_card_number
from privacy.iin import is_valid_iin
from privacy.phone import is_kz_phone
from privacy.spoken_digits import DigitGroup, DigitRun, digit_runs

MAX_DIGITS = max(CARD_LENGTHS)


def kind_of_digits(digits: str) -> PersonalDataKind | None:
    """Which personal number ``digits`` is, if any (the lengths do not overlap: 10-11, 12, 13-19)."""
    if is_valid_iin(digits):
        return PersonalDataKind.IIN
    if is_kz_phone(digits):
        return PersonalDataKind.PHONE
    if is_card_number(digits):
        return PersonalDataKind.CARD
    return None


_Choice = tuple[int, int, PersonalDataKind]  # groups [first, end) of a run, and what they make


def _numbers_in_run(run: DigitRun) -> list[_Choice]:
    """The personal numbers in a run, covering as many digits as possible.

    A number may start or end inside a segment (between groups said without a pause word) only where another
    personal number continues it; otherwise it covers whole segments. So an invalid ИИН "870512..." does not
    yield the phone "87051...", its first eleven digits, but two numbers said back to back are both found.
    """
    groups: tuple[DigitGroup, ...] = run.groups
    boundaries: set[int] = {0}
    for segment in run.segments:
        boundaries.add(max(boundaries) + len(segment))
    n = len(groups)

    @cache
    def best(k: int) -> tuple[int, tuple[_Choice, ...]] | None:
        """The most digits covered from group ``k`` on; a segment is skipped whole, so a number that ends inside one
        must be followed by another."""
        if k == n:
            return (0, ())
        options: list[tuple[int, tuple[_Choice, ...]]] = []
        if k in boundaries:
            skip_to = min(b for b in boundaries if b > k)
            rest = best(skip_to)
            if rest is not None:
                options.append(rest)
        digits = ""
        for m in range(k + 1, n + 1):
            digits += groups[m - 1].digits
            if len(digits) > MAX_DIGITS:
                break
            kind = kind_of_digits(digits)
            if kind is None:
                continue
            rest = best(m)
            if rest is not None:
                options.append((rest[0] + len(digits), ((k, m, kind), *rest[1])))
        return max(options, key=lambda o: (o[0], -len(o[1])), default=None)

    found = best(0)
    return list(found[1]) if found else []


def detect_personal_data(words: Sequence[TimedWord]) -> list[PersonalDataSpan]:
    """ИИН, phone and card numbers in ``words``, in order of appearance."""
    spans: list[PersonalDataSpan] = []
    for run in digit_runs([w.text for w in words]):
        groups = run.groups
        for first, end, kind in _numbers_in_run(run):
            first_word, last_word = groups[first].first_word, groups[end - 1].last_word
            digits = "".join(g.digits for g in groups[first:end])
            spans.append(
                PersonalDataSpan(kind, first_word, last_word, words[first_word].start, words[last_word].end, digits)
            )
    return sorted(spans, key=lambda s: s.first_word)
