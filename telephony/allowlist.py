"""Which Asterisk hosts may connect to the FastAGI and AudioSocket servers.

Neither protocol has any authentication: whoever reaches the port can announce calls (FastAGI) or stream audio
into one (AudioSocket). Both servers bind to loopback by default. A site that binds them wider names its
Asterisk addresses (``CALLCARD_TELEPHONY_ALLOW="10.0.0.5,10.0.0.0/24"``); connections from anywhere else are
closed at once and logged. With no list, a server bound to loopback takes loopback peers only, and a server
bound wider takes anyone, with a warning at start.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterable, Sequence

from core.errors import ConfigError

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
REFUSAL_LOG_INTERVAL_S = 60.0  # a refused address is logged once a minute at most (with a count), not per try
MAX_TRACKED_ADDRESSES = 1024


def parse_allow_list(text: str | Iterable[str]) -> tuple[Network, ...]:
    """Addresses and networks from "10.0.0.5, 10.0.0.0/24, ::1" (or a list of them); ConfigError names a bad one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    networks: list[Network] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConfigError(f"{item!r} in the telephony allow-list is not an IP address or network") from exc
    return tuple(networks)


def is_loopback_host(host: str) -> bool:
    """Whether a bind host listens on loopback only ("127.0.0.1", "::1", "localhost")."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # "" (every interface) or a host name, which may resolve to anything


def peer_address(peername: object) -> Address | None:
    """The IP address in a socket's ``peername`` (IPv4-mapped IPv6 as IPv4); None when there is none."""
    if not isinstance(peername, tuple) or not peername or not isinstance(peername[0], str):
        return None
    try:
        address = ipaddress.ip_address(peername[0].split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class PeerAllowList:
    """The peers one telephony server accepts: ``networks`` if given, else loopback when ``bound_host`` is
    loopback, else everyone (``open``: said once by ``warn_if_open``)."""

    def __init__(self, networks: Sequence[Network] = (), *, bound_host: str = "127.0.0.1") -> None:
        """Allow ``networks``; with none, derive the rule from the host the server binds to."""
        self.bound_host = bound_host
        self.networks: tuple[Network, ...] = tuple(networks)
        self.open = False
        if not self.networks:
            if is_loopback_host(bound_host):
                self.networks = LOOPBACK
            else:
                self.open = True
        self.refused = 0
        self._last_logged: dict[str, tuple[float, int]] = {}  # address -> (when logged, refused since)

    def describe(self) -> str:
        """The rule in words, for the log."""
        if self.open:
            return "any address (no allow-list)"
        return ", ".join(str(n) for n in self.networks)

    def allows(self, peername: object) -> bool:
        """Whether a connection from ``peername`` (a socket's peer name) may stay open."""
        if self.open:
            return True
        address = peer_address(peername)
        if address is None:
            return False
        return any(address.version == n.version and address in n for n in self.networks)

    def admit(self, server: str, peername: object) -> bool:
        """``allows``, and a warning for a refused peer (at most once a minute per address, with a count)."""
        if self.allows(peername):
            return True
        self.refused += 1
        address = str(peer_address(peername) or peername)
        now = time.monotonic()
        last = self._last_logged.get(address)
        if last is not None and now - last[0] < REFUSAL_LOG_INTERVAL_S:
            self._last_logged[address] = (last[0], last[1] + 1)
            return False
        if len(self._last_logged) >= MAX_TRACKED_ADDRESSES:
            self._last_logged.clear()
        more = f" ({last[1]} more refused in the last minute)" if last is not None and last[1] else ""
        logger.warning(
            "%s: connection from %s refused and closed: not in the telephony allow-list (%s)%s",
            server,
            address,
            self.describe(),
            more,
        )
        self._last_logged[address] = (now, 0)
        return False

    def warn_if_open(self, server: str, where: str) -> None:
        """Log, at start, that a server bound beyond loopback takes connections from anyone."""
        if self.open:
            logger.warning(
                "%s listens on %s without an allow-list: any host that reaches this port is taken for Asterisk. "
                'Set CALLCARD_TELEPHONY_ALLOW to the Asterisk addresses (e.g. "10.0.0.5,10.0.0.0/24"), or bind '
                "to 127.0.0.1.",
                server,
                where,
            )
        else:
            logger.info("%s accepts connections from %s", server, self.describe())
