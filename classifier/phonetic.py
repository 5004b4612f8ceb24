"""A sound-alike key for words Vosk may mishear: Kazakh letters folded, voicing pairs and vowel classes merged."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

# Kazakh letters → Russian neighbours, voiced → voiceless (б/п в/ф г/к д/т ж/ш з/с), vowels to three classes
# (а/о/ә/ө → а, е/и/ы/і/э/й/я → и: "иканье" makes я and е sound alike, у/ұ/ү/ю → у), soft and hard signs dropped.
_KEY = str.maketrans({
    "ә": "а", "ғ": "к", "қ": "к", "ң": "н", "ө": "а", "ұ": "у", "ү": "у", "һ": "х", "і": "и",
    "б": "п", "в": "ф", "г": "к", "д": "т", "ж": "ш", "з": "с",
    "о": "а", "я": "и", "е": "и", "ы": "и", "э": "и", "й": "и", "ю": "у", "ё": "и",
    "ь": "", "ъ": "",
})
_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=65536)
def phonetic_key(word: str) -> str:
    """The key two words share when Vosk could have written one for the other (``жиырма без`` ~ ``жиырма бес``)."""
    return _DOUBLED.sub(r"\1", word.translate(_KEY))


def edits_allowed(length: int) -> int:
    """How many edits a fuzzy match of a key of this length may take: none below 8 letters, 1 up to 11, then 2.

    Shorter keys match only by sound: "шақырым" is one edit from "шакарим", "сырғанақ" from "сыганак".
    """
    if length < 8:
        return 0
    return 1 if length <= 11 else 2


def within_edits(a: str, b: str) -> bool:
    """Whether key ``a`` is within the allowed edits of key ``b`` (allowance by the shorter key, same first sound)."""
    limit = edits_allowed(min(len(a), len(b)))
    if limit == 0 or abs(len(a) - len(b)) > limit or a[:1] != b[:1]:
        return a == b
    return Levenshtein.distance(a, b, score_cutoff=limit) <= limit
