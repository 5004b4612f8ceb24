"""The labelled utterances (privacy/data/pii_utterances.jsonl) and precision/recall of the detector on them.

The set is our own, written for this detector (numbers built with the ИИН and Luhn algorithms, spelled out in ru
and kk the way Vosk prints them): it measures what the detector was designed for, not field performance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from privacy.base import PersonalDataKind, PersonalDataSpan, TimedWord
from privacy.detect import detect_personal_data

DEFAULT_SET = Path(__file__).parent / "data" / "pii_utterances.jsonl"
WORD_SECONDS = 0.4  # the made-up times of the labelled words: one word every 0.5 s


@dataclass(frozen=True, slots=True)
class LabelledSpan:
    kind: PersonalDataKind
    first_word: int
    last_word: int


@dataclass(frozen=True, slots=True)
class LabelledUtterance:
    id: str
    lang: str
    words: tuple[TimedWord, ...]
    spans: tuple[LabelledSpan, ...]


def load_labelled(path: Path = DEFAULT_SET) -> list[LabelledUtterance]:
    out: list[LabelledUtterance] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        words = tuple(TimedWord(t, i * 0.5, i * 0.5 + WORD_SECONDS) for i, t in enumerate(row["words"]))
        spans = tuple(LabelledSpan(PersonalDataKind(k), a, b) for k, a, b in row["spans"])
        out.append(LabelledUtterance(row["id"], row["lang"], words, spans))
    return out


@dataclass(frozen=True, slots=True)
class Score:
    """Exact-span matches (same kind, same first and last word) of one kind, or of all kinds."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def score(
    utterances: Sequence[LabelledUtterance],
    detect: Callable[[Sequence[TimedWord]], list[PersonalDataSpan]] = detect_personal_data,
) -> dict[PersonalDataKind | None, Score]:
    """Per kind, and overall under the key None."""
    counts: dict[PersonalDataKind | None, list[int]] = {k: [0, 0, 0] for k in [*PersonalDataKind, None]}
    for utt in utterances:
        expected = set(utt.spans)
        found = {LabelledSpan(s.kind, s.first_word, s.last_word) for s in detect(utt.words)}
        for span in found | expected:
            slot = 0 if span in found and span in expected else 1 if span in found else 2
            counts[span.kind][slot] += 1
            counts[None][slot] += 1
    return {k: Score(*c) for k, c in counts.items()}
