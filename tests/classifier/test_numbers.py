"""Spoken numbers in Russian and Kazakh become digits."""

from __future__ import annotations

import pytest

from classifier.numbers import find_numbers, words_to_digits


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("сорок пять", "45"),
        ("қырық бес", "45"),
        ("двенадцать дробь один", "12/1"),
        ("он екінші үй", "12 үй"),
        ("сто двадцать третья квартира", "123 квартира"),
        ("дом семнадцать квартира сто двадцать три", "дом 17 квартира 123"),
        ("екі жүз он бес", "215"),
        ("две тысячи двадцать четыре", "2024"),
        ("в сорок пятом доме", "в 45 доме"),
        ("жиырма сегізінші үйдің", "28 үйдің"),
        ("елу алтыда тұрамын", "56 тұрамын"),
        ("он бір бөлшек екі", "11/2"),
        ("третьем микрорайоне", "3 микрорайоне"),
        ("тоқсан бір үй қырық екінші пәтер", "91 үй 42 пәтер"),
        ("сто пять", "105"),
        ("девятнадцать", "19"),
    ],
)
def test_words_to_digits(spoken: str, digits: str) -> None:
    assert words_to_digits(spoken) == digits


def test_numbers_said_one_after_another_stay_apart() -> None:
    assert words_to_digits("пять шесть") == "5 6"
    assert words_to_digits("двадцать тридцать") == "20 30"


def test_ambiguous_words_are_not_numbers_without_context() -> None:
    # "он" is Russian "he"; "бір" is also Kazakh "a"
    assert words_to_digits("он сказал что придет") == "он сказал что придет"
    assert words_to_digits("үй он") == "үй 10"


def test_ordinal_flag_and_span() -> None:
    spans = find_numbers("квартира сто двадцать третья".split())
    assert len(spans) == 1
    assert (spans[0].value, spans[0].start, spans[0].end, spans[0].ordinal) == (123, 1, 4, True)
