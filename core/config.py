"""The one Settings object: every knob callcard has, read from CALLCARD_* variables or a .env file."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

PLACEHOLDER_SECRET = "change-me-in-production"


def split_hostport(value: str, default_port: int) -> tuple[str, int]:
    """Split "host:port" (or ":port", or "host") into its parts."""
    host, sep, port = value.rpartition(":")
    if not sep:
        return value or "127.0.0.1", default_port
    try:
        return host or "0.0.0.0", int(port)
    except ValueError as exc:
        raise ConfigError(f"bad host:port {value!r}") from exc


class Settings(BaseSettings):
    """callcard's configuration. Built once, in the composition root, and passed down as values."""

    model_config = SettingsConfigDict(
        env_prefix="CALLCARD_",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""  # default: SQLite file under data_dir
    recordings_dir: Path | None = None  # default: data_dir/recordings
    spool_dir: Path | None = None  # default: data_dir/spool
    models_dir: Path | None = None  # default: data_dir/models (Vosk models)
    asr_model_ru: Path | None = None  # explicit Vosk model dir for Russian
    asr_model_kk: Path | None = None  # explicit Vosk model dir for Kazakh
    asr_model_size: Literal["small", "big"] = "small"
    asr_workers: int = 1
    asr_threads_per_worker: int = 2  # decoding threads per worker process (Vosk releases the GIL)
    asr_idle_recognizers: int = 12  # warm recognizers a worker keeps between calls (each holds its graph cache)
    asr_idle_ttl_s: float = 1800.0  # an idle recognizer older than this is freed
    # Calls decoded live at once on this node; 0: the measured per-core figure times the cores. Calls beyond it
    # are recorded and transcribed after hang-up (the desk says so).
    live_capacity: int = 0
    asr_enabled: bool = True
    classifier_dir: Path | None = None  # default: the model shipped in the package
    classifier_backend: Literal["sklearn", "transformers"] = "sklearn"
    taxonomy_path: Path | None = None  # a site's edited taxonomy.yaml; default: bundled
    deadlines_path: Path | None = None

    secret_key: str = PLACEHOLDER_SECRET
    token_ttl_minutes: int = 12 * 60
    max_body_bytes: int = 1_000_000
    # The operators' live WebSocket (WS /api/live): how often an open socket re-checks its user and token (so
    # deactivation, a role or password change and logout close it), how many sockets one user may hold open
    # on this process, and the largest message a client may send (the desk sends only small pings; uvicorn
    # refuses larger frames with close code 1009 before buffering them).
    live_recheck_interval_s: float = 5.0
    live_max_sockets_per_user: int = 5
    ws_max_message_bytes: int = 4096
    local_timezone: str = "Asia/Almaty"  # the city's clock: registration years and due dates are counted in it
    qa_sample_per_operator_week: int = 5  # calls drawn at random per operator per ISO week for QA review

    api_enabled: bool = True
    api_bind: str = "127.0.0.1:8000"

    ari_enabled: bool = False
    ari_url: str = "http://127.0.0.1:8088"
    ari_user: str = "callcard"
    ari_password: str = ""
    ari_app: str = "callcard"
    operators_context: str = "operators"
    operators_extension: str = "s"
    # Transcribe the operator's voice too (ARI: a second snoop spy=out streamed live; FastAGI: MixMonitor's r()/t()
    # files decoded after the call). Off: only the caller's voice, as before issue 15.
    operator_voice: bool = True
    emergency_context: str = "emergency"  # 101..104 are dialled as extensions in this context
    emergency_transfer_context: str = "callcard-transfer"  # Local-channel context running ChannelRedirect

    audiosocket_enabled: bool = True
    audiosocket_bind: str = "127.0.0.1:9092"
    audiosocket_advertise: str = ""  # host:port Asterisk connects to; default: the bind address

    agi_enabled: bool = True
    agi_bind: str = "127.0.0.1:4573"
    # Asterisk addresses and networks that may connect to FastAGI and AudioSocket (neither protocol has any
    # authentication), e.g. "10.0.0.5,10.0.0.0/24". Empty: loopback only when bound to loopback; a server
    # bound wider without a list takes anyone, with a warning at start.
    telephony_allow: str = ""

    # The reconciler ends calls whose channels are gone (after every start and ARI reconnection, and periodically).
    reconcile_interval_s: float = 60.0
    reconcile_idle_recording_s: float = 120.0  # a MixMonitor file not written for this long and never closed
    reconcile_max_call_age_s: float = 4 * 3600.0  # no ARI, no recording: an open call older than this is ended

    # Signed webhooks (handover.webhook_worker): how often the outbox is polled (a new row wakes it sooner), the
    # POST's timeout, how long a delivery is retried (exponential back-off with full jitter from
    # webhook_backoff_base_s up to webhook_backoff_max_s) before it is marked failed, and deliveries in flight.
    webhook_poll_interval_s: float = 1.0
    webhook_timeout_s: float = 10.0
    webhook_give_up_after_s: float = 24 * 3600.0
    webhook_backoff_base_s: float = 1.0
    webhook_backoff_max_s: float = 3600.0
    webhook_concurrency: int = 8
    # Deadline control (handover.deadline_runner): how often cards are swept, and the escalation steps (hours
    # relative to the due date: due soon before it, reminded and escalated after it).
    deadline_sweep_interval_s: float = 60.0
    deadline_due_soon_hours: float = 4.0
    deadline_remind_after_hours: float = 4.0
    deadline_escalate_after_hours: float = 24.0

    # The retention policy (privacy.retention): a site's YAML file (default: core/data/retention.yaml), and the
    # hour of the city's day (local_timezone) at which the daily job applies it.
    retention_policy_file: Path | None = None
    retention_hour: int = Field(default=3, ge=0, le=23)

    log_level: str = "INFO"
    extra_origins: list[str] = Field(default_factory=list)

    @field_validator("telephony_allow")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for item in (i.strip() for i in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as exc:
                    raise ValueError(f"CALLCARD_TELEPHONY_ALLOW: {item!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if self.environment == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("CALLCARD_SECRET_KEY must be set to a real secret in production")
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'callcard.db').as_posix()}"
        if self.recordings_dir is None:
            self.recordings_dir = self.data_dir / "recordings"
        if self.spool_dir is None:
            self.spool_dir = self.data_dir / "spool"
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        if not self.audiosocket_advertise:
            self.audiosocket_advertise = self.audiosocket_bind
        return self

    @property
    def recordings_path(self) -> Path:
        """recordings_dir, resolved (never None after validation)."""
        assert self.recordings_dir is not None
        return self.recordings_dir

    @property
    def spool_path(self) -> Path:
        """spool_dir, resolved."""
        assert self.spool_dir is not None
        return self.spool_dir

    @property
    def models_path(self) -> Path:
        """models_dir, resolved."""
        assert self.models_dir is not None
        return self.models_dir
