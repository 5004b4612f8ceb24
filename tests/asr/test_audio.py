"""WAV reading of real-world files (checked against sox) and the streaming resampler."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from asr.audio import (
    AudioFormatError,
    StreamResampler,
    alaw_decode,
    model_sample_rate,
    mulaw_decode,
    open_wav,
    read_wav,
    resample,
    write_wav,
)


def tone(rate: int, seconds: float, freq: float = 440.0, amp: int = 12000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "tone8k.wav"
    write_wav(path, tone(8000, 1.0), 8000)
    return path


@pytest.mark.parametrize("encoding", ["u-law", "a-law"])
def test_g711_decoding_matches_sox(src: Path, tmp_path: Path, encoding: str) -> None:
    """Our mu-law/a-law decoding gives exactly what sox gives when it decodes the same file."""
    coded = tmp_path / "coded.wav"
    sox(str(src), "-e", encoding, str(coded))
    back = tmp_path / "back.wav"
    sox(str(coded), "-e", "signed-integer", "-b", "16", str(back))
    info = open_wav(coded)
    assert info.encoding == ("mulaw" if encoding == "u-law" else "alaw") and info.bits == 8
    ours, rate = read_wav(coded)
    theirs, _ = read_wav(back)
    assert rate == 8000 and np.array_equal(ours, theirs)


def test_g711_tables_cover_the_range() -> None:
    mu = mulaw_decode(bytes(range(256)))
    al = alaw_decode(bytes(range(256)))
    assert mu.min() == -32124 and mu.max() == 32124
    assert al.min() == -32256 and al.max() == 32256
    assert mulaw_decode(b"\xff")[0] == 0


@pytest.mark.parametrize("args", [["-b", "8", "-e", "unsigned-integer"], ["-b", "24"], ["-b", "32"],
                                  ["-e", "floating-point", "-b", "32"], ["-c", "2"]])
def test_other_pcm_layouts_read_like_16_bit(src: Path, tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "other.wav"
    sox(str(src), *args, str(out))
    x, rate = read_wav(out)
    ref, _ = read_wav(src)
    assert rate == 8000 and x.size == ref.size
    tolerance = 3 * 256 if "8" in args else 2  # sox dithers when it reduces to 8 bits
    assert np.abs(x.astype(int) - ref).max() <= tolerance


def test_truncated_file_reads_what_is_there(src: Path, tmp_path: Path) -> None:
    data = src.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: 44 + 1001])  # an odd byte in the middle of a sample
    info = open_wav(cut)
    assert info.truncated and info.frames == 500
    assert read_wav(cut)[0].size == 500


def test_header_with_zero_data_size_reads_the_data(src: Path, tmp_path: Path) -> None:
    """A writer that died before fixing the header leaves size 0: the samples are still read."""
    data = bytearray(src.read_bytes())
    data[40:44] = struct.pack("<I", 0)
    path = tmp_path / "zero.wav"
    path.write_bytes(bytes(data))
    assert read_wav(path)[0].size == 8000


@pytest.mark.parametrize("content", [b"", b"hello world, not audio", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_non_audio_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError):
        open_wav(path)


def test_missing_file_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="cannot read"):
        open_wav(tmp_path / "none.wav")


def test_streaming_resampler_is_chunking_independent() -> None:
    """Any chunking gives the bit-identical signal of resampling the whole thing at once (no edge clicks)."""
    x = tone(8000, 2.0) + tone(8000, 2.0, freq=1234.0, amp=4000)
    whole = resample(x, 8000, 16000)
    rng = np.random.default_rng(3)
    rs = StreamResampler(8000, 16000)
    out = bytearray()
    pos = 0
    while pos < x.size:
        n = int(rng.integers(1, 700))
        out += rs.process(x[pos:pos + n].tobytes())
        pos += n
    out += rs.flush()
    got = np.frombuffer(bytes(out), dtype="<i2")
    assert got.size == whole.size == 2 * x.size
    assert np.array_equal(got, whole)


def test_resampling_keeps_pitch_and_timing() -> None:
    x = tone(8000, 1.0, freq=440.0)
    y = resample(x, 8000, 16000)
    spectrum = np.abs(np.fft.rfft(y.astype(float)))
    assert abs(np.argmax(spectrum) * 16000 / y.size - 440.0) < 2.0
    # a click placed at 0.5 s stays at 0.5 s
    click = np.zeros(8000, np.int16)
    click[4000] = 20000
    assert abs(int(np.argmax(np.abs(resample(click, 8000, 16000)))) - 8000) <= 1


def test_model_sample_rate(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    assert model_sample_rate(tmp_path) == 16000
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=8000\n")
    assert model_sample_rate(tmp_path) == 8000
