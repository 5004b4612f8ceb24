"""Every check on scripted dialogues in ru, kk and mixed: each passes and fails where it should."""

from __future__ import annotations

from collections import Counter

import pytest

from qa.base import CallFacts, CheckOutcome
from qa.rules import default_rule_set
from qa.scorecard import score
from tests.qa.dialogues import DIALOGUES, Dialogue, caller, op

RULES = default_rule_set()
CASES = [(d, rule) for d in DIALOGUES for rule in d.expected]


@pytest.mark.parametrize(("dialogue", "rule"), CASES, ids=[f"{d.name}-{r}" for d, r in CASES])
def test_check_finds_what_a_reviewer_would(dialogue: Dialogue, rule: str) -> None:
    card = score(dialogue.turns, dialogue.facts, RULES)
    result = next(r for r in card.results if r.rule == rule)
    assert result.outcome.value == dialogue.expected[rule], result.evidence
    assert result.evidence.endswith(".")


def test_each_check_passes_and_fails_in_every_language() -> None:
    seen: Counter[tuple[str, str, str]] = Counter()
    for d in DIALOGUES:
        for rule, outcome in d.expected.items():
            seen[(rule, d.language, outcome)] += 1
    for rule in RULES.names():
        for outcome in ("passed", "failed"):
            languages = {lang for (r, lang, o) in seen if r == rule and o == outcome}
            wanted = {"ru", "kk", "mixed"}
            assert languages == wanted, (rule, outcome, sorted(languages))


def test_scorecard_counts_and_stored_shape() -> None:
    d = DIALOGUES[1]
    card = score(d.turns, d.facts, RULES)
    assert card.rule_set_version == 0
    assert card.failed == 7 and card.checks == 7
    for item in card.results_json():
        assert set(item) == {"rule", "outcome", "at_s", "evidence"}
        assert item["outcome"] in ("passed", "failed", "not_applicable")
        assert item["at_s"] is None or isinstance(item["at_s"], float)


def test_evidence_quotes_what_was_said() -> None:
    d = next(x for x in DIALOGUES if x.name == "kk_gas_handled_badly")
    results = {r.rule: r for r in score(d.turns, d.facts, RULES).results}
    assert "здравствуйте" in results["greeting"].evidence and "Kazakh" in results["greeting"].evidence
    assert "білмеймін" in results["forbidden_phrase"].evidence
    assert "45.0 s" in results["emergency_transfer"].evidence
    assert results["silence"].at_s == pytest.approx(13.6)


def test_disabled_rules_are_not_run() -> None:
    rules = default_rule_set()
    off = type(rules)(5, tuple(r.model_copy(update={"enabled": r.id == "silence"}) for r in rules.rules))
    card = score(DIALOGUES[0].turns, DIALOGUES[0].facts, off)
    assert [r.rule for r in card.results] == ["silence"] and card.rule_set_version == 5


def test_readback_of_a_short_number_needs_its_context() -> None:
    facts = CallFacts(ended_s=10, caller_language="ru", reg_number="109-2026-000005")
    stray = score([op(0.5, "здравствуйте"), op(2.0, "квартира пять подъезд пять")], facts, RULES)
    named = score([op(0.5, "здравствуйте"), op(2.0, "ваш номер пять")], facts, RULES)
    assert {r.rule: r.outcome for r in stray.results}["readback"] is CheckOutcome.FAILED
    assert {r.rule: r.outcome for r in named.results}["readback"] is CheckOutcome.PASSED


def test_backchannel_overlap_is_not_talk_over() -> None:
    facts = CallFacts(ended_s=8, caller_language="ru")
    card = score([op(0.5, "здравствуйте слушаю вас внимательно"), caller(1.0, "да")], facts, RULES)
    assert {r.rule: r.outcome for r in card.results}["talk_over"] is CheckOutcome.PASSED
