"""Does Asterisk's dialplan have the places callcard sends callers to? Asked through ARI, cached briefly.

Real Asterisk evaluates a dialplan function through ARI only on a channel:
``GET /channels/{id}/variable?variable=DIALPLAN_EXISTS(emergency,103,1)`` answers ``{"value": "1"}`` or
``{"value": "0"}``. ``GET /asterisk/variable`` reads global variables only (res_ari_asterisk calls
``ast_str_retrieve_variable``, which evaluates no function), so it cannot answer this. The check therefore runs on
a channel that is up: the caller's own channel before a transfer, or any channel when readiness is asked. With no
channel up the answer is "unverified", said as such.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from telephony.ari import AriClient, AriError, Json

logger = logging.getLogger(__name__)

EMERGENCY_CODES = ("101", "102", "103", "104")


@dataclass(frozen=True, slots=True)
class DialplanPlace:
    """One context, extension and priority the dialplan must have."""

    context: str
    exten: str
    priority: int = 1

    @property
    def expression(self) -> str:
        """The dialplan function that tells whether it exists."""
        return f"DIALPLAN_EXISTS({self.context},{self.exten},{self.priority})"

    def __str__(self) -> str:
        return f"{self.context},{self.exten},{self.priority}"


class DialplanState(StrEnum):
    """What the last check found."""

    OK = "ok"
    MISSING = "missing"
    UNVERIFIED = "unverified"  # nothing to evaluate on, ARI unreachable, or func_dialplan not loaded


@dataclass(frozen=True, slots=True)
class DialplanReport:
    """The outcome of one check."""

    state: DialplanState
    missing: tuple[str, ...] = ()
    detail: str = ""
    checked_at: float | None = None  # wall-clock time of the check

    def as_dict(self) -> dict[str, object]:
        """For /api/ready."""
        out: dict[str, object] = {"status": self.state.value, "missing": list(self.missing)}
        if self.detail:
            out["detail"] = self.detail
        if self.checked_at is not None:
            out["checked_at"] = round(self.checked_at, 3)
        return out


def required_places(
    *,
    operators_context: str,
    operators_extension: str,
    emergency_context: str,
    transfer_context: str,
    codes: Sequence[str] = EMERGENCY_CODES,
) -> tuple[DialplanPlace, ...]:
    """Every place callcard sends callers to: the operators, each emergency code, and the transfer helper."""
    places = [DialplanPlace(operators_context, operators_extension)]
    places += [DialplanPlace(emergency_context, code) for code in codes]
    places += [DialplanPlace(transfer_context, code) for code in codes]
    places.append(DialplanPlace(transfer_context, "done"))
    return tuple(places)


async def place_exists(client: AriClient, channel_id: str, place: DialplanPlace) -> bool | None:
    """True or False as Asterisk evaluates DIALPLAN_EXISTS on ``channel_id``; None when it cannot say.

    Raises:
        AriError: only when the channel is gone (404), so the caller can pick another one.
    """
    try:
        value = await client.channel_variable(channel_id, place.expression)
    except AriError as exc:
        if exc.not_found:
            raise
        # Real Asterisk answers 500 "Unable to read provided function" when func_dialplan is not loaded.
        logger.warning("could not evaluate %s on %s: %s", place.expression, channel_id, exc)
        return None
    return {"1": True, "0": False}.get(value.strip())


async def missing_places(client: AriClient, channel_id: str, places: Iterable[DialplanPlace]) -> list[DialplanPlace]:
    """The places Asterisk says do not exist (places it cannot judge are not listed).

    Raises:
        AriError: the channel is gone (404).
    """
    wanted = list(places)
    found = await asyncio.gather(*(place_exists(client, channel_id, p) for p in wanted))
    return [p for p, exists in zip(wanted, found, strict=True) if exists is False]


def _probe_channel(channels: list[Json]) -> str | None:
    """A channel to evaluate functions on: prefer real callers over Local, Snoop and media channels."""
    ranked = sorted(
        channels, key=lambda c: str(c.get("name", "")).startswith(("Local/", "Snoop/", "AudioSocket/", "UnicastRTP/"))
    )
    return str(ranked[0]["id"]) if ranked else None


class DialplanCheck:
    """Checks ``places`` on demand, keeps the last report, and re-checks when it is older than ``ttl_s``."""

    def __init__(
        self,
        client: AriClient,
        places: Sequence[DialplanPlace],
        *,
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Nothing is asked until ``check`` or ``report``."""
        self.client = client
        self.places = tuple(places)
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: DialplanReport = DialplanReport(DialplanState.UNVERIFIED, detail="not checked yet")
        self._last_at: float | None = None

    @property
    def last(self) -> DialplanReport:
        """The most recent report (``unverified`` before the first check)."""
        return self._last

    async def check(self, channel_id: str | None = None) -> DialplanReport:
        """Ask Asterisk now, on ``channel_id`` or on any channel that is up."""
        report = await self._ask(channel_id)
        self._last, self._last_at = report, self._clock()
        if report.state is DialplanState.MISSING:
            logger.error(
                "Asterisk's dialplan lacks what callcard needs: %s (see telephony/asterisk/extensions.conf)",
                "; ".join(report.missing),
            )
        return report

    async def report(self) -> DialplanReport:
        """The cached report, re-checked when older than ``ttl_s`` (one check at a time)."""
        async with self._lock:
            if self._last_at is not None and self._clock() - self._last_at < self.ttl_s:
                return self._last
            return await self.check()

    async def check_when_connected(self) -> None:
        """After start-up: wait for ARI's events WebSocket, then check once (a task; cancel to stop)."""
        await self.client.connected.wait()
        report = await self.check()
        logger.info("dialplan check at start-up: %s %s", report.state.value, report.detail or "")

    async def _ask(self, channel_id: str | None) -> DialplanReport:
        now = time.time()
        tried: set[str] = set()
        for _ in range(3):  # a channel may hang up while we ask; then try another one
            cid = channel_id
            if cid is None:
                try:
                    channels = [c for c in await self.client.list_channels() if str(c.get("id")) not in tried]
                except AriError as exc:
                    return DialplanReport(DialplanState.UNVERIFIED, detail=f"ARI unreachable: {exc}", checked_at=now)
                cid = _probe_channel(channels)
                if cid is None:
                    return DialplanReport(
                        DialplanState.UNVERIFIED,
                        detail="no channel is up; ARI evaluates DIALPLAN_EXISTS only on a channel",
                        checked_at=now,
                    )
            tried.add(cid)
            try:
                results = await asyncio.gather(*(place_exists(self.client, cid, p) for p in self.places))
            except AriError:
                if channel_id is not None:
                    return DialplanReport(DialplanState.UNVERIFIED, detail="the channel hung up", checked_at=now)
                continue
            missing = tuple(str(p) for p, ok in zip(self.places, results, strict=True) if ok is False)
            if missing:
                return DialplanReport(DialplanState.MISSING, missing=missing, checked_at=now)
            if any(ok is None for ok in results):
                return DialplanReport(
                    DialplanState.UNVERIFIED,
                    detail="Asterisk could not evaluate DIALPLAN_EXISTS (is func_dialplan loaded?)",
                    checked_at=now,
                )
            return DialplanReport(DialplanState.OK, checked_at=now)
        return DialplanReport(DialplanState.UNVERIFIED, detail="every channel hung up while checked", checked_at=now)
