"""Word error rate: Levenshtein distance over words, summed over a corpus and divided by its reference words."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein


def word_edits(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions that turn the reference's words into the hypothesis's words.

    A merge of two words ("кенесары қырық" -> "кенесарықырық") counts 2 (1 substitution + 1 deletion), a split
    of one word into two counts 2 (1 substitution + 1 insertion), as jiwer and the usual ASR scoring count them.
    """
    return int(Levenshtein.distance(reference.split(), hypothesis.split()))


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: the sum of word edits over all pairs divided by the number of reference words."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    words = sum(len(r.split()) for r in references)
    if words == 0:
        raise ValueError("the references hold no words")
    return sum(word_edits(r, h) for r, h in zip(references, hypotheses, strict=True)) / words
