"""The rule schema: the shipped default reads, and every kind of mistake is refused with a sentence naming it."""

from __future__ import annotations

from typing import Any

import pytest

from qa.rules import RuleKind, RuleSetError, default_rule_set, dump_rules_yaml, parse_rules, read_rules_yaml


def _rules() -> list[dict[str, Any]]:
    return default_rule_set().as_json()


def test_default_has_one_rule_of_every_kind_with_kk_and_ru_names() -> None:
    rules = default_rule_set()
    assert rules.version == 0
    assert {r.kind for r in rules.rules} == {k.value for k in RuleKind}
    for rule in rules.rules:
        assert rule.name_kk and rule.name_ru and rule.name_kk != rule.name_ru


def test_yaml_round_trip_keeps_every_rule() -> None:
    rules = default_rule_set().rules
    assert read_rules_yaml(dump_rules_yaml(rules, version=0)) == rules


def _problem(raw: Any) -> str:
    with pytest.raises(RuleSetError) as caught:
        parse_rules(raw)
    return str(caught.value)


def test_unknown_kind_is_named_with_the_kinds_there_are() -> None:
    raw = _rules()
    raw[2]["kind"] = "politeness"
    message = _problem(raw)
    assert "rule 3 (emergency_transfer)" in message and "'politeness'" in message and "greeting" in message


def test_bad_threshold_names_the_rule_and_field() -> None:
    raw = _rules()
    raw[0]["parameters"]["within_s"] = -2
    assert "rule 1 (greeting): parameters.within_s" in _problem(raw)


def test_unknown_field_is_refused() -> None:
    raw = _rules()
    raw[3]["parameters"]["longer_than"] = 5
    assert "rule 4 (silence): parameters.longer_than is not a field" in _problem(raw)


def test_greeting_needs_both_languages() -> None:
    raw = _rules()
    raw[0]["phrases"]["kk"] = []
    assert "both languages" in _problem(raw)


def test_duplicate_ids_and_empty_lists_and_missing_names() -> None:
    raw = _rules()
    raw[1]["id"] = "greeting"
    assert "the id greeting is used by more than one rule" in _problem(raw)
    assert "empty" in _problem([])
    raw = _rules()
    del raw[4]["name_kk"]
    assert "rule 5 (talk_over): name_kk is required" in _problem(raw)
    assert "must be a list" in _problem("greeting")


def test_bad_yaml_says_where() -> None:
    with pytest.raises(RuleSetError) as caught:
        read_rules_yaml("rules:\n  - id: [unclosed\n")
    assert "not valid YAML at line" in str(caught.value)
