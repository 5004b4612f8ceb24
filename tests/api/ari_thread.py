"""The ARI peer on its own event loop in a thread, for API tests whose TestClient runs the app on another loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from telephony.ari import AriClient
from telephony.transfer import AriTransfer
from tests.peers.ari_peer import AriPeer

T = TypeVar("T")


class ThreadedPeer:
    """An AriPeer serving from a background thread; ``run``/``call`` touch it on its own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ari-peer", daemon=True)
        self.thread.start()
        self.peer = self.call(self._make())

    async def _make(self) -> AriPeer:
        peer = AriPeer()
        await peer.start()
        return peer

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run a coroutine on the peer's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Callable[[AriPeer], T]) -> T:
        """Run a plain function of the peer on its loop (the peer is not thread-safe)."""

        async def on_loop() -> T:
            return fn(self.peer)

        return self.call(on_loop())

    def transfer(self) -> AriTransfer:
        """callcard's real transfer towards this peer (make one per TestClient: its loop owns the connections)."""
        client = AriClient(self.peer.url, self.peer.user, self.peer.password, "callcard")
        return AriTransfer(client, emergency_context="emergency", transfer_context="callcard-transfer")

    def where(self, uid: str) -> tuple[str, str]:
        """(context, exten) of a channel as Asterisk shows it."""
        plan = self.run(lambda p: dict(p.channels[uid].json["dialplan"]))
        return plan["context"], plan["exten"]

    def close(self) -> None:
        self.call(self.peer.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
