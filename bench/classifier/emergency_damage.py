"""Emergency recall and precision on damaged transcripts: the phrase rules alone, and the whole proposer.

Each line of the test and heldout splits (never blind) is damaged by ``classifier.damage.DamageModel`` at 0.2,
0.3 and 0.4 word error rate (seeded, so every run sees the same copies). For the rules alone: any-emergency recall
(the rules fired some code on a true emergency), right-code recall (they fired its primary code) and precision (a
rule fired on a true emergency), per language. For the proposer: any-emergency recall and precision of its
verdict. ``--old FILE`` measures an older emergency.py side by side (it replaces the proposer's rules too).
``--collisions`` lists rule hits on non-emergency train lines that the old rules did not make (precision guard).

Run: .venv/bin/python bench/classifier/emergency_damage.py --old /tmp/emergency_old.py [--proposer] [--json OUT]
"""

# ruff: noqa: T201  (a command-line benchmark: its output is the result)

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

from classifier import emergency, proposer
from classifier.corpus import Example, default_corpus_dir, load_split
from classifier.damage import DamageModel
from classifier.normalize import normalize
from core.taxonomy import load_taxonomy

SPLITS = ("test", "heldout")
WERS = (0.0, 0.2, 0.3, 0.4)
LANGS = ("ru", "kk", "mixed", "all")
SEED = 20261207


@dataclass(frozen=True, slots=True)
class Scores:
    """Any-emergency recall, right-code recall and precision of one judge on one set of lines."""

    n: int
    emergencies: int
    recall_any: float
    recall_code: float
    precision: float


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("emergency_old", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def damaged_copies(examples: list[Example], wer: float) -> list[str]:
    if wer == 0.0:
        return [e.text for e in examples]
    model = DamageModel(wer, SEED)
    return [model.damage(e.text, e.language or "ru").text for e in examples]


def score(examples: list[Example], verdicts: list[tuple[str, ...]]) -> Scores:
    gold = [e.codes for e in examples]
    emerg = [g for g in gold if g]
    fired = [v for v in verdicts if v]
    hit_any = sum(1 for g, v in zip(gold, verdicts, strict=True) if g and v)
    hit_code = sum(1 for g, v in zip(gold, verdicts, strict=True) if g and g[0] in v)
    return Scores(
        n=len(examples),
        emergencies=len(emerg),
        recall_any=round(hit_any / len(emerg), 3) if emerg else 0.0,
        recall_code=round(hit_code / len(emerg), 3) if emerg else 0.0,
        precision=round(hit_any / len(fired), 3) if fired else 0.0,
    )


def rules_judge(mod: ModuleType) -> Callable[[str], tuple[str, ...]]:
    def judge(text: str) -> tuple[str, ...]:
        primary, also, _ = mod.rules_only(text)
        return () if primary == "none" else (primary, *also)

    return judge


def proposer_judge(p: proposer.SklearnProposer, mod: ModuleType) -> Callable[[str], tuple[str, ...]]:
    def judge(text: str) -> tuple[str, ...]:
        proposer.rules = mod  # type: ignore[attr-defined]  # the proposer's rules: old or new
        card = p.propose(text)
        return () if card.emergency == "none" else (card.emergency, *card.emergency_also)

    return judge


def by_language(examples: list[Example], verdicts: list[tuple[str, ...]]) -> dict[str, Scores]:
    out = {}
    for lang in LANGS:
        idx = [i for i, e in enumerate(examples) if lang == "all" or e.language == lang]
        out[lang] = score([examples[i] for i in idx], [verdicts[i] for i in idx])
    return out


def collisions(old: ModuleType, taxonomy_examples: list[Example]) -> None:
    """Hits of the new rules on non-emergency lines (clean and 0.3 WER) that the old rules did not fire."""
    none = [e for e in taxonomy_examples if not e.codes]
    counts: Counter[tuple[str, str]] = Counter()
    for wer in (0.0, 0.3):
        for text in damaged_copies(none, wer):
            old_codes = rules_judge(old)(text)
            for h in emergency.rule_hits(normalize(text)):
                if not h.discounted and h.code not in old_codes:
                    counts[(h.code, h.text)] += 1
    for (code, words), n in counts.most_common(80):
        print(f"{n:4d} {code} {words}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=Path, help="an older classifier/emergency.py to compare with")
    ap.add_argument("--proposer", action="store_true", help="also measure the shipped proposer")
    ap.add_argument("--collisions", action="store_true", help="new rule hits on the train split's non-emergencies")
    ap.add_argument("--json", type=Path, help="write all numbers here")
    args = ap.parse_args()
    taxonomy = load_taxonomy()
    corpus = default_corpus_dir()
    mods: dict[str, ModuleType] = {"new": emergency}
    if args.old:
        mods = {"old": load_module(args.old), "new": emergency}
    if args.collisions:
        collisions(mods.get("old", emergency), load_split(corpus, "train", taxonomy))
        return
    shipped = None
    if args.proposer:
        from classifier.loader import load_proposer

        loaded = load_proposer("sklearn", None, taxonomy)
        assert isinstance(loaded, proposer.SklearnProposer)
        shipped = loaded
    results: dict[str, dict[str, dict[str, dict[str, dict[str, object]]]]] = {}
    for split in SPLITS:
        examples = load_split(corpus, split, taxonomy)
        for wer in WERS:
            texts = damaged_copies(examples, wer)
            judges: dict[str, Callable[[str], tuple[str, ...]]] = {}
            for name, mod in mods.items():
                judges[f"rules_{name}"] = rules_judge(mod)
                if shipped is not None:
                    judges[f"proposer_{name}"] = proposer_judge(shipped, mod)
            for judge_name, judge in judges.items():
                table = by_language(examples, [judge(t) for t in texts])
                results.setdefault(split, {}).setdefault(f"wer{wer}", {})[judge_name] = {
                    lang: asdict(s) for lang, s in table.items()
                }
                cells = "  ".join(
                    f"{lang}: R {s.recall_any:.3f} Rc {s.recall_code:.3f} P {s.precision:.3f}"
                    for lang, s in table.items()
                )
                print(f"{split:8s} wer {wer:.1f} {judge_name:13s} {cells}", flush=True)
    proposer.rules = emergency  # type: ignore[attr-defined]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
