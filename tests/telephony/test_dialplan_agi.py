"""The shipped sample dialplan run by the dialplan peer against callcard's FastAGI server and the real durable path.

Case 3 of issue 11 (FastAGI calls that never end: the h extension vs a hangup handler) and case 7 (Stasis()
failing while callcard's ARI is down, and the fallback into the FastAGI variant).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from telephony.ari import AriClient
from telephony.fastagi import FastAgiServer
from tests.peers.ari_peer import AriPeer
from tests.peers.dialplan import Pbx
from tests.telephony.durable import (  # noqa: F401 (fixtures)
    Durable,
    agi_fixture,
    db_url_fixture,
    durable_fixture,
    wav_seconds,
)

SAMPLE = Path(__file__).resolve().parents[2] / "telephony" / "asterisk" / "extensions.conf"
TWO_SECONDS = b"\x10\x00" * 16000


def _pbx(agi: FastAgiServer, conf: Path = SAMPLE, **options: object) -> Pbx:
    return Pbx(conf, agi_url=f"agi://127.0.0.1:{agi.bound_port}", **options)  # type: ignore[arg-type]


async def test_sample_dialplan_ends_the_call_through_its_hangup_handler(
    agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    pbx = _pbx(agi)
    ch = pbx.call("from-trunk-agi", caller="+77015550301", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")  # registered, recording, handed to the operators' context
    await durable.until(lambda: ch.uniqueid in durable.calls(), what="call stored")
    await pbx.hangup(ch, cause=16)
    # The h extension of [from-trunk-agi] is gone; the pushed handler ran although the channel ended in [operators].
    assert ("AGI", "${CALLCARD_AGI}/hangup,${HANGUPCAUSE}") in ch.apps_run
    await durable.until(
        lambda: (c := durable.calls().get(ch.uniqueid)) is not None and c.ended_at is not None and bool(c.recordings),
        what="call ended with its recording",
    )
    call = durable.calls()[ch.uniqueid]
    assert (call.state, call.hangup_cause, call.source, call.caller_number) == (
        "ended",
        "Normal Clearing",
        "agi",
        "+77015550301",
    )
    assert call.answered_at is not None and call.ended_at is not None
    assert call.started_at <= call.answered_at <= call.ended_at
    (rec,) = call.recordings
    assert rec.complete and rec.kind == "mixed" and rec.duration_s == 2.0
    assert rec.path == str(agi.recording_path(ch.uniqueid))
    assert wav_seconds(rec.path) == 2.0
    await pbx.close()


async def test_caller_hanging_up_during_registration_is_still_reported(agi: FastAgiServer, durable: Durable) -> None:
    pbx = _pbx(agi)
    ch = pbx.call("from-trunk-agi", audio=TWO_SECONDS)
    ch.hangup_at = ("CHANNEL STATUS", 17)  # the caller hangs up while callcard is registering the call
    await asyncio.wait_for(ch.destroyed.wait(), 10)
    assert ch.agi_sessions[0][-1] == "CHANNEL STATUS"  # then HANGUP + 511: callcard sent nothing more
    await durable.until(
        lambda: (c := durable.calls().get(ch.uniqueid)) is not None and c.ended_at is not None,
        what="call ended",
    )
    call = durable.calls()[ch.uniqueid]
    assert (call.state, call.hangup_cause) == ("ended", "User busy")
    await pbx.close()


async def test_stasis_failing_while_ari_is_down_falls_back_to_fastagi(
    agi: FastAgiServer, durable: Durable, ari_peer: AriPeer
) -> None:
    assert not ari_peer.app_registered("callcard")  # callcard's ARI WebSocket is not connected
    pbx = _pbx(agi, stasis_registered=ari_peer.app_registered)
    ch = pbx.call("from-trunk", caller="+77015550302", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")
    assert ch.variables["STASISSTATUS"] == "FAILED"
    assert [a for a, _ in ch.apps_run[:4]] == ["NoOp", "Stasis", "GotoIf", "Answer"]
    await pbx.hangup(ch, cause=16)
    await durable.until(
        lambda: (c := durable.calls().get(ch.uniqueid)) is not None and c.ended_at is not None and bool(c.recordings),
        what="fallback call ended with its recording",
    )
    call = durable.calls()[ch.uniqueid]
    assert (call.state, call.hangup_cause, call.source) == ("ended", "Normal Clearing", "agi")
    assert call.dialled_number == "109"
    assert call.answered_at is not None
    (rec,) = call.recordings
    assert rec.complete and wav_seconds(rec.path) == 2.0
    await pbx.close()


async def test_with_callcard_unreachable_the_fallback_still_records_the_call(tmp_path: Path) -> None:
    """Stasis() fails and the FastAGI connection is refused (callcard is down): Asterisk sets AGISTATUS=FAILURE and
    goes on, and the sample dialplan starts MixMonitor itself, so the caller reaches an operator AND is recorded."""
    pbx = Pbx(SAMPLE, agi_url="agi://127.0.0.1:9", stasis_registered=lambda app: False)  # nothing listens on 9
    pbx.globals["CALLCARD_RECORDINGS"] = str(tmp_path)
    ch = pbx.call("from-trunk", caller="+77015550303", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")
    assert ch.variables["AGISTATUS"] == "FAILURE"
    assert ("MixMonitor", "${CALLCARD_RECORDINGS}/callcard-${UNIQUEID}.wav") in ch.apps_run
    await pbx.hangup(ch, cause=16)
    assert wav_seconds(tmp_path / f"callcard-{ch.uniqueid}.wav") == 2.0
    await pbx.close()


async def test_peer_registers_a_stasis_app_only_while_its_websocket_is_connected(ari_peer: AriPeer) -> None:
    client = AriClient(ari_peer.url, "callcard", "s3cret", "callcard", backoff_initial=0.1)

    async def nothing(_: dict[str, object]) -> None:
        return None

    runner = asyncio.create_task(client.run_events(nothing))
    await asyncio.wait_for(ari_peer.connected.wait(), 5)
    assert ari_peer.app_registered("callcard") and not ari_peer.app_registered("other")
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await client.aclose()
    for _ in range(100):
        if not ari_peer.app_registered("callcard"):
            break
        await asyncio.sleep(0.02)
    assert not ari_peer.app_registered("callcard")


async def test_peer_runs_h_of_the_current_context_then_every_hangup_handler(tmp_path: Path) -> None:
    conf = tmp_path / "extensions.conf"
    conf.write_text(
        "[start]\n"
        "exten => 109,1,Set(CHANNEL(hangup_handler_push)=first,s,1)\n"
        " same => n,Set(CHANNEL(hangup_handler_push)=second,s,1)\n"
        " same => n,Goto(elsewhere,s,1)\n"
        "exten => h,1,Set(START_H=ran)\n"
        "[elsewhere]\n"
        "exten => s,1,Queue(operators)\n"
        "exten => h,1,Set(ELSEWHERE_H=${HANGUPCAUSE})\n"
        "[first]\n"
        "exten => s,1,Set(FIRST=${HANGUPCAUSE})\n"
        " same => n,Return()\n"
        "[second]\n"
        "exten => s,1,Set(SECOND=ran)\n"
        " same => n,Return()\n"
    )
    pbx = Pbx(conf)
    ch = pbx.call("start")
    await pbx.reached(ch, "Queue")
    await pbx.hangup(ch, cause=17)
    assert "START_H" not in ch.variables  # the entry context's h never runs after a Goto
    assert ch.variables["ELSEWHERE_H"] == "17" and ch.variables["FIRST"] == "17" and ch.variables["SECOND"] == "ran"
    ran = [data for app, data in ch.apps_run if app == "Set"]
    assert ran[-3:] == ["ELSEWHERE_H=${HANGUPCAUSE}", "SECOND=ran", "FIRST=${HANGUPCAUSE}"]  # h, then LIFO handlers


async def test_old_sample_with_an_h_extension_never_reports_the_hang_up(
    agi: FastAgiServer, durable: Durable, tmp_path: Path
) -> None:
    # The sample as it was shipped: the h extension sits in the AGI context, the caller ends in [operators].
    conf = tmp_path / "extensions.conf"
    conf.write_text(
        "[from-trunk-agi]\n"
        "exten => 109,1,Answer()\n"
        " same => n,AGI(${CALLCARD_AGI}/incoming)\n"
        " same => n,Goto(operators,s,1)\n"
        "exten => h,1,AGI(${CALLCARD_AGI}/hangup,${HANGUPCAUSE})\n"
        "[operators]\n"
        "exten => s,1,Queue(operators109,t)\n"
        " same => n,Hangup()\n"
    )
    pbx = _pbx(agi, conf)
    ch = pbx.call("from-trunk-agi", audio=TWO_SECONDS)
    await pbx.reached(ch, "Queue")
    await pbx.hangup(ch)
    assert len(ch.agi_sessions) == 1  # only incoming: the hang-up never reached callcard
    await asyncio.sleep(0.3)
    call = durable.calls()[ch.uniqueid]
    assert call.ended_at is None and call.state in ("ringing", "live")  # what the reconciler must repair
    await pbx.close()
