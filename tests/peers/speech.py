"""Real speech for tests: espeak-ng audio converted by sox to 8 kHz s16le mono, cached per text."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import tempfile
import wave
from pathlib import Path

CACHE = Path(tempfile.gettempdir()) / "callcard-test-speech"


@functools.lru_cache(maxsize=32)
def speech_pcm(text: str, voice: str = "ru") -> bytes:
    """espeak-ng saying ``text`` as raw 8 kHz signed 16-bit little-endian mono PCM."""
    with wave.open(str(speech_wav(text, voice)), "rb") as wav:
        return wav.readframes(wav.getnframes())


def speech_wav(text: str, voice: str = "ru") -> Path:
    """A cached 8 kHz mono WAV of espeak-ng saying ``text``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:16]
    out = CACHE / f"{key}.wav"
    if not out.exists():
        raw = CACHE / f"{key}.raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
        tmp = CACHE / f"{key}.tmp.wav"
        subprocess.run(
            ["sox", "-R", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(tmp)],
            check=True,
            capture_output=True,
        )
        tmp.replace(out)
        raw.unlink(missing_ok=True)
    return out
