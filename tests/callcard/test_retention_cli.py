"""`callcard retention show` and `callcard retention run [--dry-run] [--now ISO] [--policy FILE]` on a migrated
SQLite file, with a recording on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callcard.cli import cli
from models.db import make_engine, make_sessionmaker
from models.privacy import RetentionRun
from models.records import Call, Recording

POLICY = "recordings: {action: delete, days: 30}\ntranscripts: {action: keep}\ncaller_numbers: {action: keep}\n"


@pytest.fixture
def site(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, Path]:
    """A database with one call that ended on 1 January 2027, its recording, and a site policy file."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    monkeypatch.setenv("CALLCARD_RECORDINGS_DIR", str(recordings))
    monkeypatch.delenv("CALLCARD_RETENTION_POLICY_FILE", raising=False)
    (recordings / "a.wav").write_bytes(b"RIFF")
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        call = Call(uniqueid="cli.1", state="ended", ended_at=datetime(2027, 1, 1, tzinfo=UTC))
        s.add(call)
        s.flush()
        s.add(Recording(call_id=call.id, path="a.wav"))
        s.commit()
    engine.dispose()
    policy = tmp_path / "site-retention.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return sqlite_url, recordings, policy


def test_show_prints_the_policy_and_its_cutoffs(site: tuple[str, Path, Path]) -> None:
    url, _, policy = site
    out = CliRunner().invoke(
        cli, ["retention", "show", "--url", url, "--policy", str(policy), "--now", "2027-03-01T00:00Z"]
    )
    assert out.exit_code == 0, out.output
    assert "recordings: delete after 30 days (calls ended before 2027-01-30T00:00:00+00:00)" in out.output
    assert "transcripts: keep" in out.output and "runs: 0" in out.output
    default = CliRunner().invoke(cli, ["retention", "show", "--runs", "0"])
    assert default.exit_code == 0 and "recordings: delete after 180 days" in default.output


def test_run_dry_then_for_real(site: tuple[str, Path, Path]) -> None:
    url, recordings, policy = site
    base = ["retention", "run", "--url", url, "--policy", str(policy), "--now", "2027-03-01T03:00:00+05:00"]
    dry = CliRunner().invoke(cli, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove: recordings of 1 calls (1 files deleted" in dry.output
    assert (recordings / "a.wav").exists()
    real = CliRunner().invoke(cli, base)
    assert real.exit_code == 0, real.output
    assert (
        "removed: recordings of 1 calls (1 files deleted" in real.output and "stored as retention run 1" in real.output
    )
    assert not (recordings / "a.wav").exists()
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        run = s.scalars(select(RetentionRun)).one()
        assert run.state == "finished" and run.started_at == datetime(2027, 2, 28, 22, 0, tzinfo=UTC)
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--now", "yesterday"], "is not an ISO date and time"),
        (["--now", "2027-03-01T03:00"], "has no time zone"),
    ],
)
def test_bad_options_are_refused(site: tuple[str, Path, Path], args: list[str], says: str) -> None:
    url, recordings, policy = site
    out = CliRunner().invoke(cli, ["retention", "run", "--url", url, "--policy", str(policy), *args])
    assert out.exit_code == 2 and says in out.output
    assert (recordings / "a.wav").exists()


def test_a_bad_policy_file_is_named_and_nothing_runs(site: tuple[str, Path, Path], tmp_path: Path) -> None:
    url, recordings, _ = site
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace("delete", "shred"), encoding="utf-8")
    out = CliRunner().invoke(cli, ["retention", "run", "--url", url, "--policy", str(bad)])
    assert out.exit_code == 1 and "`recordings.action` is 'shred'" in out.output
    assert (recordings / "a.wav").exists()
