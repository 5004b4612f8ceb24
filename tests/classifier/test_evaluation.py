"""How the evaluation compares addresses: one building, however the fraction was labelled."""

from __future__ import annotations

from classifier.corpus import Example
from classifier.evaluation import evaluate, house_key
from classifier.proposer import SklearnProposer


def test_a_fraction_house_and_a_house_with_its_building_are_the_same_building() -> None:
    assert house_key("40/2", None) == house_key("40", "2") == "40/2"
    assert house_key("40", None) != house_key("40", "2")
    assert house_key(" 5а ", None) == "5А"
    assert house_key(None, "2") == ""


def test_street_and_house_counts_a_fraction_read_as_house_right_against_a_building_label(
        shipped: SklearnProposer) -> None:
    address = {"street": "проспект Кенесары", "house": "40", "building": "2", "apartment": None, "district": None,
               "landmark": None}
    ex = Example("здравствуйте мы живём на кенесары сорок дробь два у нас воды нет", "water_supply", "none", (),
                 "ru", address)
    other = Example("на кенесары сорок дробь пять воды нет", "water_supply", "none", (), "ru", address)
    metrics = evaluate(shipped, [ex, other])
    assert metrics["address"]["calls_with_street_and_house"] == 2
    assert metrics["address"]["street_and_house_accuracy"] == 0.5
