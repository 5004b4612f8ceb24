"""Fixtures for telephony tests: a sink that records what telephony delivers, the ARI peer, servers on port 0."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.types import Speaker
from telephony.audiosocket import AudioSocketServer, MediaDirectory
from telephony.events import CallEvent
from tests.peers.ari_peer import AriPeer


class Collector:
    """A real CallEventSink + AudioSink + CallIdResolver that keeps everything it is given."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self.audio: dict[str, bytearray] = defaultdict(bytearray)  # the callers' voices
        self.operator_audio: dict[str, bytearray] = defaultdict(bytearray)  # the operators' voices
        self.accept = True
        self.refused = 0
        self.ids: dict[str, int] = {}
        self._changed = asyncio.Event()

    async def on_event(self, event: CallEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def push_audio(self, uniqueid: str, pcm: bytes, speaker: Speaker = Speaker.CALLER) -> bool:
        if not self.accept:
            self.refused += 1
            return False
        (self.operator_audio if speaker is Speaker.OPERATOR else self.audio)[uniqueid] += pcm
        self._changed.set()
        return True

    async def call_id_for(self, uniqueid: str) -> int | None:
        return self.ids.get(uniqueid)

    def of(self, kind: type, uniqueid: str | None = None) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and (uniqueid is None or e.uniqueid == uniqueid)]

    async def wait(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {within} s; events: {self.events}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))
            except TimeoutError:
                pass


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def directory() -> MediaDirectory:
    return MediaDirectory()


@pytest.fixture
async def make_audiosocket(
    collector: Collector, directory: MediaDirectory, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """make_audiosocket(**overrides): a started AudioSocket server on 127.0.0.1, port 0, delivering to the
    collector (stopped at the end of the test)."""
    started: list[AudioSocketServer] = []

    async def make(**overrides: Any) -> AudioSocketServer:
        options: dict[str, Any] = {
            "audio": collector,
            "events": collector,
            "directory": directory,
            "host": "127.0.0.1",
            "port": 0,
            "caller_recordings_dir": tmp_path / "caller",
            "first_frame_timeout": 3,
        }
        server = AudioSocketServer(**{**options, **overrides})
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


@pytest.fixture
async def audiosocket(make_audiosocket: Callable[..., Any]) -> AudioSocketServer:
    server: AudioSocketServer = await make_audiosocket()
    return server


@pytest.fixture
async def make_fastagi(
    collector: Collector, directory: MediaDirectory, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """make_fastagi(**overrides): a started FastAGI server on 127.0.0.1, port 0, reporting to the collector
    (stopped at the end of the test)."""
    from telephony.fastagi import FastAgiServer

    started: list[FastAgiServer] = []

    async def make(**overrides: Any) -> FastAgiServer:
        options: dict[str, Any] = {
            "events": collector,
            "directory": directory,
            "recordings_dir": tmp_path / "rec",
            "host": "127.0.0.1",
            "port": 0,
            "call_ids": collector,
            "env_timeout": 3,
            "recording_timeout": 2,
        }
        server = FastAgiServer(**{**options, **overrides})
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


@pytest.fixture
async def ari_peer() -> AsyncIterator[AriPeer]:
    peer = AriPeer()
    await peer.start()
    yield peer
    await peer.close()
