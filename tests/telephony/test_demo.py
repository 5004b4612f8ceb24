"""The demo caller: WAV conversion, and `callcard demo-call` against running FastAGI + AudioSocket servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import TelephonyError
from telephony.audiosocket import AudioSocketServer
from telephony.demo import load_wav_as_slin, split_frames
from telephony.events import AudioStreamEnded, CallEnded, CallStarted, RecordingFinished
from telephony.fastagi import FastAgiServer
from tests.peers.speech import speech_wav
from tests.telephony.conftest import Collector


def test_any_pcm_wav_becomes_8k_mono_s16(tmp_path: Path) -> None:
    src = speech_wav("Қайырлы күн, бір жүз тоғыз", "kk")
    hi = tmp_path / "hi.wav"
    subprocess.run(["sox", str(src), "-r", "44100", "-c", "2", "-b", "24", str(hi)], check=True)
    pcm = load_wav_as_slin(hi)
    with wave.open(str(src)) as w:
        ref = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    out = np.frombuffer(pcm, dtype="<i2").astype(float)
    assert abs(len(out) - len(ref)) <= 2
    n = min(len(out), len(ref))
    assert np.corrcoef(out[:n], ref[:n])[0, 1] > 0.95  # the same speech after 8k->44.1k/24-bit/stereo->8k
    frames = split_frames(pcm)
    assert all(len(f) == 320 for f in frames) and b"".join(frames).startswith(pcm)
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(TelephonyError):
        load_wav_as_slin(tmp_path / "bad.wav")


async def test_demo_call_command_plays_a_wav_through_the_real_path(
    collector: Collector, make_fastagi: Callable[..., Any], audiosocket: AudioSocketServer, tmp_path: Path
) -> None:
    agi: FastAgiServer = await make_fastagi(recording_timeout=5)
    wav = speech_wav("Здравствуйте, это демонстрационный звонок в сто девять", "ru")
    env = {**os.environ, "CALLCARD_API_BIND": "127.0.0.1:9", "CALLCARD_DATA_DIR": str(tmp_path / "var")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "callcard.cli",
        "demo-call",
        str(wav),
        "--caller",
        "+77019998877",
        "--agi",
        f"127.0.0.1:{agi.bound_port}",
        "--audiosocket",
        f"127.0.0.1:{audiosocket.bound_port}",
        "--fast",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "hung up" in out.decode()
    await collector.wait(lambda: len(collector.of(RecordingFinished)) == 2)
    started = collector.of(CallStarted)[0]
    assert (started.source, started.caller_number) == ("agi", "+77019998877")
    pcm = load_wav_as_slin(wav)
    assert bytes(collector.audio[started.uniqueid]).startswith(pcm)
    assert collector.of(AudioStreamEnded)[0].reason == "hangup"
    assert collector.of(CallEnded)[0].uniqueid == started.uniqueid
    kinds = sorted(r.kind for r in collector.of(RecordingFinished))
    assert kinds == ["caller", "mixed"]
