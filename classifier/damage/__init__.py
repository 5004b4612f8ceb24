"""A damage model of Vosk's recognition errors, to train and measure the card classifier on damaged text.

API: ``HeardWord`` (classifier.base's, re-exported), ``Damaged``, ``DamageModel(wer, seed)``,
``word_error_rate(references, hypotheses)``, ``damage_examples(examples, model)``. Error types and what each
imitates: ``classifier.damage.model``; the calibration table: ``classifier.damage.calibration``.
"""

from classifier.damage.examples import damage_examples
from classifier.damage.model import Damaged, DamageModel, HeardWord
from classifier.damage.rates import BetaShape, ConfidenceShapes, ErrorRates
from classifier.damage.wer import word_edits, word_error_rate
from classifier.damage.words import vocabulary_of

__all__ = [
    "BetaShape",
    "ConfidenceShapes",
    "DamageModel",
    "Damaged",
    "ErrorRates",
    "HeardWord",
    "damage_examples",
    "vocabulary_of",
    "word_edits",
    "word_error_rate",
]
