"""Memory bounds of the recognizer pool and the decoding worker, measured from /proc/<pid>/status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import vosk

from asr.base import FinalSegment
from asr.decoder import LanguageModel
from asr.engine import VoskSpeechEngine
from asr.memory import limit_arenas, rss_mib, trim
from asr.pool import WorkerPool
from asr.recognizers import RecognizerPool
from tests.asr.conftest import KNOWN, Say

SENTENCES = (
    "서울 시청 앞에서 버스를 기다리고 있습니다.",
    "우리 집 앞 도로에 물이 새고 있어요. 빨리 와 주세요.",
    "아파트 난방이 안 됩니다. 어제부터 계속 춥습니다.",
)


@pytest.fixture(scope="module")
def rpool(det_model: Path) -> Iterator[RecognizerPool]:
    """An in-process pool over the real Korean model (recognizers are cheap to build; nothing is decoded)."""
    vosk.SetLogLevel(-1)
    p = RecognizerPool(max_idle_per_key=2, max_idle_total=3, idle_ttl_s=0)
    p.load(det_model)
    yield p
    p.clear()


def test_memory_helpers_work_here() -> None:
    """This machine runs glibc: the arena cap and trimming are real calls, and RSS is read from /proc."""
    assert trim() is True
    assert limit_arenas(0) is False  # 0 means "leave glibc's default": nothing is set
    rss, peak = rss_mib()
    assert 10 < rss <= peak


def test_idle_recognizers_are_capped_per_key_and_in_all(rpool: RecognizerPool, det_model: Path) -> None:
    """Beyond the caps, released recognizers are deleted (the longest idle first), not kept."""
    free = rpool.key_for(det_model)
    gram = rpool.key_for(det_model, KNOWN)
    before = rpool.stats()
    recs = [rpool.acquire(free) for _ in range(3)]
    for r in recs:
        rpool.release(r)
    # per key: 2 kept, the third deleted at once
    assert len(rpool.idle[free]) == 2
    assert sum(not hasattr(r, "rec") for r in recs) == 1
    assert [hasattr(r, "rec") for r in recs] == [True, True, False]
    g = [rpool.acquire(gram) for _ in range(2)]
    for r in g:
        rpool.release(r)
    # in all: 3 kept; the longest idle (a free-decoding one) went to make room
    assert sum(len(v) for v in rpool.idle.values()) == 3
    assert len(rpool.idle[gram]) == 2 and len(rpool.idle[free]) == 1
    assert not hasattr(recs[0], "rec") and rpool.idle[free][0] is recs[1]
    after = rpool.stats()
    assert after["retired"] - before["retired"] == 2
    assert after["idle"] == 3
    # reuse still works: the most recently released of a key comes back first
    again = rpool.acquire(gram)
    assert again is g[1]
    assert after["reused"] + 1 == rpool.stats()["reused"]
    rpool.release(again)
    assert rpool.clear() == 3
    assert rpool.stats()["idle"] == 0


def test_idle_recognizers_older_than_the_ttl_are_swept(rpool: RecognizerPool, det_model: Path) -> None:
    """sweep() deletes only recognizers idle for longer than idle_ttl_s; a ttl of 0 sweeps nothing."""
    key = rpool.key_for(det_model)
    a, b = rpool.acquire(key), rpool.acquire(key)
    rpool.release(a)
    rpool.release(b)
    assert rpool.sweep() == 0  # idle_ttl_s=0: keep them however long
    rpool.idle_ttl_s = 10.0
    try:
        a.idle_since -= 60.0  # a has waited a minute, b just came back
        assert rpool.sweep() == 1
        assert not hasattr(a, "rec") and rpool.idle[key] == [b]
        assert rpool.sweep(now=time.monotonic() + 11.0) == 1
        assert rpool.idle[key] == []
    finally:
        rpool.idle_ttl_s = 0


def test_a_recognizer_past_its_rotation_age_is_deleted(rpool: RecognizerPool, det_model: Path) -> None:
    """A recognizer that decoded rotate_after_s of audio is not pooled again."""
    key = rpool.key_for(det_model)
    r = rpool.acquire(key)
    r.samples = int(rpool.rotate_after_s * key.rate) + 1
    rpool.release(r)
    assert not hasattr(r, "rec")
    assert rpool.idle.get(key, []) == []


async def _call(engine: VoskSpeechEngine, x: np.ndarray) -> int:
    s = engine.open_session(call_id="mem", language="ko")
    data = x.tobytes()
    words = 0
    for i in range(0, len(data), 16000):  # 1 s of 8 kHz audio per feed
        words += sum(len(seg.words) for seg in await s.feed(data[i:i + 16000]) if isinstance(seg, FinalSegment))
    words += sum(len(seg.words) for seg in await s.finish() if isinstance(seg, FinalSegment))
    await s.aclose()
    return words


async def test_worker_gives_memory_back_after_calls(det_model: Path, say: Say) -> None:
    """Two simultaneous calls grow the worker by their recognizers' lookahead caches; once the calls have
    ended and the pool retired its idle recognizers, the worker's RSS is back within 50 MiB of its RSS with
    the model loaded (glibc would otherwise keep the freed memory: about +150 MiB per call here).
    """
    parts = []
    for s in SENTENCES:
        parts += [say(s, 8000), np.zeros(4000, np.int16)]
    one = np.concatenate(parts)
    x = np.tile(one, int(np.ceil(15 * 8000 / one.size)))[: 15 * 8000]  # 15 s of speech per call
    pool = WorkerPool({"ko": LanguageModel(str(det_model))}, workers=1, threads=2, idle_ttl_s=1.0)
    await asyncio.to_thread(pool.start)
    try:
        pid = pool.pids()[0]
        assert pid is not None
        loaded = rss_mib(pid)[0]
        words = await asyncio.gather(_call(VoskSpeechEngine(pool), x), _call(VoskSpeechEngine(pool), x))
        assert min(words) > 10  # real decoding happened
        peak = rss_mib(pid)[1]
        assert peak - loaded > 100, f"two calls should grow the worker: loaded {loaded:.0f}, peak {peak:.0f} MiB"
        stats: dict = {}
        for _ in range(60):  # idle_ttl_s 1 s + a sweep period of 1 s
            await asyncio.sleep(0.25)
            stats = (await pool.stats())[0]
            if stats["idle"] == 0 and stats["streams"] == 0:
                break
        assert stats["idle"] == 0 and stats["retired"] >= 2, stats
        after = rss_mib(pid)[0]
        assert stats["rss_mib"] == pytest.approx(after, abs=5)
        assert after - loaded < 50, (
            f"worker RSS {after:.0f} MiB after the calls, {loaded:.0f} MiB with the model loaded (peak {peak:.0f})"
        )
    finally:
        await asyncio.to_thread(pool.close)
