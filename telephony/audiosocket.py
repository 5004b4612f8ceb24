"""The media server: Asterisk's AudioSocket protocol over TCP, each stream mapped to its call, frames handed on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ProtocolError
from core.types import SAMPLE_RATE, Speaker
from telephony.allowlist import Network, PeerAllowList
from telephony.events import (
    AudioSink,
    AudioStreamEnded,
    AudioStreamStarted,
    CallEvent,
    CallEventSink,
    RecordingFinished,
)
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


def operator_media_uuid(media_uuid: str) -> str:
    """The stream UUID of a call's operator voice, derived from its caller stream's UUID (so a restarted callcard
    finds it again without storing it)."""
    return str(uuid.uuid5(uuid.UUID(media_uuid), Speaker.OPERATOR.value))


@dataclass
class MediaDirectory:
    """Which call, and which voice of it, each AudioSocket stream UUID belongs to (filled by the ARI app, FastAGI
    and the demo)."""

    _by_uuid: dict[str, str] = field(default_factory=dict)
    _speakers: dict[str, Speaker] = field(default_factory=dict)

    def register(self, media_uuid: str, uniqueid: str, speaker: Speaker = Speaker.CALLER) -> None:
        """Expect a stream ``media_uuid`` carrying ``speaker``'s voice of the call ``uniqueid``."""
        key = str(uuid.UUID(media_uuid))
        self._by_uuid[key] = uniqueid
        self._speakers[key] = speaker

    def speaker_of(self, media_uuid: str) -> Speaker:
        """Whose voice the stream carries (the caller's unless registered otherwise)."""
        return self._speakers.get(media_uuid, Speaker.CALLER)

    def unregister(self, media_uuid: str) -> None:
        """Forget a stream (after its call ended)."""
        with contextlib.suppress(ValueError):
            key = str(uuid.UUID(media_uuid))
            self._by_uuid.pop(key, None)
            self._speakers.pop(key, None)

    def forget_call(self, uniqueid: str) -> None:
        """Forget every stream of a call."""
        for key in [k for k, v in self._by_uuid.items() if v == uniqueid]:
            self._by_uuid.pop(key, None)
            self._speakers.pop(key, None)

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

    Frames are parsed in ``asyncio.Protocol.data_received`` (no coroutine per frame) and handed to
    ``AudioSink.push_audio``, which never blocks; a refused frame is counted as dropped. At most ``burst``
    frames are handled per loop turn, so a burst already in the buffer cannot starve the consumers. A bad
    stream (no UUID first, unknown UUID, truncated frame, garbage) is logged and only that connection is closed.
    Call events of a stream (started, ended, its caller-leg recording) are delivered in order by one task.
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
        burst: int = 8,
        allow: Sequence[Network] = (),
    ) -> None:
        """Configure the server; ``caller_recordings_dir`` (optional) keeps a WAV of each caller leg; ``allow``:
        the Asterisk addresses that may connect (telephony.allowlist; none: loopback when bound to loopback)."""
        self.audio = audio
        self.events = events
        self.directory = directory
        self.host = host
        self.port = port
        self.caller_recordings_dir = caller_recordings_dir
        self.first_frame_timeout = first_frame_timeout
        self.idle_timeout = idle_timeout
        self.burst = burst
        self.allow = PeerAllowList(allow, bound_host=host)
        self._server: asyncio.Server | None = None
        self._streams: set[_AudioSocketStream] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self.rejected = 0
        self.streams = 0

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _AudioSocketStream(self), self.host, self.port)
        self._watchdog = asyncio.create_task(self._watch_idle(), name="audiosocket-idle")
        logger.info("AudioSocket server listening on %s:%d", self.host, self.bound_port)
        self.allow.warn_if_open("AudioSocket", f"{self.host}:{self.bound_port}")

    async def stop(self) -> None:
        """Stop listening and close every open stream (each ends with reason "shutdown")."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._server is not None:
            self._server.close()
        streams = list(self._streams)
        for stream in streams:
            stream.close("shutdown")
        pumps = [s.pump for s in streams if s.pump is not None]
        if pumps:
            await asyncio.wait(pumps, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _watch_idle(self) -> None:
        """Close streams that sent nothing for ``idle_timeout`` (one timer for all, not one per frame)."""
        loop = asyncio.get_running_loop()
        period = max(0.05, min(self.idle_timeout, self.first_frame_timeout) / 4)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for stream in list(self._streams):
                stream.check_idle(now)

    def _open_recorder(self, uniqueid: str, media_uuid: str, speaker: Speaker) -> WavWriter | None:
        if self.caller_recordings_dir is None:
            return None
        try:
            return WavWriter(self.caller_recordings_dir / f"{_safe(uniqueid)}-{speaker.value}-{media_uuid[:8]}.wav")
        except OSError as exc:
            logger.error("cannot open the %s-leg recording of call %s: %s", speaker.value, uniqueid, exc)
            return None


class _AudioSocketStream(asyncio.Protocol):
    """One AudioSocket connection."""

    def __init__(self, server: AudioSocketServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer: object = None
        self.buf = bytearray()
        self.media_uuid: str | None = None
        self.uniqueid: str | None = None
        self.speaker = Speaker.CALLER
        self.frames = 0
        self.dropped = 0
        self.carry = b""
        self.resamplers: dict[int, _Resampler] = {}
        self.recorder: WavWriter | None = None
        self.opened = self.last = self.loop.time()
        self.reason: str | None = None
        self.paused = False
        self.draining = False
        self.outbox: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self.pump: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------------------------------- transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        if not self.server.allow.admit("AudioSocket", self.peer):
            self.reason = "refused"
            transport.abort()  # closed at once: nothing is read from a host that is not Asterisk
            return
        self.server._streams.add(self)

    def data_received(self, data: bytes) -> None:
        self.last = self.loop.time()
        self.buf += data
        self._parse()

    def eof_received(self) -> bool:
        while self.reason is None and self._has_frame():
            self._parse()  # whole frames still waiting behind the burst limit
        if self.buf and self.reason is None:
            kind = self.buf[0]
            if len(self.buf) < 3:
                self._fail(f"truncated AudioSocket header ({len(self.buf)} of 3 bytes)")
            else:
                length = (self.buf[1] << 8) | self.buf[2]
                self._fail(
                    f"truncated AudioSocket frame: kind 0x{kind:02x} announced {length} bytes, got {len(self.buf) - 3}"
                )
        self.close(self.reason or "closed")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._streams.discard(self)
        self._finish(self.reason or "closed")

    # ------------------------------------------------------------------------------------------ parsing

    def _parse(self) -> None:
        """Handle at most ``burst`` whole frames; if more wait, pause reading and continue next loop turn."""
        buf, off, handled = self.buf, 0, 0
        while self.reason is None and len(buf) - off >= 3:
            if handled >= self.server.burst:
                if not self.paused and self.transport is not None:
                    self.transport.pause_reading()
                    self.paused = True
                if not self.draining:
                    self.draining = True
                    self.loop.call_soon(self._drain)
                break
            length = (buf[off + 1] << 8) | buf[off + 2]
            if len(buf) - off - 3 < length:
                break
            kind = buf[off]
            payload = bytes(buf[off + 3 : off + 3 + length])
            off += 3 + length
            handled += 1
            self._frame(kind, payload)
        del buf[:off]

    def _has_frame(self) -> bool:
        buf = self.buf
        return len(buf) >= 3 and len(buf) - 3 >= ((buf[1] << 8) | buf[2])

    def _drain(self) -> None:
        self.draining = False
        self._resume()

    def _resume(self) -> None:
        self._parse()
        if self.paused and self.reason is None and not self._has_frame() and self.transport is not None:
            self.transport.resume_reading()
            self.paused = False

    def _frame(self, kind: int, payload: bytes) -> None:
        if self.uniqueid is None:
            self._identify(kind, payload)
            return
        if kind in KIND_RATES:
            if self.carry or len(payload) % 2:  # keep 16-bit samples whole across an odd-length payload
                payload = self.carry + payload
                cut = len(payload) - len(payload) % 2
                payload, self.carry = payload[:cut], payload[cut:]
                if not payload:
                    return
            if kind != KIND_AUDIO:
                rate = KIND_RATES[kind]
                resampler = self.resamplers.get(rate) or self.resamplers.setdefault(rate, _Resampler(rate))
                payload = resampler(payload)
            self._deliver(payload)
        elif kind == KIND_HANGUP:
            self.close("hangup")
        elif kind == KIND_ERROR:
            code = payload[0] if payload else None
            text = ERROR_CODES.get(code, "application-specific") if code is not None else "no code"
            logger.warning(
                "AudioSocket stream %s (call %s) reported error 0x%02x (%s)",
                self.media_uuid,
                self.uniqueid,
                code or 0,
                text,
            )
            self.close("error")
        elif kind == KIND_DTMF:
            logger.debug("AudioSocket stream %s: DTMF %r", self.media_uuid, payload[:1])
        elif kind == KIND_UUID:
            logger.warning("AudioSocket stream %s sent a second UUID frame; ignored", self.media_uuid)
        else:
            self._fail(f"unknown AudioSocket kind 0x{kind:02x} ({len(payload)} bytes)")

    def _deliver(self, pcm: bytes) -> None:
        assert self.uniqueid is not None
        self.frames += 1
        if self.recorder is not None:
            self.recorder.write(pcm)
        if not self.server.audio.push_audio(self.uniqueid, pcm, self.speaker):
            self.dropped += 1

    def _identify(self, kind: int, payload: bytes) -> None:
        if kind != KIND_UUID or len(payload) != 16:
            logger.error(
                "AudioSocket stream from %s began with kind 0x%02x (%d bytes), not a 16-byte UUID; closing it",
                self.peer,
                kind,
                len(payload),
            )
            self._reject()
            return
        media_uuid = str(uuid.UUID(bytes=payload))
        uniqueid = self.server.directory.lookup(media_uuid)
        if uniqueid is None:
            logger.error("AudioSocket stream from %s has unknown UUID %s; closing it", self.peer, media_uuid)
            self._reject()
            return
        self.media_uuid, self.uniqueid = media_uuid, uniqueid
        self.speaker = self.server.directory.speaker_of(media_uuid)
        self.server.streams += 1
        self.recorder = self.server._open_recorder(uniqueid, media_uuid, self.speaker)
        self.pump = asyncio.create_task(self._pump(), name=f"audiosocket-{media_uuid[:8]}")
        self.outbox.put_nowait(AudioStreamStarted(uniqueid=uniqueid, media_uuid=media_uuid, speaker=self.speaker))

    # ---------------------------------------------------------------------------------------- endings

    def check_idle(self, now: float) -> None:
        """Close the stream if it has been silent too long (called by the server's watchdog)."""
        if self.reason is not None:
            return
        if self.uniqueid is None and now - self.opened > self.server.first_frame_timeout:
            logger.error(
                "AudioSocket stream from %s: no UUID frame within %.0f s; closing it",
                self.peer,
                self.server.first_frame_timeout,
            )
            self._reject()
        elif self.uniqueid is not None and now - self.last > self.server.idle_timeout:
            logger.error(
                "AudioSocket stream %s (call %s) idle for %.0f s; closing it",
                self.media_uuid,
                self.uniqueid,
                self.server.idle_timeout,
            )
            self.close("timeout")

    def _reject(self) -> None:
        self.server.rejected += 1
        self.close("rejected")

    def _fail(self, why: str) -> None:
        logger.error(
            "AudioSocket stream %s (call %s): %s; closing it", self.media_uuid or self.peer, self.uniqueid, why
        )
        self.close("protocol-error")

    def close(self, reason: str) -> None:
        """Close the connection, remembering why (the first reason wins)."""
        if self.reason is None:
            self.reason = reason
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _finish(self, reason: str) -> None:
        if self.uniqueid is None or self.pump is None or self.outbox is None:
            return
        for resampler in self.resamplers.values():
            tail = resampler.flush()
            if tail:
                self._deliver(tail)
        self.resamplers.clear()
        if self.dropped:
            logger.warning(
                "AudioSocket stream %s (call %s): %d of %d frames dropped (consumer too slow)",
                self.media_uuid,
                self.uniqueid,
                self.dropped,
                self.frames,
            )
        logger.info(
            "AudioSocket stream %s (call %s) ended (%s): %d frames in %.1f s",
            self.media_uuid,
            self.uniqueid,
            reason,
            self.frames,
            self.loop.time() - self.opened,
        )
        assert self.media_uuid is not None
        self.outbox.put_nowait(
            AudioStreamEnded(
                uniqueid=self.uniqueid,
                media_uuid=self.media_uuid,
                frames=self.frames,
                dropped=self.dropped,
                reason=reason,
                speaker=self.speaker,
            )
        )
        self.outbox.put_nowait(None)
        self.uniqueid = None  # finish once

    async def _pump(self) -> None:
        """Deliver this stream's call events in order, then finalise its caller-leg recording."""
        uniqueid = self.uniqueid
        while (event := await self.outbox.get()) is not None:
            try:
                await self.server.events.on_event(event)
            except Exception:
                logger.exception("AudioSocket event %s could not be delivered", type(event).__name__)
        if self.recorder is not None and uniqueid is not None:
            await self._finish_recorder(uniqueid, self.recorder)

    async def _finish_recorder(self, uniqueid: str, recorder: WavWriter) -> None:
        try:
            info = await asyncio.to_thread(recorder.finalize)
        except Exception as exc:
            logger.error("cannot finalize the %s-leg recording of call %s: %s", self.speaker.value, uniqueid, exc)
            return
        if self.speaker is Speaker.OPERATOR and self.frames == 0:
            # The operator's stream carried nothing (the caller hung up before anyone answered): no recording.
            with contextlib.suppress(OSError):
                await asyncio.to_thread(info.path.unlink)
            return
        await self.server.events.on_event(
            RecordingFinished(
                uniqueid=uniqueid,
                path=str(info.path),
                kind=self.speaker.value,
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
