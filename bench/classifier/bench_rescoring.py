"""Re-scoring latency per final segment: incremental scorer vs full re-classification of the call so far.

Run: .venv/bin/python bench/classifier/bench_rescoring.py [--calls 40] [--segments 30] [--model DIR]
"""

# ruff: noqa: T201  (a command-line benchmark: its output is the result)

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import numpy as np

from classifier.corpus import default_corpus_dir, heldout_split, load_split
from classifier.loader import load_proposer
from core.taxonomy import load_taxonomy


def _segments(texts: list[str], n: int, rng: random.Random) -> list[str]:
    """A long call: utterances from the held-out set cut into 4-12 word segments, as Vosk finals come."""
    words: list[str] = []
    while len(words) < n * 8:
        words.extend(rng.choice(texts).split())
    out: list[str] = []
    i = 0
    while len(out) < n:
        k = rng.randint(4, 12)
        out.append(" ".join(words[i : i + k]))
        i += k
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--segments", type=int, default=30)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    taxonomy = load_taxonomy()
    proposer = load_proposer("sklearn", args.model, taxonomy)
    texts = [e.text for e in load_split(default_corpus_dir(), heldout_split(default_corpus_dir()), taxonomy)]
    rng = random.Random(args.seed)
    calls = [_segments(texts, args.segments, rng) for _ in range(args.calls)]
    proposer.propose("прогрев")  # warm caches
    inc_ms: list[float] = []
    full_ms: list[float] = []
    partial_ms: list[float] = []
    mismatches = 0
    for segs in calls:
        scorer = proposer.open_call()
        for k, seg in enumerate(segs):
            half = " ".join(seg.split()[: max(1, len(seg.split()) // 2)])
            t0 = time.perf_counter()
            scorer.check_partial(half)
            partial_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            inc = scorer.add_final(seg)
            inc_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            full = proposer.propose(" ".join(segs[: k + 1]))
            full_ms.append((time.perf_counter() - t0) * 1000)
            mismatches += (inc.topic, inc.emergency, inc.address) != (full.topic, full.emergency, full.address)
    n = len(inc_ms)
    print(f"model {proposer.version}; {args.calls} calls x {args.segments} segments = {n} re-scorings")
    print(f"incremental add_final: p50 {_pct(inc_ms, 50):.3f} ms  p99 {_pct(inc_ms, 99):.3f} ms  "
          f"mean {statistics.fmean(inc_ms):.3f} ms")
    print(f"full re-classification: p50 {_pct(full_ms, 50):.3f} ms  p99 {_pct(full_ms, 99):.3f} ms  "
          f"mean {statistics.fmean(full_ms):.3f} ms")
    print(f"ratio full/incremental: p50 {_pct(full_ms, 50) / _pct(inc_ms, 50):.1f}x  "
          f"p99 {_pct(full_ms, 99) / _pct(inc_ms, 99):.1f}x")
    last = [full_ms[i] for i in range(n) if (i % args.segments) == args.segments - 1]
    last_inc = [inc_ms[i] for i in range(n) if (i % args.segments) == args.segments - 1]
    print(f"at the last segment of each call: incremental p50 {_pct(last_inc, 50):.3f} ms, "
          f"full p50 {_pct(last, 50):.3f} ms")
    print(f"check_partial (emergency hint on a partial): p50 {_pct(partial_ms, 50):.3f} ms  "
          f"p99 {_pct(partial_ms, 99):.3f} ms")
    print(f"incremental vs full disagreements (topic/emergency/address): {mismatches} of {n}")


if __name__ == "__main__":
    main()
