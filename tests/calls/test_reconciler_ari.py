"""The reconciler with ARI: a caller who hangs up while callcard is down, and Asterisk killed -9 mid-call.

callcard is composed as callcard/app.py composes it (TelephonyBridge, TelephonyInventory, Reconciler run after
every ARI (re)connection) in front of the real durable path; the ARI peer behaves as Asterisk 22 does, faults
included. Every test asserts the rows at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calls.reconciler import Reconciler
from telephony.bridge import TelephonyBridge
from telephony.inventory import TelephonyInventory
from tests.peers.ari_peer import AriPeer
from tests.telephony.durable import Durable, db_url_fixture, durable_fixture, wav_seconds  # noqa: F401 (fixtures)

ONE_SECOND = b"\x20\x00" * 8000


@pytest.fixture
async def ari_peer() -> AsyncIterator[AriPeer]:
    peer = AriPeer()
    await peer.start()
    yield peer
    await peer.close()


class Callcard:
    """One callcard process towards the ARI peer (telephony + reconciler; the durable path is given)."""

    def __init__(self, peer: AriPeer, durable: Durable, recordings: Path) -> None:
        self.bridge = TelephonyBridge(
            events=durable.manager,
            audio=durable.manager,
            call_ids=durable.manager,
            recordings_dir=recordings,
            ari_enabled=True,
            ari_url=peer.url,
            ari_user="callcard",
            ari_password="s3cret",
            ari_app="callcard",
            audiosocket_bind="127.0.0.1:0",
            agi_enabled=False,
        )
        assert self.bridge.ari_app is not None and self.bridge.ari_client is not None
        self.bridge.ari_client.backoff_initial = self.bridge.ari_client.backoff_max = 0.1
        self.app = self.bridge.ari_app
        self.inventory = TelephonyInventory(recordings, ari_client=self.bridge.ari_client, ari_app=self.app)
        self.reconciler = Reconciler(
            sessions=durable.sessionmaker, asterisk=self.inventory, events=durable.manager, interval_s=3600
        )
        self.app.reconnect_hooks.append(self.reconciler.run_once)

    async def start(self) -> None:
        assert self.bridge.audiosocket is not None
        await self.bridge.audiosocket.start()  # port 0: advertise the port it got before ARI sets calls up
        self.app.advertise = f"127.0.0.1:{self.bridge.audiosocket.bound_port}"
        await self.app.start()

    async def stop(self) -> None:
        await self.bridge.stop()


def _continued(peer: AriPeer, uid: str) -> bool:
    return any(m == "POST" and p.endswith(f"/channels/{uid}/continue") for m, p, _, _ in peer.requests)


async def _set_up(peer: AriPeer, durable: Durable, uid: str) -> None:
    await durable.until(lambda: _continued(peer, uid), what="handed to the operators")
    await durable.until(lambda: uid in durable.calls() and durable.calls()[uid].answered_at is not None)


async def test_caller_hanging_up_while_callcard_is_down_is_ended_with_its_recording(
    ari_peer: AriPeer, durable: Durable, tmp_path: Path
) -> None:
    first = Callcard(ari_peer, durable, tmp_path / "recordings")
    await first.start()
    await asyncio.wait_for(ari_peer.connected.wait(), 5)
    leaves = ari_peer.new_call("+77015550501", audio=ONE_SECOND)
    stays = ari_peer.new_call("+77015550502", audio=ONE_SECOND)
    for uid in (leaves, stays):
        await _set_up(ari_peer, durable, uid)
    await asyncio.sleep(1.2)  # the calls last longer than the one second of audio they recorded

    await first.stop()  # callcard goes down; Asterisk keeps both callers with the operators
    await durable.stop()
    hung_up = datetime.now(UTC)
    await ari_peer.hangup(leaves)  # nobody hears it; Asterisk stores the recording
    assert f"callcard-{leaves}" in ari_peer.stored

    durable.restart()  # a new process: nothing of the calls in memory
    await durable.start()
    restarted = datetime.now(UTC)
    second = Callcard(ari_peer, durable, tmp_path / "recordings")
    await second.start()
    try:
        await durable.until(
            lambda: durable.calls()[leaves].ended_at is not None
            and any(r.kind == "mixed" for r in durable.calls()[leaves].recordings),
            what="the call that hung up while callcard was down",
        )
        call = durable.calls()[leaves]
        assert (call.state, call.hangup_cause) == ("ended", "channel gone (reconciled)")
        assert call.answered_at is not None and call.ended_at is not None
        # The best known end: where the recording's audio ends, never the time callcard came back.
        assert abs((call.ended_at - (call.answered_at + timedelta(seconds=1))).total_seconds()) < 0.01
        assert call.ended_at <= hung_up < restarted
        (rec,) = [r for r in call.recordings if r.kind == "mixed"]  # beside the caller leg callcard recorded
        assert rec.complete and wav_seconds(rec.path) == 1.0
        assert f"callcard-{leaves}" in ari_peer.deleted  # fetched, then freed on Asterisk

        # The caller still up was re-adopted, not ended; its real hang-up is seen afterwards.
        await durable.until(lambda: stays in second.app.calls)
        assert durable.calls()[stays].ended_at is None
        await ari_peer.hangup(stays)
        await durable.until(lambda: durable.calls()[stays].ended_at is not None)
        assert durable.calls()[stays].hangup_cause == "Normal Clearing"
    finally:
        await second.stop()


async def test_asterisk_killed_mid_call_ends_the_call_at_the_crash_with_a_repaired_recording(
    ari_peer: AriPeer, durable: Durable, tmp_path: Path
) -> None:
    callcard = Callcard(ari_peer, durable, tmp_path / "recordings")
    await callcard.start()
    try:
        await asyncio.wait_for(ari_peer.connected.wait(), 5)
        uid = ari_peer.new_call("+77015550503", audio=ONE_SECOND)
        await durable.until(lambda: _continued(ari_peer, uid))
        await durable.until(lambda: uid in durable.calls() and durable.calls()[uid].answered_at is not None)
        await durable.until(lambda: callcard.app.calls[uid].recording_started is not None)
        await asyncio.sleep(1.3)

        crashed = datetime.now(UTC)
        await ari_peer.crash()  # kill -9: no event, the recording left with a zeroed header
        assert ari_peer.stored[f"callcard-{uid}"][4:8] == b"\0\0\0\0"
        await asyncio.sleep(0.3)
        await ari_peer.start()  # Asterisk is back, without the call
        reconnected = datetime.now(UTC)

        await durable.until(
            lambda: durable.calls()[uid].ended_at is not None
            and any(r.kind == "mixed" for r in durable.calls()[uid].recordings),
            what="the call Asterisk lost",
        )
        call = durable.calls()[uid]
        assert (call.state, call.hangup_cause) == ("ended", "channel gone while ARI was disconnected")
        assert call.answered_at is not None and call.ended_at is not None
        assert call.answered_at <= call.ended_at <= crashed < reconnected
        (rec,) = [r for r in call.recordings if r.kind == "mixed"]
        assert not rec.complete  # the header was repaired from the file size: stored, marked incomplete
        assert wav_seconds(rec.path) == 1.0
        assert f"callcard-{uid}" in ari_peer.deleted
    finally:
        await callcard.stop()
