"""Asterisk's stored recordings: fetch one into callcard's recordings directory, check it, free Asterisk's copy."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from telephony.ari import AriClient, AriError
from telephony.events import RecordingFinished
from telephony.recording import RecordingInfo, describe_wav, repair_wav

logger = logging.getLogger(__name__)


async def fetch_stored_recording(
    client: AriClient,
    name: str,
    fmt: str,
    recordings_dir: Path,
    *,
    delete: bool = True,
    quiet: bool = False,
    attempts: int = 5,
) -> RecordingInfo | None:
    """Download ``/recordings/stored/{name}`` to ``recordings_dir/{name}.{fmt}`` and describe it; None if it cannot.

    A file left by an Asterisk killed -9 (RIFF and data sizes 0) has its header repaired from its length and is
    described with ``complete=False``. Asterisk's copy is deleted once callcard's copy is readable (``delete``).
    ``quiet``: a recording that does not exist is logged at INFO (expected when looking for it on spec).
    """
    dest = recordings_dir / f"{name}.{fmt}"
    for attempt in range(attempts):
        try:
            await client.download_stored_recording(name, dest)
            break
        except AriError as exc:
            if not exc.transient or attempt == attempts - 1:
                log = logger.info if quiet and exc.not_found else logger.error
                log("recording %s could not be fetched: %s", name, exc)
                return None
            await asyncio.sleep(0.5 * 2**attempt)
    try:
        info = await asyncio.to_thread(describe_wav, dest)
        if not info.complete:  # no writer is left on a stored recording: repair what Asterisk left
            info = await asyncio.to_thread(repair_wav, dest)
    except Exception as exc:
        logger.error("fetched recording %s is unreadable: %s", dest, exc)
        return None
    if delete:
        try:
            await client.delete_stored_recording(name)
        except AriError as exc:
            logger.warning("stored recording %s not deleted on Asterisk: %s", name, exc)
    return info


def finished(uniqueid: str, info: RecordingInfo, *, fmt: str = "wav", kind: str = "mixed") -> RecordingFinished:
    """The RecordingFinished event of a described file."""
    return RecordingFinished(
        uniqueid=uniqueid,
        path=str(info.path),
        kind=kind,
        format=fmt,
        sample_rate=info.sample_rate,
        duration_s=info.duration_s,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        complete=info.complete,
    )
