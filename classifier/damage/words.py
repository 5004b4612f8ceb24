"""Word-level errors: letters confused, endings lost, another real word heard, Kazakh letters folded."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from enum import Enum

from classifier.damage.confusions import KAZAKH_LETTERS, KK_FOLD, LETTERS, VOICING, VOWELS
from classifier.numbers import number_word

Vocabulary = Mapping[str, Sequence[str]]  # language ("ru" | "kk") -> words heard in that language
_VOICING_TABLE = {letter: (partner,) for letter, partner in VOICING.items()}


def clean_words(text: str) -> list[str]:
    """Lower-case letter-only words of a text (digits and other characters dropped)."""
    lowered = "".join(c if c in LETTERS else " " for c in text.lower())
    return lowered.split()


def is_number_word(word: str) -> bool:
    return number_word(word) is not None


def fold_kazakh(word: str) -> str:
    return word.translate(KK_FOLD)


def swap_letter(word: str, table: Mapping[str, Sequence[str]], kazakh_ok: bool, rng: random.Random) -> str:
    choices = [
        (i, t)
        for i, c in enumerate(word)
        for t in table.get(c, ())
        if kazakh_ok or (c not in KAZAKH_LETTERS and t not in KAZAKH_LETTERS)  # a Russian call keeps them as said
    ]
    if not choices:
        return word
    # word ends are swallowed and devoiced most: the last letter counts twice
    weights = [2.0 if i == len(word) - 1 else 1.0 for i, _ in choices]
    i, t = rng.choices(choices, weights=weights)[0]
    return word[:i] + t + word[i + 1 :]


def cut_ending(word: str, kazakh_ok: bool, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    cut = word[: -rng.choice((1, 1, 2))]
    if rng.random() < 0.3:
        cut = swap_letter(cut, VOWELS, kazakh_ok, rng)
    return cut


class SubstitutionKind(Enum):
    VOICING = "voicing"
    VOWEL = "vowel"
    ENDING = "ending"
    VOCABULARY = "vocabulary"


SUBSTITUTION_WEIGHTS = {
    SubstitutionKind.VOICING: 0.3,
    SubstitutionKind.VOWEL: 0.3,
    SubstitutionKind.ENDING: 0.2,
    SubstitutionKind.VOCABULARY: 0.2,
}


class Substitutions:
    """Draws what a word is misheard as; knows each language's vocabulary for real-word substitutions."""

    def __init__(self, vocabulary: Vocabulary | None = None) -> None:
        self._by_first = {lang: _index(words) for lang, words in (vocabulary or {}).items()}

    def substitute(self, word: str, numeric: bool, language: str, rng: random.Random) -> str:
        """Another form of ``word``: a number word gets one letter wrong, any other word a drawn kind."""
        kazakh_ok = language != "ru"
        if numeric:
            kinds = [SubstitutionKind.VOWEL, SubstitutionKind.VOICING]
            rng.shuffle(kinds)
        else:
            first = rng.choices(list(SUBSTITUTION_WEIGHTS), weights=list(SUBSTITUTION_WEIGHTS.values()))[0]
            kinds = [first, *(k for k in SubstitutionKind if k != first)]
        for kind in kinds:
            new = self._apply(kind, word, language, kazakh_ok, rng)
            if new and new != word:
                return new
        return word

    def _apply(self, kind: SubstitutionKind, word: str, language: str, kazakh_ok: bool, rng: random.Random) -> str:
        if kind is SubstitutionKind.VOICING:
            return swap_letter(word, _VOICING_TABLE, kazakh_ok, rng)
        if kind is SubstitutionKind.VOWEL:
            return swap_letter(word, VOWELS, kazakh_ok, rng)
        if kind is SubstitutionKind.ENDING:
            return cut_ending(word, kazakh_ok, rng)
        return self._vocabulary_word(word, language, rng)

    def _vocabulary_word(self, word: str, language: str, rng: random.Random) -> str:
        if language == "mixed":
            language = "kk" if KAZAKH_LETTERS & set(word) else "ru"
        pool = self._by_first.get(language, {}).get(word[:1], ())
        for prefix in (word[:3], word[:2], word[:1]):
            near = [w for w in pool if w.startswith(prefix) and w != word and abs(len(w) - len(word)) <= 2]
            if near:
                return rng.choice(near)
        return word


def _index(words: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Distinct words by first letter: a substitute is looked for among words that start alike."""
    by_first: dict[str, set[str]] = {}
    for w in words:
        if w:
            by_first.setdefault(w[0], set()).add(w)
    return {first: tuple(sorted(ws)) for first, ws in by_first.items()}


def vocabulary_of(texts_by_language: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The sorted distinct words of each language's texts, for ``DamageModel(vocabulary=...)``."""
    return {
        lang: tuple(sorted({w for t in texts for w in clean_words(t)})) for lang, texts in texts_by_language.items()
    }
