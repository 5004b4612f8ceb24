"""Fixtures of the API tests: the ARI peer on its own thread (for the transfer through callcard's real telephony)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.ari_thread import ThreadedPeer


@pytest.fixture
def ari() -> Iterator[ThreadedPeer]:
    """An AriPeer serving on 127.0.0.1 from a background thread."""
    threaded = ThreadedPeer()
    try:
        yield threaded
    finally:
        threaded.close()
