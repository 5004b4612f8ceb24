"""Misheard words put back by sound for the model's heads; the recogniser's confidences reach the scorer."""

from __future__ import annotations

import pytest

from classifier.base import HeardWord, HouseStatus
from classifier.proposer import SklearnProposer, token_confidences
from classifier.word_repair import GATED_BELOW, NEVER, WordRepair

IDF = {"батарея": 2.0, "батареи": 1.5, "газом": 1.2, "пахнет": 1.1, "холодные": 2.2, "жиырма": 3.0, "он": 1.0}


def test_an_out_of_vocabulary_word_becomes_the_commonest_word_that_sounds_the_same() -> None:
    repair = WordRepair(IDF)
    assert repair.repair(["батореи", "халодные", "газам", "пахнит"], [1.0] * 4) == [
        "батареи", "холодные", "газом", "пахнет"]


def test_known_words_short_words_and_words_with_no_sound_alike_are_left_as_heard() -> None:
    repair = WordRepair(IDF)
    assert repair.repair(["батарея", "ан", "кенесары"], [0.1, 0.1, 0.1]) == ["батарея", "ан", "кенесары"]


def test_the_confidence_gate_repairs_only_words_the_recogniser_doubts() -> None:
    gated = WordRepair(IDF, below=GATED_BELOW)
    assert gated.repair(["батореи", "газам"], [0.95, 0.4]) == ["батореи", "газом"]
    assert WordRepair(IDF, below=NEVER).repair(["батореи"], [0.0]) == ["батореи"]
    with pytest.raises(ValueError):
        gated.repair(["батореи"], [])


def test_token_confidences_follow_the_words_and_fall_back_to_certain_when_they_do_not_align() -> None:
    words = [HeardWord("Газом", 0.4), HeardWord("пахнет", 0.9)]
    assert token_confidences(["газом", "пахнет"], words) == [0.4, 0.9]
    assert token_confidences(["газом", "сильно", "пахнет"], words) == [1.0, 1.0, 1.0]


def test_a_misheard_segment_gets_the_card_a_clean_one_would(shipped: SklearnProposer) -> None:
    clean = shipped.propose("в подъезде сильно пахнет газом")
    call = shipped.open_call()
    heard = call.add_final("в подъезде сильно пахнит газам",
                           [HeardWord("в", 0.98), HeardWord("подъезде", 0.95), HeardWord("сильно", 0.9),
                            HeardWord("пахнит", 0.5), HeardWord("газам", 0.45)])
    assert clean.emergency == "104"
    assert heard.emergency == "104" and heard.topic == clean.topic


def test_a_house_said_with_a_word_the_recogniser_doubts_is_uncertain_not_guessed(shipped: SklearnProposer) -> None:
    text = "на кенесары сорок пять нет горячей воды"
    sure = shipped.open_call().add_final(text, [HeardWord(w, 0.95) for w in text.split()])
    assert sure.address.house == "45" and sure.house_status is HouseStatus.HEARD
    words = [HeardWord(w, 0.2 if w == "пять" else 0.95) for w in text.split()]
    doubt = shipped.open_call().add_final(text, words)
    assert doubt.address.street == sure.address.street
    assert doubt.address.house is None and doubt.house_status is HouseStatus.UNCERTAIN


def test_the_door_ruling_puts_the_police_first(shipped: SklearnProposer) -> None:
    p = shipped.propose("соседка пожилая третий день дверь не открывает телефон не берёт")
    assert (p.emergency, p.emergency_also) == ("102", ("103",))
