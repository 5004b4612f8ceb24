"""The card proposer's figures on a split, clean and damaged to 20/30/40% word error rate, overall and per language.

Every condition is measured on the same lines: the clean text, and copies damaged by ``classifier.damage`` with a
seed of their own (never the seeds training uses). Figures: topic, any-emergency recall and precision, right code
of true emergencies, street and house, language, and the expected calibration error of the topic, service and
emergency confidences, with the reliability diagrams of the clean and 30% conditions.

Run: .venv/bin/python bench/classifier/proposer_report.py --split test [--model DIR] [--out FILE.md] [--json FILE]
Reading ``--split blind`` is a look at the blind split: it is recorded in classifier/data/corpus/blind/LOOKS.md
with the date, the model version and the ``--why`` given.
"""

# ruff: noqa: T201  (a command-line report: its output is the result)

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.corpus import BLIND_SPLIT, Example, default_corpus_dir, load_split
from classifier.damage import DamageModel, damage_examples, word_error_rate
from classifier.evaluation import evaluate
from classifier.loader import load_proposer
from core.taxonomy import load_taxonomy

EVAL_SEED = 20261207  # damage seed of measured copies; training draws its damage from other seeds
RATES = (0.2, 0.3, 0.4)
LANGUAGES = ("ru", "kk", "mixed")
LOOKS_FILE = "LOOKS.md"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the figures table."""

    condition: str
    language: str
    n: int
    measured_wer: float
    topic: float
    any_recall: float
    any_precision: float
    right_code: float | None
    street_and_house: float | None
    language_accuracy: float | None
    ece_topic: float
    ece_service: float
    ece_emergency: float


def damaged(examples: list[Example], rate: float, seed: int = EVAL_SEED) -> list[Example]:
    """Copies of ``examples`` damaged to about ``rate`` word error rate (labels kept)."""
    return damage_examples(examples, DamageModel(rate, seed=seed))


def row(condition: str, language: str, clean: list[Example], seen: list[Example], metrics: dict[str, Any]) -> Row:
    cal = metrics.get("calibration", {})
    wer = word_error_rate([e.text for e in clean], [e.text for e in seen])
    return Row(condition, language, metrics["n"], round(wer, 3), metrics["topic_accuracy"],
               metrics["any_emergency"]["recall"], metrics["any_emergency"]["precision"],
               metrics["right_code_of_true_emergencies"], metrics["address"]["street_and_house_accuracy"],
               metrics["language_accuracy"], cal.get("topic", {}).get("ece", 0.0),
               cal.get("service", {}).get("ece", 0.0), cal.get("emergency", {}).get("ece", 0.0))


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def markdown(rows: list[Row], diagrams: dict[str, dict[str, Any]], title: str) -> str:
    out = [f"## {title}", "",
           "| condition | language | lines | measured WER | topic | any-emergency recall | any-emergency precision |"
           " right code | street and house | language | ECE topic | ECE service | ECE emergency |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.condition} | {r.language} | {r.n} | {r.measured_wer:.3f} | {_f(r.topic)} | "
                   f"{_f(r.any_recall)} | {_f(r.any_precision)} | {_f(r.right_code)} | {_f(r.street_and_house)} | "
                   f"{_f(r.language_accuracy)} | {_f(r.ece_topic)} | {_f(r.ece_service)} | {_f(r.ece_emergency)} |")
    for condition, cal in diagrams.items():
        for kind, d in cal.items():
            out += ["", f"Reliability of the {kind} confidence, {condition} (ECE {d['ece']:.3f}, {d['n']} lines):", "",
                    "| shown | lines | mean shown | right |", "|---|---|---|---|"]
            for b in d["bins"]:
                if b["count"]:
                    out.append(f"| {b['lower']:.1f}-{b['upper']:.1f} | {b['count']} | {b['mean_confidence']:.3f} | "
                               f"{b['accuracy']:.3f} |")
    return "\n".join(out) + "\n"


def record_look(corpus: Path, version: str, why: str) -> int:
    """Append a look at the blind split to its log; returns how many looks it now holds."""
    path = corpus / BLIND_SPLIT / LOOKS_FILE
    if not path.exists():
        path.write_text("# Looks at the blind split\n\nOne line per evaluation run on it, written by "
                        "bench/classifier/proposer_report.py.\n\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"- {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, model {version}: {why}\n")
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("- "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None, help="Write the markdown tables here.")
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    ap.add_argument("--why", default="", help="Required with --split blind: why the blind split is read.")
    args = ap.parse_args()
    taxonomy = load_taxonomy()
    corpus = default_corpus_dir()
    proposer = load_proposer("sklearn", args.model, taxonomy)
    if args.split == BLIND_SPLIT:
        if not args.why:
            raise SystemExit("reading the blind split needs --why (it is recorded in blind/LOOKS.md)")
        print(f"look number {record_look(corpus, proposer.version, args.why)} at the blind split")
    examples = load_split(corpus, args.split, taxonomy)
    started = time.monotonic()
    rows: list[Row] = []
    diagrams: dict[str, dict[str, Any]] = {}
    full: dict[str, Any] = {}
    for condition, rate in [("clean", None), *((f"{int(r * 100)}% WER", r) for r in RATES)]:
        seen = examples if rate is None else damaged(examples, rate)
        metrics = evaluate(proposer, seen)
        rows.append(row(condition, "all", examples, seen, metrics))
        full[condition] = {k: v for k, v in metrics.items() if k != "errors"}
        if rate in (None, 0.3):
            diagrams[condition] = metrics["calibration"]
        for lang in LANGUAGES:
            idx = [i for i, e in enumerate(examples) if e.language == lang]
            sub_clean, sub_seen = [examples[i] for i in idx], [seen[i] for i in idx]
            rows.append(row(condition, lang, sub_clean, sub_seen, evaluate(proposer, sub_seen)))
    text = markdown(rows, diagrams, f"{args.split} split ({len(examples)} lines), model {proposer.version}")
    print(text)
    print(f"measured in {time.monotonic() - started:.0f} s")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.json_out:
        args.json_out.write_text(json.dumps({"rows": [asdict(r) for r in rows], "metrics": full},
                                            ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
