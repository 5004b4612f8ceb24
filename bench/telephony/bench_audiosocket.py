"""Frame latency with N concurrent calls: AudioSocket socket -> call processor, against bare asyncio TCP baselines.

Run: .venv/bin/python -m bench.telephony.bench_audiosocket --calls 100 --seconds 5

Each of N concurrent streams sends 20 ms slin frames (320 bytes) at real-time pace from a separate process, as
Asterisk would; the first second is warm-up and is not measured. Every frame is stamped with CLOCK_MONOTONIC at
the moment it is written to the socket.
Three measurements in the same run, on the same machine:

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


async def _measure_bare(echo: bool, medias: list[str], frames: int) -> tuple[list[int], float]:
    lat: list[int] = []
    server = await _bare_server(echo, lat)
    port = server.sockets[0].getsockname()[1]
    result = await asyncio.to_thread(_run_clients, port, medias, frames, echo)
    server.close()
    await server.wait_closed()
    return (result["latencies"] if echo else lat), result["wall_s"]


class _StampProcessor:
    def __init__(self, lat: list[int]) -> None:
        self.lat = lat

    async def run(self, frames: asyncio.Queue[bytes | None]) -> None:
        while (chunk := await frames.get()) is not None:
            stamp, index = struct.unpack("<qi", chunk[:12])
            if index >= WARMUP:
                self.lat.append(time.monotonic_ns() - stamp)


async def _measure_callcard(medias: list[str], frames: int, workdir: Path) -> tuple[list[int], float, int]:
    from calls.manager import CallManager
    from calls.registry import CallRegistry
    from calls.spool import Spool
    from models import migrations
    from models.db import make_engine, make_sessionmaker
    from telephony.audiosocket import AudioSocketServer, MediaDirectory
    from telephony.events import CallEnded, CallStarted

    url = f"sqlite:///{workdir / 'bench.db'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    registry = CallRegistry(make_sessionmaker(engine), Spool(workdir / "spool"))
    lat: list[int] = []
    manager = CallManager(registry=registry, processor_factory=lambda info: _StampProcessor(lat))
    directory = MediaDirectory()
    server = AudioSocketServer(audio=manager, events=manager, directory=directory, host="127.0.0.1", port=0)
    await server.start()
    for i, media in enumerate(medias):
        uid = f"bench.{i}"
        directory.register(media, uid)
        await manager.on_event(CallStarted(uniqueid=uid, at=datetime.now(UTC), media_uuid=media))
    result = await asyncio.to_thread(_run_clients, server.bound_port, medias, frames, False)
    for i in range(len(medias)):
        await manager.on_event(CallEnded(uniqueid=f"bench.{i}", at=datetime.now(UTC)))
    while manager.calls:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    dropped = len(medias) * (frames - WARMUP) - len(lat)
    await server.stop()
    await registry.stop()
    engine.dispose()
    return lat, result["wall_s"], dropped


async def _bench(calls: int, seconds: float) -> dict[str, Any]:
    frames = int(seconds * 50) + WARMUP
    medias = [str(uuid.uuid4()) for _ in range(calls)]
    with tempfile.TemporaryDirectory(prefix="callcard-bench-") as tmp:
        oneway, wall_a = await _measure_bare(False, medias, frames)
        echo, wall_b = await _measure_bare(True, medias, frames)
        ours, wall_c, dropped = await _measure_callcard(medias, frames, Path(tmp))
    expected = calls * (frames - WARMUP)
    res = {
        "calls": calls,
        "seconds_each": seconds,
        "frames_expected": expected,
        "callcard_frames_lost": dropped,
        "oneway": _summary(oneway),
        "echo_rtt": _summary(echo),
        "callcard": _summary(ours),
        "wall_s": {"oneway": round(wall_a, 2), "echo": round(wall_b, 2), "callcard": round(wall_c, 2)},
    }
    res["ratio_vs_oneway"] = {
        "p50": round(res["callcard"]["p50_ms"] / max(res["oneway"]["p50_ms"], 1e-6), 2),
        "p99": round(res["callcard"]["p99_ms"] / max(res["oneway"]["p99_ms"], 1e-6), 2),
    }
    res["ratio_vs_echo"] = {
        "p50": round(res["callcard"]["p50_ms"] / max(res["echo_rtt"]["p50_ms"], 1e-6), 2),
        "p99": round(res["callcard"]["p99_ms"] / max(res["echo_rtt"]["p99_ms"], 1e-6), 2),
    }
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--medias", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client_main("127.0.0.1", args.port, args.medias.split(","), args.frames, args.echo))
        return
    result = asyncio.run(_bench(args.calls, args.seconds))
    print(json.dumps(result, indent=2))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
