"""Fixtures for the browser tests: the real app on a free loopback port over a migrated SQLite file, users of
each role, live calls through the call manager and CallSession, the ARI peer for transfers, and chromium."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.web.harness import FRAME, Line, LiveServer, ScriptedSpeech, make_driver, silence, wait_for

logger = logging.getLogger(__name__)

PASSWORDS = {"operator": "op-pass-109", "operator2": "op2-pass-109", "qa": "qa-pass-109", "admin": "admin-pass-109"}
NAMES = {
    "operator": ("aigerim", "Айгерім Серікқызы", "operator"),
    "operator2": ("daniyar", "Данияр Омаров", "operator"),
    "qa": ("saule", "Сәуле Қасымова", "qa"),
    "admin": ("admin", "Администратор", "admin"),
}


def _load_proposer(taxonomy: Any) -> tuple[Any, str]:
    """The classifier's shipped model, loaded the way callcard.app loads it; else the keyword stand-in."""
    try:
        from classifier.loader import load_proposer

        return load_proposer("sklearn", None, taxonomy), "classifier (shipped sklearn model)"
    except Exception as exc:  # the model is not trained/shipped yet
        from tests.web.stand_ins import KeywordProposer

        logger.warning("browser tests use the keyword stand-in proposer: %s", exc)
        return KeywordProposer(taxonomy), "keyword stand-in"


@dataclass
class Web:
    """The running app and what the tests drive it with."""

    url: str
    server: LiveServer
    ctx: Any
    speech: ScriptedSpeech
    manager: Any
    peer: Any
    transfer_path: str
    proposer_path: str
    users: dict[str, Any] = field(default_factory=dict)

    # -- calls ------------------------------------------------------------------------------------

    def start_call(self, caller: str, script: Sequence[Line], *, uniqueid: str | None = None) -> str:
        """A caller rings: the ARI peer gets the channel (for transfers), the manager starts the session."""
        from telephony.events import CallAnswered, CallStarted

        if uniqueid is None:
            uniqueid = self.server.call(self._peer_call(caller)) if self.peer is not None else uuid.uuid4().hex
        self.speech.scripts[uniqueid] = list(script)
        now = datetime.now(UTC)
        self.server.call(
            self.manager.on_event(
                CallStarted(
                    uniqueid=uniqueid,
                    at=now,
                    caller_number=caller,
                    channel=f"PJSIP/trunk-{uniqueid[-6:]}",
                    dialled_number="109",
                    source="ari",
                    media_uuid=str(uuid.uuid4()),  # the caller's voice comes as an AudioSocket stream would
                )
            )
        )
        self.server.call(self.manager.on_event(CallAnswered(uniqueid=uniqueid, at=now)))
        return uniqueid

    async def _peer_call(self, caller: str) -> str:
        return str(self.peer.new_call(caller, announce=False))

    def say(self, uniqueid: str, seconds: float) -> None:
        """Feed ``seconds`` of the caller's audio in 20 ms frames, as the AudioSocket server would."""
        pcm = silence(seconds)

        def push() -> None:
            for i in range(0, len(pcm), FRAME):
                self.manager.push_audio(uniqueid, pcm[i : i + FRAME])

        self.server.soon(push)

    def end_call(self, uniqueid: str) -> None:
        from telephony.events import CallEnded

        self.server.call(self.manager.on_event(CallEnded(uniqueid=uniqueid, at=datetime.now(UTC), cause="16")))

    def call_id(self, uniqueid: str) -> int:
        from models.repo import calls

        with self.ctx.sessionmaker() as s:
            call = calls.find_call(s, uniqueid=uniqueid)
            assert call is not None
            return int(call.id)

    # -- browser ------------------------------------------------------------------------------------

    def login(self, driver: WebDriver, who: str, path: str = "/desk") -> None:
        """Log in through the login page (fresh session) and land on ``path``."""
        driver.get(f"{self.url}/login")
        driver.execute_script("localStorage.clear(); sessionStorage.clear();")
        driver.delete_all_cookies()
        driver.get(f"{self.url}/login?next={path}")
        username = NAMES[who][0]
        user = wait_for(driver, lambda d: d.find_element(By.ID, "username"), what="login form")
        user.send_keys(username)
        driver.find_element(By.ID, "password").send_keys(PASSWORDS[who])
        driver.find_element(By.ID, "login-submit").click()
        wait_for(driver, lambda d: urlsplit(d.current_url).path == path, what=f"{who} lands on {path}")
        wait_for(
            driver, lambda d: d.execute_script("return !!localStorage.getItem('callcard.token')"), what="session saved"
        )


@pytest.fixture(scope="module")
def web(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The real app (create_app) under uvicorn, the call manager with real CallSessions, the ARI peer."""
    from api.app import create_app
    from api.context import ApiContext
    from api.security import hash_password
    from calls.hub import CardHub
    from calls.session import session_factory
    from classifier.address import StreetIndex
    from core.config import Settings
    from core.taxonomy import load_taxonomy
    from models.db import make_engine, make_sessionmaker
    from models.repo import users

    root = tmp_path_factory.mktemp("web")
    db = root / "callcard.db"
    shutil.copyfile(sqlite_template, db)
    settings = Settings(
        _env_file=None,
        data_dir=root / "var",
        database_url=f"sqlite:///{db}",
        secret_key="web-test-secret-key-0123456789-abcdefghij",
    )
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    taxonomy = load_taxonomy()
    hub = CardHub()
    streets = tuple(street.name for street in StreetIndex.load().streets)
    ctx = ApiContext(settings=settings, sessionmaker=sessions, taxonomy=taxonomy, hub=hub, street_names=streets)
    server = LiveServer(create_app(ctx))
    server.start()

    made: dict[str, Any] = {}
    with sessions() as s:
        for key, (username, full_name, role) in NAMES.items():
            made[key] = users.create_user(
                s,
                username=username,
                full_name=full_name,
                role=role,
                password_hash=hash_password(PASSWORDS[key]),
                ui_language="ru",
            )

    # Telephony: the ARI peer stands in for Asterisk; callcard's own AriTransfer talks to it.
    peer = None
    transfer_path = "recording stand-in"
    try:
        from telephony.ari import AriClient
        from telephony.transfer import AriTransfer
        from tests.peers.ari_peer import AriPeer

        peer = AriPeer()
        server.call(peer.start())
        client = AriClient(peer.url, peer.user, peer.password, "callcard")
        ctx.transfer = AriTransfer(
            client,
            emergency_context=settings.emergency_context,
            transfer_context=getattr(settings, "transfer_context", "callcard-transfer"),
        )
        transfer_path = "telephony.transfer.AriTransfer -> tests/peers/ari_peer.AriPeer"
    except Exception as exc:
        from tests.web.stand_ins import RecordingTransfer

        logger.warning("transfers go to a recording stand-in: %s", exc)
        ctx.transfer = RecordingTransfer()

    speech = ScriptedSpeech()
    proposer, proposer_path = _load_proposer(taxonomy)
    manager = _manager(sessions, hub, speech, proposer, root, server, session_factory)
    web = Web(
        url=server.url,
        server=server,
        ctx=ctx,
        speech=speech,
        manager=manager,
        peer=peer,
        transfer_path=transfer_path,
        proposer_path=proposer_path,
        users=made,
    )
    try:
        yield web
    finally:
        server.call(manager.stop(), timeout=60)
        server.call(manager.registry.stop(), timeout=30)
        if peer is not None:
            server.call(peer.close())
        server.stop()
        engine.dispose()


def _manager(
    sessions: Any, hub: Any, speech: Any, proposer: Any, root: Path, server: LiveServer, session_factory: Any
) -> Any:
    from calls.manager import CallManager
    from calls.registry import CallRegistry
    from calls.spool import Spool

    async def build() -> Any:
        registry = CallRegistry(sessions, Spool(root / "spool"))
        await registry.start()
        factory = session_factory(speech=speech, proposer=proposer, writer=registry, hub=hub)
        return CallManager(registry=registry, processor_factory=factory, hub=hub, capacity=100)

    return server.call(build())


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless chromium (Debian's) with a fresh profile and a 1280x720 viewport."""
    driver = make_driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()
