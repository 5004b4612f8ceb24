"""Misheard words put back: a word the model never saw becomes the model's word that sounds the same.

Vosk writes "батореи", "жыру", "газум" for "батареи", "жиырма", "газом": words outside the model's vocabulary,
which the topic and emergency heads cannot use. When a vocabulary word has the same sound-alike key
(``classifier.phonetic``: Kazakh letters folded, voicing pairs and vowel classes merged), the heads read the
vocabulary word instead; of several, the most common one (lowest idf). Only the model's features read the
repaired words; rules and the address reader have tolerances of their own and read what was heard.

A gate on the recogniser's confidence (repair only words it doubts, ``below``) was measured and is off by default:
on damaged text with simulated confidences it repaired fewer misheard words than it protected, and on clean text
repairing every out-of-vocabulary word costs almost nothing (bench/classifier/word_confidences.py,
docs/classifier.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from classifier.phonetic import phonetic_key

# Below this recogniser confidence an out-of-vocabulary word may be replaced: always, by default (see above).
REPAIR_BELOW = float("inf")
GATED_BELOW = 0.7  # the measured alternative
NEVER = 0.0  # no repair at all (a confidence is never below 0)
MIN_LENGTH = 4  # shorter words have too many sound-alikes


class WordRepair:
    """Sound-alike replacement of out-of-vocabulary words by the model's own words."""

    def __init__(self, idf: Mapping[str, float], below: float = REPAIR_BELOW) -> None:
        self._vocabulary = frozenset(idf)
        self.below = below
        best: dict[str, tuple[float, str]] = {}
        for word, weight in idf.items():
            if " " in word or len(word) < MIN_LENGTH:
                continue
            key = phonetic_key(word)
            if key not in best or (weight, word) < best[key]:
                best[key] = (weight, word)
        self._by_key = {key: word for key, (_, word) in best.items()}

    def word(self, token: str, confidence: float) -> str:
        """The token, or the vocabulary word it was probably meant as."""
        if confidence >= self.below or len(token) < MIN_LENGTH or token in self._vocabulary:
            return token
        return self._by_key.get(phonetic_key(token), token)

    def repair(self, tokens: Sequence[str], confidences: Sequence[float]) -> list[str]:
        """Each token repaired by its confidence (tokens and confidences aligned)."""
        if len(tokens) != len(confidences):
            raise ValueError("tokens and confidences differ in length")
        return [self.word(t, c) for t, c in zip(tokens, confidences, strict=True)]
