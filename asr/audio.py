"""Audio as it really comes: WAV reading (PCM, float, mu-law, a-law, any rate, stereo) and streaming resampling."""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr

from core.errors import AsrError

logger = logging.getLogger(__name__)

DEFAULT_MODEL_RATE = 16000

_FMT_PCM = 1
_FMT_FLOAT = 3
_FMT_ALAW = 6
_FMT_MULAW = 7
_FMT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {_FMT_PCM: "pcm", _FMT_FLOAT: "float", _FMT_ALAW: "alaw", _FMT_MULAW: "mulaw"}


class AudioFormatError(AsrError):
    """The file is not audio callcard can read (not a WAV, or an unsupported encoding)."""


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


MULAW_TO_PCM16 = _mulaw_table()
ALAW_TO_PCM16 = _alaw_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    """G.711 mu-law bytes to int16 samples."""
    return MULAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> np.ndarray:
    """G.711 a-law bytes to int16 samples."""
    return ALAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)]


@dataclass(frozen=True, slots=True)
class WavInfo:
    """Where a WAV file's samples are and how they are encoded."""

    path: Path
    encoding: str  # "pcm" | "float" | "alaw" | "mulaw"
    sample_rate: int
    channels: int
    bits: int
    data_offset: int
    data_bytes: int  # what is really in the file (a truncated file has fewer than its header says)
    truncated: bool

    @property
    def block_align(self) -> int:
        """Bytes per frame (all channels)."""
        return self.channels * self.bits // 8

    @property
    def frames(self) -> int:
        """Number of sample frames present."""
        return self.data_bytes // self.block_align if self.block_align else 0

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def open_wav(path: str | Path) -> WavInfo:
    """Parse a WAV header and locate its data; raise AudioFormatError for anything else."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            return _parse_riff(fh, path, size)
    except OSError as exc:
        raise AudioFormatError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _parse_riff(fh: BinaryIO, path: Path, size: int) -> WavInfo:
    head = fh.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise AudioFormatError(f"{path.name} is not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while True:
        fh.seek(pos)
        chunk = fh.read(8)
        if len(chunk) < 8:
            raise AudioFormatError(f"{path.name}: no data chunk in the WAV file")
        cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            body = fh.read(min(clen, 40))
            if len(body) < 16:
                raise AudioFormatError(f"{path.name}: truncated fmt chunk")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _FMT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise AudioFormatError(f"{path.name}: data chunk before fmt chunk")
            tag, channels, rate, bits = fmt
            encoding = _FORMAT_NAMES.get(tag)
            if encoding is None:
                raise AudioFormatError(f"{path.name}: unsupported WAV encoding (format tag {tag:#x})")
            if channels < 1 or rate < 1000 or rate > 192000:
                raise AudioFormatError(f"{path.name}: implausible WAV header ({channels} ch, {rate} Hz)")
            if encoding in ("alaw", "mulaw") and bits != 8:
                raise AudioFormatError(f"{path.name}: G.711 audio must be 8-bit, header says {bits}")
            if encoding == "pcm" and bits not in (8, 16, 24, 32):
                raise AudioFormatError(f"{path.name}: unsupported PCM sample size {bits} bits")
            if encoding == "float" and bits not in (32, 64):
                raise AudioFormatError(f"{path.name}: unsupported float sample size {bits} bits")
            start = pos + 8
            available = max(0, size - start)
            if clen in (0, 0xFFFFFFFF):  # RF64, or a writer that died before fixing the header
                clen = available
            present = min(clen, available)
            block = channels * bits // 8
            present -= present % block
            truncated = present < clen - (clen % block)
            if truncated:
                logger.warning("%s is truncated: header promises %d bytes, %d present", path.name, clen, present)
            return WavInfo(path, encoding, rate, channels, bits, start, present, truncated)
        pos += 8 + clen + (clen & 1)
        if pos >= size:
            raise AudioFormatError(f"{path.name}: no data chunk in the WAV file")


def _decode(info: WavInfo, raw: bytes) -> np.ndarray:
    """Raw frames of ``info``'s encoding to mono int16."""
    if info.encoding == "mulaw":
        samples = mulaw_decode(raw)
    elif info.encoding == "alaw":
        samples = alaw_decode(raw)
    elif info.encoding == "float":
        dtype = "<f4" if info.bits == 32 else "<f8"
        floats = np.nan_to_num(np.frombuffer(raw, dtype=dtype).astype(np.float64))
        samples = np.clip(np.round(floats * 32767.0), -32768, 32767).astype(np.int16)
    elif info.bits == 8:
        samples = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif info.bits == 16:
        samples = np.frombuffer(raw, dtype="<i2")
    elif info.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        samples = (((b[:, 2] << 24) | (b[:, 1] << 16) | (b[:, 0] << 8)) >> 16).astype(np.int16)
    else:
        samples = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    if info.channels > 1:
        frames = samples.reshape(-1, info.channels).astype(np.int32)
        samples = (frames.sum(axis=1) // info.channels).astype(np.int16)
    return samples


def iter_pcm16(
    info: WavInfo, chunk_seconds: float = 1.0, *, start_frame: int = 0, end_frame: int | None = None,
) -> Iterator[bytes]:
    """Yield the file's audio as mono s16le bytes at its own rate, ``chunk_seconds`` at a time.

    ``start_frame`` and ``end_frame`` (exclusive) select part of the file; they are clamped to it.
    """
    first = min(max(0, start_frame), info.frames)
    last = info.frames if end_frame is None else min(max(first, end_frame), info.frames)
    frames_per_chunk = max(1, int(info.sample_rate * chunk_seconds))
    chunk_bytes = frames_per_chunk * info.block_align
    remaining = (last - first) * info.block_align
    with info.path.open("rb") as fh:
        fh.seek(info.data_offset + first * info.block_align)
        while remaining > 0:
            raw = fh.read(min(chunk_bytes, remaining))
            if not raw:
                break
            remaining -= len(raw)
            raw = raw[: len(raw) - len(raw) % info.block_align]
            yield _decode(info, raw).astype("<i2").tobytes()


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a whole WAV file as mono int16 samples and its sample rate."""
    info = open_wav(path)
    data = b"".join(iter_pcm16(info, chunk_seconds=60.0))
    return np.frombuffer(data, dtype="<i2").copy(), info.sample_rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono int16 samples as a PCM WAV file."""
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())


_RATE_RE = re.compile(r"^\s*--sample[-_]frequency\s*=\s*([0-9.]+)", re.MULTILINE)


def model_sample_rate(model_dir: str | Path) -> int:
    """The sample rate a Vosk model expects: conf/mfcc.conf's --sample-frequency, else 16 kHz."""
    conf = Path(model_dir) / "conf" / "mfcc.conf"
    try:
        match = _RATE_RE.search(conf.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return DEFAULT_MODEL_RATE
    return int(float(match.group(1))) if match else DEFAULT_MODEL_RATE


def _to_pcm16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples), -32768, 32767).astype("<i2")


_UPSAMPLE_RE = re.compile(r"^\s*--allow[-_]upsample\s*=\s*(true|1)\s*$", re.MULTILINE | re.IGNORECASE)


def model_allows_upsample(model_dir: str | Path) -> bool:
    """Whether the model's conf/mfcc.conf lets Vosk take audio below its rate (--allow-upsample=true)."""
    try:
        text = (Path(model_dir) / "conf" / "mfcc.conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_UPSAMPLE_RE.search(text))


class StreamResampler:
    """Stateful s16le mono resampler for one stream: no clicks at chunk edges, exact timing.

    It works in float32 and rounds once, so its output is bit-identical to ``resample`` over the whole
    signal however the input was chunked.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        )
        self._flushed = False

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk (whole samples); returns what is ready so far."""
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        if samples.size == 0:
            return b""
        return _to_pcm16(self._stream.resample_chunk(samples.astype(np.float32), last=False)).tobytes()

    def flush(self) -> bytes:
        """Return the samples still held back by the filter at the end of the stream."""
        if self._stream is None or self._flushed:
            return b""
        self._flushed = True
        return _to_pcm16(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)).tobytes()


def resample(samples: np.ndarray, in_rate: int, out_rate: int, quality: str = "HQ") -> np.ndarray:
    """Resample a whole int16 signal at once (same arithmetic as StreamResampler)."""
    samples = np.asarray(samples, dtype=np.int16)
    if in_rate == out_rate:
        return samples
    return _to_pcm16(soxr.resample(samples.astype(np.float32), in_rate, out_rate, quality=quality))
