"""What /api/ready says about ARI: is the events WebSocket connected, and does the dialplan have callcard's places."""

from __future__ import annotations

from telephony.ari import AriClient
from telephony.dialplan import DialplanCheck, DialplanState


class AriReadiness:
    """An async status reporter (wired into api.context.ApiContext.probes by the composition root)."""

    def __init__(self, client: AriClient, dialplan: DialplanCheck) -> None:
        """Report on ``client``'s connection and ``dialplan``'s (cached) check."""
        self.client = client
        self.dialplan = dialplan

    async def report(self) -> dict[str, object]:
        """{"status", "ari": {"connected", "connections"}, "dialplan": {"status", "missing", ...}}."""
        connected = self.client.events_connected
        if connected:
            dialplan = await self.dialplan.report()
        else:
            dialplan = self.dialplan.last  # no fresh check through a dead connection; the last one is shown
        status = "ok"
        if not connected:
            status = "ari disconnected"
        elif dialplan.state is DialplanState.MISSING:
            status = "dialplan missing"
        return {
            "status": status,
            "ari": {"connected": connected, "connections": self.client.connections, "url": self.client.base_url},
            "dialplan": dialplan.as_dict(),
        }
