"""Inside a worker: one loaded Vosk Model per directory, and pools of reusable KaldiRecognizers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import vosk

from asr.audio import model_allows_upsample, model_sample_rate
from asr.memory import trim
from asr.models import model_version

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecognizerKey:
    """What makes two recognizers interchangeable: model, rate and phrase list."""

    model_dir: str
    rate: int
    grammar: str | None  # JSON list of phrases, or None for free decoding


@dataclass(slots=True)
class PooledRecognizer:
    """A KaldiRecognizer and how much audio it has decoded over its life (Vosk's times run on from it)."""

    key: RecognizerKey
    rec: vosk.KaldiRecognizer
    samples: int = 0  # fed over its whole life
    idle_since: float = 0.0  # monotonic time it was last returned to the pool

    def accept(self, pcm: bytes) -> bool:
        """Feed s16le samples at the key's rate; True when an utterance ended."""
        self.samples += len(pcm) // 2
        return bool(self.rec.AcceptWaveform(pcm))

    @property
    def seconds(self) -> float:
        """Audio decoded over its life, in seconds (Vosk's clock)."""
        return self.samples / self.key.rate


@dataclass(slots=True)
class RecognizerPool:
    """Idle recognizers per key, reused across calls: a fresh one decodes about twice as slowly at first.

    Each recognizer of a lookahead-graph model (Vosk's small models) builds its own cache of the composed
    graph as it decodes (about 130-210 MiB after its first minute of speech), which it keeps after Reset()
    and frees only when deleted. So the pool bounds what it keeps: at most ``max_idle_per_key`` idle
    recognizers per key and ``max_idle_total`` in all (the longest idle go first), none idle for longer than
    ``idle_ttl_s`` (see ``sweep``), none that decoded ``rotate_after_s`` of audio. A recognizer beyond those
    bounds is deleted at once and the heap trimmed, so the worker gives the memory back to the OS.
    """

    models: dict[str, vosk.Model] = field(default_factory=dict)
    idle: dict[RecognizerKey, list[PooledRecognizer]] = field(default_factory=dict)
    max_idle_per_key: int = 8
    max_idle_total: int = 12
    idle_ttl_s: float = 1800.0  # 0 keeps idle recognizers however long they wait
    rotate_after_s: float = 3600.0
    created: int = 0
    reused: int = 0
    retired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, model_dir: str | Path) -> vosk.Model:
        """Load (once) and return the Model for ``model_dir``."""
        key = str(Path(model_dir))
        with self._lock:
            model = self.models.get(key)
        if model is None:
            model = vosk.Model(key)
            with self._lock:
                model = self.models.setdefault(key, model)
            logger.info("loaded Vosk model %s", model_version(Path(key)))
        return model

    def key_for(
        self, model_dir: str | Path, grammar: Sequence[str] | None = None, native_rate: int | None = None
    ) -> RecognizerKey:
        """The key for a model directory and an optional phrase list.

        The rate is the model's own (conf/mfcc.conf), or ``native_rate`` when given, lower, and the model
        allows Vosk to upsample it itself.
        """
        gram = json.dumps(list(grammar), ensure_ascii=False) if grammar else None
        rate = model_sample_rate(model_dir)
        if native_rate is not None and native_rate < rate and model_allows_upsample(model_dir):
            rate = native_rate
        return RecognizerKey(str(Path(model_dir)), rate, gram)

    def acquire(self, key: RecognizerKey) -> PooledRecognizer:
        """An idle recognizer for ``key`` (the most recently used), or a new one."""
        with self._lock:
            stack = self.idle.get(key)
            if stack:
                self.reused += 1
                return stack.pop()
        model = self.load(key.model_dir)
        if key.grammar:
            rec = vosk.KaldiRecognizer(model, key.rate, key.grammar)
        else:
            rec = vosk.KaldiRecognizer(model, key.rate)
        rec.SetWords(True)
        with self._lock:
            self.created += 1
        return PooledRecognizer(key, rec)

    def release(self, pooled: PooledRecognizer) -> None:
        """Reset a recognizer and keep it for the next call; retire what the bounds no longer allow."""
        pooled.rec.FinalResult()  # ends any utterance, so Vosk's clock keeps counting every sample fed
        pooled.rec.Reset()
        pooled.idle_since = time.monotonic()
        drop: list[PooledRecognizer] = []
        with self._lock:
            stack = self.idle.setdefault(pooled.key, [])
            if pooled.seconds >= self.rotate_after_s or len(stack) >= self.max_idle_per_key:
                drop.append(pooled)
            else:
                stack.append(pooled)
                drop += self._over_total()
        self._retire(drop)

    def sweep(self, now: float | None = None) -> int:
        """Retire recognizers idle for longer than ``idle_ttl_s``; how many went."""
        if self.idle_ttl_s <= 0:
            return 0
        limit = (time.monotonic() if now is None else now) - self.idle_ttl_s
        drop: list[PooledRecognizer] = []
        with self._lock:
            for key, stack in self.idle.items():
                old = [p for p in stack if p.idle_since <= limit]
                if old:
                    self.idle[key] = [p for p in stack if p.idle_since > limit]
                    drop += old
        self._retire(drop)
        return len(drop)

    def clear(self) -> int:
        """Retire every idle recognizer (models stay loaded); how many went."""
        with self._lock:
            drop = [p for stack in self.idle.values() for p in stack]
            self.idle.clear()
        self._retire(drop)
        return len(drop)

    def _over_total(self) -> list[PooledRecognizer]:
        """Take the longest-idle recognizers out while more than ``max_idle_total`` are idle (lock held)."""
        out: list[PooledRecognizer] = []
        while sum(len(v) for v in self.idle.values()) > max(0, self.max_idle_total):
            key = min((k for k, v in self.idle.items() if v), key=lambda k: self.idle[k][0].idle_since)
            out.append(self.idle[key].pop(0))  # each stack's oldest is at its bottom
        return out

    def _retire(self, drop: list[PooledRecognizer]) -> None:
        """Delete recognizers now (their lookahead caches go with them) and return the memory to the OS."""
        if not drop:
            return
        for pooled in drop:
            logger.debug("retiring a recognizer after %.0f s of audio", pooled.seconds)
            del pooled.rec  # the last reference: Vosk frees the recognizer here, whoever still holds ``pooled``
        with self._lock:
            self.retired += len(drop)
        trim()

    def stats(self) -> dict[str, int]:
        """Counters for status and benchmarks."""
        with self._lock:
            return {
                "models": len(self.models),
                "idle": sum(len(v) for v in self.idle.values()),
                "created": self.created,
                "reused": self.reused,
                "retired": self.retired,
            }
