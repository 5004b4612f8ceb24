"""The Stasis application against the ARI peer: real HTTP, a real events WebSocket, real AudioSocket media."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.types import Speaker
from telephony.ari import AriClient
from telephony.ari_app import AriApplication, AriCallPhase
from telephony.audiosocket import AudioSocketServer, MediaDirectory, operator_media_uuid
from telephony.events import (
    AudioStreamEnded,
    AudioStreamStarted,
    CallAnswered,
    CallEnded,
    CallStarted,
    RecordingFinished,
)
from tests.peers.ari_peer import AriPeer
from tests.peers.speech import speech_pcm
from tests.telephony.conftest import Collector

SPEECH = "Алло, здравствуйте. В доме номер семь на улице Кенесары нет горячей воды третий день"


@pytest.fixture
async def app(
    ari_peer: AriPeer,
    collector: Collector,
    directory: MediaDirectory,
    audiosocket: AudioSocketServer,
    tmp_path: Path,
) -> AsyncIterator[AriApplication]:
    client = AriClient(ari_peer.url, "callcard", "s3cret", "callcard", backoff_initial=0.1, backoff_max=0.5)
    application = AriApplication(
        client,
        collector,
        directory,
        audiosocket_advertise=f"127.0.0.1:{audiosocket.bound_port}",
        operators_context="operators",
        operators_extension="s",
        recordings_dir=tmp_path / "recordings",
    )
    await application.start()
    await asyncio.wait_for(ari_peer.connected.wait(), 5)
    while not any(p.endswith("/channels") and m == "GET" for m, p, _, _ in ari_peer.requests):  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # the first reconcile (GET /channels) has run
    await asyncio.sleep(0.05)
    yield application
    await application.stop()
    await client.aclose()


def _paths(peer: AriPeer, method: str, suffix: str) -> list[tuple[str, dict[str, str]]]:
    return [(p, q) for m, p, q, _ in peer.requests if m == method and p.endswith(suffix)]


async def test_normal_call(app: AriApplication, ari_peer: AriPeer, collector: Collector, tmp_path: Path) -> None:
    pcm = speech_pcm(SPEECH)
    operator_pcm = speech_pcm(SPEECH[::-1])  # a different voice, so the two streams cannot be confused
    uid = ari_peer.new_call("+77011234567", audio=pcm, operator_audio=operator_pcm)
    await collector.wait(lambda: len(collector.audio[uid]) >= len(pcm))
    await collector.wait(lambda: len(collector.operator_audio[uid]) >= len(operator_pcm))
    await collector.wait(lambda: bool(_paths(ari_peer, "POST", "/record") and ari_peer.live_recordings))
    await collector.wait(lambda: uid in app.calls and app.calls[uid].phase is AriCallPhase.WITH_OPERATORS)
    started = collector.of(CallStarted, uid)[0]
    assert (started.caller_number, started.dialled_number, started.source) == ("+77011234567", "109", "ari")
    assert started.channel and started.channel.startswith("PJSIP/")
    assert collector.of(CallAnswered, uid)
    assert bytes(collector.audio[uid])[: len(pcm)] == pcm  # the caller's voice, exactly, in order
    assert bytes(collector.operator_audio[uid])[: len(operator_pcm)] == operator_pcm  # the operator's, apart
    streams = {e.speaker: e.media_uuid for e in collector.of(AudioStreamStarted, uid)}
    assert streams == {Speaker.CALLER: started.media_uuid, Speaker.OPERATOR: operator_media_uuid(started.media_uuid)}

    # The exact REST calls: snoop both (recorded) + snoop in, externalMedia over AudioSocket, continue; then the
    # operator's voice: snoop out (what the caller hears) with its own externalMedia.
    snoops = _paths(ari_peer, "POST", f"/channels/{uid}/snoop")
    assert sorted(q["spy"] for _, q in snoops) == ["both", "in", "out"]
    assert all(q["app"] == "callcard" for _, q in snoops)
    (_, em), (_, em_operator) = _paths(ari_peer, "POST", "/channels/externalMedia")
    for media in (em, em_operator):
        assert media["encapsulation"] == "audiosocket" and media["transport"] == "tcp" and media["format"] == "slin"
        assert media["external_host"].startswith("127.0.0.1:")
    assert em["data"] == started.media_uuid and em_operator["data"] == operator_media_uuid(started.media_uuid)
    ((_, rec),) = _paths(ari_peer, "POST", "/record")
    assert rec["format"] == "wav"
    ((_, cont),) = _paths(ari_peer, "POST", f"/channels/{uid}/continue")
    assert (cont["context"], cont["extension"], cont["priority"]) == ("operators", "s", "1")
    assert ari_peer.subscriptions["callcard"] >= {uid}
    assert ari_peer.channels[uid].app is None  # it left Stasis for the operators' queue ...
    assert not collector.of(CallEnded, uid)  # ... and that is not the end of the call

    # Helper channels never became calls.
    assert [e.uniqueid for e in collector.of(CallStarted)] == [uid]

    await ari_peer.hangup(uid)
    await collector.wait(
        lambda: (
            any(r.kind == "mixed" for r in collector.of(RecordingFinished, uid)) and bool(collector.of(CallEnded, uid))
        )
    )
    ended = collector.of(CallEnded, uid)[0]
    assert ended.cause == "Normal Clearing"
    mixed = next(r for r in collector.of(RecordingFinished, uid) if r.kind == "mixed")
    await collector.wait(lambda: f"callcard-{uid}" in ari_peer.deleted)  # Asterisk's copy freed after the fetch
    stored = ari_peer.deleted[f"callcard-{uid}"]
    assert Path(mixed.path).parent == tmp_path / "recordings"
    assert Path(mixed.path).read_bytes() == stored  # noqa: ASYNC240
    assert mixed.sha256 == hashlib.sha256(stored).hexdigest()
    assert mixed.duration_s == pytest.approx(len(pcm) / 16000, abs=0.01) and mixed.complete
    # The listening helpers were cleaned up; the bridge is gone.
    await collector.wait(lambda: not ari_peer.bridges and not ari_peer.channel_ids("AudioSocket/"))
    await collector.wait(lambda: bool(collector.of(AudioStreamEnded, uid)))


async def test_caller_hangs_up_during_set_up(app: AriApplication, ari_peer: AriPeer, collector: Collector) -> None:
    hung_up = asyncio.Event()

    def hang_up_on_snoop(method: str, path: str) -> None:
        if path.endswith("/snoop") and not hung_up.is_set():
            hung_up.set()
            uid = path.split("/")[3]
            asyncio.get_running_loop().create_task(ari_peer.hangup(uid, 16, "Normal Clearing"))
        return None

    ari_peer.on_request = hang_up_on_snoop
    uid = ari_peer.new_call("+77017654321")
    await collector.wait(lambda: bool(collector.of(CallEnded, uid)))
    await asyncio.sleep(0.3)
    assert len(collector.of(CallStarted, uid)) == 1 and len(collector.of(CallEnded, uid)) == 1
    assert collector.of(CallEnded, uid)[0].cause == "Normal Clearing"  # from ChannelHangupRequest cause 16
    assert not _paths(ari_peer, "POST", f"/channels/{uid}/continue") or ari_peer.channels.get(uid) is None
    assert uid not in app.calls
    # Nothing of the call is left behind in Asterisk.
    await collector.wait(lambda: not ari_peer.channels and not ari_peer.bridges)


async def test_duplicate_stasis_start_creates_nothing_new(
    app: AriApplication, ari_peer: AriPeer, collector: Collector
) -> None:
    uid = ari_peer.new_call("+77010000001", audio=b"\x01\x00" * 800)
    await collector.wait(lambda: bool(_paths(ari_peer, "POST", f"/channels/{uid}/continue")))
    await collector.wait(lambda: len(_paths(ari_peer, "POST", "/channels/externalMedia")) == 2)  # both voices
    ari_peer.channels[uid].app = "callcard"
    ari_peer.resend_stasis_start(uid)
    await asyncio.sleep(0.3)
    assert len(collector.of(CallStarted, uid)) == 1
    assert len(_paths(ari_peer, "POST", "/channels/externalMedia")) == 2
    assert len(_paths(ari_peer, "POST", f"/channels/{uid}/snoop")) == 3


async def test_asterisk_restart_mid_call_forgets_nothing(
    app: AriApplication, ari_peer: AriPeer, collector: Collector
) -> None:
    stays = ari_peer.new_call("+77010000002", audio=b"\x02\x00" * 1600)
    leaves = ari_peer.new_call("+77010000003", audio=b"\x03\x00" * 1600)
    for uid in (stays, leaves):
        await collector.wait(lambda u=uid: bool(_paths(ari_peer, "POST", f"/channels/{u}/continue")))
    connections = app.client.connections

    await ari_peer.stop()  # the WebSocket drops and HTTP is gone
    await ari_peer.hangup(leaves)  # this caller hangs up while callcard cannot hear it
    missed = ari_peer.new_call("+77010000004", announce=False)  # entered Stasis while we were away
    await asyncio.sleep(0.4)  # callcard retries with back-off
    await ari_peer.start()  # same port

    await collector.wait(lambda: app.client.connections > connections)
    await collector.wait(lambda: bool(collector.of(CallEnded, leaves)))
    assert collector.of(CallEnded, leaves)[0].cause == "channel gone while ARI was disconnected"
    assert not collector.of(CallEnded, stays)
    await collector.wait(lambda: bool(collector.of(CallStarted, missed)))  # adopted from GET /channels
    await collector.wait(lambda: bool(_paths(ari_peer, "POST", f"/channels/{missed}/continue")))

    # The call that stayed up is still followed: its hang-up after the restart is seen.
    await ari_peer.hangup(stays)
    await collector.wait(lambda: bool(collector.of(CallEnded, stays)))
    assert len(collector.of(CallEnded, stays)) == 1


async def test_events_without_channel_or_foreign_helpers_are_ignored(
    app: AriApplication, ari_peer: AriPeer, collector: Collector
) -> None:
    await app.handle_event({"type": "StasisStart", "timestamp": "x", "args": []})
    await app.handle_event(
        {"type": "StasisStart", "args": [], "channel": {"id": "1.1", "name": "UnicastRTP/1.2.3.4:5-1"}}
    )
    await app.handle_event(
        {
            "type": "ChannelDestroyed",
            "channel": {"id": "unknown"},
            "cause": 16,
            "cause_txt": "Normal Clearing",
        }
    )
    await app.handle_event({"type": "SomethingNew", "channel": {"id": "1.1"}})
    assert collector.events == []


async def test_callcard_restart_mid_call_re_adopts_the_caller(
    ari_peer: AriPeer, collector: Collector, directory: MediaDirectory, tmp_path: Path
) -> None:
    async def run_callcard(port: int) -> tuple[AriApplication, AudioSocketServer]:
        server = AudioSocketServer(audio=collector, events=collector, directory=directory, host="127.0.0.1", port=0)
        await server.start()
        client = AriClient(ari_peer.url, "callcard", "s3cret", "callcard", backoff_initial=0.1, backoff_max=0.5)
        application = AriApplication(
            client,
            collector,
            directory,
            audiosocket_advertise=f"127.0.0.1:{server.bound_port}",
            operators_context="operators",
            recordings_dir=tmp_path / "recordings",
        )
        await application.start()
        return application, server

    first, first_server = await run_callcard(0)
    await asyncio.wait_for(ari_peer.connected.wait(), 5)
    await asyncio.sleep(0.1)
    pcm = speech_pcm("Жарық жоқ, екі сағат бойы")
    uid = ari_peer.new_call("+77012223344", audio=pcm)
    await collector.wait(lambda: uid in first.calls and first.calls[uid].phase is AriCallPhase.WITH_OPERATORS)
    await collector.wait(lambda: len(collector.audio[uid]) >= len(pcm))

    # callcard dies: its WebSocket and its media connections go; Asterisk keeps the call with the operators.
    await first.stop()
    await first.client.aclose()
    await first_server.stop()
    await collector.wait(lambda: not ari_peer.channel_ids("AudioSocket/"))  # Asterisk ended the media channel
    assert uid in ari_peer.channels and ari_peer.channels[uid].app is None
    collector.audio[uid].clear()

    second, second_server = await run_callcard(0)
    try:
        await collector.wait(lambda: uid in second.calls and second.calls[uid].phase is AriCallPhase.WITH_OPERATORS)
        await collector.wait(lambda: len(collector.audio[uid]) >= len(pcm))  # the voice flows again
        assert len(collector.of(CallStarted, uid)) == 2  # the registry's get_or_create makes it one call
        assert len(_paths(ari_peer, "POST", f"/channels/{uid}/continue")) == 1  # not handed over twice
        assert len(_paths(ari_peer, "POST", "/record")) == 1  # the first recording simply continues
        await ari_peer.hangup(uid)
        await collector.wait(
            lambda: (
                bool(collector.of(CallEnded, uid))
                and any(r.kind == "mixed" for r in collector.of(RecordingFinished, uid))
            )
        )
        assert collector.of(CallEnded, uid)[0].cause == "Normal Clearing"
    finally:
        await second.stop()
        await second.client.aclose()
        await second_server.stop()
