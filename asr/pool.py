"""Parent side of the decoding workers: spawns them, pins streams, carries requests, restarts crashed ones."""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from asr.base import Segment
from asr.decoder import DecoderOptions, LanguageModel
from asr.worker import worker_main
from core.errors import AsrError

logger = logging.getLogger(__name__)


class WorkerCrashedError(AsrError):
    """The worker decoding this stream died; the audio it held is lost (the call's recording is not)."""


class StreamFailedError(AsrError):
    """The worker could not open or decode this stream (its other streams go on)."""


@dataclass(slots=True)
class _Pending:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    sid: int | None


@dataclass(slots=True)
class _Worker:
    index: int
    generation: int = 0
    process: mp.process.BaseProcess | None = None
    conn: Connection | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    outbox: queue.Queue[tuple[int, tuple[Any, ...]] | None] = field(default_factory=queue.Queue)
    pending: dict[int, _Pending] = field(default_factory=dict)
    streams: dict[int, str] = field(default_factory=dict)  # sid -> call id
    pid: int | None = None
    restarts: int = 0
    alive: bool = False


@dataclass(frozen=True, slots=True)
class StreamHandle:
    """A stream's place: which worker, in which of its lives."""

    worker: int
    generation: int
    sid: int


class WorkerPool:
    """Worker processes that each load every language's model once and decode many streams on threads."""

    def __init__(
        self,
        languages: dict[str, LanguageModel],
        *,
        workers: int = 1,
        threads: int = 2,
        options: DecoderOptions | None = None,
        start_timeout: float = 300.0,
        context: str = "spawn",
        max_idle_per_key: int = 8,
        rotate_after_s: float = 3600.0,
        max_idle_total: int = 12,
        idle_ttl_s: float = 1800.0,
        malloc_arenas: int = 2,
    ) -> None:
        if not languages:
            raise AsrError("a worker pool needs at least one language model")
        self.languages = languages
        self.n_workers = max(1, workers)
        self.threads = threads
        self.options = options or DecoderOptions()
        self.start_timeout = start_timeout
        self._ctx = mp.get_context(context)
        self._workers = [_Worker(i) for i in range(self.n_workers)]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self._spawned = False
        self._spec = {
            lang: {"model_dir": lm.model_dir, "grammar": list(lm.grammar) if lm.grammar else None}
            for lang, lm in languages.items()
        }
        self._extra = {"max_idle_per_key": max_idle_per_key, "rotate_after_s": rotate_after_s,
                       "max_idle_total": max_idle_total, "idle_ttl_s": idle_ttl_s, "malloc_arenas": malloc_arenas}

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn every worker and wait until each has loaded its models (blocking)."""
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Spawn every worker without waiting; requests queue until a worker is ready (idempotent)."""
        if self._spawned:
            return
        self._spawned = True
        for w in self._workers:
            self._spawn(w)
            threading.Thread(target=self._sender, args=(w,), name=f"asr-send-{w.index}", daemon=True).start()

    def ready(self) -> bool:
        """Whether every worker has finished loading (successfully or not)."""
        return all(w.ready.is_set() for w in self._workers)

    def wait_ready(self) -> None:
        """Block until every worker has loaded its models; raise AsrError if one could not."""
        deadline = time.monotonic() + self.start_timeout
        for w in self._workers:
            if not w.ready.wait(max(0.0, deadline - time.monotonic())):
                raise AsrError(f"ASR worker {w.index} did not load its models within {self.start_timeout:.0f} s")
            if not w.alive:
                raise AsrError(f"ASR worker {w.index} died while loading its models")

    def _spawn(self, w: _Worker) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(child, self._spec, self.threads, asdict(self.options)),
            kwargs=self._extra,
            name=f"callcard-asr-{w.index}",
            daemon=True,
        )
        proc.start()
        child.close()
        w.process, w.conn = proc, parent
        w.ready.clear()
        threading.Thread(target=self._receiver, args=(w, parent, w.generation), name=f"asr-recv-{w.index}",
                         daemon=True).start()

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            w.outbox.put(None)
            if w.conn is not None:
                try:
                    w.conn.send(("stop",))
                except (OSError, ValueError):
                    pass
        for w in self._workers:
            if w.process is not None:
                w.process.join(timeout=10)
                if w.process.is_alive():
                    w.process.kill()
                    w.process.join(timeout=5)
            if w.conn is not None:
                w.conn.close()
            self._fail_pending(w, AsrError("the speech engine was closed"))

    # -- streams ------------------------------------------------------------------------------------

    def open_stream(
        self, *, language: str, input_rate: int, phrases: tuple[str, ...] | None = None,
        candidates: tuple[str, ...] | None = None, options: dict[str, Any] | None = None, call_id: str = "",
        start_s: float = 0.0,
    ) -> StreamHandle:
        """Pin a new stream to the least busy worker and open it there; its first sample is at call time ``start_s``."""
        if self._closed:
            raise AsrError("the speech engine is closed")
        with self._lock:
            w = min(self._workers, key=lambda x: (not x.alive, len(x.streams)))
            sid = next(self._ids)
            w.streams[sid] = call_id or str(sid)
            generation = w.generation
        spec = {"language": language, "input_rate": input_rate, "phrases": list(phrases) if phrases else None,
                "candidates": list(candidates) if candidates else None, "options": options or None,
                "start_s": start_s}
        w.outbox.put((generation, ("open", sid, spec)))
        return StreamHandle(w.index, generation, sid)

    def current_generation(self, handle: StreamHandle) -> int:
        """The worker's present life; differs from ``handle.generation`` after a crash."""
        return self._workers[handle.worker].generation

    async def request(
        self, handle: StreamHandle, op: str, pcm: bytes | None = None, *, seconds: float = 0.0,
    ) -> list[Segment]:
        """Send "feed" (``pcm``), "skip" (``seconds`` of missing audio) or "finish" for a stream; await its segments."""
        w = self._workers[handle.worker]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        req = next(self._ids)
        with self._lock:
            if w.generation != handle.generation:
                raise WorkerCrashedError(f"ASR worker {w.index} was restarted; stream {handle.sid} is gone")
            w.pending[req] = _Pending(loop, future, handle.sid)
        msg: tuple[Any, ...]
        if op == "feed":
            msg = ("feed", handle.sid, req, pcm or b"")
        elif op == "skip":
            msg = ("skip", handle.sid, req, float(seconds))
        else:
            msg = ("finish", handle.sid, req)
        w.outbox.put((handle.generation, msg))
        result: list[Segment] = await future
        return result

    def close_stream(self, handle: StreamHandle) -> None:
        """Release a stream's recognizers in its worker (no reply)."""
        w = self._workers[handle.worker]
        with self._lock:
            w.streams.pop(handle.sid, None)
        if w.generation == handle.generation:
            w.outbox.put((handle.generation, ("close", handle.sid)))

    async def stats(self) -> list[dict[str, Any]]:
        """Each live worker's counters (models, idle recognizers, streams, pid)."""
        out = []
        loop = asyncio.get_running_loop()
        for w in self._workers:
            if not w.alive:
                out.append({"alive": False, "restarts": w.restarts})
                continue
            future: asyncio.Future[Any] = loop.create_future()
            req = next(self._ids)
            with self._lock:
                w.pending[req] = _Pending(loop, future, None)
            w.outbox.put((w.generation, ("stats", req)))
            out.append({**(await future), "alive": True, "restarts": w.restarts})
        return out

    def pids(self) -> list[int | None]:
        """Process ids of the workers (for tests and monitoring)."""
        return [w.pid for w in self._workers]

    def alive(self) -> int:
        """How many workers are up."""
        return sum(1 for w in self._workers if w.alive)

    # -- threads ------------------------------------------------------------------------------------

    def _sender(self, w: _Worker) -> None:
        """Writes to the worker's pipe off the event loop (a full pipe blocks this thread, not the loop)."""
        while True:
            item = w.outbox.get()
            if item is None:
                return
            generation, msg = item
            while not w.ready.wait(1.0):
                if self._closed:
                    return
            if not w.alive and generation == w.generation:
                if msg[0] in ("feed", "skip", "finish", "stats"):
                    req = msg[2] if msg[0] != "stats" else msg[1]
                    self._resolve(w, req, StreamFailedError(f"ASR worker {w.index} is not running"))
                continue
            if generation != w.generation or w.conn is None:
                if msg[0] in ("feed", "skip", "finish"):
                    self._resolve(w, msg[2], WorkerCrashedError(f"ASR worker {w.index} was restarted"))
                continue
            try:
                w.conn.send(msg)
            except (OSError, ValueError):
                pass  # the receiver sees the crash and fails what is pending

    def _receiver(self, w: _Worker, conn: Connection, generation: int) -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg[0] == "ready":
                w.pid, w.alive = msg[1], True
                w.ready.set()
            elif msg[0] == "res":
                _, req, ok, payload = msg
                self._resolve(w, req, payload if ok else StreamFailedError(str(payload)))
        if self._closed or generation != w.generation:
            return
        self._on_crash(w)

    def _on_crash(self, w: _Worker) -> None:
        code = w.process.exitcode if w.process is not None else None
        if w.process is not None:
            w.process.join(timeout=5)
            code = w.process.exitcode
        with self._lock:
            was_up = w.alive
            lost = sorted(w.streams.values())
            w.streams.clear()
            w.alive = False
            w.ready.clear()
            w.generation += 1
            w.restarts += 1
        logger.error(
            "ASR worker %d (pid %s) died with exit code %s; %d call(s) lost audio in flight: %s; restarting it",
            w.index, w.pid, code, len(lost), lost,
        )
        self._fail_pending(w, WorkerCrashedError(f"ASR worker {w.index} died (exit code {code})"))
        if self._closed:
            return
        if not was_up:
            logger.error("ASR worker %d died before its models were loaded; not restarting it", w.index)
            w.ready.set()
            return
        try:
            self._spawn(w)
        except Exception:
            logger.exception("could not restart ASR worker %d", w.index)
            w.ready.set()

    def _fail_pending(self, w: _Worker, exc: Exception) -> None:
        with self._lock:
            pending, w.pending = w.pending, {}
        for p in pending.values():
            p.loop.call_soon_threadsafe(_settle, p.future, exc)

    def _resolve(self, w: _Worker, req: int, value: Any) -> None:
        with self._lock:
            p = w.pending.pop(req, None)
        if p is not None:
            p.loop.call_soon_threadsafe(_settle, p.future, value)


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)
