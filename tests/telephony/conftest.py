"""Fixtures for telephony tests: a sink that records what telephony delivers, the ARI peer, servers on port 0."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from telephony.audiosocket import AudioSocketServer, MediaDirectory
from telephony.events import CallEvent
from tests.peers.ari_peer import AriPeer


class Collector:
    """A real CallEventSink + AudioSink + CallIdResolver that keeps everything it is given."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self.audio: dict[str, bytearray] = defaultdict(bytearray)
        self.accept = True
        self.refused = 0
        self.ids: dict[str, int] = {}
        self._changed = asyncio.Event()

    async def on_event(self, event: CallEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def push_audio(self, uniqueid: str, pcm: bytes) -> bool:
        if not self.accept:
            self.refused += 1
            return False
        self.audio[uniqueid] += pcm
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
async def audiosocket(
    collector: Collector, directory: MediaDirectory, tmp_path: Path
) -> AsyncIterator[AudioSocketServer]:
    server = AudioSocketServer(
        audio=collector,
        events=collector,
        directory=directory,
        host="127.0.0.1",
        port=0,
        caller_recordings_dir=tmp_path / "caller",
        first_frame_timeout=3,
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ari_peer() -> AsyncIterator[AriPeer]:
    peer = AriPeer()
    await peer.start()
    yield peer
    await peer.close()
