"""The AGI protocol over an asyncio stream: the agi_* environment, commands and their results.

It follows res_agi: the environment is ``key: value`` lines ended by a blank line; each command is one line
answered by ``200 result=<n> [(<data>)] [key=value]``, ``510`` (invalid command), ``511`` (dead channel) or a
multi-line ``520`` usage block; a FastAGI server may receive a ``HANGUP`` line at any time once the channel hangs
up. pyst2 is kept where it helps: its result parsing (``re_kv``), its argument quoting and its error classes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asterisk.agi import AGI, AGIError, AGIHangup, AGIInvalidCommand, AGIResultHangup, AGIUsageError, re_kv

from core.errors import ProtocolError

MAX_LINE = 8192  # bytes; a longer AGI line is malformed
MAX_ENV_LINES = 200
# CHANNEL STATUS answers (res_agi's handle_channelstatus: ast_channel_state()).
STATE_UP = 6

__all__ = [
    "AGIError",
    "AGIHangup",
    "AGIInvalidCommand",
    "AGIResultHangup",
    "AGIUsageError",
    "AgiEnvError",
    "AgiSession",
    "read_env",
]


class AgiEnvError(ProtocolError):
    """The agi_* environment was truncated, malformed or too slow to arrive."""


def quote(value: object) -> str:
    """pyst2's argument quoting ("value")."""
    return str(AGI._quote(None, value if isinstance(value, int | float) else str(value)))  # noqa: SLF001


async def _readline(reader: asyncio.StreamReader) -> str | None:
    """One line without its end; None when the peer closed (also inside a line)."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise AgiEnvError(f"AGI line longer than {MAX_LINE} bytes") from exc
    if len(raw) > MAX_LINE:
        raise AgiEnvError(f"AGI line longer than {MAX_LINE} bytes")
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise AgiEnvError("AGI line is not UTF-8") from exc


async def read_env(reader: asyncio.StreamReader, *, within: float) -> dict[str, str]:
    """The agi_* environment up to its blank line, within ``within`` seconds in all.

    Raises:
        AgiEnvError: truncated, malformed, overlong, or not complete within ``within``.
    """
    env: dict[str, str] = {}

    async def read() -> dict[str, str]:
        for _ in range(MAX_ENV_LINES):
            line = await _readline(reader)
            if line is None:
                raise AgiEnvError(f"AGI environment truncated after {len(env)} variables")
            if line == "":
                return env
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or not key or not key.replace("_", "").isalnum():
                raise AgiEnvError(f"malformed AGI environment line {line[:80]!r}")
            env[key] = value.strip()
        raise AgiEnvError(f"AGI environment longer than {MAX_ENV_LINES} lines")

    try:
        return await asyncio.wait_for(read(), within)
    except TimeoutError as exc:
        raise AgiEnvError(f"AGI environment not complete within {within:.0f} s ({len(env)} variables)") from exc


class AgiSession:
    """Commands on one FastAGI connection whose environment has been read."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: dict[str, str],
        *,
        command_timeout: float = 10.0,
    ) -> None:
        """Wrap the connection; ``command_timeout`` bounds the wait for each result."""
        self.reader = reader
        self.writer = writer
        self.env = env
        self.command_timeout = command_timeout
        self.hungup = False

    async def execute(self, command: str, *args: str) -> dict[str, tuple[str, str]]:
        """Send one command (pyst2's format: the words, then the arguments, space-separated) and read its result.

        Raises:
            AGIHangup: the channel hung up (511, or the connection closed).
            AGIResultHangup: the result says the caller hung up during the command.
            AGIInvalidCommand, AGIUsageError, AGIError: Asterisk refused the command.
        """
        line = " ".join([command.strip(), *args]).strip()
        self.writer.write(line.encode("utf-8") + b"\n")
        try:
            await self.writer.drain()
            return await asyncio.wait_for(self._result(), self.command_timeout)
        except (ConnectionError, OSError) as exc:
            self.hungup = True
            raise AGIHangup(f"AGI connection lost: {exc}") from exc
        except TimeoutError as exc:
            raise AGIError(f"no answer to {command!r} within {self.command_timeout:.0f} s") from exc

    async def _result(self) -> dict[str, tuple[str, str]]:
        while True:
            try:
                line = await _readline(self.reader)
            except AgiEnvError as exc:
                raise AGIError(str(exc)) from exc
            if line is None:
                self.hungup = True
                raise AGIHangup("AGI connection closed")
            if line.strip() == "HANGUP":  # FastAGI's notice that the channel hung up; the result follows
                self.hungup = True
                continue
            break
        code_text, _, response = line.partition(" ")
        if not code_text.isdigit():
            raise AGIError(f"malformed AGI result line {line[:80]!r}")
        code = int(code_text)
        if code == 200:
            # pyst2's own parsing: "result=1 (16)" -> {"result": ("1", "16")}
            result: dict[str, tuple[str, str]] = {"result": ("", "")}
            for key, value, data in re_kv.findall(response):
                result[key] = (value, data)
                if data == "hangup":
                    self.hungup = True
                    raise AGIResultHangup("the caller hung up during the command")
            return result
        if code == 510:
            raise AGIInvalidCommand(response)
        if code == 511:
            self.hungup = True
            raise AGIHangup(response or "command not permitted on a dead channel")
        if code == 520:
            while (more := await _readline(self.reader)) is not None and not more.startswith("520 End"):
                pass
            raise AGIUsageError(response)
        raise AGIError(f"unexpected AGI result {line[:80]!r}")

    # pyst2's commands, in pyst2's wording

    async def appexec(self, application: str, options: str = "") -> str:
        """EXEC <application> "<options>"; the application's result."""
        return (await self.execute("EXEC", application, quote(options)))["result"][0]

    async def set_variable(self, name: str, value: str) -> None:
        """SET VARIABLE "<name>" "<value>"."""
        await self.execute("SET VARIABLE", quote(name), quote(value))

    async def get_variable(self, name: str) -> str:
        """GET VARIABLE "<name>"; "" when unset."""
        result: Any = await self.execute("GET VARIABLE", quote(name))
        return str(result["result"][1])

    async def channel_status(self) -> int:
        """CHANNEL STATUS: the channel's state (6 = up)."""
        return int((await self.execute("CHANNEL STATUS"))["result"][0] or -1)
