"""AudioSocket framing and the media server, over real TCP sockets with real speech."""

from __future__ import annotations

import asyncio
import struct
import uuid
import wave

import numpy as np
import pytest

from core.errors import ProtocolError
from telephony.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketServer,
    MediaDirectory,
    encode_frame,
    read_frame,
    uuid_frame,
)
from telephony.events import AudioStreamEnded, AudioStreamStarted, RecordingFinished
from tests.peers.audiosocket_client import AudioSocketClient
from tests.peers.speech import speech_pcm
from tests.telephony.conftest import Collector

SPEECH = "Здравствуйте, на улице Абая пятнадцать нет отопления"


def test_frame_layout_matches_the_protocol() -> None:
    # kind byte, 2-byte big-endian length, payload; hang-up is 0x00 0x00 0x00
    assert encode_frame(KIND_HANGUP) == b"\x00\x00\x00"
    assert encode_frame(KIND_AUDIO, b"\x01\x02" * 160)[:3] == b"\x10\x01\x40"
    u = "0436430c-2b02-624c-2032-570501212b57"
    assert uuid_frame(u) == b"\x01\x00\x10" + uuid.UUID(u).bytes
    with pytest.raises(ProtocolError):
        encode_frame(KIND_AUDIO, b"\x00" * 70000)


async def _reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_frame_parses_and_detects_truncation() -> None:
    reader = await _reader_of(encode_frame(KIND_DTMF, b"5") + encode_frame(KIND_AUDIO, b"ab"))
    assert await read_frame(reader) == (KIND_DTMF, b"5")
    assert await read_frame(reader) == (KIND_AUDIO, b"ab")
    assert await read_frame(reader) is None  # clean end between frames
    with pytest.raises(ProtocolError, match="header"):
        await read_frame(await _reader_of(b"\x10\x01"))
    with pytest.raises(ProtocolError, match="announced 320 bytes, got 100"):
        await read_frame(await _reader_of(b"\x10\x01\x40" + b"\x00" * 100))


async def test_speech_stream_reaches_the_sink_in_order_and_is_recorded(
    audiosocket: AudioSocketServer, directory: MediaDirectory, collector: Collector
) -> None:
    pcm = speech_pcm(SPEECH)
    media = str(uuid.uuid4())
    directory.register(media, "1763781367.42")
    client = AudioSocketClient(audiosocket.bound_port, media)
    await client.connect()
    frames = await client.send_audio(pcm)
    await client.hangup()
    await collector.wait(lambda: bool(collector.of(RecordingFinished)))
    await client.close()
    padded = pcm.ljust(frames * 320, b"\x00")
    assert bytes(collector.audio["1763781367.42"]) == padded
    started = collector.of(AudioStreamStarted)[0]
    assert started.media_uuid == media and started.uniqueid == "1763781367.42"
    ended = collector.of(AudioStreamEnded)[0]
    assert (ended.frames, ended.dropped, ended.reason) == (frames, 0, "hangup")
    rec = collector.of(RecordingFinished)[0]
    assert rec.kind == "caller" and rec.duration_s == pytest.approx(frames * 0.02, abs=0.001)
    with wave.open(rec.path) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        assert wav.readframes(wav.getnframes()) == padded


async def test_unknown_uuid_closes_only_that_connection(
    audiosocket: AudioSocketServer, directory: MediaDirectory, collector: Collector
) -> None:
    good = str(uuid.uuid4())
    directory.register(good, "good-call")
    ok = AudioSocketClient(audiosocket.bound_port, good)
    await ok.connect()
    stranger = AudioSocketClient(audiosocket.bound_port, str(uuid.uuid4()))
    await stranger.connect()
    await stranger.send_audio(b"\x01\x00" * 800)
    assert await stranger.closed_by_server()
    await ok.send_audio(b"\x02\x00" * 1600)
    await ok.hangup()
    await collector.wait(lambda: bool(collector.of(AudioStreamEnded)))
    assert bytes(collector.audio["good-call"]) == b"\x02\x00" * 1600
    assert audiosocket.rejected == 1
    assert [e.uniqueid for e in collector.of(AudioStreamStarted)] == ["good-call"]
    await ok.close()
    await stranger.close()


async def test_truncated_frame_closes_the_stream_and_keeps_what_came_before(
    audiosocket: AudioSocketServer, directory: MediaDirectory, collector: Collector
) -> None:
    media = str(uuid.uuid4())
    directory.register(media, "call-t")
    client = AudioSocketClient(audiosocket.bound_port, media)
    await client.connect()
    await client.send_audio(b"\x05\x00" * 480)  # three whole frames
    await client.send_raw(b"\x10\x01\x40" + b"\x00" * 57)  # announces 320 bytes, sends 57, then closes
    assert client.writer is not None
    client.writer.write_eof()
    await collector.wait(lambda: bool(collector.of(AudioStreamEnded)))
    ended = collector.of(AudioStreamEnded)[0]
    assert (ended.reason, ended.frames) == ("protocol-error", 3)
    assert bytes(collector.audio["call-t"]) == b"\x05\x00" * 480
    await client.close()


@pytest.mark.parametrize(
    ("first", "why"),
    [
        (encode_frame(KIND_AUDIO, b"\x00" * 320), "audio before the UUID"),
        (encode_frame(KIND_UUID, b"\x01" * 7), "short UUID"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "garbage"),
    ],
)
async def test_bad_first_frame_is_rejected(
    audiosocket: AudioSocketServer, collector: Collector, first: bytes, why: str
) -> None:
    client = AudioSocketClient(audiosocket.bound_port, str(uuid.uuid4()))
    await client.connect(send_uuid=False)
    await client.send_raw(first)
    assert await client.closed_by_server(), why
    assert audiosocket.rejected == 1
    assert collector.events == []
    await client.close()


async def test_unknown_kind_and_error_frames_end_the_stream(
    audiosocket: AudioSocketServer, directory: MediaDirectory, collector: Collector
) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    directory.register(a, "call-a")
    directory.register(b, "call-b")
    ca, cb = AudioSocketClient(audiosocket.bound_port, a), AudioSocketClient(audiosocket.bound_port, b)
    await ca.connect()
    await cb.connect()
    await ca.send_raw(encode_frame(KIND_DTMF, b"7") + encode_frame(0x42, b"junk"))
    await cb.send_raw(encode_frame(KIND_ERROR, b"\x01"))
    await collector.wait(lambda: len(collector.of(AudioStreamEnded)) == 2)
    reasons = {e.uniqueid: e.reason for e in collector.of(AudioStreamEnded)}
    assert reasons == {"call-a": "protocol-error", "call-b": "error"}
    await ca.close()
    await cb.close()


async def test_slin16_frames_are_resampled_to_8k(
    audiosocket: AudioSocketServer, directory: MediaDirectory, collector: Collector
) -> None:
    media = str(uuid.uuid4())
    directory.register(media, "call-16k")
    t = np.arange(16000) / 16000
    tone = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()
    client = AudioSocketClient(audiosocket.bound_port, media)
    await client.connect()
    for i in range(0, len(tone), 640):
        await client.send_raw(encode_frame(0x12, tone[i : i + 640]))
    await client.hangup()
    await collector.wait(lambda: bool(collector.of(AudioStreamEnded)))
    out = np.frombuffer(bytes(collector.audio["call-16k"]), dtype="<i2").astype(float)
    assert abs(len(out) - 8000) < 200  # one second at 8 kHz
    spectrum = np.abs(np.fft.rfft(out[1000:7000]))
    peak_hz = np.argmax(spectrum) * 8000 / 6000
    assert abs(peak_hz - 440) < 5
    await client.close()


async def test_refused_frames_are_counted_as_dropped_and_the_reader_keeps_going(
    audiosocket: AudioSocketServer, directory: MediaDirectory, collector: Collector
) -> None:
    media = str(uuid.uuid4())
    directory.register(media, "slow-call")
    collector.accept = False
    client = AudioSocketClient(audiosocket.bound_port, media)
    await client.connect()
    await client.send_audio(b"\x00\x01" * 160 * 50)
    await client.hangup()
    await collector.wait(lambda: bool(collector.of(AudioStreamEnded)))
    ended = collector.of(AudioStreamEnded)[0]
    assert (ended.frames, ended.dropped, ended.reason) == (50, 50, "hangup")
    await client.close()


def test_header_struct_is_big_endian() -> None:
    kind, length = struct.unpack(">BH", encode_frame(KIND_AUDIO, b"\x00" * 258)[:3])
    assert (kind, length) == (0x10, 258)
