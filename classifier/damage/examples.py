"""Damaged copies of labelled examples: the text replaced by what Vosk could have heard, every label kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from classifier.corpus import Example
from classifier.damage.model import DamageModel


def damage_examples(examples: Sequence[Example], model: DamageModel) -> list[Example]:
    """Each example with its text damaged in its own language ("ru" when unlabelled); the address label stays as
    said (the damaged text may no longer spell it). A line the damage empties keeps its clean text: a call with no
    words is not an example."""
    out: list[Example] = []
    for ex in examples:
        text = model.damage(ex.text, ex.language or "ru").text
        out.append(replace(ex, text=text) if text.strip() else ex)
    return out
