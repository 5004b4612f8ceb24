"""Builds the speech engine the composition root asks for, from plain model directories."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.decoder import DecoderOptions, LanguageModel
from asr.engine import UnavailableSpeechEngine, VoskSpeechEngine
from asr.models import DOWNLOAD_COMMAND, is_model_dir
from asr.pool import WorkerPool

logger = logging.getLogger(__name__)


def build_speech_engine(
    *,
    model_dirs: dict[str, Path | None],
    workers: int,
    big_model_dirs: dict[str, Path | None] | None = None,
    threads_per_worker: int = 2,
    options: DecoderOptions | None = None,
    idle_recognizers: int = 12,
    idle_ttl_s: float = 1800.0,
    wait: bool = False,
) -> VoskSpeechEngine | UnavailableSpeechEngine:
    """A Vosk engine over ``workers`` processes for the languages whose model directory exists.

    Languages with no usable directory are reported by ``status()`` as "missing" and logged once, naming
    the command that installs them. With no model at all the engine's sessions produce nothing (calls are
    still recorded, cards can be made by hand). Workers start loading at once; sessions opened meanwhile
    wait for them. ``big_model_dirs``, when given, enables re-decoding recordings after the call.
    ``idle_recognizers`` and ``idle_ttl_s`` bound the warm recognizers each worker keeps between calls.
    """
    usable = {lang: Path(p) for lang, p in model_dirs.items() if p is not None and is_model_dir(Path(p))}
    missing = [lang for lang in model_dirs if lang not in usable]
    if missing:
        logger.error(
            "speech recognition: no Vosk model for %s; live transcripts in %s are off until you run `%s`",
            ", ".join(missing), ", ".join(missing), DOWNLOAD_COMMAND,
        )
    if not usable:
        return UnavailableSpeechEngine(missing)
    pool = WorkerPool(
        {lang: LanguageModel(str(path)) for lang, path in usable.items()},
        workers=workers, threads=threads_per_worker, options=options,
        max_idle_total=idle_recognizers, idle_ttl_s=idle_ttl_s,
    )
    big_pool = None
    big = {lang: Path(p) for lang, p in (big_model_dirs or {}).items() if p is not None and is_model_dir(Path(p))}
    if big:
        big_pool = WorkerPool({lang: LanguageModel(str(p)) for lang, p in big.items()}, workers=1,
                              threads=threads_per_worker, options=options,
                              max_idle_total=idle_recognizers, idle_ttl_s=idle_ttl_s)
    pool.spawn()
    if wait:
        pool.wait_ready()
    return VoskSpeechEngine(pool, missing=missing, big_pool=big_pool)
