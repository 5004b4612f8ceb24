"""FastAGI server for dialplan-driven sites: asyncio-native, so idle or slow peers never delay a real call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.tasks import BackgroundTasks
from core.types import Speaker
from telephony.agi_protocol import (
    MAX_LINE,
    STATE_UP,
    AgiEnvError,
    AGIError,
    AGIHangup,
    AGIInvalidCommand,
    AgiSession,
    read_env,
)
from telephony.allowlist import Network, PeerAllowList
from telephony.audiosocket import MediaDirectory
from telephony.causes import cause_name
from telephony.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallEventSink,
    CallIdResolver,
    CallStarted,
    RecordingFinished,
)
from telephony.recording import RecordingInfo, repair_wav, wait_for_complete_wav

logger = logging.getLogger(__name__)

LEG_GRACE_S = 5.0  # how long a voice's own file may lag behind the mixed one (MixMonitor closes them together)

CALL_ID_VARIABLE = "CALLCARD_CALL_ID"


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
    emits CallAnswered when ``CHANNEL STATUS`` says the line is up, sets ``CALLCARD_CALL_ID`` and returns to the
    dialplan. ``hangup`` (from a hangup handler, ``CHANNEL(hangup_handler_push)``, which runs whatever context
    the channel ends in) emits CallEnded, waits for MixMonitor to close the file and emits RecordingFinished.

    Every connection is a coroutine (``asyncio.start_server``): the environment must arrive within
    ``env_timeout`` seconds, each command's result within ``command_timeout``; nothing an idle or slow peer does
    holds up another connection.
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
        env_timeout: float = 5.0,
        command_timeout: float = 10.0,
        recording_timeout: float = 30.0,
        call_id_timeout: float = 5.0,
        allow: Sequence[Network] = (),
        leg_recordings: bool = True,
    ) -> None:
        """Configure the server; ``recordings_dir`` must be the same path on the Asterisk host; ``allow``: the
        Asterisk addresses that may connect (telephony.allowlist; none: loopback when bound to loopback);
        ``leg_recordings``: MixMonitor also writes each voice alone (its ``r()`` and ``t()`` options), so the
        operator's words are transcribed apart from the caller's after the call."""
        self.leg_recordings = leg_recordings
        self.events = events
        self.directory = directory
        self.recordings_dir = recordings_dir
        self.host = host
        self.port = port
        self.call_ids = call_ids
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.recording_timeout = recording_timeout
        self.call_id_timeout = call_id_timeout
        self.allow = PeerAllowList(allow, bound_host=host)
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._stopping = False
        self._tasks = BackgroundTasks("FastAGI server")
        self.handled = 0
        self.rejected = 0

    @property
    def bound_port(self) -> int:
        """The port actually listened on."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen; each connection is served by its own coroutine."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=MAX_LINE + 1, reuse_address=True, backlog=256
        )
        logger.info("FastAGI server listening on %s:%d", self.host, self.bound_port)
        self.allow.warn_if_open("FastAGI", f"{self.host}:{self.bound_port}")

    async def stop(self) -> None:
        """Stop accepting, end open connections and finish pending recording work."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections.values()):
            writer.transport.abort()  # each connection's coroutine sees the end of its stream and returns
        if self._connections:
            _, late = await asyncio.wait(set(self._connections), timeout=5)
            for task in late:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        await self._tasks.close()

    # ------------------------------------------------------------------------------------------ connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        addr = writer.get_extra_info("peername")
        if not self.allow.admit("FastAGI", addr):
            self._connections.pop(task, None)
            writer.transport.abort()  # closed at once: nothing is read from a host that is not Asterisk
            return
        try:
            try:
                env = await read_env(reader, within=self.env_timeout)
            except AgiEnvError as exc:
                if self._stopping:
                    logger.debug("FastAGI connection from %s closed at shutdown", addr)
                    return
                self.rejected += 1
                logger.error("FastAGI request from %s rejected: %s", addr, exc)
                return
            await self._route(AgiSession(reader, writer, env, command_timeout=self.command_timeout), addr)
        except asyncio.CancelledError:
            raise
        except (ConnectionError, OSError) as exc:
            self.rejected += 1
            logger.error("FastAGI connection from %s failed: %s", addr, exc)
        except Exception:
            self.rejected += 1
            logger.exception("FastAGI connection from %s failed", addr)
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _route(self, agi: AgiSession, addr: Any) -> None:
        env = agi.env
        script = env.get("agi_network_script", "").split("?", 1)[0].strip("/")
        uniqueid = env.get("agi_uniqueid", "").strip()
        if not uniqueid:
            self.rejected += 1
            logger.error("FastAGI request %r from %s has no agi_uniqueid; ignored", script, addr)
            return
        try:
            if script == "incoming":
                await self._incoming(agi, uniqueid)
            elif script == "hangup":
                await self._hangup(agi, uniqueid)
            else:
                self.rejected += 1
                logger.error("FastAGI request for unknown script %r (call %s); ignored", script, uniqueid)
                return
            self.handled += 1
        except AGIHangup:
            logger.info("call %s hung up during the FastAGI %s request", uniqueid, script)
        except AGIError as exc:
            logger.error("call %s: FastAGI %s failed: %s", uniqueid, script, exc)

    async def _emit(self, event: CallEvent) -> None:
        try:
            await self.events.on_event(event)
        except Exception:
            logger.exception("call %s: %s could not be delivered", event.uniqueid, type(event).__name__)

    async def _incoming(self, agi: AgiSession, uniqueid: str) -> None:
        env = agi.env
        media_uuid = env.get("agi_arg_1", "").strip()
        if media_uuid and not _is_uuid(media_uuid):
            logger.warning("call %s: agi_arg_1 %r is not a UUID; no live stream", uniqueid, media_uuid)
            media_uuid = ""
        if media_uuid:
            media_uuid = str(uuid.UUID(media_uuid))
            self.directory.register(media_uuid, uniqueid)

        def known(value: str | None) -> str | None:
            return None if value in (None, "", "unknown") else value

        await self._emit(
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
        await agi.appexec("MixMonitor", mixmonitor_args(self.recordings_dir, uniqueid, legs=self.leg_recordings))
        try:
            if await agi.channel_status() == STATE_UP:
                await self._emit(CallAnswered(uniqueid=uniqueid, at=datetime.now(UTC)))
        except AGIInvalidCommand as exc:
            logger.debug("call %s: CHANNEL STATUS not answered (%s)", uniqueid, exc)
        call_id = None
        if self.call_ids is not None:
            try:
                call_id = await asyncio.wait_for(self.call_ids.call_id_for(uniqueid), self.call_id_timeout)
            except Exception as exc:
                logger.warning("call %s: call id not available (%s)", uniqueid, exc or type(exc).__name__)
        await agi.set_variable(CALL_ID_VARIABLE, "" if call_id is None else str(call_id))
        logger.info("call %s registered over FastAGI (call id %s), recording to %s", uniqueid, call_id, path)

    def recording_path(self, uniqueid: str) -> Path:
        """Where MixMonitor records a call (absolute, as Asterisk needs it)."""
        return mixmonitor_path(self.recordings_dir, uniqueid)

    async def _hangup(self, agi: AgiSession, uniqueid: str) -> None:
        at = datetime.now(UTC)
        raw = agi.env.get("agi_arg_1") or None
        if raw is None:
            try:  # GET VARIABLE still works on the dead channel of a hangup handler or the h extension
                raw = await agi.get_variable("HANGUPCAUSE") or None
            except AGIError as exc:
                logger.debug("call %s: HANGUPCAUSE not readable: %s", uniqueid, exc)
        await self._emit(CallEnded(uniqueid=uniqueid, at=at, cause=cause_name(raw)))
        self.directory.forget_call(uniqueid)
        self._tasks.spawn(self._finish_recording(uniqueid), f"agi-recording-{uniqueid}")

    async def _finish_recording(self, uniqueid: str) -> None:
        """Announce the call's recordings once MixMonitor closed them: each voice's own file first, then the mixed
        one (whose arrival starts post-call work, which then finds the voices' files)."""
        mixed = self.recording_path(uniqueid)
        info = await wait_for_complete_wav(mixed, within=self.recording_timeout)
        if info is None:
            return
        if self.leg_recordings:
            for speaker in Speaker:  # MixMonitor closes the voices' files together with the mixed one
                leg = mixmonitor_leg_path(self.recordings_dir, uniqueid, speaker)
                if not await asyncio.to_thread(leg.exists):  # MixMonitor opens every file at its start
                    continue
                leg_info = await wait_for_complete_wav(leg, within=min(LEG_GRACE_S, self.recording_timeout))
                if leg_info is not None:
                    await self._announce(uniqueid, leg, speaker.value, leg_info)
        await self._announce(uniqueid, mixed, "mixed", info)

    async def _announce(self, uniqueid: str, path: Path, kind: str, info: RecordingInfo) -> None:
        if not info.complete:  # MixMonitor never closed it (Asterisk died): make it readable, keep it incomplete
            try:
                info = await asyncio.to_thread(repair_wav, path)
            except Exception as exc:
                logger.error("call %s: recording %s could not be repaired: %s", uniqueid, path, exc)
                return
        await self._emit(
            RecordingFinished(
                uniqueid=uniqueid,
                path=str(path),
                kind=kind,
                format="wav",
                sample_rate=info.sample_rate,
                duration_s=info.duration_s,
                size_bytes=info.size_bytes,
                sha256=info.sha256,
                complete=info.complete,
            )
        )


def mixmonitor_path(recordings_dir: Path, uniqueid: str) -> Path:
    """Where FastAGI's ``incoming`` has MixMonitor record a call (absolute, as Asterisk needs it)."""
    safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in uniqueid)
    return (recordings_dir / f"callcard-{safe}.wav").absolute()


def mixmonitor_leg_path(recordings_dir: Path, uniqueid: str, speaker: Speaker) -> Path:
    """Where MixMonitor records one voice of a call: ``r()`` the caller (the channel's read direction), ``t()`` the
    operator (what is written to the caller's channel)."""
    mixed = mixmonitor_path(recordings_dir, uniqueid)
    return mixed.with_name(f"{mixed.stem}-{speaker.value}.wav")


def mixmonitor_args(recordings_dir: Path, uniqueid: str, *, legs: bool) -> str:
    """MixMonitor's arguments: the mixed file, and with ``legs`` the options r(caller file) and t(operator file)."""
    mixed = mixmonitor_path(recordings_dir, uniqueid)
    if not legs:
        return str(mixed)
    caller = mixmonitor_leg_path(recordings_dir, uniqueid, Speaker.CALLER)
    operator = mixmonitor_leg_path(recordings_dir, uniqueid, Speaker.OPERATOR)
    return f"{mixed},r({caller})t({operator})"
