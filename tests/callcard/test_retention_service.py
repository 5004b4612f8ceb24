"""`callcard serve`'s composition root runs the daily retention job: built from the settings, started with the
service (the hour has come, no run today: it runs), stopped with it; a policy file with a mistake stops the start."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.config import Settings
from core.errors import ConfigError
from handover.lifecycle import Lifecycle
from models import migrations
from models.privacy import RetentionRun
from models.records import Call, Recording


def _settings(tmp_path: Path, **kw: object) -> Settings:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "var",
        secret_key="test-secret-" + "x" * 32,
        api_enabled=False,
        ari_enabled=False,
        audiosocket_enabled=False,
        agi_enabled=False,
        asr_enabled=False,
        retention_hour=0,  # due from midnight: due now, whatever the time
        **kw,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def test_serve_runs_the_daily_retention_once_and_stops_it(tmp_path: Path) -> None:
    from callcard.app import build_services, run_services

    settings = _settings(tmp_path)
    migrations.upgrade(settings.database_url)
    services = build_services(settings)
    assert services.retention is not None and services.retention.hour == 0
    old = settings.recordings_path / "old.wav"
    old.write_bytes(b"RIFF")
    with services.sessions() as s:
        call = Call(uniqueid="serve.old", state="ended", ended_at=datetime.now(UTC) - timedelta(days=400))
        s.add(call)
        s.flush()
        s.add(Recording(call_id=call.id, path="old.wav"))
        s.commit()

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_services(services, stop=stop))
        try:
            deadline = time.monotonic() + 30
            while services.retention is None or services.retention.runs == 0:
                assert time.monotonic() < deadline, "the retention job did not run within 30 s"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    assert services.retention.state is Lifecycle.STOPPED
    assert not old.exists()
    with services.sessions() as s:
        runs = list(s.scalars(select(RetentionRun)))
    assert [(r.state, r.removed["recording_files"]) for r in runs] == [("finished", 1)]


def test_a_bad_policy_file_stops_the_start(tmp_path: Path) -> None:
    from callcard.app import build_services

    bad = tmp_path / "retention.yaml"
    bad.write_text(
        "recordings: {action: delete, days: -1}\ntranscripts: {action: keep}\ncaller_numbers: {action: keep}\n"
    )
    settings = _settings(tmp_path, retention_policy_file=bad)
    migrations.upgrade(settings.database_url)
    with pytest.raises(ConfigError, match=r"`recordings.days` is -1; it must be between 1 and"):
        build_services(settings)
