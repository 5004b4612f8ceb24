"""The routing engine on a rule table: districts, street sides and house ranges, named objects, order, fallbacks."""

from __future__ import annotations

import pytest

from handover.routing import CardFacts, HouseRange, HouseRangeError, Rule, Side, Target, house_number, route

WATER = Target("water-co", frozenset({"water_utility"}))
HEAT_EAST = Target("heat-east", frozenset({"heating_utility"}))
HEAT_WEST = Target("heat-west", frozenset({"heating_utility"}))
HEAT_MAIN = Target("heat-main", frozenset({"heating_utility"}))
AKIMAT_A = Target("akimat-a", frozenset({"district_akimat"}))
AKIMAT_B = Target("akimat-b", frozenset({"district_akimat"}))
LIFTS = Target("lift-co", frozenset({"housing_inspection"}))
CLOSED = Target("closed-co", frozenset({"heating_utility"}), active=False)

ABAYA = "проспект Абая"

TABLE = [
    Rule("boiler-7", HEAT_MAIN, services=frozenset({"heating_utility"}), named_object="Boiler-House-7"),
    Rule("lifts", LIFTS, topics=frozenset({"elevator"})),
    Rule(
        "abaya-odd",
        AKIMAT_A,
        services=frozenset({"district_akimat"}),
        street=ABAYA,
        houses=(HouseRange.parse("1-99 odd"),),
    ),
    Rule(
        "abaya-even",
        AKIMAT_B,
        services=frozenset({"district_akimat"}),
        street=ABAYA,
        houses=(HouseRange.parse("2-40 even"), HouseRange.parse("100-120")),
    ),
    Rule("heat-east", HEAT_EAST, services=frozenset({"heating_utility"}), districts=frozenset({"yesil", "nura"})),
    Rule("heat-west", HEAT_WEST, services=frozenset({"heating_utility"}), districts=frozenset({"almaty"})),
    Rule("closed", CLOSED, services=frozenset({"heating_utility"}), districts=frozenset({"baikonur"})),
    Rule("off", HEAT_EAST, services=frozenset({"heating_utility"}), districts=frozenset({"saryarka"}), active=False),
    Rule("fallback-heat", HEAT_MAIN, services=frozenset({"heating_utility"}), fallback=True),
    Rule("fallback-water", WATER, services=frozenset({"water_utility"}), fallback=True),
]


@pytest.mark.parametrize(
    ("facts", "expected", "rule"),
    [
        (CardFacts(service="heating_utility", district="yesil"), "heat-east", "heat-east"),
        (CardFacts(service="heating_utility", district="nura", street=ABAYA, house="3"), "heat-east", "heat-east"),
        (CardFacts(service="heating_utility", district="almaty"), "heat-west", "heat-west"),
        # the named object wins over the district (it comes first), whatever the case and spacing
        (
            CardFacts(service="heating_utility", district="almaty", landmark="  boiler-house-7 "),
            "heat-main",
            "boiler-7",
        ),
        # a rule whose organisation is inactive, and an inactive rule, are passed over: the fallback decides
        (CardFacts(service="heating_utility", district="baikonur"), "heat-main", "fallback-heat"),
        (CardFacts(service="heating_utility", district="saryarka"), "heat-main", "fallback-heat"),
        (CardFacts(service="heating_utility"), "heat-main", "fallback-heat"),
        # street sides: odd 1-99 to A; even 2-40 or any 100-120 to B; houses compare by their leading number
        (CardFacts(service="district_akimat", street=ABAYA, house="45/1"), "akimat-a", "abaya-odd"),
        (CardFacts(service="district_akimat", street="Проспект  АБАЯ", house="99"), "akimat-a", "abaya-odd"),
        (CardFacts(service="district_akimat", street=ABAYA, house="12А"), "akimat-b", "abaya-even"),
        (CardFacts(service="district_akimat", street=ABAYA, house="101"), "akimat-b", "abaya-even"),
        (CardFacts(service="district_akimat", street=ABAYA, house="№ 40"), "akimat-b", "abaya-even"),
        (CardFacts(service="housing_inspection", topic="elevator", district="yesil"), "lift-co", "lifts"),
    ],
)
def test_the_table_routes_each_card(facts: CardFacts, expected: str, rule: str) -> None:
    decision = route(facts, TABLE)
    assert decision.organisation == expected, decision.reason
    assert decision.rule is not None and decision.rule.code == rule
    assert rule in decision.reason


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        # even side past 40 and odd side past 99 are nobody's, and district_akimat has no fallback
        (CardFacts(service="district_akimat", street=ABAYA, house="42"), "district_akimat has no fallback"),
        (CardFacts(service="district_akimat", street=ABAYA, house="121"), "no fallback"),
        (CardFacts(service="district_akimat", street=ABAYA), "no fallback"),
        (CardFacts(service="district_akimat", street=ABAYA, house="без номера"), "no fallback"),
        (CardFacts(service="district_akimat", street="улица Кенесары", house="3"), "no fallback"),
        (CardFacts(topic="noise_order", district="yesil"), "has no service"),
    ],
)
def test_no_organisation_says_why(facts: CardFacts, reason: str) -> None:
    decision = route(facts, TABLE)
    assert decision.organisation is None and decision.rule is None and not decision.routed
    assert reason in decision.reason


def test_a_rule_only_applies_to_services_its_organisation_serves() -> None:
    by_district = [Rule("yesil-akimat", AKIMAT_A, districts=frozenset({"yesil"}))]
    assert route(CardFacts(service="district_akimat", district="yesil"), by_district).organisation == "akimat-a"
    assert route(CardFacts(service="heating_utility", district="yesil"), by_district).organisation is None


def test_the_first_matching_rule_in_order_wins() -> None:
    broad = Rule("broad", HEAT_WEST, services=frozenset({"heating_utility"}))
    narrow = Rule("narrow", HEAT_EAST, services=frozenset({"heating_utility"}), districts=frozenset({"yesil"}))
    facts = CardFacts(service="heating_utility", district="yesil")
    assert route(facts, [broad, narrow]).organisation == "heat-west"
    assert route(facts, [narrow, broad]).organisation == "heat-east"


def test_two_fallbacks_for_a_service_are_not_guessed_between() -> None:
    rules = [
        Rule("fb-1", HEAT_EAST, services=frozenset({"heating_utility"}), fallback=True),
        Rule("fb-2", HEAT_WEST, services=frozenset({"heating_utility"}), fallback=True),
    ]
    decision = route(CardFacts(service="heating_utility"), rules)
    assert decision.organisation is None and "two fallbacks (fb-1, fb-2)" in decision.reason


def test_a_fallback_to_an_inactive_organisation_routes_nowhere() -> None:
    rules = [Rule("fb", CLOSED, services=frozenset({"heating_utility"}), fallback=True)]
    decision = route(CardFacts(service="heating_utility"), rules)
    assert decision.organisation is None and "closed-co, which is inactive" in decision.reason


def test_a_fallback_is_not_an_ordinary_rule_for_other_services() -> None:
    # a fallback never matches as an ordinary rule, even when its conditions hold
    rules = [Rule("fb", WATER, services=frozenset({"water_utility"}), fallback=True)]
    assert route(CardFacts(service="heating_utility"), rules).organisation is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-99 odd", HouseRange(1, 99, Side.ODD)),
        ("2-40 EVEN", HouseRange(2, 40, Side.EVEN)),
        ("10-20", HouseRange(10, 20, Side.BOTH)),
        (" 7 ", HouseRange(7, 7, Side.BOTH)),
        ("odd", HouseRange(None, None, Side.ODD)),
    ],
)
def test_house_ranges_read_and_write_back(text: str, expected: HouseRange) -> None:
    parsed = HouseRange.parse(text)
    assert parsed == expected
    assert HouseRange.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text", ["", "20-10", "0-5", "1-99 both", "a-b", "1-2-3", "1-99 odd even"])
def test_bad_house_ranges_are_refused(text: str) -> None:
    with pytest.raises(HouseRangeError):
        HouseRange.parse(text)


def test_house_ranges_cover_their_side_only() -> None:
    odd = HouseRange.parse("1-99 odd")
    assert [n for n in (1, 2, 45, 98, 99, 101) if odd.covers(n)] == [1, 45, 99]
    even_side = HouseRange.parse("even")
    assert even_side.covers(1000) and not even_side.covers(7)


@pytest.mark.parametrize(
    ("house", "number"), [("45/1", 45), ("12А", 12), ("12а корпус 2", 12), ("№7", 7), ("", None), ("А12", None)]
)
def test_a_house_compares_by_its_leading_number(house: str, number: int | None) -> None:
    assert house_number(house) == number


def test_the_engine_is_pure() -> None:
    """handover/routing.py reads no database, no files and no network: it imports only the standard library."""
    import ast
    import sys
    from pathlib import Path

    import handover.routing

    tree = ast.parse(Path(handover.routing.__file__).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
