"""Fixtures of the API tests: the ARI peer on its own thread (for the transfer through callcard's real telephony)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.ari_thread import ThreadedPeer
from tests.calls.conftest import Outage


@pytest.fixture
def ari() -> Iterator[ThreadedPeer]:
    """An AriPeer serving on 127.0.0.1 from a background thread."""
    threaded = ThreadedPeer()
    try:
        yield threaded
    finally:
        threaded.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Outage:
    """A database the test can take down and bring back (Outage), on a copy of the test's SQLite database or on
    the test's PostgreSQL one."""
    if request.param == "sqlite":
        folder = tmp_path / "db"
        folder.mkdir()
        source = str(request.getfixturevalue("sqlite_url")).split("///", 1)[1]
        shutil.copyfile(source, folder / "callcard.db")
        return Outage(f"sqlite:///{folder / 'callcard.db'}")
    return Outage(str(request.getfixturevalue("pg_url")), str(request.getfixturevalue("pg_admin_url")))
