"""Asterisk REST Interface client: the REST calls callcard uses and the events WebSocket, with reconnect."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import websockets
from websockets.asyncio.client import connect as ws_connect

from core.errors import TelephonyError

logger = logging.getLogger(__name__)

Json = dict[str, Any]
EventHandler = Callable[[Json], Awaitable[None]]
ConnectHandler = Callable[[], Awaitable[None]]


class AriError(TelephonyError):
    """Asterisk answered a REST call with an error status (or could not be reached: status 0)."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        """Keep the request and Asterisk's answer."""
        super().__init__(f"ARI {method} {path} -> {status or 'unreachable'}: {detail}")
        self.status = status
        self.detail = detail

    @property
    def not_found(self) -> bool:
        """The channel, bridge or recording does not exist (any more)."""
        return self.status == 404

    @property
    def transient(self) -> bool:
        """Worth retrying: Asterisk unreachable or failing internally."""
        return self.status == 0 or self.status >= 500


class AriClient:
    """REST calls on ``{base_url}/ari`` and the ``/ari/events`` WebSocket of one Stasis application."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        """Configure the client (nothing connects until used)."""
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith("/ari"):
            self.base_url = self.base_url[: -len("/ari")]
        self.user = user
        self.password = password
        self.app = app
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._http = httpx.AsyncClient(base_url=self.base_url + "/ari", auth=(user, password), timeout=timeout)
        self.connected = asyncio.Event()  # set by run_events while the events WebSocket is open
        self.connections = 0

    @property
    def events_connected(self) -> bool:
        """Whether the events WebSocket is open right now (read-only view of ``run_events``' state)."""
        return self.connected.is_set()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # ------------------------------------------------------------------------------------------------ REST

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None
    ) -> Any:
        """One REST call; returns the decoded JSON body (None for 204).

        Raises:
            AriError: non-2xx status, or Asterisk unreachable (status 0).
        """
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            resp = await self._http.request(method, path, params=clean, json=json_body)
        except httpx.HTTPError as exc:
            raise AriError(method, path, 0, str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 300:
            try:
                detail = str(resp.json().get("message", resp.text))
            except (ValueError, AttributeError):
                detail = resp.text
            raise AriError(method, path, resp.status_code, detail)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    async def list_channels(self) -> list[Json]:
        """GET /channels: every channel Asterisk has up."""
        return list(await self.request("GET", "/channels") or [])

    async def get_channel(self, channel_id: str) -> Json:
        """GET /channels/{channelId}."""
        return dict(await self.request("GET", f"/channels/{channel_id}"))

    async def channel_variable(self, channel_id: str, variable: str) -> str:
        """GET /channels/{channelId}/variable: a channel variable, or a dialplan function evaluated on the channel.

        Real Asterisk evaluates a function (a name ending with ")", e.g. ``DIALPLAN_EXISTS(emergency,103,1)``)
        only here, on a channel; ``GET /asterisk/variable`` reads global variables and never evaluates one.
        """
        body = await self.request("GET", f"/channels/{channel_id}/variable", params={"variable": variable})
        return str((body or {}).get("value", ""))

    async def global_variable(self, variable: str) -> str:
        """GET /asterisk/variable: a global dialplan variable ("" when it is not set)."""
        body = await self.request("GET", "/asterisk/variable", params={"variable": variable})
        return str((body or {}).get("value", ""))

    async def answer(self, channel_id: str) -> None:
        """POST /channels/{channelId}/answer."""
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """DELETE /channels/{channelId}."""
        await self.request("DELETE", f"/channels/{channel_id}", params={"reason": reason})

    async def continue_in_dialplan(
        self, channel_id: str, *, context: str, extension: str | None = None, priority: int | None = None
    ) -> None:
        """POST /channels/{channelId}/continue: leave Stasis for the dialplan."""
        await self.request(
            "POST",
            f"/channels/{channel_id}/continue",
            params={"context": context, "extension": extension, "priority": priority},
        )

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """POST /channels/{channelId}/redirect: move the channel to another endpoint."""
        await self.request("POST", f"/channels/{channel_id}/redirect", params={"endpoint": endpoint})

    async def snoop(
        self, channel_id: str, *, spy: str, snoop_id: str | None = None, app_args: str | None = None
    ) -> Json:
        """POST /channels/{channelId}/snoop: a channel that hears ``spy`` (in/out/both) of the target."""
        return dict(
            await self.request(
                "POST",
                f"/channels/{channel_id}/snoop",
                params={
                    "spy": spy,
                    "whisper": "none",
                    "app": self.app,
                    "appArgs": app_args,
                    "snoopId": snoop_id,
                },
            )
        )

    async def external_media(
        self,
        *,
        external_host: str,
        data: str,
        channel_id: str | None = None,
        encapsulation: str = "audiosocket",
        transport: str = "tcp",
        format: str = "slin",
        variables: dict[str, str] | None = None,
    ) -> Json:
        """POST /channels/externalMedia: Asterisk connects to ``external_host`` and streams the bridge's audio."""
        return dict(
            await self.request(
                "POST",
                "/channels/externalMedia",
                params={
                    "app": self.app,
                    "external_host": external_host,
                    "encapsulation": encapsulation,
                    "transport": transport,
                    "format": format,
                    "direction": "both",
                    "data": data,
                    "channelId": channel_id,
                },
                json_body={"variables": variables} if variables else None,
            )
        )

    async def originate(
        self,
        *,
        endpoint: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        app: str | None = None,
        app_args: str | None = None,
        channel_id: str | None = None,
        variables: dict[str, str] | None = None,
        ring_timeout: int = 30,
    ) -> Json:
        """POST /channels: create a channel (used for the Local channel of a transfer)."""
        return dict(
            await self.request(
                "POST",
                "/channels",
                params={
                    "endpoint": endpoint,
                    "context": context,
                    "extension": extension,
                    "priority": priority,
                    "app": app,
                    "appArgs": app_args,
                    "channelId": channel_id,
                    "timeout": ring_timeout,
                },
                json_body={"variables": variables} if variables else None,
            )
        )

    async def record(self, channel_id: str, *, name: str, format: str = "wav", if_exists: str = "overwrite") -> Json:
        """POST /channels/{channelId}/record: a live recording (stored as ``name``.``format`` when it ends)."""
        return dict(
            await self.request(
                "POST",
                f"/channels/{channel_id}/record",
                params={
                    "name": name,
                    "format": format,
                    "ifExists": if_exists,
                    "beep": False,
                    "terminateOn": "none",
                    "maxDurationSeconds": 0,
                    "maxSilenceSeconds": 0,
                },
            )
        )

    async def create_bridge(self, bridge_id: str, *, type: str = "mixing", name: str | None = None) -> Json:
        """POST /bridges/{bridgeId}."""
        return dict(await self.request("POST", f"/bridges/{bridge_id}", params={"type": type, "name": name}))

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        """POST /bridges/{bridgeId}/addChannel."""
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", params={"channel": ",".join(channel_ids)})

    async def destroy_bridge(self, bridge_id: str) -> None:
        """DELETE /bridges/{bridgeId}."""
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def subscribe(self, event_source: str) -> None:
        """POST /applications/{app}/subscription: keep receiving a channel's events after it leaves Stasis."""
        await self.request("POST", f"/applications/{self.app}/subscription", params={"eventSource": event_source})

    async def download_stored_recording(self, name: str, dest: Path) -> int:
        """GET /recordings/stored/{name}/file into ``dest`` (written atomically); returns its size."""
        path = f"/recordings/stored/{name}/file"
        tmp = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            async with self._http.stream("GET", path) as resp:
                if resp.status_code >= 300:
                    await resp.aread()
                    raise AriError("GET", path, resp.status_code, resp.text)
                with tmp.open("wb") as fh:  # noqa: ASYNC230 - small sequential chunks
                    async for chunk in resp.aiter_bytes(1 << 16):
                        fh.write(chunk)
                        size += len(chunk)
        except httpx.HTTPError as exc:
            raise AriError("GET", path, 0, str(exc)) from exc
        tmp.replace(dest)
        return size

    async def delete_stored_recording(self, name: str) -> None:
        """DELETE /recordings/stored/{name}: free Asterisk's disk once callcard has its copy."""
        await self.request("DELETE", f"/recordings/stored/{name}")

    # ------------------------------------------------------------------------------------------ WebSocket

    def events_url(self) -> str:
        """ws(s)://host/ari/events?app=...&subscribeAll=false."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = urlencode({"app": self.app, "subscribeAll": "false"})
        return urlunsplit((scheme, parts.netloc, parts.path + "/ari/events", query, ""))

    async def run_events(self, on_event: EventHandler, on_connect: ConnectHandler | None = None) -> None:
        """Receive events forever, reconnecting with jittered exponential back-off; cancel to stop.

        ``on_connect`` runs after every (re)connection, before events are read, so the caller can re-read the
        channels that are still up. A handler error is logged and never ends the loop.
        """
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        delay = self.backoff_initial
        url = self.events_url()
        while True:
            try:
                async with ws_connect(
                    url,
                    additional_headers=headers,
                    max_size=2**24,
                    ping_interval=20,
                    ping_timeout=20,
                    open_timeout=10,
                ) as ws:
                    self.connections += 1
                    logger.info("ARI events WebSocket connected to %s (app %s)", self.base_url, self.app)
                    delay = self.backoff_initial
                    self.connected.set()
                    if on_connect is not None:
                        try:
                            await on_connect()
                        except Exception:
                            logger.exception("ARI reconnect handler failed")
                    async for raw in ws:
                        try:
                            event = json.loads(raw)
                        except (TypeError, ValueError):
                            logger.error("ARI sent a message that is not JSON: %.200r", raw)
                            continue
                        if not isinstance(event, dict) or "type" not in event:
                            logger.error("ARI sent a message without a type: %.200r", raw)
                            continue
                        try:
                            await on_event(event)
                        except Exception:
                            logger.exception("ARI event %s could not be handled", event.get("type"))
                    logger.warning("ARI events WebSocket closed by Asterisk")
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
                logger.warning(
                    "ARI events WebSocket unavailable (%s); retrying in %.1f s",
                    exc or type(exc).__name__,
                    delay,
                )
            finally:
                self.connected.clear()
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(self.backoff_max, delay * 2)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
