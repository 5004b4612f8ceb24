"""Mask personal data in a transcript: the words of each span replaced by one neutral token per kind."""

from __future__ import annotations

from collections.abc import Sequence

from privacy.base import PersonalDataKind, PersonalDataSpan, TimedWord

PLACEHOLDER: dict[PersonalDataKind, str] = {
    PersonalDataKind.IIN: "<iin>",
    PersonalDataKind.PHONE: "<phone>",
    PersonalDataKind.CARD: "<card>",
}


def mask(words: Sequence[TimedWord], spans: Sequence[PersonalDataSpan]) -> list[str]:
    """The words' texts with each span shown as its placeholder, once per span (shorter than ``words`` when a
    span covers several words)."""
    starts = {s.first_word: s for s in spans}
    out: list[str] = []
    i = 0
    while i < len(words):
        span = starts.get(i)
        if span is None:
            out.append(words[i].text)
            i += 1
        else:
            out.append(PLACEHOLDER[span.kind])
            i = span.last_word + 1
    return out
