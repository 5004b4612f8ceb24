"""Training-only augmentation of authored utterances: fillers, hesitations, repetitions, ASR-like noise, addresses."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from classifier.address import StreetIndex
from classifier.corpus import Example
from classifier.damage import DamageModel, damage_examples

RU_FILLERS = ("ну", "вот", "короче", "как бы", "слушайте", "это", "значит", "в общем", "алло", "да", "так")
KK_FILLERS = ("әлгі", "енді", "ой", "мынау", "жаңағы", "иә", "ал", "сосын", "яғни", "қалай айтсам")
HESITATIONS = ("эээ", "ммм", "ээ", "эм")
_KK_TO_RU = str.maketrans({"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "і": "и"})
_HOUSES_RU = ("пять", "двенадцать", "сорок пять", "семнадцать дробь два", "сто три", "двадцать один", "восемь")
_HOUSES_KK = ("бес", "он екі", "қырық бес", "он жеті", "жиырма бір", "сегіз", "отыз үш")


def _insert(words: list[str], phrase: str, rng: random.Random) -> list[str]:
    pos = rng.randint(0, len(words))
    return words[:pos] + phrase.split() + words[pos:]


def _asr_noise(words: list[str], rng: random.Random) -> list[str]:
    """One plausible recognition error: a split word, a lost Kazakh letter, a dropped short word or a repeat."""
    if not words:
        return words
    i = rng.randrange(len(words))
    w = words[i]
    kind = rng.randrange(4)
    if kind == 0 and len(w) >= 7:
        cut = rng.randint(3, len(w) - 3)
        return words[:i] + [w[:cut], w[cut:]] + words[i + 1 :]
    if kind == 1 and w != w.translate(_KK_TO_RU):
        return words[:i] + [w.translate(_KK_TO_RU)] + words[i + 1 :]
    if kind == 2 and len(w) <= 3 and len(words) > 4:
        return words[:i] + words[i + 1 :]
    return words[: i + 1] + [w] + words[i + 1 :]


def _address_phrase(streets: StreetIndex, language: str, rng: random.Random) -> tuple[str, dict[str, str | None]]:
    street = rng.choice(streets.streets)
    kk = language == "kk" or (language == "mixed" and rng.random() < 0.5)
    name = street.name.lower()
    core = " ".join(w for w in name.split() if w not in ("проспект", "улица", "микрорайон", "шоссе", "бульвар"))
    if kk:
        phrase = f"{core} көшесі {rng.choice(_HOUSES_KK)}"
    else:
        phrase = f"на {core} дом {rng.choice(_HOUSES_RU)}"
    return phrase, {"street": street.name, "house": None, "building": None, "apartment": None, "district": None,
                    "landmark": None}


# Word error rates of the damaged training copies and views: Vosk's published 30-40% on Russian telephone
# speech, and 20% for the better lines.
DAMAGE_RATES = (0.2, 0.3, 0.4)
DAMAGED_COPIES = 1


def damaged_views(seed: int) -> Callable[[list[Example]], list[Example]]:
    """A function that damages each example of a list (rates cycling through ``DAMAGE_RATES``), labels kept.

    A line the damage empties entirely keeps its clean text (a call with no words is not a training example).
    """
    models = [DamageModel(rate, seed=seed + i) for i, rate in enumerate(DAMAGE_RATES)]

    def view(examples: list[Example]) -> list[Example]:
        out: list[Example] = []
        for i, ex in enumerate(examples):
            seen = damage_examples([ex], models[i % len(models)])[0]
            out.append(replace(seen, source="damaged", origin=f"{ex.origin}+damaged") if seen is not ex else ex)
        return out

    return view


def augment(
    examples: list[Example], *, seed: int = 0, copies: int = 1, streets: StreetIndex | None = None
) -> list[Example]:
    """The originals plus ``copies`` noisy variants of each (deterministic for a given seed). Train data only.

    Variants keep the labels; an inserted address is only used for the text (its label is left as the
    original's), so the topic and emergency heads learn to ignore address words.
    """
    return augment_grouped(examples, seed=seed, copies=copies, streets=streets)[0]


def augment_grouped(
    examples: list[Example], *, seed: int = 0, copies: int = 1, streets: StreetIndex | None = None,
    damaged: int = DAMAGED_COPIES,
) -> tuple[list[Example], list[int]]:
    """``augment``'s examples and, for each, the index of the original it came from.

    Besides the ``copies`` light variants, each utterance gets ``damaged`` copies as recognition would damage
    it (``classifier.damage``, word error rates cycling through ``DAMAGE_RATES``).
    Cross-validation inside training (probability calibration) must keep an utterance and its variants in
    the same fold: a variant scored by a model that saw its original looks far easier than a new caller.
    """
    rng = random.Random(seed)
    out = list(examples)
    groups = list(range(len(examples)))
    view = damaged_views(seed + 7919)
    for _ in range(damaged):
        for gi, ex in enumerate(view(examples)):
            if ex.text != examples[gi].text:
                out.append(ex)
                groups.append(gi)
    for gi, ex in enumerate(examples):
        for _ in range(copies):
            words = ex.text.split()
            lang = ex.language or "ru"
            fillers = KK_FILLERS if lang == "kk" else RU_FILLERS if lang == "ru" else RU_FILLERS + KK_FILLERS
            ops = rng.sample(range(4), k=rng.randint(1, 3))
            for op in ops:
                if op == 0:
                    words = _insert(words, rng.choice(fillers), rng)
                elif op == 1:
                    words = _insert(words, rng.choice(HESITATIONS), rng)
                elif op == 2:
                    words = _asr_noise(words, rng)
                elif op == 3 and streets is not None and streets.streets and not ex.address:
                    phrase, _ = _address_phrase(streets, lang, rng)
                    words = _insert(words, phrase, rng)
            text = " ".join(words)
            if text != ex.text:
                out.append(replace(ex, text=text, source="augmented", origin=f"{ex.origin}+aug"))
                groups.append(gi)
    return out, groups
