"""Do the recogniser's word confidences help the card proposer? The same damaged lines, proposed four ways.

- no repair, text only: the damaged transcript as it is (the proposer of before issue 14's word repair);
- repair, text only: out-of-vocabulary words put back by sound (``classifier.word_repair``, the default);
- repair gated by confidence: only words the recogniser doubts (simulated confidence below ``GATED_BELOW``);
- repair + confidences (what runs in a call): the default repair, and the words' simulated Vosk confidences passed
  with the text (``add_final(text, words)``), so a house number with a word below
  ``address.LOW_WORD_CONFIDENCE`` is reported uncertain instead of guessed.
Clean lines are measured with and without repair.

Run: .venv/bin/python bench/classifier/word_confidences.py [--split test] [--model DIR] [--seeds 3]
"""

# ruff: noqa: T201  (a command-line benchmark: its output is the result)

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from classifier.address import LOW_WORD_CONFIDENCE
from classifier.base import HeardWord, HouseStatus
from classifier.corpus import BLIND_SPLIT, Example, default_corpus_dir, load_split
from classifier.damage import DamageModel
from classifier.loader import load_proposer
from classifier.proposer import SklearnProposer
from classifier.word_repair import GATED_BELOW, NEVER, WordRepair
from core.taxonomy import load_taxonomy

EVAL_SEED = 20261207
# the gated way raises every confidence to at least this, so only the repair gate (0.7), not the address
# reader's doubt (0.35), reads them
ADDRESS_BLIND = LOW_WORD_CONFIDENCE


@dataclass
class Tally:
    """Counts of one way of proposing."""

    n: int = 0
    topic: int = 0
    em_tp: int = 0
    em_fp: int = 0
    em_fn: int = 0
    addr_n: int = 0
    addr_right: int = 0
    addr_wrong_house: int = 0
    addr_uncertain: int = 0

    def add(self, ex: Example, proposer: SklearnProposer, text: str, words: Sequence[HeardWord]) -> None:
        p = proposer.open_call().add_final(text, words)
        self.n += 1
        self.topic += p.topic == ex.topic
        t, q = ex.emergency != "none", p.emergency != "none"
        self.em_tp += t and q
        self.em_fp += q and not t
        self.em_fn += t and not q
        a = ex.address or {}
        if a.get("street") and a.get("house"):
            self.addr_n += 1
            street_ok = p.address.street == a["street"]
            house_ok = (p.address.house or "").upper() == str(a["house"]).upper()
            self.addr_right += street_ok and house_ok
            self.addr_uncertain += street_ok and p.house_status is HouseStatus.UNCERTAIN
            self.addr_wrong_house += street_ok and p.address.house is not None and not house_ok

    def line(self, name: str) -> str:
        rec = self.em_tp / max(1, self.em_tp + self.em_fn)
        prec = self.em_tp / max(1, self.em_tp + self.em_fp)
        return (f"| {name} | {self.topic / self.n:.4f} | {rec:.4f} | {prec:.4f} | {self.addr_right / self.addr_n:.4f} "
                f"| {self.addr_wrong_house / self.addr_n:.4f} | {self.addr_uncertain / self.addr_n:.4f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    if args.split == BLIND_SPLIT:
        raise SystemExit("tuning measurements never read the blind split")
    taxonomy = load_taxonomy()
    proposer = load_proposer("sklearn", args.model, taxonomy)
    assert isinstance(proposer, SklearnProposer)
    examples = load_split(default_corpus_dir(), args.split, taxonomy)
    print(f"{args.split} split, {len(examples)} lines, model {proposer.version}, {args.seeds} damage seeds\n")
    print("| condition, way | topic | any-emergency recall | precision | street and house | wrong house | "
          "house uncertain |\n|---|---|---|---|---|---|---|")
    idf = proposer.model.incremental.unigram_idf()
    repairs = {"no repair": WordRepair(idf, below=NEVER), "repair": WordRepair(idf),
               "gated": WordRepair(idf, below=GATED_BELOW)}
    for name in ("no repair", "repair"):
        proposer.repair = repairs[name]
        tally = Tally()
        for ex in examples:
            tally.add(ex, proposer, ex.text, ())
        print(tally.line(f"clean, {name}"))
    ways = (("no repair, text only", "no repair", False), ("repair, text only", "repair", False),
            ("repair gated by confidence", "gated", True), ("repair + confidences", "repair", True))
    for rate in (0.2, 0.3, 0.4):
        tallies = {name: Tally() for name, _, _ in ways}
        for seed in range(args.seeds):
            model = DamageModel(rate, seed=EVAL_SEED + seed)
            seen = [(ex, model.damage(ex.text, ex.language or "ru")) for ex in examples]
            for name, repair, with_words in ways:
                proposer.repair = repairs[repair]
                for ex, d in seen:
                    words = d.words if with_words else ()
                    if repair == "gated":  # the gate reads the confidences; the address reader must not
                        words = tuple(HeardWord(w.word, max(w.confidence, ADDRESS_BLIND)) for w in d.words)
                    tallies[name].add(ex, proposer, d.text or ex.text, words if d.text else ())
        for name, tally in tallies.items():
            print(tally.line(f"{int(rate * 100)}% WER, {name}"))
    proposer.repair = repairs["repair"]


if __name__ == "__main__":
    main()
