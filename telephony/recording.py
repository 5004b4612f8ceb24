"""WAV files of calls: a writer for callcard-side recordings, and the description (duration, sha256) of any WAV."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import struct
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import TelephonyError
from core.types import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What callcard stores about a finished audio file."""

    path: Path
    duration_s: float
    size_bytes: int
    sha256: str
    sample_rate: int
    complete: bool


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_wav(path: Path) -> RecordingInfo:
    """Duration, size, sha256 and completeness of a WAV file (blocking; run it off the loop).

    A WAV whose RIFF header sizes do not match the file (a writer that has not closed it yet, e.g. MixMonitor
    while the channel is still up) is reported with ``complete=False`` and a duration from the file size.

    Raises:
        TelephonyError: the file is missing or is not a RIFF/WAVE file.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise TelephonyError(f"{path} is not a WAV file")
            riff_size = struct.unpack("<I", head[4:8])[0]
            rate, width, channels, data_size, data_offset = SAMPLE_RATE, SAMPLE_WIDTH, CHANNELS, None, None
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    break
                cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(clen)
                    channels, rate = struct.unpack("<HI", fmt[2:8])
                    width = struct.unpack("<H", fmt[14:16])[0] // 8
                    fh.seek(clen % 2, 1)
                elif cid == b"data":
                    data_size, data_offset = clen, fh.tell()
                    break
                else:
                    fh.seek(clen + clen % 2, 1)
    except OSError as exc:
        raise TelephonyError(f"cannot read recording {path}: {exc}") from exc
    if data_offset is None:
        raise TelephonyError(f"{path} has no data chunk")
    actual = size - data_offset
    complete = riff_size == size - 8 and data_size == actual
    frame = max(1, width * channels)
    return RecordingInfo(
        path=path,
        duration_s=round(actual / frame / rate, 3),
        size_bytes=size,
        sha256=_sha256(path),
        sample_rate=rate,
        complete=complete,
    )


def repair_wav(path: Path) -> RecordingInfo:
    """Make a WAV whose writer died (Asterisk killed -9) readable again; returns it described as incomplete.

    Asterisk's format_wav writes the RIFF and data sizes as 0 when it opens a file and fills them in only when
    it closes it, so a file left by a killed Asterisk (or a MixMonitor that never closed) has both sizes 0 and
    Python's ``wave`` refuses it. The sizes are rewritten from the file's real length (a trailing partial sample
    frame is cut). A consistent file is left as it is. Blocking: run it off the loop.

    Raises:
        TelephonyError: the file is missing or is not a RIFF/WAVE file with a data chunk.
    """
    info = describe_wav(path)
    if info.complete:
        return info
    try:
        with path.open("r+b") as fh:
            fh.seek(12)
            width, channels, data_offset = SAMPLE_WIDTH, CHANNELS, None
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    break
                cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(clen)
                    channels = struct.unpack("<H", fmt[2:4])[0]
                    width = struct.unpack("<H", fmt[14:16])[0] // 8
                    fh.seek(clen % 2, 1)
                elif cid == b"data":
                    data_offset = fh.tell()
                    break
                else:
                    fh.seek(clen + clen % 2, 1)
            if data_offset is None:
                raise TelephonyError(f"{path} has no data chunk")
            size = fh.seek(0, 2)
            frame = max(1, width * channels)
            data_size = (size - data_offset) // frame * frame
            fh.truncate(data_offset + data_size)
            fh.seek(4)
            fh.write(struct.pack("<I", data_offset + data_size - 8))
            fh.seek(data_offset - 4)
            fh.write(struct.pack("<I", data_size))
    except OSError as exc:
        raise TelephonyError(f"cannot repair recording {path}: {exc}") from exc
    logger.warning("recording %s: header repaired from the file size (%d bytes); stored as incomplete", path, size)
    return dataclasses.replace(describe_wav(path), complete=False)


async def wait_for_complete_wav(path: Path, *, within: float = 30.0, poll: float = 0.25) -> RecordingInfo | None:
    """Wait until a WAV written by another process (MixMonitor) is closed; None if it never appears.

    Returns the description once the header is consistent, or, after ``within`` seconds, whatever is there with
    ``complete=False``.
    """
    deadline = time.monotonic() + within
    last: RecordingInfo | None = None
    while True:
        if await asyncio.to_thread(path.exists):
            try:
                last = await asyncio.to_thread(describe_wav, path)
                if last.complete:
                    return last
            except TelephonyError as exc:
                logger.debug("recording %s not readable yet: %s", path, exc)
        if time.monotonic() >= deadline:
            if last is None:
                logger.error("recording %s did not appear within %.0f s", path, within)
            else:
                logger.warning("recording %s still incomplete after %.0f s; storing it as incomplete", path, within)
            return last
        await asyncio.sleep(poll)


class WavWriter:
    """Writes 8 kHz s16le mono PCM to a WAV file as it arrives; ``finalize`` closes it and describes it."""

    def __init__(self, path: Path, *, sample_rate: int = SAMPLE_RATE) -> None:
        """Open ``path`` for writing (parent directories are created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: BinaryIO = path.open("wb", buffering=1 << 16)
        self._wav = wave.open(self._fh, "wb")
        self._wav.setnchannels(CHANNELS)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(sample_rate)
        self.bytes_written = 0
        self._closed = False

    def write(self, pcm: bytes) -> None:
        """Append PCM (buffered; cheap enough for the event loop at 320 bytes a frame)."""
        if self._closed:
            raise TelephonyError(f"recording {self.path} is already finalized")
        self._wav.writeframesraw(pcm)
        self.bytes_written += len(pcm)

    def close(self) -> None:
        """Patch the header and close the file (idempotent, blocking)."""
        if not self._closed:
            self._closed = True
            self._wav.close()
            self._fh.close()

    def finalize(self) -> RecordingInfo:
        """Close the file and return its path, duration and sha256 (blocking; run it off the loop)."""
        self.close()
        return describe_wav(self.path)
