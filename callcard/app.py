"""Composition root: builds every part of callcard from Settings and runs them together in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.context import ApiContext
from asr.base import SpeechEngine
from asr.factory import build_speech_engine
from asr.models import resolve_model_dirs
from callcard.retention_runner import RetentionRunner
from callcard.retention_runner import runner_from_settings as retention_from_settings
from calls.hub import CardHub
from calls.manager import CallManager
from calls.postcall import FileDecoder, PostCallWorker
from calls.quality_scoring import CallScoring
from calls.reconciler import Reconciler
from calls.registry import CallRegistry
from calls.session import session_factory
from calls.spool import Spool
from classifier.address import StreetIndex
from classifier.base import CardProposer
from core.config import Settings, split_hostport
from core.file_modes import private_dir, tree, wider_than_private
from core.taxonomy import Taxonomy, load_taxonomy
from core.types import Speaker
from handover.deadline_runner import DeadlineRunner, runner_from_settings
from handover.webhook_outbox import on_new_rows
from handover.webhook_worker import WebhookWorker, worker_from_settings
from models.db import make_engine, make_sessionmaker, sqlite_path
from telephony.allowlist import PeerAllowList, parse_allow_list
from telephony.bridge import TelephonyBridge
from telephony.inventory import TelephonyInventory

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Every long-lived part of a running callcard, built once."""

    settings: Settings
    taxonomy: Taxonomy
    db: Engine
    sessions: sessionmaker[Session]
    hub: CardHub
    speech: SpeechEngine | None
    proposer: CardProposer | None
    registry: CallRegistry
    manager: CallManager
    postcall: PostCallWorker
    bridge: TelephonyBridge
    api: FastAPI
    status: dict[str, str] = field(default_factory=dict)
    reconciler: Reconciler | None = None
    webhooks: WebhookWorker | None = None  # delivers the webhook outbox
    deadlines: DeadlineRunner | None = None  # deadline control's periodic sweep
    retention: RetentionRunner | None = None  # the retention policy's daily run
    scoring: CallScoring | None = None  # QA's automatic checks, run on each call once its transcript is settled


def load_proposer(settings: Settings, taxonomy: Taxonomy) -> CardProposer | None:
    """The card classifier the settings ask for; None (cards by hand) when it cannot load, said once."""
    try:
        from classifier.loader import load_proposer as load

        return load(settings.classifier_backend, settings.classifier_dir, taxonomy)
    except Exception as exc:  # the service must run without proposals rather than not at all
        logger.error("card proposals are off: %s (run `callcard classifier train`)", exc)
        return None


def load_speech(settings: Settings) -> SpeechEngine | None:
    """The Vosk engine for Kazakh and Russian, or None when recognition is switched off."""
    if not settings.asr_enabled:
        logger.info("speech recognition is switched off (CALLCARD_ASR_ENABLED=false)")
        return None
    explicit: dict[str, Path | None] = {"ru": settings.asr_model_ru, "kk": settings.asr_model_kk}
    dirs = resolve_model_dirs(models_dir=settings.models_path, explicit=explicit, size="small")
    big: dict[str, Path | None] | None = None
    if settings.asr_model_size == "big":
        big = resolve_model_dirs(models_dir=settings.models_path, size="big")
    return build_speech_engine(
        model_dirs=dirs,
        workers=settings.asr_workers,
        big_model_dirs=big,
        threads_per_worker=settings.asr_threads_per_worker,
        idle_recognizers=settings.asr_idle_recognizers,
        idle_ttl_s=settings.asr_idle_ttl_s,
    )


WIDE_PATHS_NAMED = 20  # the start-up warning names this many paths, then counts the rest


def private_paths(settings: Settings) -> list[Path]:
    """Every path callcard keeps private data in: the data folder, keys, the SQLite files, recordings, spool."""
    paths = [settings.data_dir, settings.data_dir / "secret_key", settings.data_dir / "initial-admin.txt"]
    database = sqlite_path(settings.database_url)
    if database is not None:
        paths += [database.parent, *(database.with_name(database.name + s) for s in ("", "-wal", "-shm", "-journal"))]
    for root in (settings.recordings_path, settings.spool_path):
        paths += tree(root)
    return list(dict.fromkeys(paths))


def prepare_private_folders(settings: Settings) -> None:
    """Create the data, recordings and spool folders 0700 (folders that exist keep their mode)."""
    for folder in (settings.data_dir, settings.recordings_path, settings.spool_path):
        private_dir(folder)


def warn_about_wide_paths(settings: Settings) -> list[tuple[Path, int]]:
    """Log a warning naming each private path that group or others may read; return them."""
    wide = wider_than_private(private_paths(settings))
    for path, mode in wide[:WIDE_PATHS_NAMED]:
        kind = "folder" if path.is_dir() else "file"
        logger.warning(
            "%s %s is mode %04o: group or others may use it; it holds private data (chmod %s it)",
            kind,
            path,
            mode,
            "700" if kind == "folder" else "600",
        )
    if len(wide) > WIDE_PATHS_NAMED:
        logger.warning("%d more private paths are readable by group or others", len(wide) - WIDE_PATHS_NAMED)
    return wide


def apply_telephony_allow_list(settings: Settings, bridge: TelephonyBridge) -> None:
    """Give the FastAGI and AudioSocket servers the Asterisk addresses they may accept (CALLCARD_TELEPHONY_ALLOW)."""
    networks = parse_allow_list(settings.telephony_allow)
    for server in (bridge.fastagi, bridge.audiosocket):
        if server is not None:
            server.allow = PeerAllowList(networks, bound_host=server.host)


def build_services(settings: Settings) -> Services:
    """Wire the parts. Nothing listens or connects until ``run_services``.

    First the start-up checks: private folders are made 0700, and every private path that is wider is named in
    a warning.
    """
    prepare_private_folders(settings)
    warn_about_wide_paths(settings)
    taxonomy = load_taxonomy(settings.taxonomy_path, settings.deadlines_path)
    db = make_engine(settings.database_url)
    sessions = make_sessionmaker(db)
    hub = CardHub()
    speech = load_speech(settings)
    proposer = load_proposer(settings, taxonomy)
    registry = CallRegistry(sessions, Spool(settings.spool_path))
    factory = session_factory(speech=speech, proposer=proposer, writer=registry, hub=hub)
    operator_factory = (
        session_factory(speech=speech, proposer=None, writer=registry, hub=hub, speaker=Speaker.OPERATOR)
        if settings.operator_voice
        else None
    )
    manager = CallManager(
        registry=registry,
        processor_factory=factory,
        operator_factory=operator_factory,
        hub=hub,
        capacity=settings.live_capacity or None,
    )
    decoder: FileDecoder | None = speech if hasattr(speech, "transcribe_file") else None  # type: ignore[assignment]
    postcall = PostCallWorker(
        decoder=decoder,
        proposer=proposer,
        sessions=sessions,
        writer=registry,
        hub=hub,
        live_finished=manager.live_finished,
    )
    manager.on_live_finished = postcall.request
    scoring = CallScoring(sessions)
    postcall.on_settled = scoring.request
    bridge = TelephonyBridge(
        events=manager,
        audio=manager,
        call_ids=manager,
        recordings_dir=settings.recordings_path,
        ari_enabled=settings.ari_enabled,
        ari_url=settings.ari_url,
        ari_user=settings.ari_user,
        ari_password=settings.ari_password,
        ari_app=settings.ari_app,
        operators_context=settings.operators_context,
        operators_extension=settings.operators_extension,
        emergency_context=settings.emergency_context,
        transfer_context=settings.emergency_transfer_context,
        audiosocket_enabled=settings.audiosocket_enabled,
        audiosocket_bind=settings.audiosocket_bind,
        audiosocket_advertise=settings.audiosocket_advertise,
        agi_enabled=settings.agi_enabled,
        agi_bind=settings.agi_bind,
        operator_voice=settings.operator_voice,
    )
    apply_telephony_allow_list(settings, bridge)
    ctx = ApiContext(
        settings=settings,
        sessionmaker=sessions,
        taxonomy=taxonomy,
        hub=hub,
        transfer=bridge.transfer,
        writer=registry,
        components=component_reporters(settings, speech, proposer, bridge, registry, manager, postcall),
        probes={"telephony": bridge.readiness.report} if bridge.readiness is not None else {},
        street_names=tuple(street.name for street in StreetIndex.load().streets),
    )
    api = create_app(ctx)
    reconciler = Reconciler(  # ends calls whose channels are gone, from the database's open calls
        sessions=sessions,
        asterisk=TelephonyInventory(
            settings.recordings_path,
            ari_client=bridge.ari_client,
            ari_app=bridge.ari_app,
            idle_s=settings.reconcile_idle_recording_s,
        ),
        events=manager,
        interval_s=settings.reconcile_interval_s,
        max_age_s=settings.reconcile_max_call_age_s,
        ready=lambda: not registry.spooling,  # a recording whose call still waits in the spool is no orphan
    )
    if bridge.ari_app is not None:
        bridge.ari_app.reconnect_hooks.append(reconciler.run_once)
    webhooks, deadlines = build_handover_workers(settings, sessions)
    return Services(
        reconciler=reconciler,
        webhooks=webhooks,
        deadlines=deadlines,
        retention=retention_from_settings(settings, sessions),
        scoring=scoring,
        settings=settings,
        taxonomy=taxonomy,
        db=db,
        sessions=sessions,
        hub=hub,
        speech=speech,
        proposer=proposer,
        registry=registry,
        manager=manager,
        postcall=postcall,
        bridge=bridge,
        api=api,
    )


def build_handover_workers(settings: Settings, sessions: sessionmaker[Session]) -> tuple[WebhookWorker, DeadlineRunner]:
    """The webhook worker (woken by every commit that writes outbox rows) and the deadline control runner."""
    webhooks = worker_from_settings(settings, sessions)
    on_new_rows(sessions, webhooks.notify)
    return webhooks, runner_from_settings(settings, sessions)


def component_reporters(
    settings: Settings,
    speech: SpeechEngine | None,
    proposer: CardProposer | None,
    bridge: TelephonyBridge,
    registry: CallRegistry,
    manager: CallManager | None = None,
    postcall: PostCallWorker | None = None,
) -> dict[str, Callable[[], dict[str, object]]]:
    """What GET /api/ready shows of each part."""

    def asr() -> dict[str, object]:
        if speech is None:
            return {"status": "off"}
        detail = dict(speech.status())
        usable = [lang for lang in ("ru", "kk") if detail.get(lang) == "ok"]
        return {"status": "ok" if usable else "missing", **detail}

    def classifier() -> dict[str, object]:
        if proposer is None:
            return {"status": "missing", "detail": "run `callcard classifier train`"}
        return {"status": "ok", "version": proposer.version}

    def telephony() -> dict[str, object]:
        return {
            "status": "ok",
            "ari": {"enabled": True, "connected": bridge.ari_client.events_connected}
            if bridge.ari_client is not None
            else "off",
            "audiosocket": settings.audiosocket_bind if settings.audiosocket_enabled else "off",
            "agi": settings.agi_bind if settings.agi_enabled else "off",
            "spooling": registry.spooling,
        }

    def calls() -> dict[str, object]:
        """Live capacity and the durable path: what waits in the spool, what waits for post-call decoding."""
        out: dict[str, object] = {
            "status": "degraded" if registry.spooling else "ok",
            "spooling": registry.spooling,
            "spooled_writes": len(registry.spool) if registry.spooling else 0,
            "rejected_writes": registry.rejected,
        }
        if manager is not None:
            out.update(
                live_calls=manager.live_count,
                live_capacity=manager.capacity,
                followed_calls=len(manager.calls),
                deferred_calls=manager.deferred_calls,
                demoted_calls=manager.demoted_calls,
            )
        if postcall is not None:
            out.update(postcall_queued=postcall.queued, postcall_failed=postcall.failed)
        return out

    return {"asr": asr, "classifier": classifier, "telephony": telephony, "calls": calls}


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: run_services owns SIGINT/SIGTERM and stops every part."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_services(services: Services, *, stop: asyncio.Event | None = None) -> None:
    """Run the API, the telephony bridge and the call registry until ``stop`` is set or a signal arrives."""
    settings = services.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await services.registry.start()
    await services.postcall.start()
    await services.bridge.start()
    if services.reconciler is not None:
        await services.reconciler.start()
    for worker in (services.webhooks, services.deadlines, services.retention):
        if worker is not None:
            await worker.start()
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    if settings.api_enabled:
        host, port = split_hostport(settings.api_bind, 8000)
        config = uvicorn.Config(
            services.api,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            log_config=None,
            ws_max_size=settings.ws_max_message_bytes,
        )
        server = _EmbeddedServer(config)
        server_task = asyncio.create_task(server.serve(), name="api")
        logger.info("callcard is listening on http://%s:%d", host, port)
    try:
        if server_task is not None:
            stopper = asyncio.create_task(stop.wait(), name="stop")
            done, _ = await asyncio.wait({server_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if server_task in done and server_task.exception() is not None:
                raise server_task.exception()  # type: ignore[misc]
        else:
            await stop.wait()
    finally:
        logger.info("callcard is stopping")
        if server is not None:
            server.should_exit = True
            if server_task is not None:
                with contextlib.suppress(Exception):
                    await server_task
        if services.reconciler is not None:
            await services.reconciler.stop()
        for worker in (services.retention, services.deadlines, services.webhooks):
            if worker is not None:
                await worker.stop()
        await services.bridge.stop()
        await services.manager.stop()
        await services.postcall.stop()
        if services.scoring is not None:
            await services.scoring.stop()
        await services.registry.stop()
        if services.speech is not None:
            await services.speech.aclose()
        services.db.dispose()
