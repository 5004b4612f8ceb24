"""The Vosk speech engine (a worker pool behind engine-neutral sessions) and the engine without models."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asr.audio import iter_pcm16, open_wav
from asr.base import FinalSegment, Span, Word
from asr.decoder import DecoderOptions, LanguageModel
from asr.models import DOWNLOAD_COMMAND, model_version
from asr.pool import WorkerPool
from asr.session import NullSpeechSession, VoskSpeechSession
from asr.spans import clamp_spans
from core.errors import AsrError

logger = logging.getLogger(__name__)


class VoskSpeechEngine:
    """Opens one session per call on a pool of worker processes; optionally re-decodes with big models."""

    def __init__(
        self,
        pool: WorkerPool,
        *,
        missing: Sequence[str] = (),
        big_pool: WorkerPool | None = None,
        batch_s: float = 0.2,
    ) -> None:
        self.pool = pool
        self.big_pool = big_pool
        self.missing = tuple(missing)
        self.batch_s = batch_s
        self._big_started = False

    @property
    def languages(self) -> tuple[str, ...]:
        """The language labels this engine can decode."""
        return tuple(self.pool.languages)

    def _pick_language(self, language: str) -> str:
        if language == "auto" or language in self.pool.languages:
            return language
        fallback = "auto" if len(self.pool.languages) > 1 else next(iter(self.pool.languages))
        logger.warning("no %s model loaded; decoding with %s", language, fallback)
        return fallback

    def open_session(
        self,
        *,
        call_id: str,
        language: str = "auto",
        sample_rate: int = 8000,
        phrases: Sequence[str] | None = None,
        candidates: Sequence[str] | None = None,
        options: dict[str, Any] | None = None,
        start_s: float = 0.0,
    ) -> VoskSpeechSession:
        """Start recognising one call (s16le mono at ``sample_rate``), timed on the call's clock from ``start_s``.

        ``phrases`` restricts the vocabulary; ``candidates`` limits the languages "auto" chooses among;
        ``options`` overrides DecoderOptions fields for this call.
        """
        return VoskSpeechSession(
            self.pool, call_id=call_id, language=self._pick_language(language), sample_rate=sample_rate,
            phrases=phrases, batch_s=self.batch_s, candidates=candidates, options=options, start_s=start_s,
        )

    def status(self) -> dict[str, object]:
        """Per language "ok"/"loading"/"failed"/"missing", plus worker counts."""
        if self.pool.ready():
            state = "ok" if self.pool.alive() == self.pool.n_workers else "degraded" if self.pool.alive() else "failed"
        else:
            state = "loading"
        out: dict[str, object] = {lang: state for lang in self.pool.languages}
        out.update({lang: "missing" for lang in self.missing})
        out["engine"] = "vosk"
        out["workers"] = self.pool.n_workers
        out["workers_alive"] = self.pool.alive()
        out["models"] = {lang: model_version(Path(lm.model_dir)) for lang, lm in self.pool.languages.items()}
        out["redecode"] = "ok" if self.big_pool is not None else "off"
        return out

    async def transcribe_file(
        self, path: str | Path, *, language: str = "auto", spans: Sequence[Span] | None = None,
        phrases: Sequence[str] | None = None, call_id: str | None = None, candidates: Sequence[str] | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[FinalSegment]:
        """Decode a WAV file through the same session code as live calls; its final segments.

        With ``spans``, only the audio inside them (clamped to the file) is decoded; the segments are timed
        on the file's clock and lie inside their span. ``None`` decodes the whole file; no spans, nothing.
        """
        return await transcribe_with(self, path, language=language, spans=spans, phrases=phrases, call_id=call_id,
                                     candidates=candidates, options=options)

    async def redecode(
        self, path: str | Path, *, language: str = "auto", spans: Sequence[Span] | None = None,
    ) -> list[FinalSegment] | None:
        """Decode a finished call's recording (or only ``spans`` of it) with the big models; None when none
        is configured."""
        if self.big_pool is None:
            return None
        if not self._big_started:
            await asyncio.to_thread(self.big_pool.start)
            self._big_started = True
        big = VoskSpeechEngine(self.big_pool, batch_s=1.0)
        return await transcribe_with(big, path, language=language, spans=spans,
                                     call_id=f"redecode:{Path(path).name}")

    async def aclose(self) -> None:
        """Stop the workers and free the models."""
        await asyncio.to_thread(self.pool.close)
        if self.big_pool is not None:
            await asyncio.to_thread(self.big_pool.close)


async def transcribe_with(
    engine: VoskSpeechEngine, path: str | Path, *, language: str = "auto", spans: Sequence[Span] | None = None,
    phrases: Sequence[str] | None = None, call_id: str | None = None, chunk_s: float = 0.5,
    candidates: Sequence[str] | None = None, options: dict[str, Any] | None = None,
) -> list[FinalSegment]:
    """Feed a WAV file (any supported encoding and rate) through an engine session; collect the finals.

    With ``spans`` only their audio is fed: one session starts at the first span and skips (``skip``) from
    each span to the next, so the language decision carries over and every time stays on the file's clock.

    Raises:
        AudioFormatError: the file is not readable audio.
    """
    info = open_wav(path)
    rate = info.sample_rate
    if spans is None:
        windows = [(0, info.frames)]
    else:  # whole frames, so that the clock of every span is exact
        windows = [(round(s.start * rate), round(s.end * rate)) for s in clamp_spans(spans, duration=info.duration_s)]
        windows = [(a, b) for a, b in windows if b > a]
        if not windows:
            return []
    session = engine.open_session(
        call_id=call_id or Path(path).name, language=language, sample_rate=rate, phrases=phrases,
        candidates=candidates, options=options, start_s=windows[0][0] / rate,
    )
    finals: list[FinalSegment] = []
    try:
        pos = windows[0][0]
        for first, last in windows:
            if first > pos:
                finals.extend(s for s in await session.skip((first - pos) / rate) if isinstance(s, FinalSegment))
            for chunk in iter_pcm16(info, chunk_seconds=chunk_s, start_frame=first, end_frame=last):
                finals.extend(s for s in await session.feed(chunk) if isinstance(s, FinalSegment))
            pos = last
        finals.extend(s for s in await session.finish() if isinstance(s, FinalSegment))
    finally:
        await session.aclose()
    if spans is None:
        return finals
    return [_inside(seg, [Span(a / rate, b / rate) for a, b in windows]) for seg in finals]


def _inside(seg: FinalSegment, windows: Sequence[Span]) -> FinalSegment:
    """``seg`` with its times held inside the window it was decoded from.

    Vosk may place the end of a word cut by the window's edge up to a frame beyond the audio it was given;
    that frame belongs to audio that was not decoded here, so it is cut off.
    """
    home = windows[0]
    for window in windows:
        if window.start <= seg.start + 1e-6:
            home = window
    lo, hi = home.start, home.end

    def clamp(t: float) -> float:
        return round(min(max(t, lo), hi), 4)

    if lo <= seg.start and seg.end <= hi:
        return seg
    words = tuple(Word(w.text, clamp(w.start), clamp(w.end), w.conf) for w in seg.words)
    return FinalSegment(text=seg.text, language=seg.language, start=clamp(seg.start), end=clamp(seg.end),
                        words=words, confidence=seg.confidence, engine=seg.engine, model_version=seg.model_version)


class UnavailableSpeechEngine:
    """Stands in when no model is installed: sessions produce nothing, calls are still recorded."""

    def __init__(self, missing: Sequence[str], reason: str = "") -> None:
        self.missing = tuple(missing)
        self.reason = reason or f"Vosk models missing for {', '.join(self.missing)}; run `{DOWNLOAD_COMMAND}`"

    def open_session(self, *, call_id: str, language: str = "auto", sample_rate: int = 8000,
                     phrases: Sequence[str] | None = None, start_s: float = 0.0) -> NullSpeechSession:
        """A session that discards audio (on the call's clock from ``start_s``)."""
        return NullSpeechSession(call_id, start_s=start_s, sample_rate=sample_rate)

    def status(self) -> dict[str, object]:
        """Every language "missing", and why."""
        out: dict[str, object] = {lang: "missing" for lang in self.missing}
        out["engine"] = "none"
        out["detail"] = self.reason
        return out

    async def transcribe_file(
        self, path: str | Path, *, language: str = "auto", spans: Sequence[Span] | None = None, **_: object,
    ) -> list[FinalSegment]:
        """No models: raise a clear error (whatever the spans)."""
        raise AsrError(self.reason)

    async def redecode(
        self, path: str | Path, *, language: str = "auto", spans: Sequence[Span] | None = None,
    ) -> list[FinalSegment] | None:
        """Nothing to re-decode with."""
        return None

    async def aclose(self) -> None:
        """Nothing to stop."""


def default_languages(model_dirs: dict[str, Path | None]) -> dict[str, LanguageModel]:
    """LanguageModel per language whose directory is known."""
    return {lang: LanguageModel(str(path)) for lang, path in model_dirs.items() if path is not None}


__all__ = ["DecoderOptions", "UnavailableSpeechEngine", "VoskSpeechEngine", "default_languages", "transcribe_with"]
