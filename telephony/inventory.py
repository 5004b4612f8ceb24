"""What Asterisk has: its channels (ARI), its stored recordings (ARI) and the MixMonitor files of FastAGI calls.

Implements ``telephony.events.AsteriskInventory`` for the reconciler. Without ARI (FastAGI-only sites) the
channels are unknown and the MixMonitor file is the only evidence: closed (header written) means the channel
is gone; not written for ``idle_s`` seconds means its writer died.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from core.errors import TelephonyError
from telephony.ari import AriClient, AriError
from telephony.ari_app import AriApplication
from telephony.ari_recordings import fetch_stored_recording, finished
from telephony.events import RecordingEvidence, RecordingFinished, RecordingState
from telephony.fastagi import mixmonitor_path
from telephony.recording import describe_wav, repair_wav

logger = logging.getLogger(__name__)


class TelephonyInventory:
    """Asks ARI (when there is one) and looks at the recordings directory."""

    def __init__(
        self,
        recordings_dir: Path,
        *,
        ari_client: AriClient | None = None,
        ari_app: AriApplication | None = None,
        idle_s: float = 120.0,
        delete_fetched_recordings: bool = True,
    ) -> None:
        """``idle_s``: a MixMonitor file not written for this long, and never closed, is abandoned."""
        self.recordings_dir = recordings_dir
        self.ari_client = ari_client
        self.ari_app = ari_app
        self.idle_s = idle_s
        self.delete_fetched_recordings = delete_fetched_recordings

    async def channels(self) -> frozenset[str] | None:
        """GET /ari/channels; None without ARI or when Asterisk does not answer."""
        if self.ari_client is None:
            return None
        try:
            listed = await self.ari_client.list_channels()
        except AriError as exc:
            logger.warning("reconciling without Asterisk's channels: %s", exc)
            return None
        return frozenset(str(c["id"]) for c in listed if isinstance(c, dict) and c.get("id"))

    def following(self, uniqueid: str) -> bool:
        """The ARI application follows (or has just ended) this call itself."""
        return self.ari_app is not None and self.ari_app.following(uniqueid)

    async def recording(self, uniqueid: str, *, source: str, gone: bool) -> RecordingEvidence:
        """An ARI call's stored recordings (looked for once it is ``gone``); another call's MixMonitor file."""
        if source != "ari":
            return await asyncio.to_thread(self._mixmonitor, uniqueid, gone)
        if not gone or self.ari_client is None:
            return RecordingEvidence(state=RecordingState.MISSING)
        adopted = await self._stored(uniqueid)
        if not adopted:
            return RecordingEvidence(state=RecordingState.MISSING)
        complete = all(r.complete for r in adopted)
        return RecordingEvidence(
            state=RecordingState.CLOSED if complete else RecordingState.ABANDONED, recordings=tuple(adopted)
        )

    async def _stored(self, uniqueid: str) -> list[RecordingFinished]:
        assert self.ari_client is not None
        try:
            stored = await self.ari_client.request("GET", "/recordings/stored") or []
        except AriError as exc:
            logger.warning("call %s: stored recordings not listed: %s", uniqueid, exc)
            return []
        # The ARI application names them callcard-<uniqueid> or callcard-<uniqueid>-<attempt>.
        pattern = re.compile(rf"callcard-{re.escape(uniqueid)}(-\d+)?")
        found: list[RecordingFinished] = []
        for item in stored:
            name, fmt = str(item.get("name", "")), str(item.get("format") or "wav")
            if not pattern.fullmatch(name):
                continue
            info = await fetch_stored_recording(
                self.ari_client, name, fmt, self.recordings_dir, delete=self.delete_fetched_recordings
            )
            if info is not None:
                logger.info("call %s: orphan recording %s adopted (%.1f s)", uniqueid, name, info.duration_s)
                found.append(finished(uniqueid, info, fmt=fmt))
        return found

    def recorded_calls(self, *, idle_s: float) -> list[tuple[str, str]]:
        """(uniqueid, absolute path) of each ``callcard-<uniqueid>.wav`` in the recordings directory (MixMonitor's and
        the fetched ARI recordings' naming) not written for ``idle_s`` seconds."""
        now = time.time()
        out: list[tuple[str, str]] = []
        for path in sorted(self.recordings_dir.glob("callcard-*.wav")):
            try:
                if now - path.stat().st_mtime < idle_s:
                    continue
            except OSError:
                continue
            out.append((path.stem[len("callcard-") :], str(path.absolute())))
        return out

    def _mixmonitor(self, uniqueid: str, gone: bool) -> RecordingEvidence:
        path = mixmonitor_path(self.recordings_dir, uniqueid)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return RecordingEvidence(state=RecordingState.MISSING)
        last_write = datetime.fromtimestamp(mtime, UTC)
        try:
            info = describe_wav(path)
        except TelephonyError as exc:
            logger.warning("call %s: MixMonitor file %s unreadable: %s", uniqueid, path, exc)
            return RecordingEvidence(state=RecordingState.MISSING, last_write=last_write)
        idle = time.time() - mtime >= self.idle_s
        if info.complete:
            state = RecordingState.CLOSED
        elif idle or (gone and time.time() - mtime >= min(self.idle_s, 5.0)):
            state = RecordingState.ABANDONED
            info = repair_wav(path)
        else:
            return RecordingEvidence(state=RecordingState.GROWING, last_write=last_write)
        return RecordingEvidence(state=state, last_write=last_write, recordings=(finished(uniqueid, info),))
