"""Webhook outbox: delivery throughput and latency, and what a confirmation pays for the outbox row.

Run: .venv/bin/python -m bench.handover.bench_webhooks [--events 400] [--latency-cards 200] [--rate 20]
     [--confirmations 200] [--pg-url URL]

On SQLite and on PostgreSQL (a private PostgreSQL 15 cluster unless --pg-url), each on a fresh migrated database:

1. throughput: ``--events`` routed cards are confirmed with the worker stopped, then the worker (8 in flight)
   delivers them to a local receiver (uvicorn + starlette on 127.0.0.1, in this process); events/s from the
   worker's start to the last 200. Once with a fast receiver (answers at once), once with a slow one (50 ms each).
2. latency: with the worker running, ``--latency-cards`` cards are confirmed at ``--rate`` a second from a thread;
   each event's latency is from the confirmation's commit to the receiver reading the request (first arrival of
   its delivery id); p50 and p99. The worker is woken by the commit (its poll interval is 1 s).
3. cost of the outbox write: ``--confirmations`` confirm_card calls for an organisation that receives webhooks
   and as many for one that does not, interleaved in one run on one database; median and mean ms, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.registry.bench_confirm import fresh_pg_database, private_postgres
from handover.webhook_delivery import RetryPolicy
from handover.webhook_outbox import on_new_rows
from handover.webhook_signing import DELIVERY_HEADER
from handover.webhook_worker import WebhookWorker
from models import migrations
from models.db import make_engine, make_sessionmaker
from models.handover import Organisation, WebhookDelivery
from models.records import Card
from models.repo import cards
from models.repo.cards import Actor, Routing

ACTOR = Actor("bench", None)
DRAFT = {"topic": "heating", "service": "heating_utility", "emergency": "none", "summary": "Батарея суық"}


@dataclass
class Receiver:
    """A local webhook endpoint that notes when each delivery id first arrived (time.perf_counter)."""

    delay_s: float
    first_seen: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    async def _hook(self, request: Request) -> Response:
        await request.body()
        self.first_seen.setdefault(request.headers[DELIVERY_HEADER], time.perf_counter())
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return Response(status_code=204)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def _org(session: Session, code: str, url: str | None) -> int:
    org = Organisation(
        code=code,
        name_kk=code,
        name_ru=code,
        services=["heating_utility"],
        receives=["inbox", "webhook"] if url else ["inbox"],
        webhook_url=url,
        webhook_secret="bench-secret" if url else None,
    )
    session.add(org)
    session.commit()
    return org.id


def _router(org_id: int) -> cards.Router:
    def route(_session: Session, _card: Card) -> Routing:
        return Routing(org_id, "bench", "bench rule")

    return route


def _confirm(session: Session, org_id: int) -> Card:
    draft = cards.create_card(session, actor=ACTOR, values=DRAFT)
    return cards.confirm_card(session, card_id=draft.id, actor=ACTOR, due_hours=24, router=_router(org_id))


def _worker(sessions: sessionmaker[Session]) -> WebhookWorker:
    return WebhookWorker(
        sessions=sessions,
        policy=RetryPolicy(give_up_after=timedelta(hours=1), backoff_base_s=0.1, backoff_max_s=1.0),
        poll_interval_s=1.0,
        timeout_s=10.0,
        concurrency=8,
    )


def _pending(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.state != "delivered")) or 0
        )


async def _drain(sessions: sessionmaker[Session]) -> None:
    """Return once every outbox row is delivered (checked every 20 ms)."""
    for _ in range(30_000):
        if not await asyncio.to_thread(_pending, sessions):
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("deliveries did not finish within 10 minutes")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def throughput(sessions: sessionmaker[Session], delay_s: float, events: int, tag: str) -> float:
    receiver = Receiver(delay_s)
    await receiver.start()
    with sessions() as s:
        org = _org(s, f"tp-{tag}", receiver.url)
        for _ in range(events):
            _confirm(s, org)
    worker = _worker(sessions)
    started = time.perf_counter()
    await worker.start()
    await _drain(sessions)
    elapsed = time.perf_counter() - started
    await worker.stop()
    await receiver.stop()
    if len(receiver.first_seen) != events:
        raise RuntimeError(f"{len(receiver.first_seen)} of {events} events arrived")
    return events / elapsed


async def latency(sessions: sessionmaker[Session], delay_s: float, n: int, rate: float, tag: str) -> list[float]:
    receiver = Receiver(delay_s)
    await receiver.start()
    with sessions() as s:
        org = _org(s, f"lat-{tag}", receiver.url)
    worker = _worker(sessions)
    on_new_rows(sessions, worker.notify)
    await worker.start()
    committed: dict[int, float] = {}

    def confirm_at_rate() -> None:
        with sessions() as s:
            start = time.perf_counter()
            for i in range(n):
                wait = start + i / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                card = _confirm(s, org)
                committed[card.id] = time.perf_counter()

    await asyncio.to_thread(confirm_at_rate)
    await _drain(sessions)
    await worker.stop()
    await receiver.stop()
    with sessions() as s:
        ids = dict(
            (r.delivery_id, r.card_id)
            for r in s.scalars(select(WebhookDelivery).where(WebhookDelivery.card_id.in_(list(committed))))
        )
    return [(receiver.first_seen[d] - committed[c]) * 1000 for d, c in ids.items() if c is not None]


def confirmation_cost(sessions: sessionmaker[Session], n: int) -> tuple[list[float], list[float]]:
    """ms per confirm_card with and without an outbox row, interleaved (create_card is not timed)."""
    with sessions() as s:
        hooked = _org(s, "cost-webhook", "https://127.0.0.1:9/hook")
        plain = _org(s, "cost-inbox", None)
        with_row: list[float] = []
        without: list[float] = []
        for i in range(2 * n):
            org, out = (hooked, with_row) if i % 2 == 0 else (plain, without)
            draft = cards.create_card(s, actor=ACTOR, values=DRAFT)
            start = time.perf_counter()
            cards.confirm_card(s, card_id=draft.id, actor=ACTOR, due_hours=24, router=_router(org))
            out.append((time.perf_counter() - start) * 1000)
        rows = s.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.organisation_id == hooked)
        )
        if rows != n:
            raise RuntimeError(f"expected {n} outbox rows, found {rows}")
    return with_row, without


@dataclass
class Result:
    """One backend's numbers."""

    throughput: dict[str, float] = field(default_factory=dict)  # receiver -> events/s
    latency: dict[str, list[float]] = field(default_factory=dict)  # receiver -> ms per event
    with_row: list[float] = field(default_factory=list)
    without: list[float] = field(default_factory=list)


def run_backend(url: str, args: argparse.Namespace) -> Result:
    migrations.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    out = Result()
    try:
        for name, delay in (("fast", 0.0), ("slow", 0.05)):
            out.throughput[name] = asyncio.run(throughput(sessions, delay, args.events, name))
            out.latency[name] = asyncio.run(latency(sessions, delay, args.latency_cards, args.rate, name))
        out.with_row, out.without = confirmation_cost(sessions, args.confirmations)
    finally:
        engine.dispose()
    return out


def report(backend: str, r: Result) -> None:
    for name in ("fast", "slow"):
        lat = r.latency[name]
        print(  # noqa: T201 - CLI output
            f"{backend:10s} {name} receiver: {r.throughput[name]:.0f} events/s; latency p50 "
            f"{statistics.median(lat):.1f} ms, p99 {_percentile(lat, 0.99):.1f} ms ({len(lat)} events)"
        )
    mw, mo = statistics.median(r.with_row), statistics.median(r.without)
    aw, ao = statistics.fmean(r.with_row), statistics.fmean(r.without)
    print(  # noqa: T201 - CLI output
        f"{backend:10s} confirm_card: with webhook {mw:.2f} ms median ({aw:.2f} mean), without {mo:.2f} ms "
        f"({ao:.2f}); ratio x{mw / mo:.2f} median, x{aw / ao:.2f} mean ({len(r.with_row)} each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--latency-cards", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="confirmations a second in the latency run")
    parser.add_argument("--confirmations", type=int, default=200)
    parser.add_argument("--pg-url", default=None, help="admin URL of a PostgreSQL server (CREATEDB needed)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    args = parser.parse_args()
    print(f"started {datetime.now(UTC).isoformat(timespec='seconds')}")  # noqa: T201 - CLI output
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            report("sqlite", run_backend(f"sqlite:///{tmp}/bench.db", args))
    if args.only != "sqlite":
        if args.pg_url:
            report("postgresql", run_backend(fresh_pg_database(args.pg_url, "callcard_bench_webhooks"), args))
        else:
            with private_postgres() as admin_url:
                report("postgresql", run_backend(fresh_pg_database(admin_url, "callcard_bench_webhooks"), args))


if __name__ == "__main__":
    main()
