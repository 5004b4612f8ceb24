"""The knob per language that makes the damage model's measured corpus WER hit a target, solved once by bisection.

Re-derive the table after changing a base rate or the training corpus:

    .venv/bin/python -m classifier.damage --calibrate

It measures ``word_error_rate`` over the corpus's train split only (never held-out or blind lines), per language,
with seed 0, and prints a new ``KNOBS`` to paste here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from classifier.damage.wer import word_error_rate

CALIBRATED_WERS = (0.2, 0.3, 0.4)
# language -> the knob for each of CALIBRATED_WERS (python -m classifier.damage --calibrate)
KNOBS: dict[str, tuple[float, ...]] = {
    "ru": (0.7706, 1.2084, 1.7141),
    "kk": (0.66, 1.0349, 1.4505),
    "mixed": (0.7254, 1.1319, 1.5915),
}


def knob_for(wer: float, language: str) -> float:
    """The knob for a target WER: piecewise linear through (0, 0) and the calibrated points, extended past 0.4."""
    points = [(0.0, 0.0), *zip(CALIBRATED_WERS, KNOBS[language], strict=True)]
    for (w0, k0), (w1, k1) in zip(points, points[1:], strict=False):
        if wer <= w1:
            return k0 + (k1 - k0) * (wer - w0) / (w1 - w0)
    (w0, k0), (w1, k1) = points[-2], points[-1]
    return k1 + (k1 - k0) * (wer - w1) / (w1 - w0)


@dataclass(frozen=True, slots=True)
class Line:
    """A training line to calibrate on."""

    text: str
    language: str


def measured_wer(knob: float, lines: Sequence[Line], seed: int = 0) -> float:
    """Corpus WER of the damage model at ``knob`` over ``lines``."""
    from classifier.damage.model import DamageModel

    model = DamageModel.with_knob(knob, seed)
    return word_error_rate([ln.text for ln in lines], [model.damage(ln.text, ln.language).text for ln in lines])


def solve_knob(target: float, lines: Sequence[Line], *, low: float = 0.0, high: float = 12.0, steps: int = 24) -> float:
    """Bisection on the knob until the measured WER over ``lines`` meets ``target`` (WER rises with the knob)."""
    for _ in range(steps):
        mid = (low + high) / 2
        if measured_wer(mid, lines) < target:
            low = mid
        else:
            high = mid
    return round((low + high) / 2, 4)
