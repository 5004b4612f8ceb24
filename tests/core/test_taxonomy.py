"""The shipped taxonomy: in sync with the spec, valid, and strict about ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TaxonomyError
from core.taxonomy import bundled_path, load_taxonomy, parse_taxonomy

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "taxonomy.yaml"


def test_bundled_copy_is_identical_to_the_spec() -> None:
    if not SPEC.exists():
        pytest.fail(f"../shared/spec/taxonomy.yaml not found at {SPEC}; the sync check needs it beside the repo")
    assert bundled_path().read_bytes() == SPEC.read_bytes(), "core/data/taxonomy.yaml drifted from the spec"


def test_loads_every_section_with_kazakh_names() -> None:
    tax = load_taxonomy()
    assert set(tax.emergency) == {"none", "101", "102", "103", "104"}
    assert tax.service_for("heating") == "heating_utility"
    assert tax.topics["elevator"].name("kk") == "Лифт істемейді, лифтте қалып қойды"
    assert tax.districts["baikonur"].kk == "Байқоңыр"
    assert tax.districts["nura"].name("kk") == "Нұра"
    for topic in tax.topics.values():
        assert topic.service in tax.services


def test_every_topic_has_a_deadline() -> None:
    tax = load_taxonomy()
    assert tax.deadline_hours("open_manhole") == 12
    assert tax.deadline_hours("garbage") == 72  # the default
    assert all(tax.deadline_hours(t) > 0 for t in tax.topics)


def test_check_refuses_unknown_ids_with_the_allowed_list() -> None:
    tax = load_taxonomy()
    tax.check("topic", "heating")
    tax.check("district", None)
    with pytest.raises(TaxonomyError, match="unknown topic id 'heat'.*heating"):
        tax.check("topic", "heat")
    with pytest.raises(TaxonomyError):
        tax.check("emergency", "112")


def test_a_site_copy_is_validated(tmp_path: Path) -> None:
    text = bundled_path().read_text(encoding="utf-8")
    edited = tmp_path / "taxonomy.yaml"
    edited.write_text(text.replace("service: water_utility", "service: water_works", 1), encoding="utf-8")
    with pytest.raises(TaxonomyError, match="water_works"):
        load_taxonomy(edited)
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(text.replace('"Нет горячей воды"', '"Ыстық су жоқ (жаңа атау)"'), encoding="utf-8")
    assert "жаңа атау" in load_taxonomy(renamed).topics["hot_water"].ru


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2", "not valid YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("version: 1\nemergency: {}\n", "non-empty mapping"),
    ],
)
def test_malformed_files_give_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(TaxonomyError, match=message):
        parse_taxonomy(text, source="site.yaml")


def test_missing_emergency_code_is_refused() -> None:
    text = bundled_path().read_text(encoding="utf-8")
    broken = text.replace('  "104": {ru: "Аварийная газовая служба"', '  "105": {ru: "Аварийная газовая служба"')
    with pytest.raises(TaxonomyError, match="104"):
        parse_taxonomy(broken)
