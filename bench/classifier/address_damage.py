"""Street+house accuracy of the address reader on the test split, clean and damaged by simulated Vosk errors.

Run: .venv/bin/python bench/classifier/address_damage.py [--wer 0 0.2 0.3 0.4] [--seeds 5] [--before DIR]
[--split test|heldout]

--before DIR reads with an older copy of the reader: DIR holds address_before.py and numbers_before.py (copies of
classifier/address.py and classifier/numbers.py whose import of classifier.numbers points at numbers_before); it
gets the damaged text only, the current reader also gets the per-word confidences.

Counted over test lines whose label has a street and a house: right (canonical street and house string equal),
house uncertain (right street, house left out and marked uncertain: not right, but better than a wrong house),
wrong house, street missed, wrong street. Over lines whose label has no street: a street invented.
"""

# ruff: noqa: T201  (a command-line benchmark: its output is the result)

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from classifier.address import AddressExtractor, AddressReading, HouseStatus, StreetIndex, heard_tokens
from classifier.base import Address
from classifier.corpus import Example, default_corpus_dir, load_split
from classifier.normalize import tokens
from core.taxonomy import load_taxonomy

TEST_SPLIT = "test"  # never the blind split
SPLITS = (TEST_SPLIT, "heldout")


@dataclass(frozen=True, slots=True)
class Heard:
    """What the reader gets of one line: the text as heard and each token's confidence."""

    text: str
    tokens: list[str]
    confidences: list[float]


Reader = Callable[[Heard], AddressReading]
Damager = Callable[[str, str, int], Heard]


def clean(text: str, language: str, seed: int) -> Heard:
    """The line as written, every word sure."""
    toks = tokens(text)
    return Heard(text, toks, [1.0] * len(toks))


def damager(wer: float) -> Damager:
    """classifier.damage's model at this word error rate."""
    from classifier.damage import DamageModel  # written alongside; imported only when a damaged run is asked

    def damage(text: str, language: str, seed: int) -> Heard:
        out = DamageModel(wer, seed).damage(text, language)
        toks, conf = heard_tokens(out.words)
        return Heard(out.text, toks, conf)

    return damage


def current_reader() -> Reader:
    extractor = AddressExtractor(StreetIndex.load())
    return lambda heard: extractor.read(heard.tokens, heard.confidences)


def before_reader(directory: Path) -> Reader:
    """An older copy of the reader (text only; a missing house counts as absent)."""
    sys.path.insert(0, str(directory))
    old = importlib.import_module("address_before")
    extractor = old.AddressExtractor(old.StreetIndex.load())

    def read(heard: Heard) -> AddressReading:
        a: Address = extractor.extract(tokens(heard.text))
        return AddressReading(a, HouseStatus.HEARD if a.house else HouseStatus.ABSENT)

    return read


def outcome(example: Example, reading: AddressReading) -> str:
    """One line's outcome (see the module docstring)."""
    gold = example.address or {}
    a = reading.address
    if not gold.get("street"):
        return "street invented" if a.street else "no street, none read"
    if a.street is None:
        return "street missed"
    if a.street != gold["street"]:
        return "wrong street"
    if not gold.get("house"):
        return "street right (no house said)"
    if (a.house or "").upper() == str(gold["house"]).upper():
        return "right"
    if a.house is None:
        return "house uncertain" if reading.house_status is HouseStatus.UNCERTAIN else "house missed"
    return "wrong house"


def measure(examples: list[Example], read: Reader, damage: Damager, seeds: int) -> list[Counter[str]]:
    """The outcome counts of each seed's damaged copy of the lines."""
    per_seed: list[Counter[str]] = []
    for seed in range(seeds):
        counts: Counter[str] = Counter()
        for k, ex in enumerate(examples):
            counts[outcome(ex, read(damage(ex.text, ex.language or "ru", seed * 100_003 + k)))] += 1
        per_seed.append(counts)
    return per_seed


def right_share(counts: Counter[str]) -> float:
    """The share of street+house lines read right."""
    with_house = sum(counts[k] for k in _WITH_HOUSE)
    return counts["right"] / with_house if with_house else 0.0


_WITH_HOUSE = ("right", "house uncertain", "house missed", "wrong house", "street missed", "wrong street")


def report(label: str, per_seed: list[Counter[str]]) -> None:
    counts: Counter[str] = sum(per_seed, Counter())
    with_house = sum(counts[k] for k in _WITH_HOUSE)
    no_street = counts["street invented"] + counts["no street, none read"]
    read_streets = with_house - counts["street missed"]

    def share(k: str) -> str:
        return f"{counts[k] / with_house:.3f}" if with_house else "-"

    precision = 1 - counts["wrong street"] / read_streets if read_streets else 0.0
    print(
        f"{label:<18} right {share('right')}  uncertain {share('house uncertain')}  "
        f"house-missed {share('house missed')}  wrong-house {share('wrong house')}  "
        f"street-missed {share('street missed')}  wrong-street {share('wrong street')}  "
        f"street-precision {precision:.3f}  invented {counts['street invented']}/{no_street}"
    )
    if len(per_seed) > 1:
        shares = [right_share(c) for c in per_seed]
        print(f"{'':<18} right per seed {' '.join(f'{x:.3f}' for x in shares)}  min {min(shares):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wer", type=float, nargs="+", default=[0.0, 0.2, 0.3, 0.4])
    parser.add_argument("--seeds", type=int, default=5, help="damaged copies of each line per WER")
    parser.add_argument("--before", type=Path, default=None, help="directory of the older reader to compare")
    parser.add_argument("--split", choices=SPLITS, default=TEST_SPLIT, help="which split to read (never the blind one)")
    args = parser.parse_args()
    examples = load_split(default_corpus_dir(), args.split, load_taxonomy())
    street_lines = [e for e in examples if e.address and e.address.get("street") and e.address.get("house")]
    other = [e for e in examples if not (e.address and e.address.get("street"))]
    lines = street_lines + other
    print(f"{args.split} split: {len(street_lines)} lines with street+house, {len(other)} without a street")
    readers: list[tuple[str, Reader]] = [("after", current_reader())]
    if args.before is not None:
        readers.insert(0, ("before", before_reader(args.before)))
    for wer in args.wer:
        damage = clean if wer == 0 else damager(wer)
        seeds = 1 if wer == 0 else args.seeds
        for name, read in readers:
            report(f"{name} wer={wer:.1f}", measure(lines, read, damage, seeds))


if __name__ == "__main__":
    main()
