"""A protocol-faithful ARI peer: Asterisk's REST endpoints callcard uses, the events WebSocket, chan_audiosocket.

It serves HTTP and WebSocket on 127.0.0.1 (starlette under uvicorn), keeps channels, bridges and recordings the
way Asterisk does (Stasis membership, explicit subscriptions, snoops that die with their target, recordings
stored when their channel hangs up), answers with Asterisk's status codes, and sends events built from the
templates in tests/fixtures/ari/. An externalMedia channel with encapsulation=audiosocket connects to
``external_host`` at creation and sends the UUID frame, as chan_audiosocket does; once that channel shares a
bridge with a ``spy=in`` snoop of a caller, the caller's audio (given to ``new_call``) is sent in 20 ms slin
frames.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import io
import json
import re
import socket
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from telephony.audiosocket import KIND_AUDIO, encode_frame, uuid_frame
from tests.peers.mixmonitor import asterisk_wav_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ari"
ASTERISK_ID = "52:54:00:12:34:56"
ALMATY = timezone(timedelta(hours=6))


def load_fixture(name: str) -> dict[str, Any]:
    """One sample event or model from tests/fixtures/ari/."""
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def ari_time(when: float | None = None) -> str:
    """Asterisk's timestamp format: 2026-11-22T09:16:07.131+0600."""
    dt = datetime.fromtimestamp(when if when is not None else time.time(), ALMATY)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}" + dt.strftime("%z")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def default_dialplan() -> dict[str, dict[str, tuple[str, str]]]:
    """The sample dialplan of telephony/asterisk/extensions.conf (priority 1 of each extension)."""
    emergency = {code: ("Dial", f"PJSIP/{code}@emergency-trunk,60") for code in ("101", "102", "103", "104")}
    return {
        "from-trunk": {"109": ("NoOp", "109 call")},
        "operators": {"s": ("Queue", "operators109,t")},
        "emergency": emergency,
        "callcard-transfer": {
            "_10[1-4]": ("ChannelRedirect", "${CALLCARD_TRANSFER_CHANNEL},emergency,${EXTEN},1"),
            "done": ("Hangup", ""),
        },
    }


def _pattern(name: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (_NXXZ[1-4].!) as a regular expression."""
    out, i, body = [], 0, name[1:]
    while i < len(body):
        char = body[i]
        if char == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1 : end] + "]")
            i = end + 1
            continue
        out.append({"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(char.upper(), re.escape(char)))
        i += 1
    return re.compile("".join(out))


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # never touch the test process's signal handlers
        yield


def spied(snoop: PeerChannel | None, target: PeerChannel | None) -> bytes:
    """What a snoop hears of its target, as Asterisk's audiohook gives it: spy=in the caller's voice, spy=out what
    the caller hears (the operator), spy=both the two mixed (summed and clipped, as the audiohook mixes them)."""
    if snoop is None or target is None:
        return b""
    if snoop.spy == "in" or not target.heard:
        return target.audio if snoop.spy != "out" else target.heard
    if snoop.spy == "out":
        return target.heard
    size = max(len(target.audio), len(target.heard))
    a = np.zeros(size // 2, dtype=np.int32)
    b = np.zeros(size // 2, dtype=np.int32)
    a[: len(target.audio) // 2] = np.frombuffer(target.audio, dtype="<i2")
    b[: len(target.heard) // 2] = np.frombuffer(target.heard, dtype="<i2")
    return bytes(np.clip(a + b, -32768, 32767).astype("<i2").tobytes())


@dataclass
class PeerChannel:
    """A channel as the peer knows it."""

    json: dict[str, Any]
    app: str | None = None  # the Stasis application it is in, if any
    audio: bytes = b""  # what the caller says (callers only)
    heard: bytes = b""  # what the caller hears: the operator's voice (callers only; a spy=out snoop carries it)
    snoop_of: str | None = None
    spy: str = "none"
    bridge: str | None = None
    media: dict[str, Any] | None = None  # externalMedia parameters
    writer: asyncio.StreamWriter | None = None  # chan_audiosocket's TCP connection
    stream_task: asyncio.Task[None] | None = None
    watch_task: asyncio.Task[None] | None = None
    created_by: str | None = None  # the app that created it (snoop, externalMedia, originate)
    voice_since: float | None = None  # (callers, realtime media) monotonic time ``audio`` began to be heard

    @property
    def id(self) -> str:
        return str(self.json["id"])


@dataclass
class _Client:
    app: str
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class AriPeer:
    """An Asterisk stand-in for ARI tests (start with ``await peer.start()``)."""

    def __init__(
        self,
        *,
        user: str = "callcard",
        password: str = "s3cret",
        realtime_media: bool = False,
        systemname: str = "callcard-test",
    ) -> None:
        self.user, self.password = user, password
        self.systemname = systemname  # asterisk.conf systemname: ids become "<systemname>-<epoch>.<seq>"
        self.realtime_media = realtime_media
        self.channels: dict[str, PeerChannel] = {}
        self.bridges: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, set[str]] = {}  # app -> channel ids
        self.live_recordings: dict[str, dict[str, Any]] = {}
        self.stored: dict[str, bytes] = {}
        self.deleted: dict[str, bytes] = {}  # stored recordings the client deleted, with their content
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.sent_events: list[dict[str, Any]] = []
        self.media_connections = 0
        self._clients: list[_Client] = []
        self._seq = 40
        self._server: _QuietServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.connected = asyncio.Event()
        self.on_request: Callable[[str, str], Response | None] | None = None  # fault injection
        # The dialplan as extensions.conf would load it: context -> extension (or _pattern) -> priority 1's
        # (application, data). Tests delete or add entries to make Asterisk's dialplan lack or have a place.
        self.dialplan: dict[str, dict[str, tuple[str, str]]] = default_dialplan()
        self.globals: dict[str, str] = {}  # global dialplan variables ([globals], Set(GLOBAL(...)))
        self.func_dialplan_loaded = True  # func_dialplan.so provides DIALPLAN_EXISTS()
        self.local_delay = 0.02  # how long a Local channel takes to dial and run its first priority

    # ------------------------------------------------------------------------------------------- server

    @property
    def url(self) -> str:
        """The base URL callcard's ari_url should be."""
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> Starlette:
        r = self._route
        routes = [
            WebSocketRoute("/ari/events", self._events_ws),
            Route("/ari/channels", r(self._list_channels), methods=["GET"]),
            Route("/ari/channels", r(self._originate), methods=["POST"]),
            Route("/ari/channels/externalMedia", r(self._external_media), methods=["POST"]),
            Route("/ari/channels/{cid}", r(self._get_channel), methods=["GET"]),
            Route("/ari/channels/{cid}", r(self._delete_channel), methods=["DELETE"]),
            Route("/ari/channels/{cid}/answer", r(self._answer), methods=["POST"]),
            Route("/ari/channels/{cid}/continue", r(self._continue), methods=["POST"]),
            Route("/ari/channels/{cid}/variable", r(self._channel_variable), methods=["GET"]),
            Route("/ari/asterisk/variable", r(self._global_variable), methods=["GET"]),
            Route("/ari/channels/{cid}/redirect", r(self._redirect), methods=["POST"]),
            Route("/ari/channels/{cid}/snoop", r(self._snoop), methods=["POST"]),
            Route("/ari/channels/{cid}/record", r(self._record), methods=["POST"]),
            Route("/ari/bridges/{bid}", r(self._create_bridge), methods=["POST"]),
            Route("/ari/bridges/{bid}", r(self._destroy_bridge), methods=["DELETE"]),
            Route("/ari/bridges/{bid}/addChannel", r(self._add_channel), methods=["POST"]),
            Route("/ari/applications/{app}/subscription", r(self._subscribe), methods=["POST"]),
            Route("/ari/recordings/stored", r(self._list_stored), methods=["GET"]),
            Route("/ari/recordings/stored/{name}", r(self._get_stored), methods=["GET"]),
            Route("/ari/recordings/stored/{name}/file", r(self._get_stored_file), methods=["GET"]),
            Route("/ari/recordings/stored/{name}", r(self._delete_stored), methods=["DELETE"]),
        ]
        return Starlette(routes=routes)

    async def start(self) -> None:
        """Listen on 127.0.0.1 (the same port again after ``stop``)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off", ws="websockets-sansio")
        self._server = _QuietServer(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="ari-peer")
        while not self._server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop listening, then close every WebSocket (channels are kept, as in a WebSocket outage).

        Real Asterisk going down stops accepting first: a client reconnecting at once is refused, it never
        reaches an events socket that shutdown then forgets to close.
        """
        if self._server is not None:
            for listening in getattr(self._server, "servers", []):
                listening.close()
        for client in list(self._clients):
            client.queue.put_nowait(None)
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._serve_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serve_task, 5)
        for client in list(self._clients):  # one that slipped in before the listener closed
            client.queue.put_nowait(None)
        self._server = self._serve_task = None
        self.connected.clear()

    async def crash(self) -> None:
        """Asterisk killed -9: the WebSocket and HTTP vanish without a goodbye and no event is sent.

        Real Asterisk: on the restart no channel of before exists, and each live recording is left in the
        recordings spool, listed in /ari/recordings/stored, with format_wav's zeroed RIFF and data sizes.
        """
        for name, rec in list(self.live_recordings.items()):
            del self.live_recordings[name]
            snoop = self.channels.get(rec["channel"])
            target = self.channels.get(snoop.snoop_of) if snoop is not None and snoop.snoop_of else None
            self.stored[name] = asterisk_wav_bytes(spied(snoop, target), killed=True)
        for client in list(self._clients):
            client.queue.put_nowait(None)
        await self.stop()
        for ch in list(self.channels.values()):
            await self._close_media(ch)
        self.channels.clear()
        self.bridges.clear()
        self.subscriptions.clear()

    def app_registered(self, app: str) -> bool:
        """Real Asterisk: a Stasis application exists while a WebSocket is connected for it."""
        return any(client.app == app for client in self._clients)

    async def close(self) -> None:
        """Stop and close every media connection."""
        await self.stop()
        for ch in list(self.channels.values()):
            await self._close_media(ch)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _authorized(self, headers: Any, query: Any) -> bool:
        expected = f"{self.user}:{self.password}"
        if query.get("api_key") == expected:
            return True
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                return base64.b64decode(auth[6:]).decode() == expected
        return False

    def _route(self, handler: Callable[..., Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if not self._authorized(request.headers, request.query_params):
                return _error(401, "Authentication required")
            body: Any = None
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return _error(400, "Invalid JSON body")
            params = dict(request.query_params)
            self.requests.append((request.method, request.url.path, params, body))
            if self.on_request is not None:
                injected = self.on_request(request.method, request.url.path)
                if injected is not None:
                    return injected
            result: Response = await handler(request, params, body, **request.path_params)
            return result

        return endpoint

    async def _events_ws(self, ws: WebSocket) -> None:
        if not self._authorized(ws.headers, ws.query_params) or not ws.query_params.get("app"):
            await ws.close(code=1008)
            return
        await ws.accept()
        client = _Client(app=ws.query_params["app"].split(",")[0])
        self._clients.append(client)
        self.connected.set()

        async def pump() -> None:
            while (event := await client.queue.get()) is not None:
                await ws.send_text(json.dumps(event))
            await ws.close(code=1001)

        pumper = asyncio.create_task(pump())
        try:
            while True:
                receive = asyncio.create_task(ws.receive())
                done, _ = await asyncio.wait({receive, pumper}, return_when=asyncio.FIRST_COMPLETED)
                if pumper in done:
                    receive.cancel()
                    break
                if receive.result().get("type") == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            pumper.cancel()
            self._clients.remove(client)
            if not self._clients:
                self.connected.clear()

    # ------------------------------------------------------------------------------------------- events

    def _emit(self, kind: str, channel: PeerChannel | None, app: str | None = None, **fields: Any) -> None:
        """Send one event to the application the channel is in, or that subscribed to it."""
        apps: set[str] = set()
        if app is not None:
            apps.add(app)
        if channel is not None:
            if channel.app:
                apps.add(channel.app)
            apps.update(a for a, ids in self.subscriptions.items() if channel.id in ids)
        for target in apps:
            event = {"type": kind, "timestamp": ari_time(), **fields}
            if channel is not None:
                event["channel"] = copy.deepcopy(channel.json)
            event["asterisk_id"] = ASTERISK_ID
            event["application"] = target
            self.sent_events.append(event)
            for client in self._clients:
                if client.app == target:
                    client.queue.put_nowait(event)

    def _new_id(self) -> str:
        self._seq += 1
        base = f"{int(time.time())}.{self._seq}"
        return f"{self.systemname}-{base}" if self.systemname else base

    def _channel_json(
        self,
        cid: str,
        name: str,
        *,
        number: str = "",
        state: str = "Up",
        context: str = "default",
        exten: str = "s",
        app_name: str = "",
        app_data: str = "",
    ) -> dict:
        data = load_fixture("channel")
        data.update(id=cid, name=name, state=state, creationtime=ari_time(), protocol_id="")
        data["caller"] = {"name": "", "number": number}
        data["dialplan"] = {
            "context": context,
            "exten": exten,
            "priority": 1,
            "app_name": app_name,
            "app_data": app_data,
        }
        return data

    # ------------------------------------------------------------------------------------ test controls

    def new_call(
        self,
        number: str = "+77011234567",
        *,
        audio: bytes = b"",
        app: str = "callcard",
        exten: str = "109",
        args: list[str] | None = None,
        announce: bool = True,
        operator_audio: bytes = b"",
    ) -> str:
        """A caller dials 109 and the dialplan runs Stasis(app): StasisStart is sent. Returns the uniqueid.

        ``audio`` is what the caller says, ``operator_audio`` what they hear (the operator, once connected)."""
        cid = self._new_id()
        name = f"PJSIP/trunk-{self._seq:08x}"
        data = self._channel_json(
            cid,
            name,
            number=number,
            state="Ring",
            context="from-trunk",
            exten=exten,
            app_name="Stasis",
            app_data=",".join([app, *(args or [])]),
        )
        data["dialplan"]["priority"] = 2
        ch = PeerChannel(json=data, app=app, audio=audio, heard=operator_audio)
        self.channels[cid] = ch
        if announce:
            self._emit("StasisStart", ch, args=list(args or []))
        return cid

    def resend_stasis_start(self, cid: str) -> None:
        """Send StasisStart for a channel again (a duplicate event)."""
        ch = self.channels[cid]
        self._emit("StasisStart", ch, args=[])

    async def hangup(
        self,
        cid: str,
        cause: int = 16,
        cause_txt: str = "Normal Clearing",
        *,
        soft: bool = False,
        request: bool = True,
    ) -> None:
        """The channel hangs up: ChannelHangupRequest, StasisEnd (if in Stasis), ChannelDestroyed; snoops die."""
        ch = self.channels.get(cid)
        if ch is None:
            return
        if request:
            if soft:
                # Real Asterisk (22.10.1, checked): an ARI DELETE first sends a soft ChannelHangupRequest whose
                # "cause" is the internal soft-hangup flag (32), then a normal one with the Q.850 cause (16).
                self._emit("ChannelHangupRequest", ch, cause=32, soft=True)
                self._emit("ChannelHangupRequest", ch, cause=cause)
            else:
                self._emit("ChannelHangupRequest", ch, cause=cause)
        # Real Asterisk (22.10.1, checked): at the caller's hang-up the order is the caller's StasisEnd, then each
        # snoop's RecordingFinished and StasisEnd -- a snoop gets no ChannelDestroyed -- then the caller's
        # ChannelDestroyed (to an app subscribed to it).
        if ch.app:
            self._emit("StasisEnd", ch)
            ch.app = None
        for snoop in [c for c in self.channels.values() if c.snoop_of == cid]:
            await self._destroy(snoop, 16, "Normal Clearing", announce=False)
        await self._destroy(ch, cause, cause_txt)

    async def _destroy(self, ch: PeerChannel, cause: int, cause_txt: str, *, announce: bool = True) -> None:
        for name, rec in list(self.live_recordings.items()):
            if rec["channel"] == ch.id:
                self._finish_recording(name, rec)
        if ch.bridge is not None and ch.bridge in self.bridges:
            self.bridges[ch.bridge]["channels"].remove(ch.id)
        # As Asterisk 22 does: a channel that entered Stasis from the dialplan is followed only until StasisEnd
        # (no ChannelDestroyed unless the app subscribed explicitly); channels the app created get it.
        if ch.app:
            self._emit("StasisEnd", ch)
            ch.app = None
        if announce:
            self._emit("ChannelDestroyed", ch, app=ch.created_by, cause=cause, cause_txt=cause_txt)
        self.channels.pop(ch.id, None)
        await self._close_media(ch)
        for ids in self.subscriptions.values():
            ids.discard(ch.id)

    def _subscribed(self, ch: PeerChannel) -> bool:
        return any(ch.id in ids for ids in self.subscriptions.values())

    async def _close_media(self, ch: PeerChannel) -> None:
        if ch.watch_task is not None and ch.watch_task is not asyncio.current_task():
            ch.watch_task.cancel()
        if ch.stream_task is not None:
            ch.stream_task.cancel()
            with contextlib.suppress(BaseException):
                await ch.stream_task
        if ch.writer is not None:
            ch.writer.close()
            with contextlib.suppress(Exception):
                await ch.writer.wait_closed()
            ch.writer = None

    def _finish_recording(self, name: str, rec: dict[str, Any]) -> None:
        del self.live_recordings[name]
        snoop = self.channels.get(rec["channel"])
        target = self.channels.get(snoop.snoop_of) if snoop is not None and snoop.snoop_of else None
        pcm = spied(snoop, target)
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(pcm)
        self.stored[name] = buf.getvalue()
        event = load_fixture("recording_finished")["recording"]
        event.update(
            name=name,
            format=rec["format"],
            state="done",
            target_uri=f"channel:{rec['channel']}",
            duration=len(pcm) // 16000,  # Real Asterisk: whole seconds, truncated (2.5 s of audio says 2)
        )
        if snoop is not None:
            self._emit("RecordingFinished", None, app=snoop.app, recording=event)

    def channel_ids(self, prefix: str = "") -> list[str]:
        """Ids of the channels up, optionally those whose name starts with ``prefix``."""
        return [c.id for c in self.channels.values() if str(c.json["name"]).startswith(prefix)]

    # ---------------------------------------------------------------------------------------- endpoints

    def _stasis_channel(self, cid: str) -> PeerChannel | JSONResponse:
        ch = self.channels.get(cid)
        if ch is None:
            return _error(404, "Channel not found")
        if ch.app is None:
            return _error(409, "Channel not in Stasis application")
        return ch

    async def _list_channels(self, request: Request, params: dict, body: Any) -> Response:
        return JSONResponse([c.json for c in self.channels.values()])

    async def _get_channel(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        ch = self.channels.get(cid)
        return JSONResponse(ch.json) if ch is not None else _error(404, "Channel not found")

    async def _delete_channel(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        ch = self.channels.get(cid)
        if ch is None:
            return _error(404, "Channel not found")
        self._spawn(self.hangup(cid, 16, "Normal Clearing", soft=True))
        return Response(status_code=204)

    async def _answer(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        ch = self._stasis_channel(cid)
        if isinstance(ch, JSONResponse):
            return ch
        if ch.json["state"] != "Up":
            ch.json["state"] = "Up"
            self._emit("ChannelStateChange", ch)
        return Response(status_code=204)

    async def _continue(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        ch = self._stasis_channel(cid)
        if isinstance(ch, JSONResponse):
            return ch
        # Real Asterisk (res_ari continue_in_dialplan): with a context the extension defaults to "s", without
        # one both default to where the channel is; the place is NOT checked, 204 comes first.
        if params.get("context"):
            context, exten = params["context"], params.get("extension") or "s"
        else:
            context = ch.json["dialplan"]["context"]
            exten = params.get("extension") or ch.json["dialplan"]["exten"]
        self._emit("StasisEnd", ch)
        ch.app = None
        self._spawn(self._later(lambda: self._goto(ch, context, exten, int(params.get("priority") or 1))))
        return Response(status_code=204)

    # ------------------------------------------------------------------------------------------ dialplan

    def find_extension(self, context: str, exten: str) -> tuple[str, str] | None:
        """Priority 1 of ``exten`` in ``context`` as the dialplan has it (exact extensions before patterns)."""
        extensions = self.dialplan.get(context)
        if extensions is None:
            return None
        if exten in extensions:
            return extensions[exten]
        for name, step in extensions.items():
            if name.startswith("_") and _pattern(name).fullmatch(exten):
                return step
        return None

    def _goto(self, ch: PeerChannel, context: str, exten: str, priority: int = 1) -> None:
        """The channel's PBX goes to context,exten,priority (after continue, or ChannelRedirect's async goto)."""
        if ch.id not in self.channels:
            return
        step = self.find_extension(context, exten)
        if step is None:
            # Real Asterisk (pbx.c): "Channel '...' sent to invalid extension but no invalid handler:
            # context,exten,priority=..." and the channel is hung up (no 'i' or 'e' extension in our model),
            # with no hang-up cause set (0, "Unknown").
            ch.json["dialplan"].update(context=context, exten=exten, priority=priority, app_name="", app_data="")
            self._spawn(self.hangup(ch.id, 0, "Unknown", request=False))
            return
        app_name, app_data = step
        ch.json["dialplan"] = {
            "context": context,
            "exten": exten,
            "priority": priority,
            "app_name": app_name,
            "app_data": app_data.replace("${EXTEN}", exten),
        }
        # Real Asterisk: ChannelDialplan goes to the applications subscribed to the channel.
        self._emit("ChannelDialplan", ch, dialplan_app=app_name, dialplan_app_data=ch.json["dialplan"]["app_data"])

    async def _channel_variable(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        name = params.get("variable", "")
        if not name:
            return _error(400, "Variable name is required")
        ch = self.channels.get(cid)
        if ch is None:
            # Real Asterisk: any channel will do (ast_channel_get_by_name), in Stasis or not.
            return _error(404, "Provided channel was not found")
        if name.endswith(")"):
            # Real Asterisk (res_ari channels get_channel_var): a name ending with ')' is read as a dialplan
            # function on this channel; a failed read is 500 "Unable to read provided function".
            value = self._read_function(name)
            if value is None:
                return _error(500, "Unable to read provided function")
            return JSONResponse({"value": value})
        variables = ch.json.get("channelvars") or {}
        if name not in variables and name not in self.globals:
            return _error(404, "Provided variable was not found")
        return JSONResponse({"value": str(variables.get(name, self.globals.get(name)))})

    async def _global_variable(self, request: Request, params: dict, body: Any) -> Response:
        name = params.get("variable", "")
        if not name:
            return _error(400, "Variable name is required")
        # Real Asterisk (res_ari_asterisk get_global_var): ast_str_retrieve_variable(NULL channel) reads global
        # variables and never evaluates a function; an unknown name (DIALPLAN_EXISTS(...) included) is "".
        return JSONResponse({"value": self.globals.get(name, "")})

    def _read_function(self, expression: str) -> str | None:
        """A dialplan function's value, or None when Asterisk cannot read it (unknown or not loaded)."""
        fname, _, rest = expression.partition("(")
        args = [a.strip() for a in rest[:-1].split(",")]
        if fname != "DIALPLAN_EXISTS" or not self.func_dialplan_loaded:
            return None
        # Real Asterisk (func_dialplan): DIALPLAN_EXISTS(context[,exten[,priority]]) is "1" or "0"; our model
        # knows priority 1 of each extension only.
        context = args[0] if args else ""
        if len(args) < 2 or not args[1]:
            return "1" if context in self.dialplan else "0"
        priority = args[2] if len(args) > 2 and args[2] else "1"
        return "1" if priority == "1" and self.find_extension(context, args[1]) is not None else "0"

    async def _redirect(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        if not params.get("endpoint"):
            return _error(400, "Endpoint parameter not provided")
        ch = self._stasis_channel(cid)
        if isinstance(ch, JSONResponse):
            return ch
        return Response(status_code=204)

    async def _snoop(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        target = self.channels.get(cid)
        if target is None:
            return _error(404, "Channel not found")
        if not params.get("app"):
            return _error(400, "app is required")
        spy = params.get("spy", "none")
        if spy not in ("none", "both", "out", "in"):
            return _error(400, "Invalid spy value")
        sid = params.get("snoopId") or self._new_id()
        self._seq += 1
        data = self._channel_json(sid, f"Snoop/{cid}-{self._seq:08x}", app_name="Stasis", app_data=params["app"])
        ch = PeerChannel(json=data, app=params["app"], snoop_of=cid, spy=spy, created_by=params["app"])
        self.channels[sid] = ch
        args = params.get("appArgs")
        self._spawn(self._later(lambda: self._emit("StasisStart", ch, args=args.split(",") if args else [])))
        return JSONResponse(data)

    async def _later(self, action: Callable[[], None], delay: float = 0.005) -> None:
        await asyncio.sleep(delay)
        action()

    async def _external_media(self, request: Request, params: dict, body: Any) -> Response:
        if not params.get("app") or not params.get("format"):
            return _error(400, "app and format are required")
        encapsulation = params.get("encapsulation", "rtp")
        transport = params.get("transport", "udp")
        if encapsulation == "audiosocket" and transport != "tcp":
            return _error(501, "The encapsulation and/or transport is not supported")
        cid = params.get("channelId") or self._new_id()
        host = params.get("external_host", "")
        tech = "AudioSocket" if encapsulation == "audiosocket" else "UnicastRTP"
        self._seq += 1
        media_uuid = params.get("data", "")
        if encapsulation == "audiosocket" and not media_uuid:
            return _error(400, "data can not be empty")
        name = f"{tech}/{host}-{media_uuid}" if encapsulation == "audiosocket" else f"{tech}/{host}-{self._seq:08x}"
        data = self._channel_json(
            cid,
            name,
            state="Down",
            app_name="Stasis",
            app_data=",".join(filter(None, [params["app"], media_uuid])),
        )
        ch = PeerChannel(json=data, app=params["app"], media=params, created_by=params["app"])
        if encapsulation == "audiosocket":
            try:
                uuid_bytes = uuid_frame(media_uuid)
                h, _, p = host.rpartition(":")
                reader, ch.writer = await asyncio.wait_for(asyncio.open_connection(h, int(p)), 5)
                ch.writer.write(uuid_bytes)
                await ch.writer.drain()
                self.media_connections += 1
            except (OSError, ValueError, TimeoutError):
                # Asterisk: "Failed to parse UUID" or "Connection refused" in the log, 500 to the client.
                return _error(500, "An internal error prevented this request from being handled")
            ch.watch_task = asyncio.create_task(self._watch_media(ch, reader))
        self.channels[cid] = ch
        # As Asterisk 22: the 200 body says Down and carries the AUDIOSOCKET_* variables; by StasisStart the
        # channel is Up and events carry no channelvars.
        answer = copy.deepcopy(data)
        if encapsulation == "audiosocket":
            answer["channelvars"] = {"AUDIOSOCKET_SERVICE": host, "AUDIOSOCKET_UUID": media_uuid}
        data["state"] = "Up"
        data_arg = params.get("data")
        self._spawn(self._later(lambda: self._emit("StasisStart", ch, args=[data_arg] if data_arg else [])))
        return JSONResponse(answer)

    async def _watch_media(self, ch: PeerChannel, reader: asyncio.StreamReader) -> None:
        """The AudioSocket server closed the connection (or sent hang-up/error): the channel ends at once."""
        with contextlib.suppress(Exception):
            while await reader.read(4096):
                pass
        if ch.id in self.channels:
            ch.writer = None
            await self.hangup(ch.id, 0, "Unknown", request=False)

    async def _record(self, request: Request, params: dict, body: Any, cid: str) -> Response:
        ch = self._stasis_channel(cid)
        if isinstance(ch, JSONResponse):
            return ch
        name, fmt = params.get("name"), params.get("format")
        if not name or not fmt:
            return _error(400, "name and format are required")
        if fmt not in ("wav", "gsm", "ulaw", "sln"):
            return _error(422, "The format specified is unknown on this system")
        if name in self.live_recordings or (name in self.stored and params.get("ifExists", "fail") == "fail"):
            return _error(409, "A recording with the same name already exists on the system")
        rec = {"name": name, "format": fmt, "state": "queued", "target_uri": f"channel:{cid}"}
        if ch.bridge is not None:  # Asterisk 22 accepts, then fails the recording
            failed = dict(rec, state="failed", cause="Cannot record channel while in bridge")
            self._spawn(self._later(lambda: self._emit("RecordingFailed", None, app=ch.app, recording=failed)))
            return JSONResponse(rec, status_code=201)
        self.live_recordings[name] = {"channel": cid, "format": fmt}
        started = dict(rec, state="recording")
        self._spawn(self._later(lambda: self._emit("RecordingStarted", None, app=ch.app, recording=started)))
        return JSONResponse(rec, status_code=201)

    async def _create_bridge(self, request: Request, params: dict, body: Any, bid: str) -> Response:
        bridge = {
            "id": bid,
            "technology": "simple_bridge",
            "bridge_type": params.get("type", "mixing"),
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": params.get("name", ""),
            "channels": [],
            "creationtime": ari_time(),
            "video_mode": "talker",
        }
        self.bridges.setdefault(bid, bridge)
        return JSONResponse(self.bridges[bid])

    async def _destroy_bridge(self, request: Request, params: dict, body: Any, bid: str) -> Response:
        bridge = self.bridges.pop(bid, None)
        if bridge is None:
            return _error(404, "Bridge not found")
        for cid in bridge["channels"]:
            if cid in self.channels:
                self.channels[cid].bridge = None
        return Response(status_code=204)

    async def _add_channel(self, request: Request, params: dict, body: Any, bid: str) -> Response:
        bridge = self.bridges.get(bid)
        if bridge is None:
            return _error(404, "Bridge not found")
        ids = [c for c in params.get("channel", "").split(",") if c]
        if not ids:
            return _error(400, "Channel not provided")
        for cid in ids:
            ch = self.channels.get(cid)
            if ch is None:
                return _error(400, "Channel not found")
            if ch.app is None:
                return _error(422, "Channel not in Stasis application")
        for cid in ids:
            self.channels[cid].bridge = bid
            bridge["channels"].append(cid)
        self._start_media_if_ready(bridge)
        return Response(status_code=204)

    def _start_media_if_ready(self, bridge: dict[str, Any]) -> None:
        members = [self.channels[c] for c in bridge["channels"] if c in self.channels]
        # Real Asterisk (audiohook directions): a snoop's spy=in hears what the channel receives from the caller,
        # spy=out what is sent to the caller (the operator's voice); "both" mixes the two (used for recording).
        snoops = [c for c in members if c.snoop_of and c.spy in ("in", "both", "out")]
        media = [c for c in members if c.writer is not None and c.stream_task is None]
        for m in media:
            for s in snoops:
                caller = self.channels.get(s.snoop_of or "")
                if caller is not None and s.spy == "out":
                    # Real Asterisk (22.10.1, verified): a spy=out snoop sends a frame every 20 ms from its start,
                    # digital silence while nothing is played to the caller; here as long as the caller's audio.
                    heard = caller.heard + b"\x00" * max(0, len(caller.audio) - len(caller.heard))
                    m.stream_task = asyncio.create_task(self._stream(m, heard))
                elif caller is not None:
                    heard = 0
                    if self.realtime_media:
                        # Real Asterisk: the caller speaks in real time whoever listens; a snoop attached later
                        # (callcard restarted and listens again) hears them from that moment on, and what was
                        # said before is only in the recording.
                        now = time.monotonic()
                        if caller.voice_since is None:
                            caller.voice_since = now
                        heard = min(len(caller.audio), int((now - caller.voice_since) / 0.02) * 320)
                    m.stream_task = asyncio.create_task(self._stream(m, caller.audio[heard:]))

    async def _stream(self, media: PeerChannel, pcm: bytes) -> None:
        assert media.writer is not None
        start = time.monotonic()
        for i in range(0, len(pcm), 320):
            frame = pcm[i : i + 320]
            media.writer.write(encode_frame(KIND_AUDIO, frame))
            if self.realtime_media:
                delay = start + (i // 320 + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % (320 * 50) == 0:
                await media.writer.drain()
        await media.writer.drain()

    async def _subscribe(self, request: Request, params: dict, body: Any, app: str) -> Response:
        source = params.get("eventSource", "")
        if not source:
            return _error(400, "Missing parameter eventSource")
        kind, _, ident = source.partition(":")
        if kind != "channel":
            return _error(400, "Invalid event source")
        if ident not in self.channels:
            return _error(422, "Event source does not exist")
        self.subscriptions.setdefault(app, set()).add(ident)
        return JSONResponse(
            {
                "name": app,
                "channel_ids": sorted(self.subscriptions[app]),
                "bridge_ids": [],
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [],
                "events_disallowed": [],
            }
        )

    async def _originate(self, request: Request, params: dict, body: Any) -> Response:
        endpoint = params.get("endpoint")
        if not endpoint:
            return _error(400, "Endpoint must be specified")
        if not params.get("app") and not params.get("extension"):
            return _error(400, "Application or extension must be specified")
        cid = params.get("channelId") or self._new_id()
        self._seq += 1
        name = f"{endpoint.split('@')[0]}@{endpoint.split('@')[-1]}-{self._seq:08x};1"
        data = self._channel_json(
            cid,
            name,
            state="Down",
            context=params.get("context", "default"),
            exten=params.get("extension", "s"),
        )
        variables = dict((body or {}).get("variables", {}))
        data["channelvars"] = variables
        one = PeerChannel(json=data, app=params.get("app"), created_by=params.get("app"))
        self.channels[cid] = one
        if endpoint.startswith("Local/") and "@" in endpoint:
            # Real Asterisk: POST /channels answers 200 with the ;1 half before anything is dialled; the ;2 half
            # exists too and inherits the "__" variables (without the underscores).
            exten, _, context = endpoint[len("Local/") :].partition("@")
            two_id = f"{cid}-2" if params.get("channelId") else self._new_id()
            two_json = self._channel_json(two_id, name[:-2] + ";2", state="Ring", context=context, exten=exten)
            two_json["channelvars"] = {k.lstrip("_"): v for k, v in variables.items() if k.startswith("_")}
            two = PeerChannel(json=two_json)
            self.channels[two_id] = two
            self._spawn(self._run_local(one, two, context, exten))
        return JSONResponse(data)

    async def _run_local(self, one: PeerChannel, two: PeerChannel, context: str, exten: str) -> None:
        """The Local channel is dialled and its ;2 half runs ``exten@context``."""
        await asyncio.sleep(self.local_delay)
        step = self.find_extension(context, exten)
        if step is None:
            # Real Asterisk (core_local.c local_call): "No such extension/context <exten>@<context> while calling
            # Local channel"; ast_call fails and main/dial.c hangs the originated ;1 up with no cause set: both
            # halves are destroyed, the caller is not touched.
            for ch in (two, one):
                if ch.id in self.channels:
                    await self._destroy(ch, 0, "Unknown")
            return
        app_name, app_data = step
        two.json["dialplan"].update(app_name=app_name, app_data=app_data)
        if app_name == "ChannelRedirect":
            variables = two.json.get("channelvars") or {}
            known = {**variables, "EXTEN": exten}
            data = re.sub(r"\$\{(\w+)\}", lambda m: str(known.get(m[1], "")), app_data)
            target_name, _, label = data.partition(",")
            target = next((c for c in self.channels.values() if c.json["name"] == target_name), None)
            if target is not None:
                # Real Asterisk (app_channelredirect): ast_async_parseable_goto moves the other channel, out of
                # Stasis or a bridge if need be; a channel that is not found sets CHANNELREDIRECT_STATUS=NOCHANNEL.
                to_context, to_exten, to_priority = (label.split(",") + ["", "", "1"])[:3]
                if target.app:
                    self._emit("StasisEnd", target)
                    target.app = None
                self._goto(target, to_context, to_exten, int(to_priority or 1))
            # Real Asterisk: the next priority is Hangup() and ;2 never answered, so the originate of ;1 fails
            # and both halves go away (the "done" extension of ;1 is never reached).
            await asyncio.sleep(self.local_delay)
            for ch in (two, one):
                if ch.id in self.channels:
                    await self._destroy(ch, 16, "Normal Clearing")

    async def _list_stored(self, request: Request, params: dict, body: Any) -> Response:
        return JSONResponse([{"name": name, "format": "wav"} for name in sorted(self.stored)])

    async def _get_stored(self, request: Request, params: dict, body: Any, name: str) -> Response:
        if name not in self.stored:
            return _error(404, "Recording not found")
        return JSONResponse({"name": name, "format": "wav"})

    async def _delete_stored(self, request: Request, params: dict, body: Any, name: str) -> Response:
        content = self.stored.pop(name, None)
        if content is None:
            return _error(404, "Recording not found")
        self.deleted[name] = content
        return Response(status_code=204)

    async def _get_stored_file(self, request: Request, params: dict, body: Any, name: str) -> Response:
        if name not in self.stored:
            return _error(404, "Recording not found")
        return Response(self.stored[name], media_type="audio/wav")
