"""Precision and recall of the personal-data detector (ИИН, phone, card) on privacy/data/pii_utterances.jsonl.

Run: .venv/bin/python bench/privacy/detection.py [--set PATH] [--show-errors]

The labelled set is our own (written for this detector, ru, kk and mixed, numbers spelled out as Vosk prints
them); a span counts as found only with the same kind and the same first and last word.
"""

# ruff: noqa: T201  (a command-line benchmark: its output is the result)

from __future__ import annotations

import argparse
from pathlib import Path

from privacy.detect import detect_personal_data
from privacy.labelled import DEFAULT_SET, LabelledSpan, load_labelled, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    utterances = load_labelled(args.set)
    with_data = sum(1 for u in utterances if u.spans)
    print(f"{len(utterances)} utterances ({with_data} with personal data), own labelled set: {args.set.name}")
    for kind, s in score(utterances).items():
        name = kind.value if kind else "overall"
        print(
            f"{name:8} precision {s.precision:.3f}  recall {s.recall:.3f}  "
            f"(tp {s.true_positives}, fp {s.false_positives}, fn {s.false_negatives})"
        )
    if args.show_errors:
        for u in utterances:
            found = {LabelledSpan(s.kind, s.first_word, s.last_word) for s in detect_personal_data(u.words)}
            if found != set(u.spans):
                print(u.id, " ".join(w.text for w in u.words), "expected", u.spans, "found", found)


if __name__ == "__main__":
    main()
