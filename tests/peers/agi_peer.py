"""An AGI peer that talks to a FastAGI server the way Asterisk's res_agi does.

It sends ``agi_network: yes``, ``agi_network_script: <script>``, the agi_* environment in res_agi's order and a
blank line, then answers each command with ``200 result=...`` (or 510 for a command it does not know), and can
send the ``HANGUP`` line FastAGI sends when the channel hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.demo import asterisk_env, default_reply


@dataclass
class AgiSession:
    """What happened in one FastAGI session."""

    commands: list[str] = field(default_factory=list)
    closed_by_server: bool = False


def asterisk_reply(command: str, *, state: int = 6) -> str:
    """res_agi's answers: CHANNEL STATUS gives ast_channel_state (6 = Up, 4 = Ring), the rest as default_reply."""
    if command.upper().startswith("CHANNEL STATUS"):
        # Real Asterisk: handle_channelstatus answers "200 result=<state>" for the current channel.
        return f"200 result={state}"
    return default_reply(command)


async def agi_call(
    port: int,
    script: str,
    *,
    uniqueid: str,
    caller: str = "+77011234567",
    args: list[str] | None = None,
    channel: str = "PJSIP/trunk-0000002a",
    reply: Callable[[str], str] | None = None,
    hangup_after: int | None = None,
    host: str = "127.0.0.1",
    read_timeout: float = 10.0,
    state: int = 6,
) -> AgiSession:
    """Run one FastAGI request like Asterisk; ``hangup_after=n`` sends HANGUP after the n-th command."""
    env = asterisk_env(
        script=script,
        host=host,
        port=port,
        uniqueid=uniqueid,
        channel=channel,
        caller=caller,
        extension="h" if script == "hangup" else "109",
        context="from-trunk",
        args=args,
    )
    return await agi_raw(
        port,
        "".join(f"{k}: {v}\n" for k, v in env).encode() + b"\n",
        reply=reply or (lambda command: asterisk_reply(command, state=state)),
        hangup_after=hangup_after,
        host=host,
        read_timeout=read_timeout,
    )


async def agi_raw(
    port: int,
    preamble: bytes,
    *,
    reply: Callable[[str], str] = default_reply,
    hangup_after: int | None = None,
    host: str = "127.0.0.1",
    read_timeout: float = 10.0,
    close_after_preamble: bool = False,
) -> AgiSession:
    """Send ``preamble`` as is (for malformed environments), then answer commands until the server closes."""
    reader, writer = await asyncio.open_connection(host, port)
    session = AgiSession()
    try:
        writer.write(preamble)
        await writer.drain()
        if close_after_preamble:
            writer.write_eof()
        while True:
            line = await asyncio.wait_for(reader.readline(), read_timeout)
            if not line:
                session.closed_by_server = True
                break
            command = line.decode().strip()
            session.commands.append(command)
            if hangup_after is not None and len(session.commands) > hangup_after:
                writer.write(b"HANGUP\n")
                writer.write(b"511 Command Not Permitted on a dead channel or intercepted handler\n")
            else:
                writer.write((reply(command) + "\n").encode())
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return session
