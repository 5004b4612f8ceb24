"""The real durable path for telephony fault tests: CallRegistry (SQL + spool) behind a CallManager, as wired in
callcard/app.py, so each test can assert the final rows."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from calls.manager import CallManager
from calls.registry import CallRegistry
from calls.spool import Spool
from models.db import make_engine, make_sessionmaker
from models.records import Call
from telephony.audiosocket import MediaDirectory
from telephony.fastagi import FastAgiServer
from tests.calls.conftest import Processors


class Durable:
    """CallManager + CallRegistry on a real database; ``manager`` is the CallEventSink telephony delivers to."""

    def __init__(self, url: str, spool_dir: Path) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.spool_dir = spool_dir
        self.registry = CallRegistry(self.sessionmaker, Spool(spool_dir), retry_interval=0.1)
        self.processors = Processors()
        self.manager = CallManager(registry=self.registry, processor_factory=self.processors)

    async def start(self) -> None:
        await self.registry.start()

    async def stop(self) -> None:
        await self.manager.stop()
        await self.registry.stop()

    def restart(self) -> None:
        """A new process: fresh manager and registry on the same database (nothing in memory survives)."""
        self.registry = CallRegistry(self.sessionmaker, Spool(self.spool_dir), retry_interval=0.1)
        self.processors = Processors()
        self.manager = CallManager(registry=self.registry, processor_factory=self.processors)

    def dispose(self) -> None:
        self.engine.dispose()

    def calls(self) -> dict[str, Call]:
        with self.sessionmaker() as s:
            return {c.uniqueid: c for c in s.scalars(select(Call).options(selectinload(Call.recordings)))}

    async def until(self, predicate: Callable[[], bool], within: float = 15.0, what: str = "") -> None:
        deadline = time.monotonic() + within
        while not predicate():
            assert time.monotonic() < deadline, f"not reached in {within} s: {what} {self.describe()}"
            await asyncio.sleep(0.05)

    def describe(self) -> dict[str, object]:
        return {
            u: (c.state, c.hangup_cause, c.answered_at, c.ended_at, [(r.path, r.complete) for r in c.recordings])
            for u, c in self.calls().items()
        }


def wav_seconds(path: str | Path) -> float:
    """Python's wave must open the file (a zeroed header is refused); its duration."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.fixture(name="db_url", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url_fixture(request: pytest.FixtureRequest) -> str:
    """Each durability test on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture(name="durable")
async def durable_fixture(db_url: str, tmp_path: Path) -> AsyncIterator[Durable]:
    """The durable path (registry, spool, manager) on the test's database."""
    d = Durable(db_url, tmp_path / "spool")
    await d.start()
    yield d
    await d.stop()
    d.dispose()


@pytest.fixture(name="agi")
async def agi_fixture(durable: Durable, tmp_path: Path) -> AsyncIterator[FastAgiServer]:
    """callcard's FastAGI server on a free port, recording into ``tmp_path/rec``, reporting to the durable path."""
    server = FastAgiServer(
        events=durable.manager,
        directory=MediaDirectory(),
        recordings_dir=tmp_path / "rec",
        host="127.0.0.1",
        port=0,
        call_ids=durable.manager,
        recording_timeout=5,
    )
    await server.start()
    yield server
    await server.stop()
