"""The stored directory on SQLite and PostgreSQL: the Astana sample imports and routes cards; re-import changes
nothing; export -> import round-trips; a dry run lists the open cards that would move and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from classifier.address import StreetIndex
from core.taxonomy import Taxonomy, bundled_path, load_taxonomy
from handover.directory import card_facts, import_directory, load_directory, load_rules
from handover.orgfile import Directory, read_directory, write_csv, write_yaml
from handover.routing import CardFacts, route
from models.handover import Organisation
from models.records import AuditEvent, Card
from models.repo import cards
from models.repo.cards import Actor

ACTOR = "system:test"
OPERATOR = Actor("aigerim", None)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="module")
def streets() -> list[str]:
    return [s.name for s in StreetIndex.load().streets]


@pytest.fixture(scope="module")
def sample(taxonomy: Taxonomy, streets: list[str]) -> Directory:
    text = bundled_path("orgs-astana.sample.yaml").read_text(encoding="utf-8")
    return read_directory(text, fmt="yaml", taxonomy=taxonomy, streets=streets)


def by_code(directory: Directory) -> Directory:
    """The directory as the database returns it: organisations by code (rules keep their order)."""
    return Directory(tuple(sorted(directory.organisations, key=lambda o: o.code)), directory.rules)


def confirmed_card(session: Session, **values: Any) -> Card:
    draft = cards.create_card(session, actor=OPERATOR, values={"emergency": "none", "summary": "test", **values})
    return cards.confirm_card(session, card_id=draft.id, actor=OPERATOR, due_hours=24)


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity != "card")) or 0


ASTANA_CARDS = [
    ({"topic": "water_leak", "service": "water_utility", "district": "yesil"}, "astana-su-arnasy"),
    ({"topic": "heating", "service": "heating_utility", "district": "almaty"}, "astana-teplotranzit"),
    ({"topic": "heating", "service": "heating_utility", "street": "микрорайон Коктал", "house": "12А"}, "zhylu-koktal"),
    ({"topic": "hot_water", "service": "heating_utility", "landmark": "Котельная  КОКТАЛ"}, "zhylu-koktal"),
    ({"topic": "electricity", "service": "power_utility", "district": "nura"}, "astana-rek"),
    ({"topic": "gas_supply", "service": "gas_utility"}, "qazaqgaz-aimak-astana"),
    ({"topic": "elevator", "service": "housing_inspection", "district": "baikonur"}, "astana-lift"),
    ({"topic": "building_maintenance", "service": "housing_inspection"}, "housing-inspection"),
    ({"topic": "street_lighting", "service": "roads"}, "qala-zharygy"),
    ({"topic": "road_damage", "service": "roads"}, "roads-transport-department"),
    ({"topic": "noise_order", "service": "district_akimat", "district": "yesil"}, "akimat-yesil"),
    ({"topic": "noise_order", "service": "district_akimat", "district": "nura"}, "akimat-nura"),
    ({"topic": "noise_order", "service": "district_akimat"}, "monitoring-department"),
    (
        {"topic": "noise_order", "service": "district_akimat", "street": "проспект Республики", "house": "45/1"},
        "akimat-saryarka",
    ),
    (
        {"topic": "noise_order", "service": "district_akimat", "street": "проспект Республики", "house": "44"},
        "akimat-almaty",
    ),
    ({"topic": "flooding", "service": "monitoring_coordination", "district": "saryarka"}, "akimat-saryarka"),
    ({"topic": "open_manhole", "service": "monitoring_coordination", "district": "saryarka"}, "monitoring-department"),
    ({"topic": "garbage", "service": "city_cleaning", "district": "almaty"}, "astana-tazalyk"),
    ({"topic": "stray_animals", "service": "animal_control"}, "astana-vetservice"),
    ({"topic": "emergency", "service": "emergency_services"}, "emergency-department"),
]


def test_the_sample_routes_every_service_somewhere(sample: Directory, taxonomy: Taxonomy) -> None:
    rules = sample.routing_rules()
    for service in taxonomy.services:
        decision = route(CardFacts(service=service), rules)
        assert decision.routed, f"{service}: {decision.reason}"
    codes = {o.code for o in sample.organisations}
    assert {"astana-su-arnasy", "astana-teplotranzit", "astana-rek", "qazaqgaz-aimak-astana", "astana-lift"} <= codes
    assert {f"akimat-{d}" for d in taxonomy.districts} <= codes
    assert "SAMPLE" in bundled_path("orgs-astana.sample.yaml").read_text(encoding="utf-8").splitlines()[0]


def test_the_sample_imports_and_routes_a_set_of_cards(session: Session, sample: Directory) -> None:
    report = import_directory(session, sample, actor=ACTOR)
    assert not report.dry_run and report.moves == []
    assert len(report.changes) == len(sample.organisations) + len(sample.rules) == audit_count(session)
    rules = load_rules(session)
    for values, owner in ASTANA_CARDS:
        card = confirmed_card(session, **values)
        decision = route(card_facts(card), rules)
        assert decision.organisation == owner, f"{values}: {decision.reason}"


def test_reimport_is_idempotent_and_export_round_trips(
    session: Session, sample: Directory, taxonomy: Taxonomy, streets: list[str]
) -> None:
    import_directory(session, sample, actor=ACTOR)
    events = audit_count(session)
    again = import_directory(session, sample, actor=ACTOR)
    assert again.changes == [] and audit_count(session) == events
    stored = load_directory(session)
    assert stored == by_code(sample)
    for text, fmt in ((write_yaml(stored), "yaml"), (write_csv(stored), "csv")):
        read_back = read_directory(text, fmt=fmt, taxonomy=taxonomy, streets=streets)
        assert read_back == stored
        assert import_directory(session, read_back, actor=ACTOR).changes == []
    assert audit_count(session) == events


def test_a_dry_run_lists_the_cards_that_would_move_and_writes_nothing(
    session: Session, sample: Directory, taxonomy: Taxonomy, streets: list[str]
) -> None:
    import_directory(session, sample, actor=ACTOR)
    yesil_heat = confirmed_card(session, topic="heating", service="heating_utility", district="yesil")
    almaty_heat = confirmed_card(session, topic="heating", service="heating_utility", district="almaty")
    draft_heat = cards.create_card(
        session, actor=OPERATOR, values={"topic": "heating", "service": "heating_utility", "district": "yesil"}
    )
    closed_heat = confirmed_card(session, topic="heating", service="heating_utility", district="yesil")
    cards.close_card(session, card_id=closed_heat.id, actor=OPERATOR, reason="done")
    lift = confirmed_card(session, topic="elevator", service="housing_inspection", district="yesil")
    # the new file: a second heat company takes Yesil, and the lift company is gone (its rule with it)
    text = write_yaml(sample).replace("code: astana-lift\n", "code: astana-lift\n  active: false\n")
    edited = read_directory(text, fmt="yaml", taxonomy=taxonomy, streets=streets)
    extra = read_directory(
        """
organisations:
  - {code: yesil-heat, name_kk: Есіл жылу, name_ru: Есиль тепло, services: [heating_utility]}
rules:
  - {code: heat-yesil, organisation: yesil-heat, services: [heating_utility], districts: [yesil]}
""",
        fmt="yaml",
        taxonomy=taxonomy,
        streets=streets,
    )
    new = Directory(edited.organisations + extra.organisations, extra.rules + edited.rules)
    events = audit_count(session)

    report = import_directory(session, new, actor=ACTOR, dry_run=True)
    assert report.dry_run
    moved = {m.card_id: (m.before.organisation, m.after.organisation) for m in report.moves}
    assert moved == {
        yesil_heat.id: ("astana-teplotranzit", "yesil-heat"),
        lift.id: ("astana-lift", "housing-inspection"),
    }
    assert almaty_heat.id not in moved and draft_heat.id not in moved and closed_heat.id not in moved
    assert {(c.code, c.action) for c in report.changes} >= {("yesil-heat", "create"), ("heat-yesil", "create")}
    # nothing written: same organisations, same rules, no audit events
    assert audit_count(session) == events
    assert session.scalar(select(Organisation).where(Organisation.code == "yesil-heat")) is None
    assert load_directory(session) == by_code(sample)

    real = import_directory(session, new, actor=ACTOR)
    assert [(m.card_id, m.after.organisation) for m in real.moves] == [(c, moved[c][1]) for c in sorted(moved)]
    assert load_directory(session).rules[0].code == "heat-yesil"
    assert audit_count(session) == events + len(real.changes)
