"""Honest confidences: reliability of a confidence, its expected calibration error, and the maps that fix it.

A confidence is honest when, of the proposals shown at 80%, about 80% are right. ``reliability`` measures that
(equal-width bins, the expected calibration error is the count-weighted gap between each bin's mean confidence
and its accuracy). ``ConfidenceMap`` is the fix: a monotone map from a head's raw score to the observed rate of
being right, fitted by isotonic regression on out-of-fold predictions over the training data (never on a test
split), stored as breakpoints in the model's metadata and applied with a linear interpolation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

# The desk never shows certainty: even the surest bin of the training data is wrong now and then on a new call.
CONFIDENCE_FLOOR = 0.01
CONFIDENCE_CEILING = 0.99
MIN_BLOCK = 40  # examples per isotonic step at least (merged with neighbours below this), against over-fitting
DEFAULT_BINS = 10


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One bin of a reliability diagram."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class Reliability:
    """A reliability diagram and its expected calibration error (ECE)."""

    bins: tuple[ReliabilityBin, ...]
    ece: float
    n: int


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = DEFAULT_BINS) -> Reliability:
    """Equal-width reliability bins over [0, 1] and the expected calibration error."""
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    conf = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    ok = np.asarray(correct, dtype=float)
    n = len(conf)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.minimum((conf * bins).astype(int), bins - 1)
    out: list[ReliabilityBin] = []
    ece = 0.0
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        if count == 0:
            out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), 0, 0.0, 0.0))
            continue
        mean_conf = float(conf[mask].mean())
        acc = float(ok[mask].mean())
        ece += count / n * abs(mean_conf - acc)
        out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), count, round(mean_conf, 4), round(acc, 4)))
    return Reliability(tuple(out), round(ece, 4) if n else 0.0, n)


@dataclass(frozen=True, slots=True)
class ConfidenceMap:
    """A monotone piecewise-linear map from a raw score to the probability of being right."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def __call__(self, score: float) -> float:
        if not self.xs:
            return float(np.clip(score, CONFIDENCE_FLOOR, CONFIDENCE_CEILING))
        return round(float(np.interp(score, self.xs, self.ys)), 4)

    @classmethod
    def fit(cls, scores: Sequence[float], correct: Sequence[bool], min_block: int = MIN_BLOCK) -> ConfidenceMap:
        """Isotonic regression of correctness on score, as breakpoints at the centres of its constant blocks.

        Blocks smaller than ``min_block`` are merged with a neighbour first (pool-adjacent-violators on blocks of
        at least that many examples), so one lucky handful of examples cannot claim 99%.
        """
        if len(scores) != len(correct):
            raise ValueError("scores and correct differ in length")
        if not scores:
            return cls((), ())
        order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
        x = np.asarray(scores, dtype=float)[order]
        y = np.asarray(correct, dtype=float)[order]
        # start from blocks of min_block consecutive examples, then pool adjacent violators
        blocks: list[list[float]] = []  # [sum_y, count, sum_x]
        for start in range(0, len(x), min_block):
            sl = slice(start, start + min_block)
            blocks.append([float(y[sl].sum()), float(len(y[sl])), float(x[sl].sum())])
        if len(blocks) > 1 and blocks[-1][1] < min_block:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
        merged: list[list[float]] = []
        for blk in blocks:
            merged.append(blk)
            while len(merged) > 1 and merged[-2][0] / merged[-2][1] >= merged[-1][0] / merged[-1][1]:
                top = merged.pop()
                merged[-1] = [a + b for a, b in zip(merged[-1], top, strict=True)]
        xs = [b[2] / b[1] for b in merged]
        ys = [float(np.clip(b[0] / b[1], CONFIDENCE_FLOOR, CONFIDENCE_CEILING)) for b in merged]
        return cls(tuple(round(v, 6) for v in xs), tuple(round(v, 4) for v in ys))

    def to_json(self) -> dict[str, list[float]]:
        return {"x": list(self.xs), "y": list(self.ys)}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[float]]) -> ConfidenceMap:
        xs, ys = tuple(float(v) for v in data.get("x", ())), tuple(float(v) for v in data.get("y", ()))
        if len(xs) != len(ys) or any(b < a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError("a confidence map needs ascending x breakpoints, one y each")
        return cls(xs, ys)


class ConfidenceKind(StrEnum):
    """Which confidence of a proposal a map calibrates."""

    TOPIC = "topic"
    SERVICE = "service"
    EMERGENCY_RULES = "emergency_rules"  # an emergency the phrase rules heard (raw: the model's probability)
    EMERGENCY_MODEL = "emergency_model"  # an emergency from the model's heads alone
    EMERGENCY_NONE = "emergency_none"  # no emergency (raw: 1 - the highest emergency probability)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The maps of one model; a kind without a map shows its raw score, clipped away from 0 and 1."""

    maps: Mapping[ConfidenceKind, ConfidenceMap]

    def apply(self, kind: ConfidenceKind, score: float) -> float:
        m = self.maps.get(kind)
        if m is None:
            return round(float(np.clip(score, CONFIDENCE_FLOOR, CONFIDENCE_CEILING)), 4)
        return m(score)

    def to_json(self) -> dict[str, dict[str, list[float]]]:
        return {kind.value: m.to_json() for kind, m in self.maps.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, Sequence[float]]] | None) -> Calibration:
        maps: dict[ConfidenceKind, ConfidenceMap] = {}
        for key, value in (data or {}).items():
            maps[ConfidenceKind(key)] = ConfidenceMap.from_json(value)
        return cls(maps)


UNCALIBRATED = Calibration({})
