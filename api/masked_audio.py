"""A recording with its personal data replaced by a tone: the words' spans, padded, overwritten by 1 kHz."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TONE_HZ = 1000.0
TONE_LEVEL = 0.3  # of full scale
PAD_S = 0.15
_DTYPES: dict[int, type[np.integer[Any]]] = {1: np.uint8, 2: np.int16, 4: np.int32}
_FULL_SCALE = {1: 127, 2: 32767, 4: 2147483647}


@dataclass(frozen=True, slots=True)
class Stretch:
    """Seconds of the recording to hide, from ``start`` to ``end``."""

    start: float
    end: float


class UnsupportedAudio(ValueError):
    """The file is not PCM WAV of 8, 16 or 32 bits."""


def padded(stretches: Sequence[Stretch], pad: float = PAD_S) -> list[Stretch]:
    """Each stretch widened by ``pad`` on both sides (never before 0)."""
    return [Stretch(max(0.0, s.start - pad), s.end + pad) for s in stretches]


def toned_wav(path: Path, stretches: Sequence[Stretch]) -> bytes:
    """The WAV at ``path`` with every frame inside ``stretches`` replaced by a 1 kHz tone; every other byte of the
    audio data as it was. Raises UnsupportedAudio for anything but PCM WAV."""
    try:
        with wave.open(str(path), "rb") as src:
            params = src.getparams()
            frames = src.readframes(params.nframes)
    except (wave.Error, EOFError) as exc:
        raise UnsupportedAudio(str(exc)) from exc
    dtype = _DTYPES.get(params.sampwidth)
    if dtype is None or params.comptype != "NONE":
        raise UnsupportedAudio(f"{params.sampwidth * 8}-bit {params.comptype} audio")
    samples = np.frombuffer(frames, dtype=dtype).reshape(-1, params.nchannels).copy()
    rate = params.framerate
    total = samples.shape[0]
    for stretch in stretches:
        first = max(0, int(np.floor(stretch.start * rate)))
        last = min(total, int(np.ceil(stretch.end * rate)))
        if last <= first:
            continue
        t = np.arange(first, last) / rate
        wave_form = np.sin(2 * np.pi * TONE_HZ * t) * TONE_LEVEL
        if dtype is np.uint8:
            values = (wave_form * 127 + 128).astype(np.uint8)
        else:
            values = (wave_form * _FULL_SCALE[params.sampwidth]).astype(dtype)
        samples[first:last, :] = values[:, None]
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setparams(params)
        dst.writeframes(samples.astype(dtype).tobytes())
    return out.getvalue()
