"""A worker process killed with SIGKILL in the middle of deliveries loses none: started again over the same
database (SQLite and PostgreSQL), it delivers the rest; rows the killed process had leased are sent again after
their lease under the same delivery id."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from models.db import make_engine, make_sessionmaker
from tests.handover.webhook_harness import Receiver, confirm, make_org, states, until

SECRET = "restart-secret-" + "c" * 24
EVENTS = 30
ROOT = Path(__file__).resolve().parents[2]


async def _start_worker(db_url: str, tmp_path: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "CALLCARD_DATA_DIR": str(tmp_path / "var"),
        "CALLCARD_WEBHOOK_POLL_INTERVAL_S": "0.05",
        "CALLCARD_WEBHOOK_TIMEOUT_S": "0.5",  # so a lease lasts 2 x 0.5 + 5 = 6 s
        "CALLCARD_WEBHOOK_BACKOFF_BASE_S": "0.05",
        "CALLCARD_WEBHOOK_BACKOFF_MAX_S": "0.5",
        "CALLCARD_WEBHOOK_CONCURRENCY": "2",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handover.webhook_process", db_url, cwd=str(ROOT), env=env
    )


async def test_kill_9_mid_delivery_then_restart_delivers_everything(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    receiver = Receiver(secrets={"heat": SECRET}, slow_s=0.1)  # slow, so the kill lands mid-way
    await receiver.start()
    with sessions() as s:
        org = make_org(s, "heat", receiver.url, SECRET)
        for n in range(EVENTS):
            confirm(s, org.id, summary=f"№{n}")
    first = await _start_worker(db_url, tmp_path)
    second = None
    try:
        await until(lambda: len(receiver.ids()) >= 6, within=60, what="the first deliveries")
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        assert states(sessions)["delivered"] < EVENTS, "the kill came before the end"
        received_before = len(receiver.ids())
        second = await _start_worker(db_url, tmp_path)
        await until(lambda: states(sessions) == Counter(delivered=EVENTS), within=90, what="every event delivered")
        assert len(receiver.ids()) > received_before
        second.send_signal(signal.SIGTERM)  # a clean stop
        assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
        await receiver.stop()
    with sessions() as s:
        from sqlalchemy import select

        from models.handover import WebhookDelivery

        stored = {r.delivery_id for r in s.scalars(select(WebhookDelivery))}
    engine.dispose()
    arrived = receiver.ids()
    assert set(arrived) == stored and len(stored) == EVENTS
    assert all(g.signed for g in receiver.got)
    duplicates = sum(n - 1 for n in arrived.values())
    assert duplicates <= 2, "at most the two deliveries in flight at the kill arrive twice"
