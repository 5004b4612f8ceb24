"""An AudioSocket client that behaves like Asterisk's chan_audiosocket / AudioSocket() application."""

from __future__ import annotations

import asyncio
import contextlib
import time

from telephony.audiosocket import KIND_AUDIO, KIND_HANGUP, encode_frame, uuid_frame

FRAME = 320  # 20 ms of 8 kHz s16le


class AudioSocketClient:
    """One stream: UUID frame first, then slin frames, then a hang-up (or just a closed socket)."""

    def __init__(self, port: int, media_uuid: str, host: str = "127.0.0.1") -> None:
        self.host, self.port, self.media_uuid = host, port, media_uuid
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, *, send_uuid: bool = True) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        if send_uuid:
            self.writer.write(uuid_frame(self.media_uuid))
            await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def send_audio(self, pcm: bytes, *, realtime: bool = False, stamp: bool = False) -> int:
        """Send ``pcm`` in 20 ms frames; returns the number of frames."""
        assert self.writer is not None
        start = time.monotonic()
        frames = 0
        for i in range(0, len(pcm), FRAME):
            frame = pcm[i : i + FRAME].ljust(FRAME, b"\x00")
            self.writer.write(encode_frame(KIND_AUDIO, frame))
            frames += 1
            if realtime:
                delay = start + frames * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if frames % 25 == 0:
                await self.writer.drain()
        await self.writer.drain()
        return frames

    async def hangup(self) -> None:
        await self.send_raw(encode_frame(KIND_HANGUP))

    async def closed_by_server(self, within: float = 5.0) -> bool:
        """True when the server closes the connection within ``within`` seconds."""
        assert self.reader is not None
        try:
            data = await asyncio.wait_for(self.reader.read(), within)
        except (TimeoutError, ConnectionError):
            return False
        return data == b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
