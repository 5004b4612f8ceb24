"""What the webhook tests share: a real HTTP receiver on a real socket (uvicorn + starlette) that can be down,
flaky or fine, organisations with webhooks, confirmed cards, and waiting for a condition on the database."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from handover.webhook_delivery import RetryPolicy
from handover.webhook_signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verify
from handover.webhook_worker import WebhookWorker
from models.handover import Organisation, WebhookDelivery
from models.records import Card
from models.repo import cards
from models.repo.cards import Actor, Routing

OP = Actor("aigerim", None)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DRAFT = {"topic": "heating", "service": "heating_utility", "emergency": "none", "summary": "Батарея суық", "house": "7"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mode(StrEnum):
    FLAKY = "flaky"  # 500s and answers slower than the sender's timeout, at random
    FAILING = "failing"  # always 500
    FINE = "fine"


@dataclass(frozen=True, slots=True)
class Got:
    """One request the receiver read."""

    delivery_id: str
    event: str
    body: bytes
    signed: bool  # the signature verified with the organisation's secret
    user_agent: str
    content_type: str


@dataclass
class Receiver:
    """An organisation's webhook endpoint at http://127.0.0.1:<port>/hook (down until ``start``)."""

    secrets: dict[str, str]  # organisation code -> secret
    mode: Mode = Mode.FINE
    slow_s: float = 0.0  # every answer waits this long
    hang_s: float = 2.0  # a "timeout" answer in flaky mode waits this long
    seed: int = 13
    port: int = field(default_factory=free_port)
    got: list[Got] = field(default_factory=list)
    answered: Counter[int] = field(default_factory=Counter)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        code = json.loads(body)["card"]["organisation"]
        self.got.append(
            Got(
                delivery_id=request.headers.get(DELIVERY_HEADER, ""),
                event=request.headers.get(EVENT_HEADER, ""),
                body=body,
                signed=verify(body, self.secrets.get(code, ""), request.headers.get(SIGNATURE_HEADER)),
                user_agent=request.headers.get("user-agent", ""),
                content_type=request.headers.get("content-type", ""),
            )
        )
        if self.slow_s:
            await asyncio.sleep(self.slow_s)
        status = 200
        if self.mode is Mode.FAILING:
            status = 500
        elif self.mode is Mode.FLAKY:
            roll = self._random.random()
            if roll < 0.35:
                status = 500
            elif roll < 0.55:
                await asyncio.sleep(self.hang_s)  # longer than the sender waits
        self.answered[status] += 1
        return Response(status_code=status)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        config.timeout_graceful_shutdown = 1
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        server = self._server
        await until(lambda: server.started, within=10, what="the receiver listening")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    def ids(self) -> Counter[str]:
        """How many times each delivery id arrived."""
        return Counter(g.delivery_id for g in self.got)


def make_org(session: Session, code: str, url: str, secret: str, *, webhook: bool = True) -> Organisation:
    org = Organisation(
        code=code,
        name_kk=f"{code} ЖШС",
        name_ru=f"ТОО {code}",
        services=["heating_utility", "water_utility"],
        receives=["inbox", "webhook"] if webhook else ["inbox"],
        deadline_hours={},
        webhook_url=url if webhook else None,
        webhook_secret=secret if webhook else None,
    )
    session.add(org)
    session.commit()
    return org


def router_to(org_id: int | None) -> cards.Router:
    def route(_session: Session, _card: Card) -> Routing:
        return Routing(org_id, "rule-1" if org_id else None, "test rule" if org_id else "no rule matches")

    return route


def confirm(
    session: Session, org_id: int | None, *, now: datetime | None = None, due_hours: int = 24, **values: object
) -> Card:
    card = cards.create_card(session, actor=OP, values={**DRAFT, **values})
    return cards.confirm_card(
        session, card_id=card.id, actor=OP, due_hours=due_hours, now=now or datetime.now(UTC), router=router_to(org_id)
    )


def rows(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def states(sessions: sessionmaker[Session]) -> Counter[str]:
    return Counter(r.state for r in rows(sessions))


async def until(check: Callable[[], bool], *, within: float = 60.0, what: str = "condition") -> None:
    """Wait until ``check()`` (run in a thread: it may ask the database) is true; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def fast_worker(sessions: sessionmaker[Session], *, give_up_s: float = 3600.0, timeout_s: float = 0.3) -> WebhookWorker:
    """A worker with test-sized intervals: quick polls, short timeouts, back-off from 50 ms up to 400 ms."""
    return WebhookWorker(
        sessions=sessions,
        policy=RetryPolicy(give_up_after=timedelta(seconds=give_up_s), backoff_base_s=0.05, backoff_max_s=0.4),
        poll_interval_s=0.05,
        timeout_s=timeout_s,
        concurrency=4,
        db_backoff_max_s=0.5,
    )
