"""The demo caller: plays a WAV file into callcard the way Asterisk would (FastAGI registration, AudioSocket voice)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import TelephonyError
from core.types import FRAME_BYTES, FRAME_MS, SAMPLE_RATE
from telephony.audiosocket import KIND_AUDIO, KIND_HANGUP, encode_frame, uuid_frame
from telephony.recording import WavWriter

logger = logging.getLogger(__name__)


def _read_wav(path: Path) -> tuple[int, int, int, int, bytes]:
    """(format tag, rate, sample width, channels, data) of a RIFF/WAVE file, WAVE_FORMAT_EXTENSIBLE included."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TelephonyError(f"{path}: cannot read ({exc})") from exc
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TelephonyError(f"{path}: not a WAV file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt " and len(body) >= 16:
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, rate, bits // 8, channels)
        elif cid == b"data":
            payload = body
        pos += 8 + size + size % 2
    if fmt is None or payload is None:
        raise TelephonyError(f"{path}: WAV without fmt or data chunk")
    return (*fmt, payload)


def load_wav_as_slin(path: Path) -> bytes:
    """Any PCM or float WAV (8/16/24/32-bit, mono or multi-channel, any rate) as 8 kHz s16le mono.

    Raises:
        TelephonyError: the file is missing or not a PCM/float WAV.
    """
    tag, rate, width, channels, raw = _read_wav(path)
    if channels < 1 or rate < 1000:
        raise TelephonyError(f"{path}: implausible WAV ({channels} channels, {rate} Hz)")
    raw = raw[: len(raw) - len(raw) % (width * channels)]
    if (tag, width, channels, rate) == (1, 2, 1, SAMPLE_RATE):
        return raw  # already what AudioSocket carries
    if tag == 3 and width == 4:
        samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif tag != 1:
        raise TelephonyError(f"{path}: unsupported WAV encoding (format tag {tag}); use PCM")
    elif width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        samples = ints.astype(np.float32) / 8388608.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise TelephonyError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        import soxr

        samples = soxr.resample(samples, rate, SAMPLE_RATE)
    return bytes((np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())


def split_frames(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """20 ms frames; the last one padded with silence."""
    frames = [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]
    if frames and len(frames[-1]) < frame_bytes:
        frames[-1] = frames[-1] + b"\x00" * (frame_bytes - len(frames[-1]))
    return frames


def asterisk_env(
    *,
    script: str,
    host: str,
    port: int,
    uniqueid: str,
    channel: str,
    caller: str,
    extension: str,
    context: str,
    args: list[str] | None = None,
) -> list[tuple[str, str]]:
    """The lines Asterisk's res_agi sends to a FastAGI server, in its order (launch_netscript + setup_env)."""
    env = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", f"agi://{host}:{port}/{script}"),
        ("agi_channel", channel),
        ("agi_language", "en"),
        ("agi_type", channel.split("/", 1)[0]),
        ("agi_uniqueid", uniqueid),
        ("agi_version", "22.0.0"),
        ("agi_callerid", caller or "unknown"),
        ("agi_calleridname", "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", extension),
        ("agi_rdnis", "unknown"),
        ("agi_context", context),
        ("agi_extension", extension),
        ("agi_priority", "1"),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "140000000000000"),
    ]
    env += [(f"agi_arg_{i}", a) for i, a in enumerate(args or [], start=1)]
    return env


def default_reply(command: str) -> str:
    """What Asterisk answers to the commands callcard sends (EXEC -> the app's result, SET VARIABLE -> 1)."""
    verb = command.split(" ", 1)[0].upper()
    if verb == "EXEC":
        return "200 result=0"
    if command.upper().startswith(("SET VARIABLE", "VERBOSE", "ANSWER")):
        return "200 result=1"
    if command.upper().startswith("GET VARIABLE"):
        return "200 result=0"  # not set
    if command.upper().startswith("CHANNEL STATUS"):
        return "200 result=6"  # the line is up (Asterisk's AST_STATE_UP)
    return "510 Invalid or unknown command"


async def agi_session(
    host: str,
    port: int,
    env: list[tuple[str, str]],
    *,
    reply: Callable[[str], str] = default_reply,
    read_timeout: float = 10.0,
) -> list[str]:
    """Play Asterisk's side of one FastAGI session; returns the commands callcard sent."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), read_timeout)
    commands: list[str] = []
    try:
        writer.write("".join(f"{k}: {v}\n" for k, v in env).encode() + b"\n")
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), read_timeout)
            if not line:
                break
            command = line.decode().strip()
            commands.append(command)
            writer.write((reply(command) + "\n").encode())
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return commands


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What a demo call did."""

    uniqueid: str
    media_uuid: str
    frames: int
    seconds: float
    call_id: str | None
    recording: str | None


async def stream_audio(
    host: str, port: int, media_uuid: str, frames: list[bytes], *, realtime: bool = True, hangup: bool = True
) -> None:
    """Connect to an AudioSocket server as Asterisk does and send the frames, paced at 20 ms when ``realtime``."""
    _, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(uuid_frame(media_uuid))
        start = time.monotonic()
        for i, frame in enumerate(frames):
            writer.write(encode_frame(KIND_AUDIO, frame))
            if realtime:
                delay = start + (i + 1) * FRAME_MS / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if i % 50 == 0:
                await writer.drain()
        if hangup:
            writer.write(encode_frame(KIND_HANGUP))
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


async def run_demo_call(
    wav: Path,
    *,
    caller: str = "+77010000109",
    agi_host: str = "127.0.0.1",
    agi_port: int = 4573,
    audiosocket_host: str = "127.0.0.1",
    audiosocket_port: int = 9092,
    realtime: bool = True,
    write_recording: bool = True,
) -> DemoResult:
    """Register a call over FastAGI exactly as the dialplan does, stream the WAV over AudioSocket, hang up.

    The demo plays Asterisk: it answers callcard's ``EXEC MixMonitor`` and, when that path is writable here
    (callcard on this machine), writes the file MixMonitor would have written.
    """
    pcm = await asyncio.to_thread(load_wav_as_slin, wav)
    frames = split_frames(pcm)
    uniqueid = f"{time.time():.6f}".replace(".", "")[:10] + f".{uuid.uuid4().int % 100000}"
    media_uuid = str(uuid.uuid4())
    channel = f"Local/demo-{uniqueid}@callcard-demo-00000001;2"
    env = asterisk_env(
        script="incoming",
        host=agi_host,
        port=agi_port,
        uniqueid=uniqueid,
        channel=channel,
        caller=caller,
        extension="109",
        context="callcard-demo",
        args=[media_uuid],
    )
    try:
        commands = await agi_session(agi_host, agi_port, env)
    except OSError as exc:
        raise TelephonyError(f"callcard's FastAGI server at {agi_host}:{agi_port} is not reachable: {exc}") from exc
    recording = call_id = None
    for command in commands:
        if command.upper().startswith("EXEC MIXMONITOR"):
            found = _QUOTED.search(command)
            raw = found.group(1) if found else shlex.split(command)[-1]
            recording = raw.split(",", 1)[0]
        elif command.upper().startswith("SET VARIABLE"):
            parts = _QUOTED.findall(command)
            if len(parts) == 2 and parts[0] == "CALLCARD_CALL_ID":
                call_id = parts[1] or None
    logger.info(
        "demo call %s registered (call id %s); streaming %.1f s",
        uniqueid,
        call_id,
        len(frames) * FRAME_MS / 1000,
    )
    started = time.monotonic()
    try:
        await stream_audio(audiosocket_host, audiosocket_port, media_uuid, frames, realtime=realtime)
    except OSError as exc:
        raise TelephonyError(
            f"callcard's AudioSocket server at {audiosocket_host}:{audiosocket_port} is not reachable: {exc}"
        ) from exc
    seconds = time.monotonic() - started
    if write_recording and recording:
        try:
            await asyncio.to_thread(_write_wav, Path(recording), pcm)
        except OSError as exc:
            logger.warning("cannot write the demo's MixMonitor file %s here (%s)", recording, exc)
            recording = None
    hangup_env = asterisk_env(
        script="hangup",
        host=agi_host,
        port=agi_port,
        uniqueid=uniqueid,
        channel=channel,
        caller=caller,
        extension="h",
        context="callcard-demo",
        args=["16"],
    )
    await agi_session(agi_host, agi_port, hangup_env)
    return DemoResult(
        uniqueid=uniqueid,
        media_uuid=media_uuid,
        frames=len(frames),
        seconds=seconds,
        call_id=call_id,
        recording=recording,
    )


def _write_wav(path: Path, pcm: bytes) -> None:
    writer = WavWriter(path)
    writer.write(pcm)
    writer.close()
