"""Frame latency with N concurrent calls: AudioSocket socket -> call processor, against bare asyncio TCP baselines.

Run: .venv/bin/python -m bench.telephony.bench_audiosocket --calls 100 --seconds 5 --rounds 3

Each of N concurrent streams sends 20 ms slin frames (320 bytes) at real-time pace from a separate process, as
Asterisk would; the first second is warm-up and is not measured. Every frame is stamped with CLOCK_MONOTONIC at
the moment it is written to the socket.
Three measurements in the same run, on the same machine, interleaved for ``--rounds`` rounds (latencies pooled;
server-side CPU time per frame reported per round, a figure the shared machine's load hardly moves):

  oneway   a bare asyncio TCP server reading the same AudioSocket frames (readexactly): stamp -> read
  echo     a bare asyncio TCP echo of the same frames: stamp -> echo back at the client (a round trip)
  callcard callcard's AudioSocketServer -> CallManager (bounded queue) -> the call's processor task:
           stamp -> processor receives the frame
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HEADER = struct.Struct(">BH")
FRAME = 320
WARMUP = 50  # frames (1 s) per stream left out while 100 connections are still being set up


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _summary(lat_ns: list[int]) -> dict[str, float]:
    ms = [v / 1e6 for v in lat_ns]
    return {
        "frames": len(ms),
        "p50_ms": round(_pct(ms, 50), 3),
        "p99_ms": round(_pct(ms, 99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


# ------------------------------------------------------------------------------------------ client process


async def _client_stream(host: str, port: int, media: str, frames: int, echo: bool, out: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(HEADER.pack(0x01, 16) + uuid.UUID(media).bytes)
    pad = b"\x00" * (FRAME - 8)

    async def read_echo() -> None:
        await reader.readexactly(19)
        for _ in range(frames):
            await reader.readexactly(3)
            payload = await reader.readexactly(FRAME)
            stamp, index = struct.unpack("<qi", payload[:12])
            if index >= WARMUP:
                out.append(time.monotonic_ns() - stamp)

    echo_task = asyncio.create_task(read_echo()) if echo else None
    start = time.monotonic()
    for i in range(frames):
        delay = start + i * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(HEADER.pack(0x10, FRAME) + struct.pack("<qi", time.monotonic_ns(), i) + pad[4:])
    writer.write(HEADER.pack(0x00, 0))
    await writer.drain()
    if echo_task is not None:
        await echo_task
    writer.close()


async def _client_main(host: str, port: int, medias: list[str], frames: int, echo: bool) -> None:
    out: list[int] = []
    started = time.monotonic()
    await asyncio.gather(*(_client_stream(host, port, m, frames, echo, out) for m in medias))
    print(json.dumps({"latencies": out, "wall_s": time.monotonic() - started}))  # noqa: T201


# ------------------------------------------------------------------------------------------ servers


async def _bare_server(echo: bool, lat: list[int]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(3)
                kind, length = HEADER.unpack(header)
                payload = await reader.readexactly(length) if length else b""
                if echo:
                    writer.write(header + payload)
                elif kind == 0x10:
                    stamp, index = struct.unpack("<qi", payload[:12])
                    if index >= WARMUP:
                        lat.append(time.monotonic_ns() - stamp)
                if kind == 0x00:
                    break
            await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _run_clients(port: int, medias: list[str], frames: int, echo: bool) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.telephony.bench_audiosocket",
        "--client",
        "--port",
        str(port),
        "--frames",
        str(frames),
        "--medias",
        ",".join(medias),
    ] + (["--echo"] if echo else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout))


async def _measure_bare(echo: bool, medias: list[str], frames: int) -> dict[str, Any]:
    lat: list[int] = []
    server = await _bare_server(echo, lat)
    port = server.sockets[0].getsockname()[1]
    cpu = time.process_time()
    result = await asyncio.to_thread(_run_clients, port, medias, frames, echo)
    cpu = time.process_time() - cpu
    server.close()
    await server.wait_closed()
    return {"lat": result["latencies"] if echo else lat, "wall_s": result["wall_s"], "cpu_s": cpu}


class _StampProcessor:
    def __init__(self, lat: list[int]) -> None:
        self.lat = lat

    async def run(self, frames: asyncio.Queue[Any]) -> Any:
        from calls.live import AudioChunk, LiveOutcome

        while isinstance(chunk := await frames.get(), AudioChunk):
            stamp, index = struct.unpack("<qi", chunk.pcm[:12])
            if index >= WARMUP:
                self.lat.append(time.monotonic_ns() - stamp)
        return LiveOutcome()


class _Callcard:
    """callcard's receiving side, as the composition root wires it (real registry on SQLite)."""

    async def start(self, workdir: Path) -> None:
        from calls.manager import CallManager
        from calls.registry import CallRegistry
        from calls.spool import Spool
        from models import migrations
        from models.db import make_engine, make_sessionmaker
        from telephony.audiosocket import AudioSocketServer, MediaDirectory

        url = f"sqlite:///{workdir / 'bench.db'}"
        migrations.upgrade(url)
        self.engine = make_engine(url)
        self.registry = CallRegistry(make_sessionmaker(self.engine), Spool(workdir / "spool"))
        self.lat: list[int] = []
        self.manager = CallManager(
            registry=self.registry, processor_factory=lambda info: _StampProcessor(self.lat), capacity=10_000
        )
        self.directory = MediaDirectory()
        self.server = AudioSocketServer(
            audio=self.manager, events=self.manager, directory=self.directory, host="127.0.0.1", port=0
        )
        await self.server.start()
        self.round = 0

    async def measure(self, medias: list[str], frames: int) -> dict[str, Any]:
        from telephony.events import CallEnded, CallStarted

        self.round += 1
        self.lat.clear()
        uids = [f"bench.{self.round}.{i}" for i in range(len(medias))]
        for uid, media in zip(uids, medias, strict=True):
            self.directory.register(media, uid)
            await self.manager.on_event(CallStarted(uniqueid=uid, at=datetime.now(UTC), media_uuid=media))
        await self.manager.flush()
        cpu = time.process_time()
        result = await asyncio.to_thread(_run_clients, self.server.bound_port, medias, frames, False)
        for uid in uids:
            await self.manager.on_event(CallEnded(uniqueid=uid, at=datetime.now(UTC)))
        while self.manager.calls:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        cpu = time.process_time() - cpu
        await self.manager.flush()
        for media in medias:
            self.directory.unregister(media)
        lost = len(medias) * (frames - WARMUP) - len(self.lat)
        return {"lat": list(self.lat), "wall_s": result["wall_s"], "cpu_s": cpu, "lost": lost}

    async def stop(self) -> None:
        await self.server.stop()
        await self.manager.stop()
        await self.registry.stop()
        self.engine.dispose()


async def _bench(calls: int, seconds: float, rounds: int) -> dict[str, Any]:
    frames = int(seconds * 50) + WARMUP
    measured = calls * (frames - WARMUP)
    pooled: dict[str, list[int]] = {"oneway": [], "echo_rtt": [], "callcard": []}
    per_round: list[dict[str, Any]] = []
    lost = 0
    with tempfile.TemporaryDirectory(prefix="callcard-bench-") as tmp:
        ours = _Callcard()
        await ours.start(Path(tmp))
        try:
            for _ in range(rounds):  # interleaved, so drifting machine load hits all three alike
                runs = {
                    "oneway": await _measure_bare(False, [str(uuid.uuid4()) for _ in range(calls)], frames),
                    "callcard": await ours.measure([str(uuid.uuid4()) for _ in range(calls)], frames),
                    "echo_rtt": await _measure_bare(True, [str(uuid.uuid4()) for _ in range(calls)], frames),
                }
                lost += runs["callcard"]["lost"]
                row: dict[str, Any] = {}
                for name, run in runs.items():
                    pooled[name] += run["lat"]
                    row[name] = {
                        **_summary(run["lat"]),
                        # server-side CPU per frame (all frames sent, warm-up included): independent of load
                        "server_cpu_us_per_frame": round(run["cpu_s"] * 1e6 / (calls * frames), 1),
                    }
                per_round.append(row)
        finally:
            await ours.stop()
    res: dict[str, Any] = {
        "calls": calls,
        "seconds_each": seconds,
        "rounds": rounds,
        "frames_measured_per_round": measured,
        "callcard_frames_lost": lost,
        **{name: _summary(values) for name, values in pooled.items()},
        "server_cpu_us_per_frame_median": {
            name: statistics.median(r[name]["server_cpu_us_per_frame"] for r in per_round) for name in pooled
        },
        "per_round": per_round,
    }
    for base in ("oneway", "echo_rtt"):
        res[f"ratio_vs_{base}"] = {
            q: round(res["callcard"][f"{q}_ms"] / max(res[base][f"{q}_ms"], 1e-6), 2) for q in ("p50", "p99")
        }
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--medias", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client_main("127.0.0.1", args.port, args.medias.split(","), args.frames, args.echo))
        return
    result = asyncio.run(_bench(args.calls, args.seconds, args.rounds))
    print(json.dumps(result, indent=2))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
