"""Emergency transfer reaches the ARI peer as the right REST call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telephony.ari import AriClient
from telephony.transfer import AriTransfer, TransferError
from tests.peers.ari_peer import AriPeer


@pytest.fixture
async def transfer(ari_peer: AriPeer) -> AsyncIterator[AriTransfer]:
    client = AriClient(ari_peer.url, "callcard", "s3cret", "callcard")
    yield AriTransfer(client, emergency_context="emergency", transfer_context="callcard-transfer")
    await client.aclose()


async def test_caller_in_stasis_is_continued_into_the_emergency_context(
    transfer: AriTransfer, ari_peer: AriPeer
) -> None:
    uid = ari_peer.new_call("+77011112233")
    assert await transfer.transfer(uniqueid=uid, code="103") == "emergency,103,1"
    method, path, params, _ = ari_peer.requests[-1]
    assert (method, path) == ("POST", f"/ari/channels/{uid}/continue")
    assert params == {"context": "emergency", "extension": "103", "priority": "1"}


async def test_caller_with_the_operators_is_moved_by_channel_redirect(transfer: AriTransfer, ari_peer: AriPeer) -> None:
    uid = ari_peer.new_call("+77011112233")
    ari_peer.channels[uid].app = None  # continued into the operators' queue: no longer in Stasis
    name = ari_peer.channels[uid].json["name"]
    assert await transfer.transfer(uniqueid=uid, code="101") == "emergency,101,1"
    conflict = [r for r in ari_peer.requests if r[1].endswith("/continue")]
    assert len(conflict) == 1  # tried, answered 409
    method, path, params, body = ari_peer.requests[-1]
    assert (method, path) == ("POST", "/ari/channels")
    assert params["endpoint"] == "Local/101@callcard-transfer"
    assert (params["context"], params["extension"], params["priority"]) == ("callcard-transfer", "done", "1")
    assert body == {"variables": {"__CALLCARD_TRANSFER_CHANNEL": name}}


async def test_unknown_code_and_vanished_caller_are_clear_errors(transfer: AriTransfer, ari_peer: AriPeer) -> None:
    with pytest.raises(TransferError, match="unknown emergency code"):
        await transfer.transfer(uniqueid="1.1", code="112")
    with pytest.raises(TransferError, match="no longer exists"):
        await transfer.transfer(uniqueid="1.999", code="102")
    assert all(not r[1].endswith("/channels") for r in ari_peer.requests)
