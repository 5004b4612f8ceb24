"""Emergency transfer: move a live caller to the 101, 102, 103 or 104 destination through ARI."""

from __future__ import annotations

import logging

from core.errors import TelephonyError
from telephony.ari import AriClient, AriError

logger = logging.getLogger(__name__)

EMERGENCY_CODES = ("101", "102", "103", "104")


class TransferError(TelephonyError):
    """The caller could not be moved (unknown code, channel gone, Asterisk refused)."""


class AriTransfer:
    """Implements api.context.CallTransfer: ``await transfer(uniqueid=..., code="103")``.

    A caller still in Stasis is moved with ``POST /channels/{id}/continue`` into ``emergency_context``,
    extension ``code``. A caller already handed to the operators is no longer in Stasis (ARI answers 409 to
    continue and redirect), so callcard originates a Local channel into ``transfer_context``, whose dialplan
    runs ``ChannelRedirect(${CALLCARD_TRANSFER_CHANNEL},<emergency_context>,${EXTEN},1)`` (see
    telephony/asterisk/extensions.conf).
    """

    def __init__(self, client: AriClient, *, emergency_context: str, transfer_context: str) -> None:
        """Configure the destinations."""
        self.client = client
        self.emergency_context = emergency_context
        self.transfer_context = transfer_context

    async def transfer(self, *, uniqueid: str, code: str) -> str:
        """Move the caller on channel ``uniqueid`` to emergency ``code``; returns "context,exten,priority".

        Raises:
            TransferError: unknown code, the caller's channel no longer exists, or Asterisk refused.
        """
        if code not in EMERGENCY_CODES:
            raise TransferError(f"unknown emergency code {code!r}; expected one of {', '.join(EMERGENCY_CODES)}")
        target = f"{self.emergency_context},{code},1"
        try:
            await self.client.continue_in_dialplan(uniqueid, context=self.emergency_context, extension=code, priority=1)
            logger.info("call %s transferred to %s (continue)", uniqueid, target)
            return target
        except AriError as exc:
            if exc.not_found:
                raise TransferError(f"the caller's channel {uniqueid} no longer exists") from exc
            if exc.status not in (409, 412):
                raise TransferError(f"Asterisk refused the transfer: {exc.detail}") from exc
        try:
            channel = await self.client.get_channel(uniqueid)
            await self.client.originate(
                endpoint=f"Local/{code}@{self.transfer_context}",
                context=self.transfer_context,
                extension="done",
                priority=1,
                # "__" makes the variable inherited by the Local channel's ;2 half, which runs the dialplan.
                variables={"__CALLCARD_TRANSFER_CHANNEL": str(channel["name"])},
            )
        except AriError as exc:
            if exc.not_found:
                raise TransferError(f"the caller's channel {uniqueid} no longer exists") from exc
            raise TransferError(f"Asterisk refused the transfer: {exc.detail}") from exc
        logger.info("call %s transferred to %s (ChannelRedirect via %s)", uniqueid, target, self.transfer_context)
        return target
