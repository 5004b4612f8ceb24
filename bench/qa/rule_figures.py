"""How well the shipped QA rules agree with a reviewer: per rule and caller language, on a blind labelled set.

Run: .venv/bin/python bench/qa/rule_figures.py [--set PATH] [--seeds 3] [--show-misses]

The set (bench/qa/data/dialogues_blind.jsonl, see its README) was written and labelled without reading the checks.
Every dialogue is scored with the default rule set (version 0) by qa.scorecard.score, first clean, then with every
turn's text damaged by classifier.damage.DamageModel at 20% and 30% WER (turn times kept, the damaged words spread
evenly over the turn, each with the damage model's confidence), over ``--seeds`` seeds whose counts are averaged.

For the outcome "failed" (what puts a call in the QA queue): precision = tp / (tp + fp), recall = tp / (tp + fn);
accuracy is the share of all outcomes (passed, failed, not applicable) equal to the label. Counts in brackets; with
seeds they are means over the seeds. A ru or kk dialogue's turns carry that language, a mixed one's carry none.
"""

# ruff: noqa: T201  (a command-line benchmark: its output is the result)

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from classifier.damage import DamageModel
from qa.base import CallFacts, CheckOutcome, Turn
from qa.rules import RuleSet, default_rule_set
from qa.scorecard import score

DEFAULT_SET = Path(__file__).parent / "data" / "dialogues_blind.jsonl"
LANGUAGES = ("ru", "kk", "mixed")
DAMAGE_WERS = (0.2, 0.3)


@dataclass(frozen=True, slots=True)
class LabelledTurn:
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Dialogue:
    """One labelled call of the set."""

    id: str
    language: str
    facts: CallFacts
    turns: tuple[LabelledTurn, ...]
    expected: dict[str, CheckOutcome]


def load_dialogues(path: Path) -> list[Dialogue]:
    dialogues = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        dialogues.append(
            Dialogue(
                id=raw["id"],
                language=raw["language"],
                facts=CallFacts(**raw["facts"]),
                turns=tuple(LabelledTurn(t["speaker"], t["start"], t["end"], t["text"]) for t in raw["turns"]),
                expected={rule: CheckOutcome(outcome) for rule, outcome in raw["expected"].items()},
            )
        )
    return dialogues


def timed_turn(turn: LabelledTurn, words: Sequence[tuple[str, float]], language: str | None) -> Turn:
    """The turn as the scorer reads it: its words spread evenly over its time."""
    step = (turn.end - turn.start) / max(1, len(words))
    timed = [
        {"word": w, "start": turn.start + i * step, "end": turn.start + (i + 1) * step, "conf": conf}
        for i, (w, conf) in enumerate(words)
    ]
    text = " ".join(w for w, _ in words)
    return Turn.of(speaker=turn.speaker, start=turn.start, end=turn.end, text=text, words=timed, language=language)


def turns_of(dialogue: Dialogue, damage: DamageModel | None) -> list[Turn]:
    language = dialogue.language if dialogue.language in ("ru", "kk") else None
    turns = []
    for turn in dialogue.turns:
        if damage is None:
            words = [(w, 1.0) for w in turn.text.split()]
        else:
            words = [(h.word, h.confidence) for h in damage.damage(turn.text, dialogue.language).words]
        turns.append(timed_turn(turn, words, language))
    return turns


@dataclass(slots=True)
class Tally:
    """Counts of one rule (or all) in one language (or all), summed over the runs, and the number of runs."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    correct: int = 0
    total: int = 0
    runs: int = 1

    def add(self, expected: CheckOutcome, got: CheckOutcome) -> None:
        failed_expected = expected is CheckOutcome.FAILED
        failed_got = got is CheckOutcome.FAILED
        self.tp += failed_expected and failed_got
        self.fp += failed_got and not failed_expected
        self.fn += failed_expected and not failed_got
        self.correct += expected is got
        self.total += 1

    def _n(self, count: int) -> str:
        mean = count / self.runs
        return f"{mean:.0f}" if self.runs == 1 else f"{mean:.1f}"

    def precision(self) -> str:
        found = self.tp + self.fp
        return "–" if not found else f"{self.tp / found:.2f} ({self._n(self.tp)}/{self._n(found)})"

    def recall(self) -> str:
        real = self.tp + self.fn
        return "–" if not real else f"{self.tp / real:.2f} ({self._n(self.tp)}/{self._n(real)})"

    def accuracy(self) -> str:
        return f"{self.correct / self.total:.2f} ({self._n(self.correct)}/{self._n(self.total)})"


@dataclass(slots=True)
class Condition:
    """One transcript condition (clean, or a WER over seeds): tallies per (rule, language) and the misses."""

    name: str
    runs: int
    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)

    def tally(self, rule: str, language: str) -> Tally:
        return self.tallies.setdefault((rule, language), Tally(runs=self.runs))


def measure(
    dialogues: Iterable[Dialogue], rules: RuleSet, name: str, models: Sequence[DamageModel | None]
) -> Condition:
    condition = Condition(name, runs=len(models))
    for model in models:
        for dialogue in dialogues:
            card = score(turns_of(dialogue, model), dialogue.facts, rules)
            for result in card.results:
                expected = dialogue.expected[result.rule]
                for rule in (result.rule, "all rules"):
                    for language in (dialogue.language, "all"):
                        condition.tally(rule, language).add(expected, result.outcome)
                if model is None and expected is not result.outcome:
                    condition.misses.append(
                        f"{dialogue.id} {result.rule}: expected {expected.value}, got {result.outcome.value}"
                        f" (at {result.at_s}): {result.evidence}"
                    )
    return condition


def table(conditions: Sequence[Condition], rule_ids: Sequence[str]) -> str:
    head = ["rule", "lang"]
    for c in conditions:
        head += [f"{c.name} P(failed)", f"{c.name} R(failed)", f"{c.name} accuracy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in [*rule_ids, "all rules"]:
        for language in (*LANGUAGES, "all"):
            row = [rule if language == LANGUAGES[0] else "", language]
            for c in conditions:
                t = c.tally(rule, language)
                row += [t.precision(), t.recall(), t.accuracy()]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--show-misses", action="store_true", help="list the clean transcripts' disagreements")
    args = parser.parse_args()
    dialogues = load_dialogues(args.set)
    rules = default_rule_set()
    rule_ids = [r.id for r in rules.enabled()]
    conditions = [measure(dialogues, rules, "clean", [None])]
    for wer in DAMAGE_WERS:
        models: list[DamageModel | None] = [DamageModel(wer, seed) for seed in range(args.seeds)]
        conditions.append(measure(dialogues, rules, f"{wer:.0%} WER", models))
    counts = ", ".join(f"{sum(d.language == lang for d in dialogues)} {lang}" for lang in LANGUAGES)
    print(f"{len(dialogues)} dialogues ({counts}), rule set version {rules.version}, {args.set.name}")
    print(f"damaged: {args.seeds} seeds per WER, counts are means over the seeds\n")
    print(table(conditions, rule_ids))
    if args.show_misses:
        print("\nclean misses:")
        for miss in conditions[0].misses:
            print(" ", miss)


if __name__ == "__main__":
    main()
