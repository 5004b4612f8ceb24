"""WAV writing and description of recordings."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from core.errors import TelephonyError
from telephony.recording import WavWriter, describe_wav, wait_for_complete_wav


def test_writer_finalize_gives_path_duration_and_sha256(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "a" / "call.wav")
    for _ in range(150):
        writer.write(b"\x01\x02" * 160)
    info = writer.finalize()
    assert info.duration_s == 3.0 and info.complete and info.sample_rate == 8000
    assert info.sha256 == hashlib.sha256((tmp_path / "a" / "call.wav").read_bytes()).hexdigest()
    with pytest.raises(TelephonyError):
        writer.write(b"\x00\x00")


def test_unclosed_wav_is_reported_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "open.wav"
    writer = WavWriter(path)
    writer.write(b"\x00\x00" * 4000)
    writer.write(b"\x00\x00" * 4000)
    writer._fh.flush()  # what another process's half-written file looks like
    info = describe_wav(path)
    assert not info.complete and info.duration_s == 1.0
    writer.close()
    assert describe_wav(path).complete


def test_not_a_wav_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"RIFX" + struct.pack("<I", 4) + b"junk")
    with pytest.raises(TelephonyError):
        describe_wav(tmp_path / "x.wav")
    with pytest.raises(TelephonyError):
        describe_wav(tmp_path / "missing.wav")


async def test_waiting_for_a_file_that_never_appears_returns_none(tmp_path: Path) -> None:
    assert await wait_for_complete_wav(tmp_path / "never.wav", within=0.3, poll=0.05) is None
