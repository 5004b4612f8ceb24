"""The proposer: contract of a proposal, incremental scoring equal to whole-text scoring, partial hints."""

from __future__ import annotations

import pytest

from classifier.base import CardProposal
from classifier.proposer import SklearnProposer
from core.taxonomy import Taxonomy

CALLS = [
    ["алло девушка здравствуйте", "эээ у нас на кенесары сорок пять", "в подъезде сильно пахнет газом",
     "соседке плохо она лежит"],
    ["сәлеметсіз бе", "абай даңғылы он екінші үй", "үш күннен бері ыстық су жоқ", "балалар жуына алмай жүр"],
    ["слушайте", "лифт тұрып қалды", "внутри ребенок", "дом двенадцать дробь один квартира пять"],
    ["ну вот", "вчера был пожар в соседнем доме", "а сейчас стены черные кто будет убирать"],
    ["алло алло", "на абая возле школы", "огромная яма на дороге машины бьются"] * 4,
    ["алло у нас пожар", "в соседнем доме на кенесары", "сорок пять", "но это было вчера уже потушили"],
    ["газдың иісі", "жоқ бірақ газ әлсіз", "он екінші үй"],
]


def _same(a: CardProposal, b: CardProposal) -> None:
    assert (a.topic, a.service, a.emergency, a.emergency_also, a.language, a.address, a.summary) == (
        b.topic, b.service, b.emergency, b.emergency_also, b.language, b.address, b.summary)
    for k in ("topic", "service", "emergency"):
        assert a.confidence[k] == pytest.approx(b.confidence[k], abs=1e-6)
    assert [s.id for s in a.alternatives["topic"]] == [s.id for s in b.alternatives["topic"]]


@pytest.mark.parametrize("segments", CALLS)
def test_incremental_equals_batch(small_proposer: SklearnProposer, segments: list[str]) -> None:
    scorer = small_proposer.open_call()
    assert scorer.proposal() is None
    for seg in segments:
        last = scorer.add_final(seg)
    _same(last, small_proposer.propose(" ".join(segments)))
    assert scorer.proposal() is last


@pytest.mark.parametrize("segments", CALLS)
def test_incremental_equals_batch_shipped(shipped: SklearnProposer, segments: list[str]) -> None:
    scorer = shipped.open_call()
    for seg in segments:
        last = scorer.add_final(seg)
    _same(last, shipped.propose(" ".join(segments)))


def test_proposal_contract(shipped: SklearnProposer, taxonomy: Taxonomy) -> None:
    p = shipped.propose("алло на кенесары сорок пять квартира двенадцать в подъезде пахнет газом")
    assert p.topic in taxonomy.topics
    assert p.service == taxonomy.service_for(p.topic)
    assert p.emergency in ("none", "101", "102", "103", "104")
    assert p.language in ("ru", "kk", "mixed")
    assert set(p.confidence) == {"topic", "service", "emergency"}
    assert all(0.0 <= v <= 1.0 for v in p.confidence.values())
    assert len(p.alternatives["topic"]) == 3 and len(p.alternatives["service"]) == 3
    assert p.alternatives["topic"][0].id == p.topic
    assert all(s.id in taxonomy.services for s in p.alternatives["service"])
    assert p.address.street == "проспект Кенесары" and p.address.house == "45" and p.address.apartment == "12"
    assert p.model_version.startswith("sklearn-")
    assert p.summary and "Кенесары" in p.summary


def test_shipped_model_reads_common_calls(shipped: SklearnProposer) -> None:
    gas = shipped.propose("алло в подъезде сильно пахнет газом")
    assert (gas.topic, gas.emergency) == ("gas_supply", "104")
    kk_gas = shipped.propose("сәлеметсіз бе подъездте газдың иісі шығып тұр")
    assert kk_gas.emergency == "104" and kk_gas.language in ("kk", "mixed")
    heat = shipped.propose("батареи еле тёплые уже неделю дома холодно")
    assert (heat.topic, heat.emergency, heat.language) == ("heating", "none", "ru")
    past = shipped.propose("вчера был пожар в соседнем доме а сейчас в подъезде всё в саже кто уберёт")
    assert past.emergency == "none"


def test_partial_hint_surfaces_emergency_without_storing(shipped: SklearnProposer) -> None:
    scorer = shipped.open_call()
    scorer.add_final("алло девушка здравствуйте")
    hint = scorer.check_partial("у нас тут пожар горит квартира")
    assert hint.emergency == "101" and hint.confidence > 0.5 and "пожар" in hint.evidence
    after = scorer.add_final("я хотела спросить про график вывоза мусора")
    assert after.emergency == "none"
    assert scorer.check_partial("").emergency == "none"


def test_empty_segments_are_harmless(shipped: SklearnProposer) -> None:
    scorer = shipped.open_call()
    first = scorer.add_final("   ")
    assert isinstance(first, CardProposal)
    p = scorer.add_final("лифт не работает третий день")
    assert scorer.add_final("") is p


def test_summary_in_the_callers_language(shipped: SklearnProposer, taxonomy: Taxonomy) -> None:
    kk = shipped.propose("сәлеметсіз бе абай даңғылы он екінші үй үш күннен бері ыстық су жоқ")
    assert kk.language == "kk" and kk.summary.startswith(taxonomy.topics[kk.topic].kk.split(";")[0])
    assert "проспект Абая 12" in kk.summary and "ыстық су жоқ" in kk.summary
    ru = shipped.propose("на кенесары сорок пять квартира двенадцать батареи еле теплые")
    assert ru.summary.startswith(taxonomy.topics[ru.topic].ru.split(";")[0]) and "кв. 12" in ru.summary


def test_decide_emergency_combines_rules_model_any_and_topic() -> None:
    from classifier.emergency import scan
    from classifier.normalize import tokens
    from classifier.proposer import decide_emergency

    th = {"emergency_101": 0.7, "emergency_102": 0.7, "emergency_103": 0.7, "emergency_104": 0.7,
          "rule_veto": 0.05, "emergency_any": 0.8, "topic_emergency": 0.95}
    low = {"101": 0.1, "102": 0.01, "103": 0.3, "104": 0.02, "any": 0.2}
    assert decide_emergency(low, [], th).primary == "none"
    # a clean rule hit counts unless the model rules the code out
    gas = scan(tokens("в подъезде пахнет газом"))
    assert decide_emergency({**low, "104": 0.2}, gas, th).primary == "104"
    assert decide_emergency({**low, "104": 0.01}, gas, th).primary == "none"
    # a model-only code, with a secondary code in precedence order
    v = decide_emergency({**low, "102": 0.9, "101": 0.75}, [], th)
    assert (v.primary, v.also) == ("101", ("102",))
    # "any" or a sure pure-emergency topic pick the likeliest code
    assert decide_emergency({**low, "any": 0.85}, [], th).primary == "103"
    assert decide_emergency(low, [], th, topic_emergency=0.97).primary == "103"
    assert decide_emergency(low, [], th, topic_emergency=0.9).primary == "none"
    # a past event is discounted
    past = scan(tokens("вчера был пожар в соседнем доме"))
    assert decide_emergency({**low, "101": 0.3}, past, th).primary == "none"
