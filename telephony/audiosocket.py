"""The media server: Asterisk's AudioSocket protocol over TCP, each stream mapped to its call, frames handed on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ProtocolError
from core.types import SAMPLE_RATE
from telephony.events import AudioSink, AudioStreamEnded, AudioStreamStarted, CallEventSink, RecordingFinished
from telephony.recording import WavWriter

logger = logging.getLogger(__name__)

# Message kinds, as res_audiosocket.h and docs.asterisk.org (Configuration/Channel-Drivers/AudioSocket) define them.
KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10  # signed linear 16-bit 8 kHz mono, little-endian
KIND_ERROR = 0xFF
# Higher-rate slin kinds of newer Asterisk (channel-driver interface); resampled to 8 kHz here.
KIND_RATES = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}
# Asterisk-generated error codes carried in a 0xff payload.
ERROR_CODES = {
    0x01: "hangup of calling party",
    0x02: "frame forwarding error",
    0x04: "memory (allocation) error",
}
HEADER = struct.Struct(">BH")


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message: kind byte, 2-byte big-endian payload length, payload."""
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"payload of {len(payload)} bytes does not fit an AudioSocket frame")
    return HEADER.pack(kind, len(payload)) + payload


def uuid_frame(media_uuid: str) -> bytes:
    """The 0x01 message carrying a stream's UUID in its 16-byte binary form."""
    return encode_frame(KIND_UUID, uuid.UUID(media_uuid).bytes)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """Read one message; None on a clean end of stream between messages.

    Raises:
        ProtocolError: the stream ended inside a header or a payload (a truncated frame).
    """
    try:
        header = await reader.readexactly(3)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError(f"truncated AudioSocket header ({len(exc.partial)} of 3 bytes)") from exc
    kind, length = HEADER.unpack(header)
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(
            f"truncated AudioSocket frame: kind 0x{kind:02x} announced {length} bytes, got {len(exc.partial)}"
        ) from exc
    return kind, payload


@dataclass
class MediaDirectory:
    """Which call each AudioSocket stream UUID belongs to (filled by the ARI app, FastAGI and the demo)."""

    _by_uuid: dict[str, str] = field(default_factory=dict)

    def register(self, media_uuid: str, uniqueid: str) -> None:
        """Expect a stream ``media_uuid`` for the call ``uniqueid``."""
        self._by_uuid[str(uuid.UUID(media_uuid))] = uniqueid

    def unregister(self, media_uuid: str) -> None:
        """Forget a stream (after its call ended)."""
        with contextlib.suppress(ValueError):
            self._by_uuid.pop(str(uuid.UUID(media_uuid)), None)

    def forget_call(self, uniqueid: str) -> None:
        """Forget every stream of a call."""
        for key in [k for k, v in self._by_uuid.items() if v == uniqueid]:
            self._by_uuid.pop(key, None)

    def lookup(self, media_uuid: str) -> str | None:
        """The call's uniqueid, or None for a stream nobody announced."""
        return self._by_uuid.get(media_uuid)

    def __len__(self) -> int:
        return len(self._by_uuid)


class _Resampler:
    """Turns a higher-rate slin stream into 8 kHz, keeping filter state across frames."""

    def __init__(self, rate: int) -> None:
        import soxr

        self.rate = rate
        self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")

    def __call__(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype="<i2")
        return bytes(self._stream.resample_chunk(samples).astype("<i2").tobytes())

    def flush(self) -> bytes:
        """The samples the filter still holds at the end of the stream."""
        return bytes(self._stream.resample_chunk(np.zeros(0, dtype="<i2"), last=True).astype("<i2").tobytes())


class AudioSocketServer:
    """asyncio TCP server speaking AudioSocket: one connection per call leg, audio pushed to an AudioSink.

    The reader never waits on the consumer: ``AudioSink.push_audio`` is non-blocking, and a refused frame is
    counted as dropped. A bad stream (no UUID first, unknown UUID, truncated frame, garbage) is logged and only
    that connection is closed.
    """

    def __init__(
        self,
        *,
        audio: AudioSink,
        events: CallEventSink,
        directory: MediaDirectory,
        host: str = "127.0.0.1",
        port: int = 9092,
        caller_recordings_dir: Path | None = None,
        first_frame_timeout: float = 10.0,
        idle_timeout: float = 60.0,
    ) -> None:
        """Configure the server; ``caller_recordings_dir`` (optional) keeps a WAV of each caller leg."""
        self.audio = audio
        self.events = events
        self.directory = directory
        self.host = host
        self.port = port
        self.caller_recordings_dir = caller_recordings_dir
        self.first_frame_timeout = first_frame_timeout
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.rejected = 0
        self.streams = 0

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=1 << 17)
        logger.info("AudioSocket server listening on %s:%d", self.host, self.bound_port)

    async def stop(self) -> None:
        """Stop listening and close every open stream (each ends with reason "shutdown")."""
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        peer = writer.get_extra_info("peername")
        try:
            await self._serve(reader, writer, peer)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("AudioSocket connection from %s failed", peer)
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _identify(self, reader: asyncio.StreamReader, peer: object) -> tuple[str, str] | None:
        try:
            first = await asyncio.wait_for(read_frame(reader), self.first_frame_timeout)
        except (ProtocolError, TimeoutError) as exc:
            logger.error("AudioSocket stream from %s: no UUID frame (%s); closing it", peer, exc or "timeout")
            return None
        if first is None:
            logger.warning("AudioSocket stream from %s closed before sending its UUID", peer)
            return None
        kind, payload = first
        if kind != KIND_UUID or len(payload) != 16:
            logger.error(
                "AudioSocket stream from %s began with kind 0x%02x (%d bytes), not a 16-byte UUID; closing it",
                peer,
                kind,
                len(payload),
            )
            return None
        media_uuid = str(uuid.UUID(bytes=payload))
        uniqueid = self.directory.lookup(media_uuid)
        if uniqueid is None:
            logger.error("AudioSocket stream from %s has unknown UUID %s; closing it", peer, media_uuid)
            return None
        return media_uuid, uniqueid

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object) -> None:
        ident = await self._identify(reader, peer)
        if ident is None:
            self.rejected += 1
            return
        media_uuid, uniqueid = ident
        self.streams += 1
        await self.events.on_event(AudioStreamStarted(uniqueid=uniqueid, media_uuid=media_uuid))
        frames = dropped = 0
        reason = "closed"
        recorder = self._open_recorder(uniqueid, media_uuid)
        resamplers: dict[int, _Resampler] = {}
        carry = b""
        started = time.monotonic()
        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout):  # a timer handle, no task per frame
                        frame = await read_frame(reader)
                except TimeoutError:
                    logger.error(
                        "AudioSocket stream %s (call %s) idle for %.0f s; closing it",
                        media_uuid,
                        uniqueid,
                        self.idle_timeout,
                    )
                    reason = "timeout"
                    break
                if frame is None:
                    reason = "closed"
                    break
                kind, payload = frame
                if kind in KIND_RATES:
                    if carry or len(payload) % 2:  # keep 16-bit samples whole across an odd-length payload
                        payload = carry + payload
                        cut = len(payload) - len(payload) % 2
                        payload, carry = payload[:cut], payload[cut:]
                        if not payload:
                            continue
                    if kind != KIND_AUDIO:
                        rate = KIND_RATES[kind]
                        resampler = resamplers.get(rate) or resamplers.setdefault(rate, _Resampler(rate))
                        payload = resampler(payload)
                    frames += 1
                    if recorder is not None:
                        recorder.write(payload)
                    if not self.audio.push_audio(uniqueid, payload):
                        dropped += 1
                    if frames % 8 == 0:
                        # A burst already in the buffer is read without suspending; let consumers run.
                        await asyncio.sleep(0)
                elif kind == KIND_HANGUP:
                    reason = "hangup"
                    break
                elif kind == KIND_ERROR:
                    code = payload[0] if payload else None
                    text = ERROR_CODES.get(code, "application-specific") if code is not None else "no code"
                    logger.warning(
                        "AudioSocket stream %s (call %s) reported error 0x%02x (%s)",
                        media_uuid,
                        uniqueid,
                        code or 0,
                        text,
                    )
                    reason = "error"
                    break
                elif kind == KIND_DTMF:
                    logger.debug("AudioSocket stream %s: DTMF %r", media_uuid, payload[:1])
                elif kind == KIND_UUID:
                    logger.warning("AudioSocket stream %s sent a second UUID frame; ignored", media_uuid)
                else:
                    raise ProtocolError(f"unknown AudioSocket kind 0x{kind:02x} ({len(payload)} bytes)")
        except ProtocolError as exc:
            logger.error("AudioSocket stream %s (call %s): %s; closing it", media_uuid, uniqueid, exc)
            reason = "protocol-error"
        finally:
            for resampler in resamplers.values():
                tail = resampler.flush()
                if tail:
                    if recorder is not None:
                        recorder.write(tail)
                    if not self.audio.push_audio(uniqueid, tail):
                        dropped += 1
            if dropped:
                logger.warning(
                    "AudioSocket stream %s (call %s): %d of %d frames dropped (consumer too slow)",
                    media_uuid,
                    uniqueid,
                    dropped,
                    frames,
                )
            logger.info(
                "AudioSocket stream %s (call %s) ended (%s): %d frames in %.1f s",
                media_uuid,
                uniqueid,
                reason,
                frames,
                time.monotonic() - started,
            )
            await self.events.on_event(
                AudioStreamEnded(
                    uniqueid=uniqueid, media_uuid=media_uuid, frames=frames, dropped=dropped, reason=reason
                )
            )
            if recorder is not None:
                await self._finish_recorder(uniqueid, recorder)

    def _open_recorder(self, uniqueid: str, media_uuid: str) -> WavWriter | None:
        if self.caller_recordings_dir is None:
            return None
        try:
            return WavWriter(self.caller_recordings_dir / f"{_safe(uniqueid)}-caller-{media_uuid[:8]}.wav")
        except OSError as exc:
            logger.error("cannot open the caller-leg recording of call %s: %s", uniqueid, exc)
            return None

    async def _finish_recorder(self, uniqueid: str, recorder: WavWriter) -> None:
        try:
            info = await asyncio.to_thread(recorder.finalize)
        except Exception as exc:
            logger.error("cannot finalize the caller-leg recording of call %s: %s", uniqueid, exc)
            return
        await self.events.on_event(
            RecordingFinished(
                uniqueid=uniqueid,
                path=str(info.path),
                kind="caller",
                format="wav",
                sample_rate=info.sample_rate,
                duration_s=info.duration_s,
                size_bytes=info.size_bytes,
                sha256=info.sha256,
            )
        )


def _safe(name: str) -> str:
    """A file-name-safe version of an Asterisk id."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in name)
