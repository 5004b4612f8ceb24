"""Fixtures for calls tests: a real consumer of call audio, and ways to make a database really unavailable."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from calls.live import AudioItem, CallInfo, EndOfAudio, LiveOutcome
from classifier.base import CardProposer
from models.db import make_engine
from tests.calls.faults import (  # noqa: F401 (the fault suite's fixtures: fault_model, vosk, proposer, peer, timed)
    Node,
    TimedSpeech,
    fault_model_fixture,
    peer_fixture,
    proposer_fixture,
    sqlite_config,
    timed_fixture,
    vosk_fixture,
)
from tests.peers.ari_peer import AriPeer


class RecordingProcessor:
    """A CallProcessor that keeps what it receives (optionally slow, or failing after some frames)."""

    def __init__(self, info: CallInfo, *, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.info = info
        self.delay = delay
        self.fail_after = fail_after
        self.received = bytearray()
        self.chunks = 0
        self.finished = asyncio.Event()

    async def run(self, frames: asyncio.Queue[AudioItem]) -> LiveOutcome:
        while not isinstance(chunk := await frames.get(), EndOfAudio):
            self.received += chunk.pcm
            self.chunks += 1
            if self.fail_after is not None and self.chunks >= self.fail_after:
                raise RuntimeError("recognizer crashed")
            if self.delay:
                await asyncio.sleep(self.delay)
        self.finished.set()
        return LiveOutcome()


class Processors:
    """A ProcessorFactory that remembers every processor it made."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.per_call: dict[str, dict[str, Any]] = {}
        self.made: dict[str, RecordingProcessor] = {}

    def __call__(self, info: CallInfo) -> RecordingProcessor:
        proc = RecordingProcessor(info, **{**self.options, **self.per_call.get(info.key, {})})
        self.made[info.key] = proc
        return proc


class Outage:
    """Makes a test database really unavailable and brings it back."""

    def __init__(self, url: str, admin_url: str | None = None) -> None:
        self.url = url
        self.admin_url = admin_url

    def engine(self) -> Any:
        if self.url.startswith("sqlite"):
            # A new connection per use, so a missing file is noticed at once.
            return make_engine(self.url, poolclass=NullPool)
        return make_engine(self.url)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        if self.url.startswith("sqlite"):
            folder = Path(self.url.split("///", 1)[1]).parent
            away = folder.with_name(folder.name + ".away")
            folder.rename(away)  # the database file is gone: "unable to open database file"
            try:
                yield
            finally:
                away.rename(folder)
            return
        assert self.admin_url is not None
        name = make_url(self.url).database
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": name},
                )
            yield
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()


@pytest.fixture
def outage(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Outage:
    """A database on each backend that the test can take down."""
    if db_url.startswith("sqlite"):
        folder = tmp_path / "db"
        folder.mkdir()
        path = folder / "callcard.db"
        shutil.copyfile(db_url.split("///", 1)[1], path)
        return Outage(f"sqlite:///{path}")
    return Outage(db_url, str(request.getfixturevalue("pg_admin_url")))


@pytest.fixture
async def node(
    sqlite_url: str, tmp_path: Path, peer: AriPeer, timed: TimedSpeech, proposer: CardProposer
) -> AsyncIterator[Node]:
    """One callcard node of the fault suite on SQLite, started, stopped afterwards."""
    n = await Node(sqlite_config(sqlite_url, tmp_path, peer, timed, proposer)).start()
    yield n
    await n.stop()
