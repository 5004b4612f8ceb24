"""The organisations file: every problem found and named before anything is written; YAML and CSV say the same."""

from __future__ import annotations

import pytest

from core.taxonomy import Taxonomy, load_taxonomy
from handover.hours import HoursError, format_hours, parse_hours
from handover.orgfile import CSV_COLUMNS, OrgFileError, read_directory, write_csv, write_yaml

STREETS = ["проспект Абая", "улица Керей, Жанибек хандар", "микрорайон Коктал"]

GOOD = """
organisations:
  - code: water-co
    name_kk: Су
    name_ru: Вода
    services: [water_utility]
    hours: "mon-fri 08:00-18:00; sat 09:00-13:00"
    receives: [inbox, webhook]
    email: dispatch@water.example.kz
  - {code: akimat-a, name_kk: А әкімдігі, name_ru: Акимат А, services: [district_akimat], active: false}
rules:
  - {code: kerey-odd, organisation: akimat-a, services: [district_akimat], street: "улица керей, жанибек хандар",
     houses: ["1-99 ODD", "2-40 even"], note: "both sides"}
  - {organisation: water-co, topics: [water_leak], districts: [yesil], object: Насосная-3}
  - {code: fallback-water, organisation: water-co, services: [water_utility], fallback: true}
"""


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def problems_of(text: str, taxonomy: Taxonomy, fmt: str = "yaml") -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        read_directory(text, fmt=fmt, taxonomy=taxonomy, streets=STREETS)
    return caught.value.problems


def test_a_good_file_reads_into_checked_specs(taxonomy: Taxonomy) -> None:
    directory = read_directory(GOOD, fmt="yaml", taxonomy=taxonomy, streets=STREETS)
    water, akimat = directory.organisations
    assert water.working_hours == {d: "08:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")} | {
        "sat": "09:00-13:00"
    }
    assert water.receives == ("inbox", "webhook") and akimat.receives == ("inbox",) and not akimat.active
    kerey, by_object, fallback = directory.rules
    assert kerey.street == "улица Керей, Жанибек хандар"  # the street list's canonical name
    assert kerey.houses == ("1-99 odd", "2-40 even")
    assert by_object.code.startswith("rule-") and by_object.named_object == "Насосная-3"
    assert fallback.fallback and fallback.services == ("water_utility",)
    # a rule without a code gets the same derived code every time, whatever its position
    again = read_directory(GOOD, fmt="yaml", taxonomy=taxonomy, streets=STREETS)
    assert again.rules[1].code == by_object.code


def test_yaml_and_csv_round_trip(taxonomy: Taxonomy) -> None:
    directory = read_directory(GOOD, fmt="yaml", taxonomy=taxonomy, streets=STREETS)
    as_csv = write_csv(directory)
    assert as_csv.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert '"улица Керей, Жанибек хандар"' in as_csv and "1-99 odd; 2-40 even" in as_csv
    assert read_directory(as_csv, fmt="csv", taxonomy=taxonomy, streets=STREETS) == directory
    assert read_directory(write_yaml(directory), fmt="yaml", taxonomy=taxonomy, streets=STREETS) == directory


BAD = """
organisations:
  - {code: water-co, name_kk: Су, name_ru: Вода, services: [water_utility, waterworks], receives: [fax]}
  - {code: water-co, name_ru: Дубль, services: [water_utility], hours: "mon-fri 18:00-08:00", email: nobody}
  - {code: "Bad Code", name_kk: x, name_ru: x, services: [roads], colour: blue}
rules:
  - {code: r1, organisation: water-co, services: [water_utility], districts: [atlantis]}
  - {code: r2, organisation: gas-co, services: [gas_utility]}
  - {code: r3, organisation: water-co, street: улица Несуществующая, houses: ["1-99 odd"]}
  - {code: r4, organisation: water-co, houses: ["99-1"]}
  - {code: r5, organisation: water-co, services: [heating_utility]}
  - {code: r6, organisation: water-co}
  - {code: r7, organisation: water-co, services: [water_utility], fallback: true}
  - {code: r8, organisation: water-co, services: [water_utility], districts: [yesil], fallback: true}
  - {code: r9, organisation: water-co, services: [water_utility], fallback: true}
  - {code: r1, organisation: water-co, topics: [elevator, flying]}
"""


def test_every_problem_is_reported_with_its_entry(taxonomy: Taxonomy) -> None:
    problems = problems_of(BAD, taxonomy)
    expected = [
        "organisations #1 (water-co): unknown service 'waterworks'",
        "organisations #1 (water-co): unknown channel 'fax'",
        "organisations #2 (water-co): code 'water-co' is used by another organisation",
        "organisations #2 (water-co): 'name_kk' is required",
        "organisations #2 (water-co): hours: mon: '18:00-08:00' must end after it starts",
        "organisations #2 (water-co): email 'nobody' is not an e-mail address",
        "organisations #3 (Bad Code): unknown key(s) colour",
        "organisations #3 (Bad Code): code 'Bad Code' must be lower-case latin letters",
        "rules #1 (r1): unknown district 'atlantis'",
        "rules #2 (r2): organisation 'gas-co' is not in the file",
        "rules #3 (r3): street 'улица Несуществующая' is not in the street list",
        "rules #4 (r4): house range '99-1' ends before it starts",
        "rules #4 (r4): house ranges need a street",
        "rules #5 (r5): water-co does not serve heating_utility",
        "rules #6 (r6): a rule needs at least one condition",
        "rules #8 (r8): a fallback rule names services and nothing else",
        "rules #9 (r9): service water_utility already has a fallback (r7)",
        "rules #10 (r1): unknown topic 'flying'",
        "rules #10 (r1): topic elevator belongs to housing_inspection, which water-co does not serve",
        "rules #10 (r1): code 'r1' is used by another rule",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), f"{text!r} not in:\n" + "\n".join(problems)
    assert not any(p.startswith("rules #7") for p in problems)


def test_csv_problems_name_their_line(taxonomy: Taxonomy) -> None:
    text = (
        "kind,code,name_kk,name_ru,services,organisation,districts,fallback,shoe_size\n"
        "organisation,water-co,Су,Вода,water_utility,,,,\n"
        "rule,r1,,,water_utility,water-co,atlantis,,\n"
        "\n"
        "rule,r2,Су,,water_utility,water-co,,perhaps,\n"
        "office,x,,,,,,,\n"
    )
    problems = problems_of(text, taxonomy, fmt="csv")
    assert problems[0].startswith("line 1: unknown column(s) shoe_size")
    assert "line 3 (r1): unknown district 'atlantis'; allowed: almaty, baikonur, nura, saryarka, yesil" in problems
    assert "line 5 (r2): a rule has no name_kk" in problems
    assert "line 5 (r2): 'fallback' must be true or false, not 'perhaps'" in problems
    assert "line 6 (x): kind must be 'organisation' or 'rule', not 'office'" in problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("organisations: [}", "the file is not valid YAML"),
        ("- just a list", "the file must be a YAML mapping"),
        ("rules: []\nowners: []", "unknown top-level key(s) owners"),
        ("organisations: []", "the file has no organisations"),
        ("organisations: {a: 1}", "'organisations' must be a list"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(taxonomy: Taxonomy, text: str, problem: str) -> None:
    assert any(p.startswith(problem) for p in problems_of(text, taxonomy))


def test_a_csv_without_kind_is_refused(taxonomy: Taxonomy) -> None:
    assert problems_of("code,name_ru\nx,y\n", taxonomy, fmt="csv")[0].startswith("the CSV needs a header row")


WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKEND_TOO = "mon 08:00-17:00; sat 10:00-14:00"
MORNINGS = {"mon": "08:00-12:00", "tue": "08:00-12:00", "thu": "08:00-12:00"}


@pytest.mark.parametrize(
    ("given", "stored", "written"),
    [
        ("24/7", dict.fromkeys(WEEK, "00:00-24:00"), "24/7"),
        ("Mon-Fri 09:00-18:30", dict.fromkeys(WEEK[:5], "09:00-18:30"), "mon-fri 09:00-18:30"),
        ("sat 10:00-14:00; mon 08:00-17:00", {"mon": "08:00-17:00", "sat": "10:00-14:00"}, WEEKEND_TOO),
        ({"mon-tue": "08:00-12:00", "thu": "08:00-12:00"}, MORNINGS, "mon-tue 08:00-12:00; thu 08:00-12:00"),
        (None, {}, ""),
    ],
)  # fmt: skip
def test_working_hours_read_and_write(given: object, stored: dict[str, str], written: str) -> None:
    assert parse_hours(given) == stored
    assert format_hours(stored) == written
    assert parse_hours(written) == stored


@pytest.mark.parametrize(
    "text", ["always", "mon 8-18", "fri-mon 08:00-18:00", "mon 25:00-26:00", "xyz 08:00-09:00", "12"]
)
def test_bad_working_hours_are_refused(text: str) -> None:
    with pytest.raises(HoursError):
        parse_hours(text)


def test_deadlines_by_priority_read_and_round_trip(taxonomy: Taxonomy) -> None:
    text = GOOD.replace(
        "    email: dispatch@water.example.kz",
        "    email: dispatch@water.example.kz\n    deadlines: {urgent: 4, normal: 48}",
    )
    directory = read_directory(text, fmt="yaml", taxonomy=taxonomy, streets=STREETS)
    assert directory.organisations[0].deadline_hours == {"urgent": 4, "normal": 48}
    assert directory.organisations[1].deadline_hours == {}
    as_csv = write_csv(directory)
    assert "normal=48" in as_csv and "urgent=4" in as_csv
    for written, fmt in ((write_yaml(directory), "yaml"), (as_csv, "csv")):
        again = read_directory(written, fmt=fmt, taxonomy=taxonomy, streets=STREETS)
        assert again.organisations[0].deadline_hours == {"normal": 48, "urgent": 4}, fmt


@pytest.mark.parametrize(
    ("deadlines", "problem"),
    [
        ("{urgent: 0}", "whole hours from 1"),
        ("{urgent: 2.5}", "whole hours from 1"),
        ("{soon: 4}", "'soon' is not a priority"),
        ("{normal: many}", "whole hours from 1"),
        ("48", "hours by priority"),
    ],
)
def test_bad_deadlines_are_refused(taxonomy: Taxonomy, deadlines: str, problem: str) -> None:
    text = GOOD.replace(
        "    email: dispatch@water.example.kz", f"    email: dispatch@water.example.kz\n    deadlines: {deadlines}"
    )
    assert any(problem in p and "organisations #1 (water-co)" in p for p in problems_of(text, taxonomy))


def test_hostile_files_are_refused_with_a_sentence(taxonomy: Taxonomy) -> None:
    """What no organisations file needs and a hostile one uses is a problem, never a crash or a huge message."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n" for n in range(20)
    )
    [alias] = problems_of(bomb, taxonomy)
    assert alias.startswith("line 2: YAML aliases") and len(alias) < 200
    nul = GOOD.replace("name_ru: Вода", 'name_ru: "Во\\0да"')
    assert any("NUL character" in p and "'name_ru'" in p for p in problems_of(nul, taxonomy))
    deep = "organisations: " + "[" * 5000 + "]" * 5000
    assert problems_of(deep, taxonomy) == ["the file nests too deeply to be an organisations file"]
    huge_cell = "kind,code,name_kk\norganisation,x," + '"' + "я" * 200_000 + '"\n'
    [cell] = problems_of(huge_cell, taxonomy, fmt="csv")
    assert cell.startswith("the file is not valid CSV")
