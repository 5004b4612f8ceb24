"""The engine-neutral speech session used by live calls and by `callcard transcribe` alike."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from asr.base import FinalSegment, PartialSegment, Segment, Word
from asr.pool import StreamFailedError, StreamHandle, WorkerCrashedError, WorkerPool
from core.types import SAMPLE_RATE

logger = logging.getLogger(__name__)

SLOW_REQUEST_S = 2.0  # a decode request slower than this means ASR is falling behind real time
MAX_FAILURES = 3  # consecutive failed requests before a session stops trying


def segment_from_dict(d: dict[str, Any], offset: float = 0.0, engine: str = "vosk") -> Segment:
    """A worker's segment dict as a PartialSegment or FinalSegment, shifted by ``offset`` seconds."""
    if d["kind"] == "partial":
        return PartialSegment(text=d["text"], language=d["language"], start=round(d["start"] + offset, 4))
    words = tuple(Word(w[0], round(w[1] + offset, 4), round(w[2] + offset, 4), w[3]) for w in d["words"])
    return FinalSegment(
        text=d["text"], language=d["language"], start=round(d["start"] + offset, 4),
        end=round(d["end"] + offset, 4), words=words, confidence=d["confidence"], engine=engine,
        model_version=d.get("model_version", ""),
    )


class VoskSpeechSession:
    """One call's recognition: buffers PCM into batches, decodes them in its pinned worker, in order.

    Times are seconds from the first byte fed. If the worker dies, the audio it held is lost (it is listed
    in ``gaps``), the session reopens on the restarted worker and goes on; the call's recording is whole,
    so the call can be decoded again from it.
    """

    def __init__(
        self,
        pool: WorkerPool,
        *,
        call_id: str,
        language: str = "auto",
        sample_rate: int = SAMPLE_RATE,
        phrases: Sequence[str] | None = None,
        batch_s: float = 0.2,
        candidates: Sequence[str] | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.pool = pool
        self.call_id = call_id
        self.language = language
        self.sample_rate = sample_rate
        self.phrases = tuple(phrases) if phrases else None
        self.candidates = tuple(candidates) if candidates else None
        self.options = options
        self._batch_bytes = max(2, int(sample_rate * batch_s) * 2)
        self._buffer = bytearray()
        self._handle: StreamHandle | None = None
        self._offset = 0.0  # call time at which the current worker stream began
        self._stream_samples = 0  # samples sent to the current worker stream
        self._last_final_end = 0.0
        self._warned_at = 0.0
        self._failures = 0
        self.gaps: list[tuple[float, float]] = []  # call-time spans whose audio a crashed worker lost
        self.errors: list[str] = []
        self.finished = False
        self.closed = False
        self._open()

    @property
    def seconds(self) -> float:
        """Seconds of audio sent to decoding so far."""
        return self._offset + self._stream_samples / self.sample_rate

    def _open(self) -> None:
        self._offset = self.seconds if self._handle is not None else 0.0
        self._stream_samples = 0
        self._handle = self.pool.open_stream(language=self.language, input_rate=self.sample_rate,
                                             phrases=self.phrases, candidates=self.candidates,
                                             options=self.options, call_id=self.call_id)

    async def feed(self, pcm: bytes) -> list[Segment]:
        """Accept s16le mono PCM at the session's rate (8 kHz by default); return segments completed."""
        if self.finished or self.closed or not pcm:
            return []
        self._buffer += pcm
        if len(self._buffer) < self._batch_bytes:
            return []
        size = len(self._buffer) - len(self._buffer) % 2
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return await self._request("feed", data)

    async def finish(self) -> list[Segment]:
        """Decode what is buffered and flush the recognizers; the last final segments."""
        if self.finished or self.closed:
            return []
        out: list[Segment] = []
        if len(self._buffer) >= 2:
            size = len(self._buffer) - len(self._buffer) % 2
            data = bytes(self._buffer[:size])
            self._buffer.clear()
            out.extend(await self._request("feed", data))
        out.extend(await self._request("finish", None))
        self.finished = True
        return out

    async def aclose(self) -> None:
        """Release the worker stream (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._handle is not None:
            self.pool.close_stream(self._handle)

    async def _request(self, op: str, data: bytes | None) -> list[Segment]:
        assert self._handle is not None
        if self.pool.current_generation(self._handle) != self._handle.generation:
            self._open()
        handle, offset = self._handle, self._offset
        before = self.seconds
        if data:
            self._stream_samples += len(data) // 2
        started = time.monotonic()
        try:
            dicts = await self.pool.request(handle, op, data)
        except WorkerCrashedError as exc:
            gap = (round(max(self._last_final_end, offset), 3), round(self.seconds, 3))
            self.gaps.append(gap)
            self.errors.append(str(exc))
            logger.error("call %s: %s; audio %.1f-%.1f s not transcribed live", self.call_id, exc, *gap)
            self._open()
            return []
        except StreamFailedError as exc:
            self.errors.append(str(exc))
            self.gaps.append((round(max(self._last_final_end, offset), 3), round(self.seconds, 3)))
            self._failures += 1
            if self._failures >= MAX_FAILURES:
                logger.error("call %s: %s; giving up live recognition for this call", self.call_id, exc)
                self.finished = True
            else:
                logger.error("call %s: %s; starting a new stream", self.call_id, exc)
                if op == "feed":
                    self._open()
            return []
        elapsed = time.monotonic() - started
        if elapsed > SLOW_REQUEST_S and started - self._warned_at > 30.0:
            self._warned_at = started
            logger.warning("call %s: ASR took %.1f s for %.2f s of audio: falling behind real time",
                           self.call_id, elapsed, self.seconds - before)
        self._failures = 0
        segments = [segment_from_dict(d, offset) for d in dicts]
        for seg in segments:
            if isinstance(seg, FinalSegment):
                self._last_final_end = seg.end
        return segments


class NullSpeechSession:
    """The session of an engine without models: takes audio, produces nothing (the call is still recorded)."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id

    async def feed(self, pcm: bytes) -> list[Segment]:
        """Discard the audio."""
        return []

    async def finish(self) -> list[Segment]:
        """Nothing to flush."""
        return []

    async def aclose(self) -> None:
        """Nothing to release."""
