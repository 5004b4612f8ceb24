"""TelephonyBridge: runs the ARI application, the AudioSocket media server and the FastAGI server together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from core.config import split_hostport
from telephony.ari import AriClient
from telephony.ari_app import AriApplication
from telephony.audiosocket import AudioSocketServer, MediaDirectory
from telephony.dialplan import DialplanCheck, required_places
from telephony.events import AudioSink, CallEventSink, CallIdResolver
from telephony.fastagi import FastAgiServer
from telephony.readiness import AriReadiness
from telephony.transfer import AriTransfer

logger = logging.getLogger(__name__)


class TelephonyBridge:
    """Everything callcard runs towards Asterisk, each part switchable, configured from plain values."""

    def __init__(
        self,
        *,
        events: CallEventSink,
        audio: AudioSink,
        recordings_dir: Path,
        call_ids: CallIdResolver | None = None,
        ari_enabled: bool = False,
        ari_url: str = "http://127.0.0.1:8088",
        ari_user: str = "callcard",
        ari_password: str = "",
        ari_app: str = "callcard",
        operators_context: str = "operators",
        operators_extension: str = "s",
        emergency_context: str = "emergency",
        transfer_context: str = "callcard-transfer",
        audiosocket_enabled: bool = True,
        audiosocket_bind: str = "127.0.0.1:9092",
        audiosocket_advertise: str = "",
        caller_recordings: bool = True,
        agi_enabled: bool = True,
        agi_bind: str = "127.0.0.1:4573",
        operator_voice: bool = True,
    ) -> None:
        """Build the enabled parts (nothing listens or connects until ``start``)."""
        self.directory = MediaDirectory()
        self.recordings_dir = recordings_dir
        self.audiosocket: AudioSocketServer | None = None
        self.fastagi: FastAgiServer | None = None
        self.ari_client: AriClient | None = None
        self.ari_app: AriApplication | None = None
        self.transfer: AriTransfer | None = None
        self.dialplan: DialplanCheck | None = None
        self.readiness: AriReadiness | None = None  # /api/ready's async telephony probe (ARI on only)
        self._dialplan_task: asyncio.Task[None] | None = None
        if audiosocket_enabled:
            host, port = split_hostport(audiosocket_bind, 9092)
            self.audiosocket = AudioSocketServer(
                audio=audio,
                events=events,
                directory=self.directory,
                host=host,
                port=port,
                caller_recordings_dir=recordings_dir / "caller" if caller_recordings else None,
            )
        if agi_enabled:
            host, port = split_hostport(agi_bind, 4573)
            self.fastagi = FastAgiServer(
                events=events,
                directory=self.directory,
                recordings_dir=recordings_dir,
                host=host,
                port=port,
                call_ids=call_ids,
                leg_recordings=operator_voice,
            )
        if ari_enabled:
            self.ari_client = AriClient(ari_url, ari_user, ari_password, ari_app)
            self.ari_app = AriApplication(
                self.ari_client,
                events,
                self.directory,
                audiosocket_advertise=audiosocket_advertise or audiosocket_bind,
                operators_context=operators_context,
                operators_extension=operators_extension,
                recordings_dir=recordings_dir,
                operator_voice=operator_voice,
            )
            self.transfer = AriTransfer(
                self.ari_client, emergency_context=emergency_context, transfer_context=transfer_context
            )
            places = required_places(
                operators_context=operators_context,
                operators_extension=operators_extension,
                emergency_context=emergency_context,
                transfer_context=transfer_context,
            )
            self.dialplan = DialplanCheck(self.ari_client, places)
            self.readiness = AriReadiness(self.ari_client, self.dialplan)

    async def start(self) -> None:
        """Start the media server first (Asterisk connects to it as soon as ARI sets a call up), then the rest."""
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        if self.audiosocket is not None:
            await self.audiosocket.start()
        if self.fastagi is not None:
            await self.fastagi.start()
        if self.ari_app is not None:
            await self.ari_app.start()
        if self.dialplan is not None:
            self._dialplan_task = asyncio.create_task(self.dialplan.check_when_connected(), name="dialplan-check")

    async def stop(self) -> None:
        """Stop every part (in reverse order)."""
        if self._dialplan_task is not None:
            self._dialplan_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._dialplan_task
        if self.ari_app is not None:
            await self.ari_app.stop()
        if self.ari_client is not None:
            await self.ari_client.aclose()
        if self.fastagi is not None:
            await self.fastagi.stop()
        if self.audiosocket is not None:
            await self.audiosocket.stop()
