"""The knobs of the damage model: per-word error rates (scaled by the calibrated knob) and confidence shapes."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class BetaShape:
    """A Beta(alpha, beta) distribution of confidences."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


@dataclass(frozen=True, slots=True)
class ConfidenceShapes:
    """Vosk-like confidences: intact words mean 0.90, damaged words mean 0.55, inserted fillers mean 0.35."""

    intact: BetaShape = BetaShape(9.0, 1.0)
    damaged: BetaShape = BetaShape(5.5, 4.5)
    filler: BetaShape = BetaShape(3.5, 6.5)


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """Per-word probabilities of each error type at knob 1.0 (the calibration is solved for these values)."""

    deletion: float = 0.05
    function_word_factor: float = 3.0
    substitution: float = 0.10
    number_word: float = 0.18
    kk_fold: float = 0.12
    merge: float = 0.025
    split: float = 0.05  # per word of 8+ letters
    insertion: float = 0.025

    def scaled(self, knob: float) -> ErrorRates:
        cap = 0.95
        return replace(
            self,
            deletion=min(cap, self.deletion * knob),
            substitution=min(cap, self.substitution * knob),
            number_word=min(cap, self.number_word * knob),
            kk_fold=min(cap, self.kk_fold * knob),
            merge=min(cap, self.merge * knob),
            split=min(cap, self.split * knob),
            insertion=min(cap, self.insertion * knob),
        )


BASE_RATES = ErrorRates()
