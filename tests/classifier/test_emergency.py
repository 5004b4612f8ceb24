"""Emergency phrase rules: both languages, precedence, negation, past events and complaints."""

from __future__ import annotations

import time

import pytest

from classifier.emergency import PRECEDENCE, rules_only, scan, split_primary
from classifier.normalize import tokens


@pytest.mark.parametrize(
    ("text", "primary"),
    [
        ("у нас пожар в подъезде горит квартира", "101"),
        ("өрт шығып жатыр түтін көп", "101"),
        ("человек упал в открытый люк", "101"),
        ("адам люкке құлап кетті", "101"),
        ("соседу плохо с сердцем не дышит", "103"),
        ("әжем есінен танып қалды", "103"),
        ("пахнет газом в подъезде", "104"),
        ("газдың иісі шығып тұр", "104"),
        ("газ құбырынан ысылдаған дыбыс шығады", "104"),
        ("во дворе драка с ножом", "102"),
        ("бала жоғалып кетті табылмай жатыр", "102"),
        ("пьяный водитель за рулем едет по тротуару", "102"),
        ("провода искрят на столбе", "101"),
    ],
)
def test_codes_in_both_languages(text: str, primary: str) -> None:
    assert rules_only(text)[0] == primary


def test_precedence_101_103_104_102() -> None:
    assert PRECEDENCE == ("101", "103", "104", "102")
    primary, also, _ = rules_only("человек упал в люк и не встает кровь идет")
    assert primary == "101" and also == ("103",)
    primary, also, _ = rules_only("пахнет газом соседке плохо")
    assert (primary, also) == ("103", ("104",))
    assert split_primary({"102", "104", "101"}) == ("101", ("104", "102"))
    assert split_primary(set()) == ("none", ())


@pytest.mark.parametrize(
    "text",
    [
        "вчера был пожар в соседнем доме",
        "скорая вчера долго ехала хочу пожаловаться",
        "газдың иісі жоқ бірақ газ әлсіз",
        "не пахнет газом просто счетчик не крутится",
        "фонари горят днем а ночью нет",
        "на плите пламя еле горит давление слабое",
        "кеше өрт болған сөндірілді",
        "батареи еле теплые",
        "лифт тұрып қалды",
        "крышку люка украли",
    ],
)
def test_negatives(text: str) -> None:
    assert rules_only(text)[0] == "none"


def test_scan_positions_and_discount() -> None:
    toks = tokens("алло у нас пожар вчера был")
    hits = scan(toks)
    assert hits and hits[0].code == "101" and hits[0].start == 3 and hits[0].discounted


def test_fast_enough_for_partials() -> None:
    text = tokens("алло девушка здравствуйте у нас тут в подъезде на третьем этаже что то сильно пахнет газом")
    scan(text)
    t0 = time.perf_counter()
    for _ in range(200):
        scan(text)
    per_call_ms = (time.perf_counter() - t0) / 200 * 1000
    assert per_call_ms < 1.0, per_call_ms
