"""Browser-test harness: the real app under uvicorn in a thread, live calls through a real CallSession,
headless Debian chromium through chromedriver, and screenshots."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from asr.base import FinalSegment, PartialSegment, Segment, Span, Word
from core.types import FRAME_BYTES, SAMPLE_RATE, SAMPLE_WIDTH

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
FRAME = FRAME_BYTES  # 20 ms


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # leave the test process's signal handlers alone
        yield


class LiveServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = _QuietServer(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="web-test-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app did not start under uvicorn")
            time.sleep(0.02)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a plain function on the server's loop (e.g. hub.publish, which is not thread-safe)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        if not self.loop.is_closed() and not self.thread.is_alive():
            self.loop.close()


# ---- a scripted recogniser: what the caller "says", timed against the audio fed ----------------------


@dataclass(frozen=True)
class Line:
    """One utterance of the script: text, language, and how long it takes to say."""

    text: str
    language: str = "ru"
    seconds: float = 2.0
    low: tuple[int, ...] = ()  # indexes of words recognised with low confidence


@dataclass
class ScriptedSpeechSession:
    """Turns audio time into the script's segments: partials while a line is being said, a final at its end.

    This stands in for Vosk only (the real decoder is tested in tests/asr with real audio); everything after
    recognition — CallSession, database, hub, WebSocket, browser — is the real code.
    """

    script: Sequence[Line]
    heard: float = 0.0  # seconds of audio fed
    index: int = 0
    start: float = 0.0
    finals: list[FinalSegment] = field(default_factory=list)
    gaps: list[Span] = field(default_factory=list)

    async def skip(self, seconds: float) -> Sequence[Segment]:
        """Audio lost before the next chunk: the script's clock moves on."""
        self.gaps.append(Span(self.heard, self.heard + seconds))
        self.heard += seconds
        return []

    def _final(self, line: Line, start: float) -> FinalSegment:
        tokens = line.text.split()
        step = line.seconds / max(1, len(tokens))
        words = tuple(
            Word(
                text=tok,
                start=round(start + i * step, 3),
                end=round(start + (i + 0.85) * step, 3),
                conf=0.42 if i in line.low else 0.93,
            )
            for i, tok in enumerate(tokens)
        )
        return FinalSegment(
            text=line.text,
            language=line.language,
            start=start,
            end=start + line.seconds,
            words=words,
            confidence=0.9,
            engine="scripted",
            model_version="script-1",
        )

    async def feed(self, pcm: bytes) -> Sequence[Segment]:
        self.heard += len(pcm) / BYTES_PER_SECOND
        out: list[Segment] = []
        while self.index < len(self.script):
            line = self.script[self.index]
            end = self.start + line.seconds
            if self.heard >= end:
                seg = self._final(line, self.start)
                self.finals.append(seg)
                out.append(seg)
                self.index += 1
                self.start = end
                continue
            tokens = line.text.split()
            said = int(len(tokens) * (self.heard - self.start) / line.seconds)
            if said:
                out.append(PartialSegment(text=" ".join(tokens[:said]), language=line.language, start=self.start))
            break
        return out

    async def finish(self) -> Sequence[Segment]:
        out: list[Segment] = []
        while self.index < len(self.script):
            line = self.script[self.index]
            out.append(self._final(line, self.start))
            self.start += line.seconds
            self.index += 1
        return out

    async def aclose(self) -> None:
        return None


class ScriptedSpeech:
    """A SpeechEngine whose sessions follow a script per caller (keyed by the call's uniqueid)."""

    def __init__(self) -> None:
        self.scripts: dict[str, Sequence[Line]] = {}
        self.sessions: dict[str, ScriptedSpeechSession] = {}

    def open_session(self, *, call_id: str, language: str = "auto", start_s: float = 0.0) -> ScriptedSpeechSession:
        session = ScriptedSpeechSession(self.scripts.get(call_id, ()), heard=start_s, start=start_s)
        self.sessions[call_id] = session
        return session

    def status(self) -> dict[str, object]:
        return {"status": "ok", "engine": "scripted"}

    async def aclose(self) -> None:
        return None


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(SAMPLE_RATE * seconds)


# ---- the browser --------------------------------------------------------------------------------------


def make_driver(profile: Path, *, width: int = 1280, height: int = 720) -> WebDriver:
    """Headless Debian chromium through chromedriver, a fresh profile, a 1280x720 viewport."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--autoplay-policy=no-user-gesture-required",
        "--lang=ru-RU",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    # Make the viewport (not the window) exactly width x height.
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    outer = driver.get_window_size()
    driver.set_window_size(outer["width"] + width - inner[0], outer["height"] + height - inner[1])
    return driver


def wait_for(driver: WebDriver, predicate: Callable[[WebDriver], Any], timeout: float = 30, what: str = "") -> Any:
    """Wait until ``predicate(driver)`` is truthy; fail with ``what`` in the message."""
    try:
        # An element re-rendered between finding and reading it is retried, like a missing one.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored).until(predicate)
    except TimeoutException as exc:
        shot(driver, f"timeout-{what or 'wait'}".replace(" ", "-"))
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from exc


def shot(driver: WebDriver, name: str) -> Path:
    """Save a screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def external_requests(driver: WebDriver, base: str) -> list[str]:
    """Every resource the page loaded from anywhere but callcard."""
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not (n.startswith(base) or n.startswith(base.replace("http", "ws", 1)))]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def texts_of(driver: WebDriver, css: str) -> list[str]:
    """The texts of all elements matching ``css``, read in one script so a re-render cannot interleave."""
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)"
    return [str(x) for x in driver.execute_script(script, css)]


def text_of(driver: WebDriver, css: str) -> str:
    """The text of the first element matching ``css`` ("" if none); immune to re-rendering races."""
    return str(driver.execute_script("return document.querySelector(arguments[0])?.textContent || ''", css))
