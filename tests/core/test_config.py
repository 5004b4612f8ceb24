"""Settings: defaults derive from the data directory; production refuses the placeholder secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings, split_hostport
from core.errors import ConfigError


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path.as_posix()}/callcard.db"
    assert s.recordings_path == tmp_path / "recordings"
    assert s.spool_path == tmp_path / "spool"
    assert s.audiosocket_advertise == s.audiosocket_bind == "127.0.0.1:9092"
    assert s.agi_bind == "127.0.0.1:4573"
    assert s.ari_app == "callcard"


def test_environment_variables_use_the_callcard_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCARD_DATABASE_URL", "postgresql+psycopg://u:p@db/callcard")
    monkeypatch.setenv("CALLCARD_ARI_URL", "http://pbx:8088")
    monkeypatch.setenv("CALLCARD_AUDIOSOCKET_ADVERTISE", "10.0.0.5:9092")
    monkeypatch.setenv("CALLCARD_OPERATORS_CONTEXT", "queue-109")
    s = Settings(_env_file=None)
    assert s.database_url.startswith("postgresql+psycopg://")
    assert s.ari_url == "http://pbx:8088"
    assert s.audiosocket_advertise == "10.0.0.5:9092"
    assert s.operators_context == "queue-109"


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, environment="production")
    assert Settings(_env_file=None, environment="production", secret_key="x" * 40).environment == "production"


def test_hostport_parsing() -> None:
    assert split_hostport("127.0.0.1:9092", 1) == ("127.0.0.1", 9092)
    assert split_hostport(":4573", 1) == ("0.0.0.0", 4573)
    assert split_hostport("pbx", 8088) == ("pbx", 8088)
    with pytest.raises(ConfigError):
        split_hostport("pbx:http", 1)


def test_tokens_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from core.logging import RedactFilter, redact

    assert redact('"WebSocket /api/live?token=eyJ.abc.def" [accepted]') == '"WebSocket /api/live?token=***" [accepted]'
    assert redact("ws://h/ari/events?app=callcard&api_key=callcard:secret") == "ws://h/ari/events?app=callcard&api_key=***"
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s"',
                               ("127.0.0.1", "/api/live?token=abc"), None)
    RedactFilter().filter(record)
    assert record.getMessage() == '127.0.0.1 - "WebSocket /api/live?token=***"'
