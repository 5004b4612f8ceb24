"""The text side of the Kazakh/Russian decision on real Kazakh, Russian and mixed sentences."""

from __future__ import annotations

import pytest

from asr.language import Hypothesis, choose, classify_text, hypothesis_score, text_evidence

KAZAKH = [
    "сәлеметсіз бе менің үйімде жылу жоқ",
    "біздің көшеде су құбыры жарылып кетті",
    "қайырлы күн мен сарыарқа ауданынан хабарласып тұрмын",
    "лифт үш күннен бері істемейді көмектесіңізші",
    "аулада қоқыс шығарылмай жатыр рахмет",
    "иә дұрыс айтасыз бала бақшаның жанында",
]
RUSSIAN = [
    "здравствуйте у нас в доме нет горячей воды",
    "на улице кенесары прорыв трубы пожалуйста приезжайте",
    "добрый день в подъезде не работает лифт уже три дня",
    "у меня во дворе не вывозят мусор",
    "алло да я звоню по поводу отопления",
]
MIXED = [
    "сәлеметсіз бе у нас в доме жылу жоқ уже три дня",
    "здравствуйте біздің үйде вода нет пожалуйста көмектесіңіз",
    "алло мен айтайын что у нас на улице жарық жоқ",
]


@pytest.mark.parametrize("text", KAZAKH)
def test_kazakh_text(text: str) -> None:
    assert classify_text(text) == "kk"
    assert text_evidence(text).score > 0.3


@pytest.mark.parametrize("text", RUSSIAN)
def test_russian_text(text: str) -> None:
    assert classify_text(text) == "ru"
    assert text_evidence(text).score < -0.3


@pytest.mark.parametrize("text", MIXED)
def test_mixed_text(text: str) -> None:
    assert classify_text(text) == "mixed"
    assert abs(text_evidence(text).score) < 0.6


def test_no_markers_is_undecided() -> None:
    assert classify_text("") is None
    assert classify_text("123 456") is None
    assert text_evidence("ok").score == 0.0


def test_kazakh_letters_count_even_in_unknown_words() -> None:
    assert text_evidence("құрылыс").kazakh == 1
    assert text_evidence("ӘКІМДІК").kazakh == 1


def test_score_combines_confidence_and_text() -> None:
    words = [("су", 0.9), ("жоқ", 0.9)]
    kk = hypothesis_score("kk", words, "су жоқ")
    ru = hypothesis_score("ru", words, "су жоқ")
    assert kk > ru
    assert hypothesis_score("ru", [("[unk]", 1.0)], "[unk]") == 0.0
    assert hypothesis_score("kk", [], "") == 0.0


def test_choose_prefers_fit_and_keeps_the_current_language_within_the_margin() -> None:
    kk = Hypothesis("kk", [("біздің", 0.8), ("үйде", 0.8)], "біздің үйде")
    ru = Hypothesis("ru", [("бездин", 0.6), ("уйде", 0.5)], "бездин уйде")
    assert choose([kk, ru], default="ru") == "kk"
    close_ru = Hypothesis("ru", [("в", 0.9), ("доме", 0.9)], "в доме")
    close_kk = Hypothesis("kk", [("в", 0.95), ("доме", 0.95)], "в доме")
    # the Russian words pull "ru" up; "kk" is not ahead by more than the margin, so ru stays
    assert choose([close_ru, close_kk], default="kk", current="ru", margin=0.1) == "ru"
    assert choose([Hypothesis("kk", [], ""), Hypothesis("ru", [], "")], default="ru") == "ru"
