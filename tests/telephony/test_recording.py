"""WAV writing and description of recordings."""

from __future__ import annotations

import hashlib
import struct
import wave
from pathlib import Path

import pytest

from core.errors import TelephonyError
from telephony.recording import WavWriter, describe_wav, repair_wav, wait_for_complete_wav
from tests.peers.mixmonitor import asterisk_wav_bytes


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


def test_zeroed_header_of_a_killed_asterisk_is_repaired_and_marked_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "killed.wav"
    pcm = bytes(range(256)) * 125  # 32000 bytes: 2 s of 8 kHz s16le
    path.write_bytes(asterisk_wav_bytes(pcm, killed=True) + b"\x07")  # and half a sample the writer never finished
    with pytest.raises(wave.Error):
        wave.open(str(path), "rb")  # what Python's wave says of format_wav's open header
    info = repair_wav(path)
    assert (info.complete, info.duration_s, info.size_bytes) == (False, 2.0, 44 + len(pcm))
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnframes(), wav.getframerate()) == (16000, 8000)
        assert wav.readframes(16000) == pcm
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_repair_leaves_a_closed_recording_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "closed.wav"
    path.write_bytes(asterisk_wav_bytes(b"\x01\x00" * 800))
    before = path.read_bytes()
    info = repair_wav(path)
    assert info.complete and info.duration_s == 0.1 and path.read_bytes() == before
    with pytest.raises(TelephonyError):
        repair_wav(tmp_path / "missing.wav")
