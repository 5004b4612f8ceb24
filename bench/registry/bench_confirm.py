"""Card confirmation throughput: T threads confirming at once vs one thread, on SQLite and PostgreSQL.

Run: .venv/bin/python -m bench.registry.bench_confirm --cards 200 --threads 50 [--pg-url URL]

Each backend gets a fresh migrated database and 2 x ``cards`` drafts. The baseline confirms ``cards`` of them
one after another in one thread; the measured run confirms the other ``cards`` from ``threads`` threads at once,
each with its own session and connection. Both runs go through models.repo.cards.confirm_card, whose
per-year counter row serialises the numbering; the run checks the numbers are consecutive with no gap.
Without --pg-url a private PostgreSQL 15 cluster is started in a temporary directory (as the tests do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from models import migrations
from models.db import make_engine, make_sessionmaker
from models.records import Card
from models.repo import cards
from models.repo.cards import Actor

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ACTOR = Actor("bench", None)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _as_pg(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def private_postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free loopback port; yields its admin URL."""
    root = Path(tempfile.mkdtemp(prefix="callcard-bench-pg-"))
    (root / "sock").mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "sock", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run(
        _as_pg(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--locale=C.UTF-8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root / 'sock'} -c listen_addresses=127.0.0.1 -c max_connections=200"
    subprocess.run(
        _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_pg_database(admin_url: str, name: str) -> str:
    """Create database ``name`` (dropping an old one) and return its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def run_backend(url: str, n_cards: int, n_threads: int) -> dict[str, float]:
    """Baseline (one thread) and concurrent (n_threads) confirmation of n_cards each; returns timings."""
    migrations.upgrade(url)
    engine = make_engine(url, pool_size=n_threads + 5, max_overflow=0)
    maker = make_sessionmaker(engine)
    with maker() as s:
        ids = [
            cards.create_card(s, actor=ACTOR, values={"topic": "heating", "service": "heating_utility"}).id
            for _ in range(2 * n_cards)
        ]
    baseline_ids, concurrent_ids = ids[:n_cards], ids[n_cards:]

    start = time.perf_counter()
    with maker() as s:
        for card_id in baseline_ids:
            cards.confirm_card(s, card_id=card_id, actor=ACTOR, due_hours=24, now=NOW)
    sequential = time.perf_counter() - start

    chunks = [concurrent_ids[i::n_threads] for i in range(n_threads)]
    barrier = threading.Barrier(n_threads + 1)
    errors: list[BaseException] = []

    def worker(batch: list[int]) -> None:
        try:
            with maker() as s:
                barrier.wait()
                for card_id in batch:
                    cards.confirm_card(s, card_id=card_id, actor=ACTOR, due_hours=24, now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    concurrent = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} confirmations failed: {errors[0]!r}")
    with maker() as s:
        seqs = sorted(int(n) for n in s.scalars(select(Card.reg_seq).where(Card.reg_seq.is_not(None))) if n)
    engine.dispose()
    if seqs != list(range(1, 2 * n_cards + 1)):
        raise RuntimeError("registration numbers are not consecutive")
    return {
        "sequential_s": sequential,
        "concurrent_s": concurrent,
        "sequential_ms_per_card": sequential * 1000 / n_cards,
        "concurrent_ms_per_card": concurrent * 1000 / n_cards,
        "throughput_ratio": sequential / concurrent,
    }


def main() -> None:
    """Run the benchmark on both backends and print one line per backend (plain CLI output)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--pg-url", default=None, help="admin URL of a PostgreSQL server (CREATEDB needed)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run_backend(f"sqlite:///{tmp}/bench.db", args.cards, args.threads)
    if args.pg_url:
        results["postgresql"] = run_backend(fresh_pg_database(args.pg_url, "callcard_bench"), args.cards, args.threads)
    else:
        with private_postgres() as admin_url:
            results["postgresql"] = run_backend(
                fresh_pg_database(admin_url, "callcard_bench"), args.cards, args.threads
            )
    for backend, r in results.items():
        print(  # noqa: T201 - CLI output
            f"{backend:10s} 1 thread: {r['sequential_ms_per_card']:.1f} ms/card; {args.threads} threads: "
            f"{r['concurrent_ms_per_card']:.1f} ms/card; throughput x{r['throughput_ratio']:.2f}; "
            f"{2 * args.cards} numbers consecutive, no gaps"
        )


if __name__ == "__main__":
    main()
