"""Emergency transfer: move a live caller to the 101, 102, 103 or 104 destination, and SEE that it got there.

ARI's answers say nothing about the outcome: ``POST /channels/{id}/continue`` answers 204 before the dialplan
runs, and ``POST /channels`` (originate) answers 200 before its Local channel does anything; the Local channel can
then fail ("No such extension/context") and be destroyed while the caller stays with the operators. So a transfer
is reported done only once callcard has read the caller's channel (``GET /channels/{id}``) in the emergency
context at the code's extension. It fails when the caller hangs up, when the Local channel ends without moving the
caller, or when the deadline passes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from core.errors import TelephonyError
from telephony.ari import AriClient, AriError, Json
from telephony.dialplan import EMERGENCY_CODES, DialplanPlace, missing_places

logger = logging.getLogger(__name__)

__all__ = ["EMERGENCY_CODES", "AriTransfer", "TransferError", "TransferFailure", "TransferOutcome", "TransferStatus"]


class TransferError(TelephonyError):
    """The caller could not be moved (kept for callers that raise; AriTransfer returns a TransferOutcome)."""


class TransferStatus(StrEnum):
    """Where an attempt ended."""

    TRANSFERRED = "transferred"
    FAILED = "failed"


class TransferFailure(StrEnum):
    """Why an attempt failed (the API shows it; the audit keeps it)."""

    UNKNOWN_CODE = "unknown_code"
    CALLER_GONE = "caller_gone"
    DIALPLAN_MISSING = "dialplan_missing"
    REFUSED = "refused"
    TRANSFER_CHANNEL_FAILED = "transfer_channel_failed"
    UNREACHABLE = "asterisk_unreachable"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """What happened to one attempt (implements api.context.TransferOutcome)."""

    status: TransferStatus
    code: str
    destination: str  # "emergency,103,1"
    method: str  # "continue" (caller in Stasis), "redirect" (Local channel + ChannelRedirect), "" (not tried)
    elapsed_s: float
    reason: str = ""  # a TransferFailure value when failed
    detail: str = ""

    @property
    def transferred(self) -> bool:
        """The caller was seen at the destination."""
        return self.status is TransferStatus.TRANSFERRED

    @property
    def timed_out(self) -> bool:
        """Asterisk did not show the outcome in time (the caller may still be moved later)."""
        return self.reason == TransferFailure.TIMEOUT


class AriTransfer:
    """Implements api.context.CallTransfer: ``outcome = await transfer(uniqueid=..., code="103")``.

    A caller still in Stasis is moved with ``POST /channels/{id}/continue`` into ``emergency_context``,
    extension ``code``. A caller already handed to the operators is no longer in Stasis (ARI answers 409 to
    continue and redirect), so callcard originates a Local channel into ``transfer_context``, whose dialplan
    runs ``ChannelRedirect(${CALLCARD_TRANSFER_CHANNEL},<emergency_context>,${EXTEN},1)`` (see
    telephony/asterisk/extensions.conf). Either way the caller's channel is then watched (every ``poll_s``)
    until it is at the destination, and the whole attempt is bounded by ``deadline_s``.
    """

    def __init__(
        self,
        client: AriClient,
        *,
        emergency_context: str,
        transfer_context: str,
        deadline_s: float = 1.5,
        poll_s: float = 0.1,
        local_grace_s: float = 0.3,
    ) -> None:
        """Configure the destinations and the timing (``local_grace_s``: how long after the Local channel ended
        the caller may still take to show up at the destination)."""
        self.client = client
        self.emergency_context = emergency_context
        self.transfer_context = transfer_context
        self.deadline_s = deadline_s
        self.poll_s = poll_s
        self.local_grace_s = local_grace_s

    def destination(self, code: str) -> str:
        """"context,exten,priority" of the emergency service ``code``."""
        return f"{self.emergency_context},{code},1"

    async def transfer(self, *, uniqueid: str, code: str) -> TransferOutcome:
        """Move the caller on channel ``uniqueid`` to emergency ``code``; never raises for Asterisk's answers."""
        attempt = _Attempt(code=code, destination=self.destination(code), started=time.monotonic())
        if code not in EMERGENCY_CODES:
            return attempt.failed(
                TransferFailure.UNKNOWN_CODE, f"unknown emergency code {code!r}; expected {', '.join(EMERGENCY_CODES)}"
            )
        try:
            async with asyncio.timeout(self.deadline_s):
                outcome = await self._move(uniqueid, attempt)
        except TimeoutError:
            outcome = attempt.failed(
                TransferFailure.TIMEOUT,
                f"Asterisk did not show the caller at {attempt.destination} within {self.deadline_s:g} s",
            )
        log = logger.info if outcome.transferred else logger.warning
        log(
            "call %s transfer to %s: %s%s (%s, %.2f s)",
            uniqueid,
            outcome.destination,
            outcome.status.value,
            f" [{outcome.reason}] {outcome.detail}" if outcome.reason else "",
            outcome.method or "not tried",
            outcome.elapsed_s,
        )
        return outcome

    async def _move(self, uniqueid: str, attempt: _Attempt) -> TransferOutcome:
        try:
            caller = await self.client.get_channel(uniqueid)
        except AriError as exc:
            return attempt.from_error(exc, uniqueid)
        if self._arrived(caller, attempt.code):  # pressed twice: it is already there
            return attempt.succeeded()
        emergency = DialplanPlace(self.emergency_context, attempt.code)
        preflight = await self._missing(uniqueid, [emergency], attempt)
        if preflight is not None:
            return preflight
        try:
            await self.client.continue_in_dialplan(
                uniqueid, context=self.emergency_context, extension=attempt.code, priority=1
            )
            attempt.method = "continue"
            return await self._watch(uniqueid, attempt, local_id=None)
        except AriError as exc:
            if exc.not_found or exc.status not in (409, 412):
                return attempt.from_error(exc, uniqueid)
        # Not in Stasis (with the operators): a Local channel runs ChannelRedirect for us.
        attempt.method = "redirect"
        helper = DialplanPlace(self.transfer_context, attempt.code)
        preflight = await self._missing(uniqueid, [helper], attempt)
        if preflight is not None:
            return preflight
        try:
            local = await self.client.originate(
                endpoint=f"Local/{attempt.code}@{self.transfer_context}",
                context=self.transfer_context,
                extension="done",
                priority=1,
                # "__" makes the variable inherited by the Local channel's ;2 half, which runs the dialplan.
                variables={"__CALLCARD_TRANSFER_CHANNEL": str(caller["name"])},
            )
        except AriError as exc:
            return attempt.from_error(exc, uniqueid)
        return await self._watch(uniqueid, attempt, local_id=str(local.get("id", "")) or None)

    async def _missing(self, uniqueid: str, places: list[DialplanPlace], attempt: _Attempt) -> TransferOutcome | None:
        """A failed outcome when Asterisk says the dialplan lacks ``places`` (None: go on, also when unsure)."""
        try:
            missing = await missing_places(self.client, uniqueid, places)
        except AriError as exc:
            return attempt.from_error(exc, uniqueid)
        if not missing:
            return None
        return attempt.failed(
            TransferFailure.DIALPLAN_MISSING,
            "Asterisk's dialplan has no " + " and no ".join(f"extension {p.exten} in [{p.context}]" for p in missing),
        )

    def _arrived(self, channel: Json, code: str) -> bool:
        where = channel.get("dialplan") or {}
        return bool(where.get("context") == self.emergency_context and str(where.get("exten")) == code)

    async def _watch(self, uniqueid: str, attempt: _Attempt, *, local_id: str | None) -> TransferOutcome:
        """Poll the caller (and the Local channel) until the caller is at the destination or it cannot be."""
        local_gone_at: float | None = None
        while True:
            try:
                caller = await self.client.get_channel(uniqueid)
            except AriError as exc:
                if exc.not_found:
                    return attempt.failed(TransferFailure.CALLER_GONE, "the caller hung up during the transfer")
                caller = {}  # a transient error: keep looking until the deadline
            if caller and self._arrived(caller, attempt.code):
                return attempt.succeeded()
            now = time.monotonic()
            if local_id is not None and local_gone_at is None:
                try:
                    await self.client.get_channel(local_id)
                except AriError as exc:
                    if exc.not_found:
                        local_gone_at = now
            if local_gone_at is not None and now - local_gone_at >= self.local_grace_s:
                where = (caller.get("dialplan") or {}) if caller else {}
                return attempt.failed(
                    TransferFailure.TRANSFER_CHANNEL_FAILED,
                    f"the Local channel into [{self.transfer_context}] ended without moving the caller "
                    f"(still at {where.get('context', '?')},{where.get('exten', '?')})",
                )
            await asyncio.sleep(self.poll_s)


@dataclass
class _Attempt:
    """One attempt in progress (mutable: the method is learnt on the way)."""

    code: str
    destination: str
    started: float
    method: str = ""

    def _elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def succeeded(self) -> TransferOutcome:
        return TransferOutcome(TransferStatus.TRANSFERRED, self.code, self.destination, self.method, self._elapsed())

    def failed(self, reason: TransferFailure, detail: str) -> TransferOutcome:
        return TransferOutcome(
            TransferStatus.FAILED, self.code, self.destination, self.method, self._elapsed(), reason.value, detail
        )

    def from_error(self, exc: AriError, uniqueid: str) -> TransferOutcome:
        if exc.not_found:
            return self.failed(TransferFailure.CALLER_GONE, f"the caller's channel {uniqueid} no longer exists")
        if exc.status == 0:
            return self.failed(TransferFailure.UNREACHABLE, f"Asterisk cannot be reached: {exc.detail}")
        return self.failed(TransferFailure.REFUSED, f"Asterisk refused the transfer: {exc.detail}")
