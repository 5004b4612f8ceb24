"""Irkutsk's heat network as data: two units of one company split by district, twelve companies that own whole
microdistricts, heat mains owned by name, and a fallback; a file, not code, says it all."""

from __future__ import annotations

import pytest
import yaml

from core.taxonomy import Taxonomy, bundled_path, parse_taxonomy
from handover.orgfile import read_directory
from handover.routing import CardFacts, route

IRKUTSK_DISTRICTS = {
    "pravoberezhny": {"ru": "Правобережный", "kk": "Правобережный"},
    "oktyabrsky": {"ru": "Октябрьский", "kk": "Октябрьский"},
    "sverdlovsky": {"ru": "Свердловский", "kk": "Свердловский"},
    "leninsky": {"ru": "Ленинский", "kk": "Ленинский"},
}
MICRODISTRICTS = [
    "микрорайон Юбилейный", "микрорайон Университетский", "микрорайон Солнечный", "микрорайон Первомайский",
    "микрорайон Синюшина Гора", "микрорайон Ново-Ленино", "микрорайон Иркутный", "микрорайон Радищева",
    "микрорайон Энергетиков", "микрорайон Лесной", "микрорайон Берёзовый", "микрорайон Западный",
]  # fmt: skip

# 95% of the network: one company's two units, split by district; 12 companies owning whole microdistricts.
TABLE = """
organisations:
  - {code: heatco-east, name_ru: "ТС, Восточный", name_kk: "ЖЖ, Шығыс", services: [heating_utility], hours: 24/7}
  - {code: heatco-west, name_ru: "ТС, Западный", name_kk: "ЖЖ, Батыс", services: [heating_utility], hours: 24/7}
  - {code: heatco-dispatch, name_ru: "ТС, диспетчерская", name_kk: "ЖЖ, диспетчерлік", services: [heating_utility]}
  - {code: mkr-yubileyny, name_ru: "ТСО Юбилейный", name_kk: "ТСО Юбилейный", services: [heating_utility]}
  - {code: mkr-universitetsky, name_ru: "ТСО Университетский", name_kk: "ТСО Университет", services: [heating_utility]}
  - {code: mkr-solnechny, name_ru: "ТСО Солнечный", name_kk: "ТСО Солнечный", services: [heating_utility]}
  - {code: mkr-pervomaysky, name_ru: "ТСО Первомайский", name_kk: "ТСО Первомайский", services: [heating_utility]}
  - {code: mkr-sinyushina, name_ru: "ТСО Синюшина Гора", name_kk: "ТСО Синюшина Гора", services: [heating_utility]}
  - {code: mkr-novo-lenino, name_ru: "ТСО Ново-Ленино", name_kk: "ТСО Ново-Ленино", services: [heating_utility]}
  - {code: mkr-irkutny, name_ru: "ТСО Иркутный", name_kk: "ТСО Иркутный", services: [heating_utility]}
  - {code: mkr-radishcheva, name_ru: "ТСО Радищева", name_kk: "ТСО Радищева", services: [heating_utility]}
  - {code: mkr-energetikov, name_ru: "ТСО Энергетиков", name_kk: "ТСО Энергетиков", services: [heating_utility]}
  - {code: mkr-lesnoy, name_ru: "ТСО Лесной", name_kk: "ТСО Лесной", services: [heating_utility]}
  - {code: mkr-beryozovy, name_ru: "ТСО Берёзовый", name_kk: "ТСО Берёзовый", services: [heating_utility]}
  - {code: mkr-zapadny, name_ru: "ТСО Западный", name_kk: "ТСО Западный", services: [heating_utility]}
rules:
  - {organisation: heatco-west, services: [heating_utility], object: "теплотрасса ТМ-7", note: "a heat main"}
  - {organisation: mkr-yubileyny, services: [heating_utility], street: "микрорайон Юбилейный"}
  - {organisation: mkr-universitetsky, services: [heating_utility], street: "микрорайон Университетский"}
  - {organisation: mkr-solnechny, services: [heating_utility], street: "микрорайон Солнечный"}
  - {organisation: mkr-pervomaysky, services: [heating_utility], street: "микрорайон Первомайский"}
  - {organisation: mkr-sinyushina, services: [heating_utility], street: "микрорайон Синюшина Гора"}
  - {organisation: mkr-novo-lenino, services: [heating_utility], street: "микрорайон Ново-Ленино"}
  - {organisation: mkr-irkutny, services: [heating_utility], street: "микрорайон Иркутный"}
  - {organisation: mkr-radishcheva, services: [heating_utility], street: "микрорайон Радищева"}
  - {organisation: mkr-energetikov, services: [heating_utility], street: "микрорайон Энергетиков"}
  - {organisation: mkr-lesnoy, services: [heating_utility], street: "микрорайон Лесной"}
  - {organisation: mkr-beryozovy, services: [heating_utility], street: "микрорайон Берёзовый"}
  - {organisation: mkr-zapadny, services: [heating_utility], street: "микрорайон Западный"}
  - {organisation: heatco-east, services: [heating_utility], districts: [pravoberezhny, oktyabrsky]}
  - {organisation: heatco-west, services: [heating_utility], districts: [sverdlovsky, leninsky]}
  - {organisation: heatco-dispatch, services: [heating_utility], fallback: true}
"""


@pytest.fixture(scope="module")
def irkutsk() -> Taxonomy:
    raw = yaml.safe_load(bundled_path("taxonomy.yaml").read_text(encoding="utf-8"))
    raw["districts"] = IRKUTSK_DISTRICTS
    return parse_taxonomy(yaml.safe_dump(raw, allow_unicode=True), source="irkutsk")


@pytest.mark.parametrize(
    ("district", "street", "house", "landmark", "owner"),
    [
        ("oktyabrsky", "улица Ленина", "5", None, "heatco-east"),
        ("pravoberezhny", None, None, None, "heatco-east"),
        ("leninsky", None, None, None, "heatco-west"),
        ("sverdlovsky", None, "12", None, "heatco-west"),
        # a microdistrict's own company, whichever district the operator put down
        ("sverdlovsky", "микрорайон Университетский", None, None, "mkr-universitetsky"),
        ("leninsky", "микрорайон Ново-Ленино", "45/1", None, "mkr-novo-lenino"),
        (None, "микрорайон Березовый", None, None, "mkr-beryozovy"),  # е for ё
        ("oktyabrsky", "микрорайон Зелёный", None, None, "heatco-east"),
        # the heat main's owner, wherever it was seen from
        ("oktyabrsky", None, None, "Теплотрасса тм-7", "heatco-west"),
        # no district, no known microdistrict: the company's dispatch, by the fallback
        (None, "улица Ленина", None, None, "heatco-dispatch"),
    ],
)
def test_the_irkutsk_heat_network_routes_to_its_owners(
    irkutsk: Taxonomy, district: str | None, street: str | None, house: str | None, landmark: str | None, owner: str
) -> None:
    facts = CardFacts(service="heating_utility", district=district, street=street, house=house, landmark=landmark)
    directory = read_directory(TABLE, fmt="yaml", taxonomy=irkutsk, streets=MICRODISTRICTS)
    assert len(directory.organisations) == 15 and len(directory.rules) == 16
    decision = route(facts, directory.routing_rules())
    assert decision.organisation == owner, decision.reason


def test_the_twelve_microdistricts_each_have_their_own_company(irkutsk: Taxonomy) -> None:
    rules = read_directory(TABLE, fmt="yaml", taxonomy=irkutsk, streets=MICRODISTRICTS).routing_rules()
    owners = {route(CardFacts(service="heating_utility", street=m), rules).organisation for m in MICRODISTRICTS}
    assert len(owners) == 12 and not owners & {"heatco-east", "heatco-west", "heatco-dispatch"}
