"""`callcard apikeys add/list/revoke` through click on SQLite and PostgreSQL, and the keys they make at work on a
real server: only the hash is stored, a revoked key gets 403, an organisation without Open311 gets no key."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callcard.cli import cli
from models.handover import ApiKey, Organisation
from models.records import AuditEvent
from tests.open311.conftest import _org

pytestmark = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLCARD_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def _count(ctx: Any, model: Any) -> int:
    with ctx.sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_add_list_revoke_a_key_and_use_it(runner: CliRunner, ctx: Any, api_db: str, server: str) -> None:
    with ctx.sessionmaker() as s:
        org = _org(s, "lifts", "housing_inspection", ["open311"])
    added = runner.invoke(cli, ["apikeys", "add", "lifts-crm", "--org", "lifts", "--url", api_db])
    assert added.exit_code == 0, added.output
    key = added.output.splitlines()[1]
    assert len(key) == 43
    with ctx.sessionmaker() as s:
        stored = s.scalars(select(ApiKey)).one()
        assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest() and stored.prefix == key[:8]
        assert stored.organisation_id == org.id and stored.last_used_at is None
    # the key is nowhere else in the database: not in the audit trail either
    with ctx.sessionmaker() as s:
        assert all(key not in str(e.after) for e in s.scalars(select(AuditEvent)))

    read = httpx.get(f"{server}/open311/v2/requests.json", params={"api_key": key})
    assert read.status_code == 200 and read.json() == []
    listed = runner.invoke(cli, ["apikeys", "list", "--url", api_db])
    assert listed.exit_code == 0 and f"{key[:8]}…\tlifts\tlifts-crm" in listed.output
    assert "never used" not in listed.output and "active" in listed.output

    by_id = runner.invoke(cli, ["apikeys", "add", "second", "--org", str(org.id), "--url", api_db])
    assert by_id.exit_code == 0, by_id.output

    revoked = runner.invoke(cli, ["apikeys", "revoke", str(stored.id), "--url", api_db])
    assert revoked.exit_code == 0 and "revoked" in revoked.output, revoked.output
    refused = httpx.get(f"{server}/open311/v2/requests.json", params={"api_key": key})
    assert refused.status_code == 403 and refused.json()[0]["code"] == 403
    again = runner.invoke(cli, ["apikeys", "revoke", str(stored.id), "--url", api_db])
    assert again.exit_code != 0 and "was revoked" in again.output
    assert "revoked" in runner.invoke(cli, ["apikeys", "list", "--url", api_db]).output


def test_no_key_for_an_organisation_without_open311_or_unknown(runner: CliRunner, ctx: Any, api_db: str) -> None:
    with ctx.sessionmaker() as s:
        _org(s, "inbox-only", "roads", ["inbox"])
        inactive = _org(s, "gone", "roads", ["open311"])
        inactive.active = False
        s.commit()
    events = _count(ctx, AuditEvent)
    for org, says in (("inbox-only", "does not receive its cards over Open311"), ("gone", "inactive"), ("x", "no")):
        refused = runner.invoke(cli, ["apikeys", "add", "k", "--org", org, "--url", api_db])
        assert refused.exit_code != 0 and says in refused.output, refused.output
    assert _count(ctx, ApiKey) == 0 and _count(ctx, AuditEvent) == events
    assert _count(ctx, Organisation) == 2
    missing = runner.invoke(cli, ["apikeys", "revoke", "999", "--url", api_db])
    assert missing.exit_code != 0 and "no API key 999" in missing.output
