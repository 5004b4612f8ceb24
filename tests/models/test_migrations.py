"""Migrations from an empty database on SQLite and PostgreSQL; the migrated schema equals the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import models.privacy  # noqa: F401  (registers its tables)
import models.quality  # noqa: F401
from callcard.cli import cli
from models import migrations
from models.base import Base

TABLES = {
    "users",
    "calls",
    "recordings",
    "transcript_segments",
    "cards",
    "registration_counters",
    "audit_events",
    "auth_sessions",
    "login_throttle",
    "organisations",
    "routing_rules",
    "api_keys",
    "card_photos",
    "webhook_deliveries",
    "access_log",
    "retention_runs",
    "qa_rule_sets",
    "qa_scorecards",
    "qa_judgments",
    "qa_samples",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An EMPTY database (no template, no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'empty.db'}"
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def schema_diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_models(empty_url: str) -> None:
    assert migrations.current(empty_url) is None
    migrations.upgrade(empty_url)
    assert migrations.current(empty_url) == migrations.head()
    assert table_names(empty_url) == TABLES
    assert schema_diff(empty_url) == []
    migrations.upgrade(empty_url)  # a second upgrade is a no-op
    migrations.downgrade(empty_url, "base")
    assert table_names(empty_url) == {"alembic_version"}
    migrations.upgrade(empty_url)
    assert schema_diff(empty_url) == []


def test_cli_db_upgrade(empty_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade", "--url", empty_url])
    assert result.exit_code == 0, result.output
    assert f"revision {migrations.head()}" in result.output
    assert table_names(empty_url) == TABLES
    again = runner.invoke(cli, ["db", "current", "--url", empty_url])
    assert f"database: {migrations.head()}" in again.output


def test_cli_db_upgrade_uses_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLCARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CALLCARD_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "callcard.db").exists()


def test_cli_db_upgrade_reports_a_bad_url() -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--url", "postgresql+psycopg://nobody:secret@127.0.0.1:1/x"])
    assert result.exit_code != 0
    assert "could not upgrade" in result.output and "secret" not in result.output
