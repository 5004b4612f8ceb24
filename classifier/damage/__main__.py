"""``python -m classifier.damage --calibrate``: solve the knob table on the train split and print it;
``python -m classifier.damage --measure``: print the measured WER of the stored table per language."""

from __future__ import annotations

import argparse
import sys

from classifier.corpus import default_corpus_dir, load_split
from classifier.damage.calibration import CALIBRATED_WERS, Line, solve_knob
from classifier.damage.model import LANGUAGES, DamageModel
from classifier.damage.wer import word_error_rate
from core.taxonomy import load_taxonomy


def train_lines() -> list[Line]:
    """The corpus's train split (only: never held-out, test or blind lines) as (text, language) lines."""
    examples = load_split(default_corpus_dir(), "train", load_taxonomy())
    return [Line(ex.text, ex.language or "ru") for ex in examples]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifier.damage")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--calibrate", action="store_true", help="solve the knob per language and target WER")
    action.add_argument("--measure", action="store_true", help="measure the stored table's WER per language")
    args = parser.parse_args(argv)
    lines = train_lines()
    by_language = {lang: [ln for ln in lines if ln.language == lang] for lang in LANGUAGES}
    if args.calibrate:
        sys.stdout.write("KNOBS: dict[str, tuple[float, ...]] = {\n")
        for lang in LANGUAGES:
            knobs = [solve_knob(target, by_language[lang]) for target in CALIBRATED_WERS]
            sys.stdout.write(f'    "{lang}": ({", ".join(str(k) for k in knobs)}),\n')
            sys.stdout.flush()
        sys.stdout.write("}\n")
        return 0
    for target in CALIBRATED_WERS:
        model = DamageModel(target)
        hyps = {lang: [model.damage(ln.text, lang).text for ln in by_language[lang]] for lang in LANGUAGES}
        per_language = {lang: word_error_rate([ln.text for ln in by_language[lang]], hyps[lang]) for lang in LANGUAGES}
        overall = word_error_rate(
            [ln.text for lang in LANGUAGES for ln in by_language[lang]], [h for lang in LANGUAGES for h in hyps[lang]]
        )
        parts = " ".join(f"{lang}={value:.4f}" for lang, value in per_language.items())
        sys.stdout.write(f"target {target:.2f}: overall={overall:.4f} {parts}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
