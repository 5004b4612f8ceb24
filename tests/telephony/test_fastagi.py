"""The FastAGI server against an AGI peer that talks like Asterisk's res_agi, over real TCP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from core.types import Speaker
from telephony.audiosocket import MediaDirectory
from telephony.events import CallAnswered, CallEnded, CallStarted, RecordingFinished
from telephony.fastagi import FastAgiServer, mixmonitor_leg_path
from telephony.recording import WavWriter
from tests.peers.agi_peer import agi_call, agi_raw
from tests.telephony.conftest import Collector


@pytest.fixture
async def agi(make_fastagi: Callable[..., Any]) -> FastAgiServer:
    server: FastAgiServer = await make_fastagi()
    return server


async def test_incoming_registers_records_and_sets_the_call_id(
    agi: FastAgiServer, collector: Collector, directory: MediaDirectory
) -> None:
    collector.ids["1763781367.42"] = 4242
    media = str(uuid.uuid4())
    session = await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.42", caller="+77011234567", args=[media])
    started = collector.of(CallStarted)[0]
    assert (started.uniqueid, started.caller_number, started.source, started.media_uuid) == (
        "1763781367.42",
        "+77011234567",
        "agi",
        media,
    )
    assert started.channel == "PJSIP/trunk-0000002a" and started.dialled_number == "109"
    path = agi.recording_path("1763781367.42")
    assert path.is_absolute()
    caller = mixmonitor_leg_path(agi.recordings_dir, "1763781367.42", Speaker.CALLER)
    operator = mixmonitor_leg_path(agi.recordings_dir, "1763781367.42", Speaker.OPERATOR)
    assert session.commands == [
        f'EXEC MixMonitor "{path},r({caller})t({operator})"',  # the mixed file, and each voice alone
        "CHANNEL STATUS",
        'SET VARIABLE "CALLCARD_CALL_ID" "4242"',
    ]
    assert session.closed_by_server  # returns to the dialplan
    assert directory.lookup(media) == "1763781367.42"


async def test_hangup_ends_the_call_and_finalises_the_mixmonitor_file(agi: FastAgiServer, collector: Collector) -> None:
    await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.43")
    path = agi.recording_path("1763781367.43")
    writer = WavWriter(path)  # MixMonitor's file, as Asterisk writes it
    writer.write(b"\x10\x00" * 8000)
    session = await agi_call(agi.bound_port, "hangup", uniqueid="1763781367.43", args=["16"])
    assert session.commands == []
    assert collector.of(CallEnded)[0].cause == "Normal Clearing"  # Q.850 16, named as ARI names it
    await asyncio.sleep(0.5)
    assert not collector.of(RecordingFinished)  # still being written (header not final)
    writer.close()  # the channel is destroyed, MixMonitor closes the file
    await collector.wait(lambda: bool(collector.of(RecordingFinished)))
    rec = collector.of(RecordingFinished)[0]
    assert (rec.path, rec.kind, rec.duration_s, rec.complete) == (str(path), "mixed", 1.0, True)


async def test_each_voice_recorded_apart_is_announced_before_the_mixed_file(
    agi: FastAgiServer, collector: Collector
) -> None:
    """MixMonitor's r() file holds what the channel reads (the caller), t() what is written to it (the operator);
    Asterisk opens all three at MixMonitor's start and closes them together when the channel ends."""
    uid = "1763781367.45"
    await agi_call(agi.bound_port, "incoming", uniqueid=uid)
    writers = {
        "mixed": WavWriter(agi.recording_path(uid)),
        "caller": WavWriter(mixmonitor_leg_path(agi.recordings_dir, uid, Speaker.CALLER)),
        "operator": WavWriter(mixmonitor_leg_path(agi.recordings_dir, uid, Speaker.OPERATOR)),
    }
    for w in writers.values():
        w.write(b"\x10\x00" * 8000)
    await agi_call(agi.bound_port, "hangup", uniqueid=uid, args=["16"])
    for w in writers.values():
        w.close()
    await collector.wait(lambda: any(r.kind == "mixed" for r in collector.of(RecordingFinished)))
    kinds = [r.kind for r in collector.of(RecordingFinished)]
    assert kinds == ["caller", "operator", "mixed"]  # post-call work starts on the mixed one and finds the voices
    assert all(r.complete and r.duration_s == 1.0 for r in collector.of(RecordingFinished))


async def test_caller_hanging_up_during_incoming_is_handled(agi: FastAgiServer, collector: Collector) -> None:
    session = await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.44", hangup_after=0)
    assert session.commands[0].startswith("EXEC MixMonitor")
    assert len(session.commands) == 1  # nothing more was sent to a dead channel
    assert collector.of(CallStarted)


@pytest.mark.parametrize(
    ("preamble", "why"),
    [
        (b"agi_network: yes\nagi_network_script: incoming\nagi_uniqueid: 1.1\nagi_chan", "truncated env"),
        (
            b"agi_network: yes\nagi_network_script: incoming\nthis is not a variable\n\n",
            "line without a colon",
        ),
        (b"\xff\xfe\x00garbage\n\n", "binary garbage"),
        (b"agi_network: yes\nagi_network_script: incoming\n\n", "no agi_uniqueid"),
        (b"agi_network: yes\nagi_network_script: rm-rf\nagi_uniqueid: 1.2\n\n", "unknown script"),
        (b"agi_request: " + b"x" * 10000 + b"\n\n", "overlong line"),
        (b"", "empty connection"),
    ],
)
async def test_malformed_environment_is_answered_cleanly(
    agi: FastAgiServer, collector: Collector, preamble: bytes, why: str
) -> None:
    session = await agi_raw(agi.bound_port, preamble, close_after_preamble=True, read_timeout=5)
    assert session.commands == [], why  # no command sent into a broken session
    assert session.closed_by_server
    assert collector.events == []
    assert agi.rejected == 1
    # The server still serves the next, well-formed request.
    await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.50")
    assert [e.uniqueid for e in collector.of(CallStarted)] == ["1763781367.50"]


async def test_silent_client_times_out_without_blocking_others(agi: FastAgiServer, collector: Collector) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.bound_port)
    writer.write(b"agi_network: yes\n")  # and then nothing
    await writer.drain()
    results = await asyncio.gather(
        *(agi_call(agi.bound_port, "incoming", uniqueid=f"1763781367.{60 + i}") for i in range(10))
    )
    assert all(r.closed_by_server for r in results)
    assert len(collector.of(CallStarted)) == 10
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after read_timeout
    writer.close()


async def test_hangup_without_argument_reads_hangupcause(agi: FastAgiServer, collector: Collector) -> None:
    def asterisk(command: str) -> str:
        # What Asterisk 22 answers in the h extension: variables stay readable on the dead channel.
        return "200 result=1 (17)" if command == 'GET VARIABLE "HANGUPCAUSE"' else "510 Invalid or unknown command"

    session = await agi_call(agi.bound_port, "hangup", uniqueid="1763781367.70", reply=asterisk)
    assert session.commands == ['GET VARIABLE "HANGUPCAUSE"']
    assert collector.of(CallEnded)[0].cause == "User busy"  # Q.850 17


async def test_incoming_on_an_answered_line_reports_the_answer(agi: FastAgiServer, collector: Collector) -> None:
    await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.80", state=6)
    await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.81", state=4)  # still ringing
    assert [e.uniqueid for e in collector.of(CallAnswered)] == ["1763781367.80"]
    started, answered = collector.of(CallStarted, "1763781367.80")[0], collector.of(CallAnswered)[0]
    assert collector.events.index(started) < collector.events.index(answered)
    assert started.at <= answered.at


async def test_idle_connections_never_delay_a_real_call(
    agi: FastAgiServer, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    # 40 peers connect and say nothing (more than the old pool of 32 threads), 5 more stall mid-environment.
    idle = [await asyncio.open_connection("127.0.0.1", agi.bound_port) for _ in range(40)]
    slow = []
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", agi.bound_port)
        writer.write(b"agi_network: yes\nagi_network_script: incoming\n")
        await writer.drain()
        slow.append((reader, writer))
    await asyncio.sleep(0.2)
    began = time.monotonic()
    session = await agi_call(agi.bound_port, "incoming", uniqueid="1763781367.90")
    took = time.monotonic() - began
    assert session.closed_by_server and len(session.commands) == 3
    assert [e.uniqueid for e in collector.of(CallStarted)] == ["1763781367.90"]
    assert took < 1.0, f"a real incoming request took {took:.2f} s behind idle peers"
    # The idle and the slow ones are closed after the environment timeout (3 s here), each with a logged reason.
    with caplog.at_level("ERROR", logger="telephony.fastagi"):
        for reader, writer in [*idle, *slow]:
            assert await asyncio.wait_for(reader.read(), 6) == b""
            writer.close()
    assert agi.rejected == 45
    assert sum("not complete within" in r.getMessage() for r in caplog.records) == 45


async def test_malformed_input_is_closed_with_a_logged_reason(
    agi: FastAgiServer, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="telephony.fastagi"):
        session = await agi_raw(agi.bound_port, b"agi_network: yes\n\x00\x01 junk\n\n", close_after_preamble=True)
    assert session.closed_by_server and session.commands == []
    assert any("rejected: malformed AGI environment line" in r.getMessage() for r in caplog.records)
    assert collector.events == []
