"""FastAGI server for dialplan-driven sites: pyst2's AGI over TCP, one thread per connection, events to the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from asterisk.agi import AGI, AGIError, AGIHangup, AGIInvalidCommand, AGIResultHangup, AGIUsageError, re_kv

from core.errors import ProtocolError
from telephony.audiosocket import MediaDirectory
from telephony.events import (
    CallEnded,
    CallEvent,
    CallEventSink,
    CallIdResolver,
    CallStarted,
    RecordingFinished,
)
from telephony.recording import wait_for_complete_wav

logger = logging.getLogger(__name__)

MAX_LINE = 8192  # bytes; a longer AGI line is malformed
MAX_ENV_LINES = 200
CALL_ID_VARIABLE = "CALLCARD_CALL_ID"


class AgiEnvError(ProtocolError):
    """The agi_* environment was truncated or malformed."""


class _LogStream:
    """pyst2 writes its trace to ``stderr``; send it to the debug log instead."""

    def write(self, text: str) -> int:
        if text.strip():
            logger.debug("pyst2: %s", text.rstrip())
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


class SocketAGI(AGI):
    """pyst2's AGI over a socket's file objects, without the SIGHUP handler (threads cannot install it).

    It also refuses a truncated environment (the connection closed before the blank line) or a line without
    "key: value", and it understands the ``HANGUP`` line FastAGI sends when the channel hangs up.
    """

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO) -> None:  # noqa: D107 - pyst2 reads the env here
        self.stdin = rfile
        self.stdout = _TextWriter(wfile)
        self.stderr = _LogStream()
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self.hungup = False
        self._get_agi_env()

    def _readline(self) -> str | None:
        raw = self.stdin.readline(MAX_LINE + 1)
        if not raw:
            return None
        if len(raw) > MAX_LINE:
            raise AgiEnvError(f"AGI line longer than {MAX_LINE} bytes")
        if not raw.endswith(b"\n"):
            return None  # the connection closed inside a line
        try:
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise AgiEnvError("AGI line is not UTF-8") from exc

    def _get_agi_env(self) -> None:
        for _ in range(MAX_ENV_LINES):
            line = self._readline()
            if line is None:
                raise AgiEnvError(f"AGI environment truncated after {len(self.env)} variables")
            if line == "":
                return
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or not key or not key.replace("_", "").isalnum():
                raise AgiEnvError(f"malformed AGI environment line {line[:80]!r}")
            self.env[key] = value.strip()
        raise AgiEnvError(f"AGI environment longer than {MAX_ENV_LINES} lines")

    def get_result(self, stdin: Any = None) -> dict[str, Any]:
        """Read a command's result, skipping (and noting) FastAGI's ``HANGUP`` notification."""
        while True:
            line = self._readline()
            if line is None:
                raise AGIHangup("AGI connection closed")
            if line.strip() == "HANGUP":
                self.hungup = True
                continue
            break
        code_text, _, response = line.partition(" ")
        if not code_text.isdigit():
            raise AGIError(f"malformed AGI result line {line[:80]!r}")
        code = int(code_text)
        if code == 200:
            # pyst2's own parsing: "result=1 (16)" -> {"result": ("1", "16")}
            result: dict[str, Any] = {"result": ("", "")}
            for key, value, data in re_kv.findall(response):
                result[key] = (value, data)
                if data == "hangup":
                    self.hungup = True
                    raise AGIResultHangup("the caller hung up during the command")
            return result
        if code == 510:
            raise AGIInvalidCommand(response)
        if code == 511:
            self.hungup = True
            raise AGIHangup(response or "command not permitted on a dead channel")
        if code == 520:
            while (more := self._readline()) is not None and not more.startswith("520 End"):
                pass
            raise AGIUsageError(response)
        raise AGIError(f"unexpected AGI result {line[:80]!r}")


class _TextWriter:
    """pyst2 writes str; the socket wants bytes."""

    def __init__(self, wfile: BinaryIO) -> None:
        self._wfile = wfile

    def write(self, text: str) -> int:
        self._wfile.write(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        self._wfile.flush()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class FastAgiServer:
    """Listens for ``AGI(agi://host:port/<script>)``; ``incoming`` registers a call, ``hangup`` finalises it.

    ``incoming`` (optional first argument: the UUID of an AudioSocket stream that will carry the caller's
    voice) emits CallStarted from the agi_* variables, starts ``MixMonitor`` into the recordings directory,
    sets ``CALLCARD_CALL_ID`` and returns to the dialplan. ``hangup`` (from the ``h`` extension) emits
    CallEnded, waits for MixMonitor to close the file and emits RecordingFinished.
    """

    def __init__(
        self,
        *,
        events: CallEventSink,
        directory: MediaDirectory,
        recordings_dir: Path,
        host: str = "127.0.0.1",
        port: int = 4573,
        call_ids: CallIdResolver | None = None,
        max_threads: int = 32,
        read_timeout: float = 30.0,
        recording_timeout: float = 30.0,
    ) -> None:
        """Configure the server; ``recordings_dir`` must be the same path on the Asterisk host."""
        self.events = events
        self.directory = directory
        self.recordings_dir = recordings_dir
        self.host = host
        self.port = port
        self.call_ids = call_ids
        self.read_timeout = read_timeout
        self.recording_timeout = recording_timeout
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="fastagi")
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.handled = 0
        self.rejected = 0

    @property
    def bound_port(self) -> int:
        """The port actually listened on."""
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    async def start(self) -> None:
        """Listen and accept on the event loop; each connection is served in the thread pool."""
        self._loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self._sock = sock
        self._acceptor = asyncio.create_task(self._accept_loop(), name="fastagi-accept")
        logger.info("FastAGI server listening on %s:%d", self.host, self.bound_port)

    async def stop(self) -> None:
        """Stop accepting, close open connections, wait for their threads."""
        if self._acceptor is not None:
            self._acceptor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acceptor
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        await asyncio.to_thread(self._pool.shutdown, wait=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept_loop(self) -> None:
        assert self._loop is not None and self._sock is not None
        while True:
            try:
                conn, addr = await self._loop.sock_accept(self._sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                logger.error("FastAGI accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(True)
            conn.settimeout(self.read_timeout)
            with self._lock:
                self._open.add(conn)
            self._loop.run_in_executor(self._pool, self._handle, conn, addr)

    # ------------------------------------------------------------------------------ connection (thread)

    def _handle(self, conn: socket.socket, addr: Any) -> None:
        try:
            with conn, conn.makefile("rb") as rfile, conn.makefile("wb") as wfile:
                try:
                    agi = SocketAGI(rfile, wfile)
                except AgiEnvError as exc:
                    self.rejected += 1
                    logger.error("FastAGI request from %s rejected: %s", addr, exc)
                    return
                self._route(agi, addr)
        except (OSError, TimeoutError) as exc:
            self.rejected += 1
            logger.error("FastAGI connection from %s failed: %s", addr, exc)
        except Exception:
            self.rejected += 1
            logger.exception("FastAGI connection from %s failed", addr)
        finally:
            with self._lock:
                self._open.discard(conn)

    def _route(self, agi: SocketAGI, addr: Any) -> None:
        env = agi.env
        script = env.get("agi_network_script", "").split("?", 1)[0].strip("/")
        uniqueid = env.get("agi_uniqueid", "").strip()
        if not uniqueid:
            self.rejected += 1
            logger.error("FastAGI request %r from %s has no agi_uniqueid; ignored", script, addr)
            return
        try:
            if script == "incoming":
                self._incoming(agi, uniqueid)
            elif script == "hangup":
                self._hangup(agi, uniqueid)
            else:
                self.rejected += 1
                logger.error("FastAGI request for unknown script %r (call %s); ignored", script, uniqueid)
                return
            self.handled += 1
        except AGIHangup:
            logger.info("call %s hung up during the FastAGI %s request", uniqueid, script)
        except AGIError as exc:
            logger.error("call %s: FastAGI %s failed: %s", uniqueid, script, exc)

    def _call_on_loop(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _emit(self, event: CallEvent) -> None:
        self._call_on_loop(self.events.on_event(event))

    def _incoming(self, agi: SocketAGI, uniqueid: str) -> None:
        env = agi.env
        media_uuid = env.get("agi_arg_1", "").strip()
        if media_uuid and not _is_uuid(media_uuid):
            logger.warning("call %s: agi_arg_1 %r is not a UUID; no live stream", uniqueid, media_uuid)
            media_uuid = ""
        if media_uuid:
            media_uuid = str(uuid.UUID(media_uuid))
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self.directory.register, media_uuid, uniqueid)

        def known(value: str | None) -> str | None:
            return None if value in (None, "", "unknown") else value

        self._emit(
            CallStarted(
                uniqueid=uniqueid,
                at=datetime.now(UTC),
                channel=known(env.get("agi_channel")),
                caller_number=known(env.get("agi_callerid")),
                caller_name=known(env.get("agi_calleridname")),
                dialled_number=known(env.get("agi_dnid")) or known(env.get("agi_extension")),
                source="agi",
                media_uuid=media_uuid or None,
            )
        )
        path = self.recording_path(uniqueid)
        agi.appexec("MixMonitor", f"{path}")
        call_id = None
        if self.call_ids is not None:
            try:
                call_id = self._call_on_loop(self.call_ids.call_id_for(uniqueid), timeout=5)
            except Exception as exc:
                logger.warning("call %s: call id not available (%s)", uniqueid, exc)
        agi.set_variable(CALL_ID_VARIABLE, "" if call_id is None else str(call_id))
        logger.info("call %s registered over FastAGI (call id %s), recording to %s", uniqueid, call_id, path)

    def recording_path(self, uniqueid: str) -> Path:
        """Where MixMonitor records a call (absolute, as Asterisk needs it)."""
        safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in uniqueid)
        return (self.recordings_dir / f"callcard-{safe}.wav").absolute()

    def _hangup(self, agi: SocketAGI, uniqueid: str) -> None:
        cause = agi.env.get("agi_arg_1") or None
        if cause is None:
            try:  # GET VARIABLE still works on the dead channel of the h extension
                cause = agi.get_variable("HANGUPCAUSE") or None
            except AGIError as exc:
                logger.debug("call %s: HANGUPCAUSE not readable: %s", uniqueid, exc)
        self._emit(CallEnded(uniqueid=uniqueid, at=datetime.now(UTC), cause=cause))
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.directory.forget_call, uniqueid)
        self._loop.call_soon_threadsafe(self._finish_recording_soon, uniqueid)

    def _finish_recording_soon(self, uniqueid: str) -> None:
        task = asyncio.create_task(self._finish_recording(uniqueid), name=f"agi-recording-{uniqueid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish_recording(self, uniqueid: str) -> None:
        path = self.recording_path(uniqueid)
        info = await wait_for_complete_wav(path, within=self.recording_timeout)
        if info is None:
            return
        try:
            await self.events.on_event(
                RecordingFinished(
                    uniqueid=uniqueid,
                    path=str(path),
                    kind="mixed",
                    format="wav",
                    sample_rate=info.sample_rate,
                    duration_s=info.duration_s,
                    size_bytes=info.size_bytes,
                    sha256=info.sha256,
                    complete=info.complete,
                )
            )
        except Exception:
            logger.exception("call %s: recording event failed", uniqueid)
