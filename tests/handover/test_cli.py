"""`callcard orgs import/export` end to end through click, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callcard.cli import cli
from core.taxonomy import bundled_path
from models.db import make_engine, make_sessionmaker
from models.handover import Organisation, RoutingRule
from models.records import AuditEvent
from models.repo import cards
from models.repo.cards import Actor

SAMPLE = bundled_path("orgs-astana.sample.yaml")


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLCARD_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return (
                session.scalar(select(func.count()).select_from(Organisation)) or 0,
                session.scalar(select(func.count()).select_from(RoutingRule)) or 0,
                session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            )
    finally:
        engine.dispose()


def test_import_dry_run_then_import_then_again(runner: CliRunner, db_url: str) -> None:
    dry = runner.invoke(cli, ["orgs", "import", str(SAMPLE), "--dry-run", "--url", db_url])
    assert dry.exit_code == 0, dry.output
    assert "organisation astana-su-arnasy: create" in dry.output and "dry run: nothing written" in dry.output
    assert counts(db_url) == (0, 0, 0)

    done = runner.invoke(cli, ["orgs", "import", str(SAMPLE), "--url", db_url])
    assert done.exit_code == 0, done.output
    assert "imported 24 organisations and 33 rules (57 created)" in done.output
    assert counts(db_url) == (24, 33, 57)

    again = runner.invoke(cli, ["orgs", "import", str(SAMPLE), "--url", db_url])
    assert again.exit_code == 0, again.output
    assert "no changes" in again.output and counts(db_url) == (24, 33, 57)


def test_a_bad_file_is_refused_whole_with_every_problem_named(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "orgs.csv"
    bad.write_text(
        "kind,code,name_kk,name_ru,services,organisation,districts,street\n"
        "organisation,water-co,Су,Вода,water_utility,,,\n"
        "rule,r1,,,water_utility,water-co,atlantis,\n"
        "rule,r2,,,water_utility,water-co,,улица Мира\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["orgs", "import", str(bad), "--url", db_url])
    assert result.exit_code == 1
    assert "nothing imported" in result.output
    assert "line 3 (r1): unknown district 'atlantis'" in result.output
    assert "line 4 (r2): street 'улица Мира' is not in the street list" in result.output
    assert counts(db_url) == (0, 0, 0)


def test_export_then_import_round_trips_in_both_formats(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["orgs", "import", str(SAMPLE), "--url", db_url]).exit_code == 0
    as_yaml = runner.invoke(cli, ["orgs", "export", "--url", db_url])
    assert as_yaml.exit_code == 0 and "code: astana-teplotranzit" in as_yaml.output
    out = tmp_path / "orgs.csv"
    as_csv = runner.invoke(cli, ["orgs", "export", "--format", "csv", "--output", str(out), "--url", db_url])
    assert as_csv.exit_code == 0 and f"to {out}" in as_csv.output
    assert out.read_text(encoding="utf-8").startswith("kind,code,")
    (tmp_path / "orgs.yaml").write_text(as_yaml.output, encoding="utf-8")
    for name in ("orgs.yaml", "orgs.csv"):
        result = runner.invoke(cli, ["orgs", "import", str(tmp_path / name), "--url", db_url])
        assert result.exit_code == 0 and "no changes" in result.output, result.output
    assert counts(db_url) == (24, 33, 57)


def test_the_dry_run_names_the_cards_that_would_move(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["orgs", "import", str(SAMPLE), "--url", db_url]).exit_code == 0
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            operator = Actor("aigerim")
            draft = cards.create_card(
                session, actor=operator, values={"topic": "gas_supply", "service": "gas_utility", "emergency": "none"}
            )
            card = cards.confirm_card(session, card_id=draft.id, actor=operator, due_hours=24)
    finally:
        engine.dispose()
    edited = tmp_path / "orgs.yaml"
    text = SAMPLE.read_text(encoding="utf-8")
    gas_fallback = "organisation: qazaqgaz-aimak-astana, services: [gas_utility], fallback: true"
    assert gas_fallback in text
    gas_in_nura = "organisation: qazaqgaz-aimak-astana, services: [gas_utility], fallback: false, districts: [nura]"
    edited.write_text(text.replace(gas_fallback, gas_in_nura), encoding="utf-8")
    result = runner.invoke(cli, ["orgs", "import", str(edited), "--dry-run", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert "routing_rule fallback-gas: update (districts, fallback)" in result.output
    assert "1 open card(s) would go to another organisation:" in result.output
    assert f"{card.reg_number}: qazaqgaz-aimak-astana -> no organisation (no rule matches and service gas_utility" in (
        result.output
    )
    assert counts(db_url) == (24, 33, 57 + 2)  # the card's own two events (create, confirm), nothing from the dry run
