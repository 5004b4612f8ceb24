"""`callcard qa`: export and import the rules (nothing saved from a wrong file) and score stored calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callcard.cli import cli
from models.db import make_engine, make_sessionmaker
from models.quality import QaRuleSet, QaScorecard
from tests.qa.stored_calls import store_fire_call


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_export_edit_import_and_score(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    maker = make_sessionmaker(engine)
    with maker() as s:
        call_id = store_fire_call(s).id
    runner = CliRunner()
    out = tmp_path / "rules.yaml"
    exported = runner.invoke(cli, ["qa", "rules", "export", str(out), "--url", db_url])
    assert exported.exit_code == 0, exported.output
    assert "version 0 (7 rules)" in exported.output and "name_kk:" in out.read_text(encoding="utf-8")

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(out.read_text(encoding="utf-8").replace("within_s: 5.0", "within_s: soon"), encoding="utf-8")
    refused = runner.invoke(cli, ["qa", "rules", "import", str(wrong), "--url", db_url])
    assert refused.exit_code != 0 and "nothing saved" in refused.output
    assert "rule 1 (greeting): parameters.within_s" in refused.output

    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(out.read_text(encoding="utf-8").replace("instance_s: 1.5", "instance_s: 0.1"), "utf-8")
    imported = runner.invoke(cli, ["qa", "rules", "import", str(stricter), "--note", "strict", "--url", db_url])
    assert imported.exit_code == 0 and "version 1" in imported.output, imported.output

    scored = runner.invoke(cli, ["qa", "score", "--since", "2026-12-01", "--url", db_url])
    assert scored.exit_code == 0, scored.output
    assert f"call {call_id}: 1 of 7 checks failed (rules v1)" in scored.output
    missing = runner.invoke(cli, ["qa", "score", "--call", "424242", "--url", db_url])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    with maker() as s:
        assert s.scalar(select(func.count()).select_from(QaRuleSet)) == 1
        assert s.scalar(select(func.count()).select_from(QaScorecard)) == 1
    engine.dispose()
