"""Emergency transfer: done only when the caller's channel is SEEN at the emergency destination in the ARI peer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from telephony.ari import AriClient
from telephony.transfer import AriTransfer, TransferFailure, TransferStatus
from tests.peers.ari_peer import AriPeer

BUDGET_S = 2.0  # the operator must learn the outcome within 2 s of pressing the button


@pytest.fixture
async def client(ari_peer: AriPeer) -> AsyncIterator[AriClient]:
    c = AriClient(ari_peer.url, "callcard", "s3cret", "callcard")
    yield c
    await c.aclose()


@pytest.fixture
def transfer(client: AriClient) -> AriTransfer:
    return AriTransfer(client, emergency_context="emergency", transfer_context="callcard-transfer")


def _where(peer: AriPeer, uid: str) -> tuple[str, str, str]:
    plan = peer.channels[uid].json["dialplan"]
    return plan["context"], plan["exten"], plan["app_name"]


def _requests(peer: AriPeer, method: str, suffix: str) -> list[tuple[str, dict[str, str], object]]:
    return [(p, q, b) for m, p, q, b in peer.requests if m == method and p.endswith(suffix)]


async def _with_operators(peer: AriPeer, client: AriClient, number: str) -> str:
    """A caller that callcard already continued into [operators] (out of Stasis, in the Queue)."""
    uid = peer.new_call(number)
    await client.continue_in_dialplan(uid, context="operators", extension="s")
    deadline = time.monotonic() + 2
    while _where(peer, uid)[0] != "operators":
        assert time.monotonic() < deadline, "the peer never ran the operators' context"
        await asyncio.sleep(0.01)
    assert peer.channels[uid].app is None
    peer.requests.clear()
    return uid


async def test_caller_in_stasis_is_continued_and_seen_in_the_emergency_context(
    transfer: AriTransfer, ari_peer: AriPeer
) -> None:
    uid = ari_peer.new_call("+77011112233")
    outcome = await transfer.transfer(uniqueid=uid, code="103")
    assert outcome.status is TransferStatus.TRANSFERRED and outcome.transferred
    assert (outcome.destination, outcome.method, outcome.reason) == ("emergency,103,1", "continue", "")
    assert outcome.elapsed_s < BUDGET_S
    assert _where(ari_peer, uid) == ("emergency", "103", "Dial")
    ((_, params, _),) = _requests(ari_peer, "POST", f"/channels/{uid}/continue")
    assert params == {"context": "emergency", "extension": "103", "priority": "1"}
    # It was checked, not assumed: the caller's channel was read after the continue.
    continued_at = next(i for i, r in enumerate(ari_peer.requests) if r[1].endswith("/continue"))
    assert any(r[:2] == ("GET", f"/ari/channels/{uid}") for r in ari_peer.requests[continued_at + 1 :])


async def test_caller_with_the_operators_is_moved_by_channel_redirect_and_seen_there(
    transfer: AriTransfer, ari_peer: AriPeer, client: AriClient
) -> None:
    uid = await _with_operators(ari_peer, client, "+77011112233")
    name = ari_peer.channels[uid].json["name"]
    outcome = await transfer.transfer(uniqueid=uid, code="101")
    assert outcome.transferred, outcome
    assert outcome.method == "redirect" and outcome.elapsed_s < BUDGET_S
    assert _where(ari_peer, uid) == ("emergency", "101", "Dial")
    assert len(_requests(ari_peer, "POST", f"/channels/{uid}/continue")) == 1  # tried, answered 409
    ((_, params, body),) = _requests(ari_peer, "POST", "/ari/channels")
    assert params["endpoint"] == "Local/101@callcard-transfer"
    assert (params["context"], params["extension"], params["priority"]) == ("callcard-transfer", "done", "1")
    assert body == {"variables": {"__CALLCARD_TRANSFER_CHANNEL": name}}
    await asyncio.sleep(0.1)
    assert ari_peer.channel_ids("Local/") == [], "the Local channel hangs up after ChannelRedirect"


async def test_missing_transfer_context_fails_fast_and_the_caller_stays_with_the_operators(
    transfer: AriTransfer, ari_peer: AriPeer, client: AriClient
) -> None:
    del ari_peer.dialplan["callcard-transfer"]
    uid = await _with_operators(ari_peer, client, "+77011112234")
    outcome = await transfer.transfer(uniqueid=uid, code="103")
    assert outcome.status is TransferStatus.FAILED and not outcome.transferred
    assert outcome.reason == TransferFailure.DIALPLAN_MISSING
    assert "extension 103 in [callcard-transfer]" in outcome.detail
    assert outcome.elapsed_s < BUDGET_S
    assert _where(ari_peer, uid) == ("operators", "s", "Queue")
    assert _requests(ari_peer, "POST", "/ari/channels") == [], "nothing was originated into a missing context"


async def test_local_channel_that_fails_after_originate_200_is_seen_as_a_failure(
    transfer: AriTransfer, ari_peer: AriPeer, client: AriClient
) -> None:
    # func_dialplan is not loaded, so the pre-flight cannot tell; the originate is answered 200 and then the
    # Local channel dies with "No such extension/context": exactly what was reported as "transferred".
    ari_peer.func_dialplan_loaded = False
    del ari_peer.dialplan["callcard-transfer"]
    uid = await _with_operators(ari_peer, client, "+77011112235")
    started = time.monotonic()
    outcome = await transfer.transfer(uniqueid=uid, code="103")
    assert time.monotonic() - started < BUDGET_S
    assert outcome.reason == TransferFailure.TRANSFER_CHANNEL_FAILED, outcome
    assert "still at operators,s" in outcome.detail
    assert len(_requests(ari_peer, "POST", "/ari/channels")) == 1, "the originate was answered 200"
    destroyed = [e for e in ari_peer.sent_events if e["type"] == "ChannelDestroyed"]
    assert ari_peer.channel_ids("Local/") == [] and not destroyed  # gone, and callcard was never subscribed
    assert _where(ari_peer, uid) == ("operators", "s", "Queue")


async def test_missing_emergency_extension_is_caught_before_the_caller_is_moved(
    transfer: AriTransfer, ari_peer: AriPeer
) -> None:
    del ari_peer.dialplan["emergency"]["102"]
    uid = ari_peer.new_call("+77011112236")
    outcome = await transfer.transfer(uniqueid=uid, code="102")
    assert outcome.reason == TransferFailure.DIALPLAN_MISSING and "extension 102 in [emergency]" in outcome.detail
    assert _requests(ari_peer, "POST", "/continue") == []
    assert ari_peer.channels[uid].app == "callcard", "the caller is still in Stasis, untouched"


async def test_continue_into_a_missing_extension_loses_the_caller_and_says_so(
    transfer: AriTransfer, ari_peer: AriPeer
) -> None:
    # Without the pre-flight (func_dialplan missing), Asterisk hangs a caller up who is sent to an invalid
    # extension; the transfer must say "caller gone", never "transferred".
    ari_peer.func_dialplan_loaded = False
    del ari_peer.dialplan["emergency"]["102"]
    uid = ari_peer.new_call("+77011112237")
    outcome = await transfer.transfer(uniqueid=uid, code="102")
    assert outcome.reason == TransferFailure.CALLER_GONE, outcome
    assert uid not in ari_peer.channels


async def test_a_caller_that_never_arrives_times_out_within_the_budget(
    transfer: AriTransfer, ari_peer: AriPeer, client: AriClient
) -> None:
    uid = await _with_operators(ari_peer, client, "+77011112238")
    ari_peer.local_delay = 5.0  # an overloaded Asterisk: the Local channel has not run yet
    started = time.monotonic()
    outcome = await transfer.transfer(uniqueid=uid, code="104")
    elapsed = time.monotonic() - started
    assert outcome.reason == TransferFailure.TIMEOUT and outcome.timed_out
    assert transfer.deadline_s - 0.05 <= elapsed < BUDGET_S
    assert _where(ari_peer, uid)[0] == "operators"


async def test_unknown_code_vanished_caller_and_unreachable_asterisk_are_clear_failures(
    transfer: AriTransfer, ari_peer: AriPeer
) -> None:
    outcome = await transfer.transfer(uniqueid="1.1", code="112")
    assert outcome.reason == TransferFailure.UNKNOWN_CODE and "unknown emergency code" in outcome.detail
    outcome = await transfer.transfer(uniqueid="1.999", code="102")
    assert outcome.reason == TransferFailure.CALLER_GONE and "no longer exists" in outcome.detail
    assert all(not r[1].endswith("/channels") for r in ari_peer.requests)
    uid = ari_peer.new_call("+77011112239")
    await ari_peer.stop()
    started = time.monotonic()
    outcome = await transfer.transfer(uniqueid=uid, code="101")
    assert outcome.reason in (TransferFailure.UNREACHABLE, TransferFailure.TIMEOUT), outcome
    assert time.monotonic() - started < BUDGET_S


async def test_pressing_twice_after_success_is_still_transferred(transfer: AriTransfer, ari_peer: AriPeer) -> None:
    uid = ari_peer.new_call("+77011112240")
    assert (await transfer.transfer(uniqueid=uid, code="103")).transferred
    again = await transfer.transfer(uniqueid=uid, code="103")
    assert again.transferred and again.method == ""
    assert len(_requests(ari_peer, "POST", "/continue")) == 1
