"""Recognition quality against QA's corrections: word error rate and how well the low-confidence marks point at
the wrong words.

A pair is what the machine heard (its words with their confidences) and what QA wrote instead (the reference).
Both sides pass through the same normalisation (``normalise``): Unicode NFC, lower case, Kazakh letters kept,
"ё" read as "е", punctuation and symbols dropped. jiwer aligns the two word lists; the counts follow the usual
definitions with the reference as truth: a substitution replaces a reference word, a deletion is a reference word
the machine missed, an insertion is a machine word the reference does not have.

The low-confidence marks: the desk and the QA page underline a word whose confidence is below ``LOW_CONFIDENCE``
(the one threshold in Python; api/web/static/js/desk.js and qa.js carry the same number as ``LOW_CONF``). A marked
word is a *hit* when the alignment shows it was wrong: substituted, or removed by the correction (an insertion in
WER's terms). Precision is hits over marked words; recall is hits over wrong machine words. Reference words the
machine missed altogether have no machine word to mark, so they count in WER but not in recall.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TypeVar

import jiwer

LOW_CONFIDENCE = 0.6  # a word below this is marked low on the desk and the QA page (desk.js / qa.js LOW_CONF)

_FOLD = str.maketrans({"ё": "е"})
_CYRILLIC_I = str.maketrans({"i": "і"})  # a Latin "i" typed for the Kazakh "і" inside a Cyrillic word


def _cyrillic(token: str) -> bool:
    return any("CYRILLIC" in unicodedata.name(ch, "") for ch in token)


def normalise_word(token: str) -> str:
    """One token as compared: NFC, lower case, "ё" as "е", punctuation and symbols dropped ("" if nothing is left).

    Kazakh letters (ә ғ қ ң ө ұ ү һ і) stay as they are; a Latin "i" inside a Cyrillic word is read as "і".
    """
    text = unicodedata.normalize("NFC", token).lower().translate(_FOLD)
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("P", "S"))
    return kept.translate(_CYRILLIC_I) if _cyrillic(kept) else kept


def normalise(text: str) -> list[str]:
    """A text as the list of words compared (whitespace splits words; tokens that were only punctuation go)."""
    return [w for w in (normalise_word(tok) for tok in text.split()) if w]


@dataclass(frozen=True, slots=True)
class HeardWord:
    """One word the machine wrote, with its confidence (None: not known, never marked)."""

    text: str
    conf: float | None = None

    @property
    def marked(self) -> bool:
        return self.conf is not None and self.conf < LOW_CONFIDENCE


class Fate(StrEnum):
    """What the alignment says of a machine word."""

    CORRECT = "correct"
    SUBSTITUTED = "substituted"
    REMOVED = "removed"  # the correction has no word here: an insertion in WER's terms

    @property
    def wrong(self) -> bool:
        return self is not Fate.CORRECT


@dataclass(frozen=True, slots=True)
class Counts:
    """Sums over one or more pairs; the rates are computed from the sums (not averaged over segments)."""

    segments: int = 0
    reference_words: int = 0
    hypothesis_words: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    marked: int = 0  # machine words below LOW_CONFIDENCE
    wrong: int = 0  # machine words substituted or removed
    hits: int = 0  # marked and wrong

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)})

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        """(S + D + I) / reference words; None without reference words."""
        return self.errors / self.reference_words if self.reference_words else None

    @property
    def mark_precision(self) -> float | None:
        """Of the marked words, the share that was wrong; None when nothing was marked."""
        return self.hits / self.marked if self.marked else None

    @property
    def mark_recall(self) -> float | None:
        """Of the wrong machine words, the share that was marked; None when none was wrong."""
        return self.hits / self.wrong if self.wrong else None


@dataclass(frozen=True, slots=True)
class Scored:
    """One pair's counts and each (kept) machine word's fate, in order."""

    counts: Counts
    words: tuple[tuple[HeardWord, Fate], ...]


def score(heard: Sequence[HeardWord], reference: str) -> Scored:
    """Align what was heard with the reference text and count errors and marks."""
    kept = [(w, norm) for w in heard if (norm := normalise_word(w.text))]
    hyp = [norm for _, norm in kept]
    ref = normalise(reference)
    fates: list[Fate] = [Fate.CORRECT] * len(hyp)
    subs = dels = ins = 0
    if not ref or not hyp:
        dels, ins = len(ref), len(hyp)
        fates = [Fate.REMOVED] * len(hyp)
    else:
        out = jiwer.process_words(" ".join(ref), " ".join(hyp))
        subs, dels, ins = out.substitutions, out.deletions, out.insertions
        for chunk in out.alignments[0]:
            if chunk.type == "substitute":
                fate = Fate.SUBSTITUTED
            elif chunk.type == "insert":
                fate = Fate.REMOVED
            else:
                continue
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                fates[i] = fate
    words = tuple((w, fate) for (w, _), fate in zip(kept, fates, strict=True))
    counts = Counts(
        segments=1,
        reference_words=len(ref),
        hypothesis_words=len(hyp),
        substitutions=subs,
        deletions=dels,
        insertions=ins,
        marked=sum(w.marked for w, _ in words),
        wrong=sum(f.wrong for _, f in words),
        hits=sum(w.marked and f.wrong for w, f in words),
    )
    return Scored(counts, words)


K = TypeVar("K", bound=Hashable)


def aggregate(items: Iterable[tuple[K, Counts]]) -> dict[K, Counts]:
    """Sum counts per key (keys in first-seen order)."""
    out: dict[K, Counts] = {}
    for key, counts in items:
        out[key] = out.get(key, Counts()) + counts
    return out


def total(counts: Iterable[Counts]) -> Counts:
    """The sum of all ``counts``."""
    out = Counts()
    for c in counts:
        out = out + c
    return out
