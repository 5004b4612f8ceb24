"""The damage model of Vosk's errors: determinism, output alphabet, each error type, calibrated WER, confidences."""

from __future__ import annotations

import re
from collections.abc import Iterator
from statistics import mean

import jiwer
import pytest
from rapidfuzz.distance import Levenshtein

from classifier.corpus import Example, default_corpus_dir, load_split
from classifier.damage import (
    Damaged,
    DamageModel,
    HeardWord,
    damage_examples,
    vocabulary_of,
    word_edits,
    word_error_rate,
)
from classifier.damage.calibration import CALIBRATED_WERS
from classifier.damage.confusions import FUNCTION_WORDS, KAZAKH_LETTERS, KK_FILLERS, RU_FILLERS, VOICING, VOWELS
from classifier.damage.model import LANGUAGES
from classifier.damage.words import fold_kazakh
from core.taxonomy import Taxonomy

SEEDS = range(300)


@pytest.fixture(scope="module")
def train_split(taxonomy: Taxonomy) -> list[Example]:
    """The train split only (never held-out or blind lines)."""
    return load_split(default_corpus_dir(), "train", taxonomy)


def damaged_over_seeds(text: str, language: str, wer: float = 0.4) -> Iterator[Damaged]:
    for seed in SEEDS:
        yield DamageModel(wer, seed).damage(text, language)


def one_letter_changes(said: str, heard: str) -> list[tuple[str, str]]:
    """(said letter, heard letter) for each same-length word pair differing in exactly one letter."""
    out = []
    for a, b in zip(said.split(), heard.split(), strict=True):
        diff = [(x, y) for x, y in zip(a, b, strict=False) if x != y]
        if len(a) == len(b) and len(diff) == 1:
            out.append(diff[0])
    return out


def test_same_seed_same_damage_and_seeds_differ() -> None:
    text = "сәлеметсіз бе кенесары көшесі қырық бес пәтер он бір жарық жоқ подъезде темно"
    assert DamageModel(0.3, seed=7).damage(text, "mixed") == DamageModel(0.3, seed=7).damage(text, "mixed")
    outputs = {DamageModel(0.3, seed=s).damage(text, "mixed").text for s in range(10)}
    assert len(outputs) >= 8


def test_output_is_lower_case_letters_and_spaces_only(train_split: list[Example]) -> None:
    model = DamageModel(0.4, seed=3)
    allowed = re.compile(r"^[а-яёәғқңөұүһі]+( [а-яёәғқңөұүһі]+)*$")
    texts = [(ex.text, ex.language or "ru") for ex in train_split[::5]]
    texts.append(("Дом 12, кв. 5! Улица Абая-3", "ru"))
    for text, language in texts:
        damaged = model.damage(text, language)
        assert damaged.text == "" or allowed.match(damaged.text), damaged.text
        assert damaged.text == " ".join(w.word for w in damaged.words)
        assert all(0.0 <= w.confidence <= 1.0 for w in damaged.words)
    assert not re.search(r"\d", model.damage("Дом 12, кв. 5!", "ru").text)


def test_kazakh_letters_fold_only_in_kazakh_and_mixed_speech() -> None:
    text = "сәлеметсіз бе үйде жарық жоқ қырық үш"
    kazakh_words = [w for w in text.split() if KAZAKH_LETTERS & set(w)]
    folded = {fold_kazakh(w) for w in kazakh_words}
    for damaged in damaged_over_seeds(text, "ru"):
        assert not folded & set(damaged.text.split()), damaged.text
        assert all(c in text for c in damaged.text if c in KAZAKH_LETTERS)
    for language in ("kk", "mixed"):
        seen = {w for d in damaged_over_seeds(text, language) for w in d.text.split()}
        assert len(folded & seen) >= 3, (language, folded & seen)


def test_letter_substitutions_are_voicing_vowel_or_folding_pairs() -> None:
    allowed = set(VOICING.items()) | {(a, b) for a, bs in VOWELS.items() for b in bs}
    allowed |= {(k, fold_kazakh(k)) for k in KAZAKH_LETTERS}
    # a folded letter can then be confused as its Russian neighbour is (і -> и -> е)
    for k in KAZAKH_LETTERS:
        allowed |= {(k, t) for t in (*VOWELS.get(fold_kazakh(k), ()), VOICING.get(fold_kazakh(k), ""))}
    text = "жиырма бес он бір батарея подъезде газ"
    seen: set[tuple[str, str]] = set()
    for damaged in damaged_over_seeds(text, "kk"):
        if len(damaged.text.split()) == len(text.split()):
            seen.update(one_letter_changes(text, damaged.text))
    assert seen, "no one-letter substitution in 300 seeds"
    assert seen <= allowed, seen - allowed
    assert {("с", "з"), ("б", "п"), ("о", "а")} <= seen  # бес -> без, бір -> пір, он -> ан


def test_number_words_get_a_letter_wrong() -> None:
    heard = [d.text for d in damaged_over_seeds("он бір жиырма бес", "kk")]
    assert any(t.startswith("ан бір") for t in heard)
    assert any("жиырма без" in t for t in heard)
    number_hits = sum("без" in t.split() or "ан" in t.split() for t in heard)
    assert number_hits >= 10


def test_neighbouring_words_merge_and_long_words_split() -> None:
    merged = [d.text for d in damaged_over_seeds("кенесары қырық", "kk")]
    assert "кенесарықырық" in merged or "кенесарыкырык" in merged
    merged_ru = [d.text for d in damaged_over_seeds("кошкарбаева двенадцать", "ru")]
    assert "кошкарбаевадвенадцать" in merged_ru
    word = "канализационного"
    splits = [d.text.split() for d in damaged_over_seeds(f"из {word} люка", "ru")]
    pieces = [s for s in splits if len(s) >= 2 and any(a + b == word for a, b in zip(s, s[1:], strict=False))]
    assert pieces
    assert all(min(len(p) for p in s) >= 1 for s in pieces)


def test_fillers_are_inserted_in_the_speakers_language() -> None:
    text = "в подъезде нет света третий день"
    for language, fillers, foreign in (
        ("ru", RU_FILLERS, set(KK_FILLERS) - set(RU_FILLERS)),
        ("kk", KK_FILLERS, set(RU_FILLERS) - set(KK_FILLERS)),
    ):
        extra = [w for d in damaged_over_seeds(text, language) for w in d.text.split() if w in fillers]
        assert len(extra) >= 10, language
        assert not any(w in foreign for d in damaged_over_seeds(text, language) for w in d.text.split())


def test_function_words_are_deleted_more_often(train_split: list[Example]) -> None:
    model = DamageModel(0.3)
    deleted = {True: 0, False: 0}
    total = {True: 0, False: 0}
    for ex in train_split:
        if ex.language != "ru":
            continue
        said = ex.text.split()
        heard = model.damage(ex.text, "ru").text.split()
        for w in said:
            total[w in FUNCTION_WORDS] += 1
        for op in Levenshtein.editops(said, heard):
            if op.tag == "delete":
                deleted[said[op.src_pos] in FUNCTION_WORDS] += 1
    function_rate, content_rate = deleted[True] / total[True], deleted[False] / total[False]
    assert function_rate > 2 * content_rate, (function_rate, content_rate)


def test_vocabulary_substitution_uses_real_words_of_the_language() -> None:
    vocabulary = vocabulary_of({"ru": ["подвал затопило", "подъездам подъезду"], "kk": ["подъезде үйде"]})
    heard = {w for s in SEEDS for w in DamageModel(0.4, s, vocabulary=vocabulary).damage("подъезд", "ru").text.split()}
    assert heard & {"подвал", "подъездам", "подъезду"}
    assert not heard & {"подъезде", "үйде"}  # Kazakh vocabulary is never drawn for Russian speech


def test_damage_examples_keeps_labels() -> None:
    ex = Example(
        text="на сатпаева семь провод упал искрит",
        topic="electricity",
        emergency="101",
        language="ru",
        address={"street": "улица Сатпаева", "house": "7"},
        origin="x:1",
    )
    [out] = damage_examples([ex], DamageModel(0.4, seed=2))
    assert out.text == DamageModel(0.4, seed=2).damage(ex.text, "ru").text
    assert (out.topic, out.emergency, out.language, out.address, out.origin) == (
        ex.topic,
        ex.emergency,
        ex.language,
        ex.address,
        ex.origin,
    )


def test_word_error_rate_counts_merges_and_splits_as_two_edits() -> None:
    assert word_edits("кенесары қырық", "кенесарықырық") == 2
    assert word_edits("подъездте", "подъ ездте") == 2
    assert word_error_rate(["a b c", "d"], ["a c", "d e"]) == pytest.approx(2 / 4)


@pytest.mark.slow
def test_word_error_rate_agrees_with_jiwer(train_split: list[Example]) -> None:
    model = DamageModel(0.3, seed=1)
    refs = [ex.text for ex in train_split[::3]]
    hyps = [model.damage(ex.text, ex.language or "ru").text for ex in train_split[::3]]
    assert word_error_rate(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if h]
    for r, h in pairs[:300]:
        counts = jiwer.process_words(r, h)
        assert word_edits(r, h) == counts.substitutions + counts.deletions + counts.insertions


@pytest.mark.slow
@pytest.mark.parametrize("target", CALIBRATED_WERS)
def test_measured_wer_meets_the_target_per_language(train_split: list[Example], target: float) -> None:
    model = DamageModel(target)
    refs: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    hyps: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for ex in train_split:
        lang = ex.language or "ru"
        refs[lang].append(ex.text)
        hyps[lang].append(model.damage(ex.text, lang).text)
    for lang in LANGUAGES:
        assert word_error_rate(refs[lang], hyps[lang]) == pytest.approx(target, abs=0.015), lang
    all_refs = [r for lang in LANGUAGES for r in refs[lang]]
    all_hyps = [h for lang in LANGUAGES for h in hyps[lang]]
    assert word_error_rate(all_refs, all_hyps) == pytest.approx(target, abs=0.01)


@pytest.mark.slow
def test_measured_wer_holds_for_another_seed(train_split: list[Example]) -> None:
    model = DamageModel(0.3, seed=11)
    refs = [ex.text for ex in train_split]
    hyps = [model.damage(ex.text, ex.language or "ru").text for ex in train_split]
    assert word_error_rate(refs, hyps) == pytest.approx(0.3, abs=0.01)


def test_confidences_are_lower_on_damaged_words(train_split: list[Example]) -> None:
    model = DamageModel(0.3)
    intact: list[float] = []
    damaged: list[float] = []
    fillers: list[float] = []
    filler_words = set(RU_FILLERS) | set(KK_FILLERS)
    for ex in train_split[::4]:
        said = set(ex.text.split())
        for w in model.damage(ex.text, ex.language or "ru").words:
            if w.word in said:
                intact.append(w.confidence)
            elif w.word in filler_words:
                fillers.append(w.confidence)
            else:
                damaged.append(w.confidence)
    assert mean(intact) > 0.85 and 0.45 < mean(damaged) < 0.65 and mean(fillers) < mean(damaged)
    assert mean(intact) - mean(damaged) > 0.25
    assert min(intact) < max(damaged)  # the distributions overlap, as Vosk's do


def test_zero_wer_leaves_text_as_said_and_bad_arguments_fail() -> None:
    text = "на гете девять на площадке щиток горит"
    assert DamageModel(0.0).damage(text, "ru").text == text
    assert all(isinstance(w, HeardWord) for w in DamageModel(0.0).damage(text, "ru").words)
    with pytest.raises(ValueError):
        DamageModel(1.5)
    with pytest.raises(ValueError):
        DamageModel(0.2).damage(text, "en")
