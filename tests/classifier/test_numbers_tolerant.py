"""Number words misheard by the recogniser are read only in a number context, and say how they were read."""

from __future__ import annotations

import pytest

from classifier.numbers import NumberReading, find_numbers


def _read(text: str, *, expected: tuple[int, ...] = (), likely: tuple[int, ...] = ()) -> list[tuple[int, str]]:
    spans = find_numbers(text.split(), tolerant=True, expected=expected, likely=likely)
    return [(s.value, s.reading.name) for s in spans]


@pytest.mark.parametrize(
    ("heard", "value"),
    [
        ("ан бір", 11),  # он бір, о/а
        ("жиырма без", 25),  # жиырма бес, б/п and е/и: "без" is also Russian "without"
        ("жиырмо бес", 25),
        ("он олты", 16),  # он алты
        ("сорак пять", 45),
        ("кырык без", 45),  # қырық with Russian letters, бес misheard
        ("шиырма екі", 22),  # ж/ш
    ],
)
def test_a_misheard_word_composing_with_a_clear_one_is_read_by_sound(heard: str, value: int) -> None:
    assert _read(heard) == [(value, NumberReading.SOUNDS_LIKE.name)]


def test_kazakh_numbers_written_with_russian_letters_are_exact() -> None:
    assert _read("сегиз жетинши") == [(8, "EXACT"), (7, "EXACT")]
    assert _read("жиырма жетинин") == [(27, "EXACT")]


def test_a_long_sound_alike_is_read_where_a_number_is_expected() -> None:
    assert _read("дом двинадцать", expected=(1,)) == [(12, "SOUNDS_LIKE")]
    assert _read("дом двинадцать") == []  # no context: not a number


def test_one_edit_away_is_only_a_fuzzy_reading() -> None:
    assert _read("дом двенацать", expected=(1,)) == [(12, "FUZZY")]


def test_ordinary_words_stay_words() -> None:
    # "он", "бес", "сто" themselves and the words that sound like numbers ("без", "керек", "мен", "под")
    assert _read("он сказал без денег не придет", likely=tuple(range(6))) == []
    assert _read("он без денег") == []
    assert _read("маған көмек керек мен үйдемін", likely=tuple(range(5))) == []
    assert _read("сорок под окнами") == [(40, "EXACT")]
    assert _read("возле дома", likely=(0, 1)) == []


def test_the_exact_reader_is_unchanged_without_tolerance() -> None:
    assert find_numbers("жиырма без".split()) == find_numbers(["жиырма"])


def test_a_short_sound_alike_where_a_keyword_asks_for_a_number_is_heard() -> None:
    assert _read("отіз үй", expected=(0,)) == [(30, "SOUNDS_LIKE")]  # отыз
    assert _read("үж пәтер", expected=(0,)) == [(3, "SOUNDS_LIKE")]  # үш
    assert _read("сямь", likely=(0,)) == [(7, "SOUNDS_LIKE")]  # семь after a street
    assert _read("отіз үй") == []  # no context: not a number


def test_alty_and_bir_slips_are_read_after_a_street_or_a_clear_hundred() -> None:
    assert _read("алды подъездте", likely=(0,)) == [(6, "SOUNDS_LIKE")]
    assert _read("үйдің алды") == []
    assert _read("жүз быр") == [(101, "SOUNDS_LIKE")]
    assert _read("он без денег", likely=(0, 1)) == []  # "он без" is "he without", not 15
