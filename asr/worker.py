"""The worker process: loads each language's Vosk model once and decodes many calls on threads."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asr.decoder import CallDecoder

logger = logging.getLogger(__name__)

# Messages, parent -> worker (tuples, pickled by the pipe):
#   ("open", sid, {"language", "input_rate", "phrases", "candidates", "options", "start_s"})
#                                                             no reply (errors come with the next request)
#   ("feed", sid, req, pcm) / ("skip", sid, req, seconds) / ("finish", sid, req)
#                                                             reply ("res", req, True, [asr.base segments])
#   ("close", sid)                                            no reply
#   ("stats", req)                                            reply ("res", req, True, {...})
#   ("stop",)
# worker -> parent: ("ready", pid, stats) once the models are loaded; ("res", req, ok, payload);
#   a failed request replies ("res", req, False, "message").
# Segments are asr.base's frozen PartialSegment / FinalSegment, timed on the call's clock (the stream's
# first sample is at "start_s"), so the same objects flow from the decoder to the caller.


class _Serial:
    """Runs one stream's tasks in order on a shared thread pool."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.executor = executor
        self.tasks: deque[Callable[[], None]] = deque()
        self.running = False
        self.lock = threading.Lock()

    def submit(self, task: Callable[[], None]) -> None:
        with self.lock:
            self.tasks.append(task)
            if self.running:
                return
            self.running = True
        self.executor.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self.lock:
                if not self.tasks:
                    self.running = False
                    return
                task = self.tasks.popleft()
            task()


class _Stream:
    """A call's decoder inside the worker and the queue that keeps its requests in order."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.serial = _Serial(executor)
        self.decoder: CallDecoder | None = None
        self.error: str | None = None


def worker_main(
    conn: Connection,
    languages: dict[str, dict[str, Any]],
    threads: int,
    options: dict[str, Any],
    max_idle_per_key: int = 8,
    rotate_after_s: float = 3600.0,
    prewarm: int = 1,
    max_idle_total: int = 12,
    idle_ttl_s: float = 1800.0,
    malloc_arenas: int = 2,
) -> None:
    """Entry point of a worker process (spawned); returns when the parent stops it or goes away.

    Memory: glibc's malloc arenas are capped at ``malloc_arenas`` (0 leaves glibc's default of 8 per core),
    the heap is trimmed when a call ends and when a recognizer is retired, and idle recognizers are bounded
    (``max_idle_per_key``, ``max_idle_total``, ``idle_ttl_s``: see RecognizerPool).
    """
    from asr.memory import limit_arenas, rss_mib, trim

    limit_arenas(malloc_arenas)  # before any decoding thread allocates
    import vosk

    from asr.decoder import CallDecoder, DecoderOptions, LanguageModel
    from asr.recognizers import RecognizerPool

    vosk.SetLogLevel(-1)
    pool = RecognizerPool(max_idle_per_key=max_idle_per_key, max_idle_total=max_idle_total,
                          idle_ttl_s=idle_ttl_s, rotate_after_s=rotate_after_s)
    models = {
        lang: LanguageModel(spec["model_dir"], tuple(spec["grammar"]) if spec.get("grammar") else None)
        for lang, spec in languages.items()
    }
    opts = DecoderOptions(**options)
    for lm in models.values():
        pool.load(lm.model_dir)
    for _ in range(max(0, prewarm)):  # the first recognizer of a model is slow to build: do it now
        warm = [pool.acquire(pool.key_for(lm.model_dir, lm.grammar)) for lm in models.values()]
        for rec in warm:
            pool.release(rec)
    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            try:
                conn.send(msg)
            except (OSError, ValueError):
                pass  # the parent is gone; the main loop ends on its own

    send(("ready", os.getpid(), pool.stats()))
    executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="asr")
    streams: dict[int, _Stream] = {}

    def do_open(stream: _Stream, spec: dict[str, Any]) -> None:
        try:
            phrases = tuple(spec["phrases"]) if spec.get("phrases") else None
            stream_opts = replace(opts, **spec["options"]) if spec.get("options") else opts
            candidates = tuple(spec["candidates"]) if spec.get("candidates") else None
            stream.decoder = CallDecoder(
                pool, models, language=spec.get("language", "auto"), input_rate=int(spec.get("input_rate", 8000)),
                phrases=phrases, options=stream_opts, candidates=candidates,
                start_s=float(spec.get("start_s", 0.0)),
            )
        except Exception as exc:  # reported with the stream's next request
            stream.error = f"cannot open a recognition stream: {exc}"

    def do_request(stream: _Stream, req: int, op: str, arg: bytes | float | None) -> None:
        if stream.error is not None or stream.decoder is None:
            send(("res", req, False, stream.error or "stream not open"))
            return
        decoder: CallDecoder = stream.decoder
        try:
            if op == "feed":
                segs = decoder.accept(arg if isinstance(arg, bytes) else b"")
            elif op == "skip":
                segs = decoder.skip(float(arg) if isinstance(arg, (int, float)) else 0.0)
            else:
                segs = decoder.finish()
        except Exception as exc:
            logger.exception("decoding failed")
            stream.error = f"decoding failed: {exc}"
            send(("res", req, False, stream.error))
            return
        send(("res", req, True, segs))

    def do_close(stream: _Stream, sid: int) -> None:
        if stream.decoder is not None:
            stream.decoder.close()
            stream.decoder = None
        streams.pop(sid, None)
        trim()  # what the call's decoding freed goes back to the OS

    sweep_every = min(60.0, idle_ttl_s) if idle_ttl_s > 0 else None
    next_sweep = time.monotonic() + (sweep_every or 0.0)
    while True:
        try:
            if sweep_every is not None:
                if time.monotonic() >= next_sweep:  # whether or not the pipe is busy
                    pool.sweep()
                    next_sweep = time.monotonic() + sweep_every
                if not conn.poll(max(0.0, next_sweep - time.monotonic())):
                    continue
            msg = conn.recv()
        except (EOFError, OSError):
            break
        op = msg[0]
        if op == "open":
            sid, spec = msg[1], msg[2]
            stream = streams[sid] = _Stream(executor)
            stream.serial.submit(functools.partial(do_open, stream, spec))
        elif op in ("feed", "skip", "finish"):
            sid, req = msg[1], msg[2]
            stream_or_none = streams.get(sid)
            if stream_or_none is None:
                send(("res", req, False, f"unknown stream {sid}"))
                continue
            arg = msg[3] if op in ("feed", "skip") else None
            stream_or_none.serial.submit(functools.partial(do_request, stream_or_none, req, op, arg))
        elif op == "close":
            sid = msg[1]
            stream_or_none = streams.get(sid)
            if stream_or_none is not None:
                stream_or_none.serial.submit(functools.partial(do_close, stream_or_none, sid))
        elif op == "stats":
            send(("res", msg[1], True, {**pool.stats(), "streams": len(streams), "pid": os.getpid(),
                                         "rss_mib": round(rss_mib()[0], 1), "options": asdict(opts)}))
        elif op == "stop":
            break
    executor.shutdown(wait=True, cancel_futures=False)
