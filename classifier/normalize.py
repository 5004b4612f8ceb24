"""Text normalisation shared by training and serving: case, ё, look-alike letters, punctuation, ASR artefacts."""

from __future__ import annotations

import re

# Latin letters that look like Cyrillic ones; folded inside words that are otherwise Cyrillic.
_LOOKALIKE = str.maketrans({
    "a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "k": "к", "m": "м",
    "t": "т", "h": "н", "b": "в", "i": "і", "u": "и",
})
# Kazakh letters folded to their nearest Russian letters (for fuzzy keys only, never for display).
_KK_FOLD = str.maketrans({"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и"})

_CYR = re.compile(r"[а-яёәғқңөұүһі]")
_LAT = re.compile(r"[a-z]")
# Kaldi/Vosk markers and bracketed noise tags.
_TAGS = re.compile(r"<[^>]*>|\[[^\]]*\]")
# Everything that is not a letter, a digit or a slash between digits becomes a space.
_NON_WORD = re.compile(r"[^0-9a-zа-яәғқңөұүһі/]+")
_SLASH = re.compile(r"(?<![0-9])/|/(?![0-9])")
# Hesitations: эээ, ммм, эм, хм, ааа (3+ a's only: "а" alone is a word and a house letter).
_HESITATION = re.compile(r"^(?:э+|м{2,}|э+м+|х+м+|а{3,}|ы{2,}|у{3,}|о{3,})$")
_ELONGATED = re.compile(r"([а-яәғқңөұүһі])\1{2,}")


def fold_token(token: str) -> str:
    """Fold Latin look-alikes inside a Cyrillic word (``пoжар`` with a Latin o → ``пожар``)."""
    if _LAT.search(token) and _CYR.search(token):
        return token.translate(_LOOKALIKE)
    return token


def normalize(text: str) -> str:
    """Normalise recognised or typed text: lower case, ё→е, Kazakh letters kept, no punctuation.

    The result is a space-separated sequence of tokens. The transformation is token-local (each output token
    depends only on one input word), so normalising segments one by one and joining them gives the same tokens
    as normalising the joined text: the incremental scorer relies on this.
    """
    text = text.lower().replace("ё", "е")
    text = _TAGS.sub(" ", text)
    text = _NON_WORD.sub(" ", text)
    text = _SLASH.sub(" ", text)
    out: list[str] = []
    for token in text.split():
        token = fold_token(token)
        if _HESITATION.match(token):
            continue
        token = _ELONGATED.sub(r"\1", token)
        out.append(token)
    return " ".join(out)


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text``."""
    return normalize(text).split()


def kk_fold(token: str) -> str:
    """Fold Kazakh letters to Russian ones (a fuzzy key: ``қырық`` → ``кырык``)."""
    return token.translate(_KK_FOLD)
