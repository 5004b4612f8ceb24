"""`callcard serve`'s composition root (callcard.app build_services/run_services) runs the webhook worker and
deadline control, wakes the worker on each commit that writes outbox rows (the poll interval here is a minute), and
stops both on shutdown."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from handover.lifecycle import Lifecycle
from tests.handover.webhook_harness import Receiver, confirm, free_port, make_org, states, until


async def test_serve_delivers_on_wake_up_sweeps_deadlines_and_stops_both(tmp_path: Path) -> None:
    from callcard.app import build_services, run_services
    from core.config import Settings
    from models import migrations

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "var",
        secret_key="test-secret-" + "x" * 32,
        api_bind=f"127.0.0.1:{free_port()}",
        api_enabled=False,
        ari_enabled=False,
        audiosocket_enabled=False,
        agi_enabled=False,
        asr_enabled=False,
        webhook_poll_interval_s=60.0,  # only the wake-up can make the delivery quick
        deadline_sweep_interval_s=0.2,
        deadline_due_soon_hours=2.0,
    )
    settings.data_dir.mkdir(parents=True)
    migrations.upgrade(settings.database_url)
    receiver = Receiver(secrets={"heat": "serve-secret"})
    await receiver.start()
    services = build_services(settings)
    assert services.webhooks is not None and services.deadlines is not None
    with services.sessions() as s:
        org = make_org(s, "heat", receiver.url, "serve-secret")
    stop = asyncio.Event()
    task = asyncio.create_task(run_services(services, stop=stop))
    try:
        await until(lambda: services.webhooks is not None and services.webhooks.state is Lifecycle.RUNNING, within=30)
        with services.sessions() as s:  # due in 1 h: deadline control finds it due soon (2 h before)
            confirm(s, org.id, now=datetime.now(UTC), due_hours=1)
        await until(lambda: states(services.sessions) == Counter(delivered=2), within=20, what="both events delivered")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await receiver.stop()
    assert services.webhooks.state is Lifecycle.STOPPED and services.deadlines.state is Lifecycle.STOPPED
    assert sorted(g.event for g in receiver.got) == ["card.due_soon", "card.routed"]
    assert all(g.signed for g in receiver.got)
