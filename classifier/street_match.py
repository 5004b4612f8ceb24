"""Street names heard with errors: a phonetic key index over the street list's core words, with a bounded fuzzy match.

A word matches a street word when their phonetic keys are equal (Kazakh letters folded to their Russian neighbours,
voicing pairs and vowel classes merged) or, for keys of six letters and more, within one edit (two from ten
letters). Short keys match only by sound: a five-letter ordinary word one edit from a short street name is too
often just a word.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from classifier.phonetic import edits_allowed, phonetic_key, within_edits

MIN_KEY_LETTERS = 5  # a stem with a shorter phonetic key is matched only exactly ("апай" is not "абай")
MIN_TYPED_KEY_LETTERS = 4  # beside a street word ("апай даңғылы") a four-letter key is matched by sound

T = TypeVar("T")


@dataclass(slots=True)
class SoundIndex(Generic[T]):
    """Items (streets' cores) indexed by the phonetic key of a word, looked up by sound, then by a few edits."""

    by_key: dict[str, list[T]] = field(default_factory=dict)
    _keys: tuple[str, ...] = ()

    def add(self, word: str, item: T) -> None:
        """Index ``item`` under the key of ``word``."""
        key = phonetic_key(word)
        if len(key) < MIN_TYPED_KEY_LETTERS:
            return
        items = self.by_key.setdefault(key, [])
        if item not in items:
            items.append(item)
        self._keys = ()

    def keys_near(self, word: str, min_letters: int = MIN_KEY_LETTERS) -> list[str]:
        """Indexed keys that sound like ``word``: the equal key, else those within the allowed edits."""
        key = phonetic_key(word)
        if len(key) < min_letters:
            return []
        if key in self.by_key:
            return [key]
        limit = edits_allowed(len(key))
        if limit == 0:
            return []
        if not self._keys:
            self._keys = tuple(self.by_key)
        hits = process.extract(key, self._keys, scorer=Levenshtein.distance, score_cutoff=limit, limit=None)
        return sorted(k for k, _, _ in hits if within_edits(key, k))

    def lookup(self, words: Iterable[str], min_letters: int = MIN_KEY_LETTERS) -> list[T]:
        """Items of every key near any of ``words`` (candidate stems of one spoken word), without repeats."""
        out: list[T] = []
        for w in words:
            for k in self.keys_near(w, min_letters):
                for item in self.by_key[k]:
                    if item not in out:
                        out.append(item)
        return out


def sounds_like(a: str, b: str, min_letters: int = MIN_KEY_LETTERS) -> bool:
    """Two stems that Vosk could have confused: same phonetic key, or within the allowed edits for long keys."""
    ka, kb = phonetic_key(a), phonetic_key(b)
    if ka == kb:
        return len(ka) >= min_letters or a == b
    return within_edits(ka, kb)
