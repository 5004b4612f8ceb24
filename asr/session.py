"""The engine-neutral speech session used by live calls and by `callcard transcribe` alike."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from asr.base import FinalSegment, Segment, Span
from asr.pool import StreamFailedError, StreamHandle, WorkerCrashedError, WorkerPool
from asr.spans import add_span
from core.types import SAMPLE_RATE

logger = logging.getLogger(__name__)

SLOW_REQUEST_S = 2.0  # a decode request slower than this means ASR is falling behind real time
MAX_FAILURES = 3  # consecutive failed requests before a session stops trying


class VoskSpeechSession:
    """One call's recognition: buffers PCM into batches, decodes them in its pinned worker, in order.

    Times are on the call's clock: the first byte fed is at ``start_s``, and ``skip`` moves the clock over
    audio that never arrived. If the worker dies, the audio it held is lost (it is listed in ``gaps``), the
    session reopens on the restarted worker and goes on; the call's recording is whole, so the gaps can be
    decoded again from it.
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
        start_s: float = 0.0,
    ) -> None:
        self.pool = pool
        self.start_s = start_s
        self.call_id = call_id
        self.language = language
        self.sample_rate = sample_rate
        self.phrases = tuple(phrases) if phrases else None
        self.candidates = tuple(candidates) if candidates else None
        self.options = options
        self._batch_bytes = max(2, int(sample_rate * batch_s) * 2)
        self._buffer = bytearray()
        self._handle: StreamHandle | None = None
        self._offset = start_s  # call time at which the current worker stream began
        self._stream_samples = 0  # samples sent to (or skipped in) the current worker stream
        self._last_final_end = start_s
        self._warned_at = 0.0
        self._failures = 0
        self._gaps: list[Span] = []  # call-time spans not decoded: skipped, or lost with a crashed worker
        self.errors: list[str] = []
        self.finished = False
        self.closed = False
        self._open()

    @property
    def seconds(self) -> float:
        """Call time reached: ``start_s`` plus the audio sent to decoding and skipped so far."""
        return self._offset + self._stream_samples / self.sample_rate

    @property
    def gaps(self) -> tuple[Span, ...]:
        """Call-time spans this session did not decode (skipped, or lost with a crashed worker), merged, in order."""
        return tuple(self._gaps)

    def _open(self) -> None:
        self._offset = self.seconds if self._handle is not None else self.start_s
        self._stream_samples = 0
        self._handle = self.pool.open_stream(language=self.language, input_rate=self.sample_rate,
                                             phrases=self.phrases, candidates=self.candidates,
                                             options=self.options, call_id=self.call_id, start_s=self._offset)

    def _take_buffer(self) -> bytes:
        size = len(self._buffer) - len(self._buffer) % 2
        data = bytes(self._buffer[:size])
        self._buffer.clear()
        return data

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

    async def skip(self, seconds: float) -> list[Segment]:
        """``seconds`` of the call's audio were lost here: decode what is buffered, end the utterances in
        progress (their finals are returned), move the clock on by ``seconds`` and record the span in ``gaps``.
        The stream, its recognizers and its language decision carry on."""
        if self.finished or self.closed or seconds <= 0:
            return []
        out: list[Segment] = []
        if len(self._buffer) >= 2:
            out.extend(await self._request("feed", self._take_buffer()))
        self._buffer.clear()  # a dangling odd byte belongs to no sample
        if self.finished:
            return out
        start = self.seconds
        out.extend(await self._request("skip", None, seconds=seconds))
        add_span(self._gaps, Span(round(start, 3), round(start + seconds, 3)))
        return out

    async def finish(self) -> list[Segment]:
        """Decode what is buffered and flush the recognizers; the last final segments."""
        if self.finished or self.closed:
            return []
        out: list[Segment] = []
        if len(self._buffer) >= 2:
            out.extend(await self._request("feed", self._take_buffer()))
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

    async def _request(self, op: str, data: bytes | None, *, seconds: float = 0.0) -> list[Segment]:
        assert self._handle is not None
        if self.pool.current_generation(self._handle) != self._handle.generation:
            # The worker died between two requests: what it held of this stream is lost as well.
            lost = Span(round(max(self._last_final_end, self._offset), 3), round(self.seconds, 3))
            if lost.end > lost.start:
                add_span(self._gaps, lost)
                logger.error("call %s: ASR worker restarted; audio %.1f-%.1f s not transcribed live", self.call_id,
                             lost.start, lost.end)
            self._open()
        assert self._handle is not None
        handle, offset = self._handle, self._offset
        before = self.seconds
        if data:
            self._stream_samples += len(data) // 2
        if op == "skip":
            self._stream_samples += round(seconds * self.sample_rate)
        started = time.monotonic()
        try:
            segments = await self.pool.request(handle, op, data, seconds=seconds)
        except WorkerCrashedError as exc:
            gap = Span(round(max(self._last_final_end, offset), 3), round(self.seconds, 3))
            add_span(self._gaps, gap)
            self.errors.append(str(exc))
            logger.error("call %s: %s; audio %.1f-%.1f s not transcribed live", self.call_id, exc,
                         gap.start, gap.end)
            self._open()
            return []
        except StreamFailedError as exc:
            self.errors.append(str(exc))
            add_span(self._gaps, Span(round(max(self._last_final_end, offset), 3), round(self.seconds, 3)))
            self._failures += 1
            if self._failures >= MAX_FAILURES:
                logger.error("call %s: %s; giving up live recognition for this call", self.call_id, exc)
                self.finished = True
            else:
                logger.error("call %s: %s; starting a new stream", self.call_id, exc)
                if op != "finish":
                    self._open()
            return []
        elapsed = time.monotonic() - started
        if elapsed > SLOW_REQUEST_S and started - self._warned_at > 30.0:
            self._warned_at = started
            logger.warning("call %s: ASR took %.1f s for %.2f s of audio: falling behind real time",
                           self.call_id, elapsed, self.seconds - before)
        self._failures = 0
        for seg in segments:
            if isinstance(seg, FinalSegment):
                self._last_final_end = seg.end
        return segments


class NullSpeechSession:
    """The session of an engine without models: takes audio, produces nothing (the call is still recorded).

    It keeps the call's clock so that ``gaps`` lists the spans skipped, like any session.
    """

    def __init__(self, call_id: str, *, start_s: float = 0.0, sample_rate: int = SAMPLE_RATE) -> None:
        self.call_id = call_id
        self.sample_rate = sample_rate
        self.seconds = start_s
        self._gaps: list[Span] = []

    @property
    def gaps(self) -> tuple[Span, ...]:
        """The spans skipped."""
        return tuple(self._gaps)

    async def feed(self, pcm: bytes) -> list[Segment]:
        """Discard the audio."""
        self.seconds += len(pcm) // 2 / self.sample_rate
        return []

    async def skip(self, seconds: float) -> list[Segment]:
        """Move the clock on and record the span."""
        if seconds > 0:
            add_span(self._gaps, Span(round(self.seconds, 3), round(self.seconds + seconds, 3)))
            self.seconds += seconds
        return []

    async def finish(self) -> list[Segment]:
        """Nothing to flush."""
        return []

    async def aclose(self) -> None:
        """Nothing to release."""
