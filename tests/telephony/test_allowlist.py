"""FastAGI and AudioSocket accept Asterisk's addresses only, over real sockets: 127.0.0.2 stands in for the
allowed Asterisk host and 127.0.0.1 for a stranger (both are loopback addresses on Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from telephony.allowlist import PeerAllowList, parse_allow_list, peer_address
from telephony.audiosocket import KIND_AUDIO, AudioSocketServer, MediaDirectory, encode_frame, uuid_frame
from telephony.events import AudioStreamStarted, CallStarted
from telephony.fastagi import FastAgiServer
from tests.peers.agi_peer import asterisk_env, asterisk_reply
from tests.telephony.conftest import Collector

ASTERISK = "127.0.0.2"
STRANGER = "127.0.0.1"


async def _connect(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _closed_unread(reader: asyncio.StreamReader) -> bool:
    """True when the server ends the connection without sending anything (EOF or reset)."""
    try:
        return await asyncio.wait_for(reader.read(1), 3) == b""
    except ConnectionResetError:
        return True


async def _agi_incoming(port: int, source: str, uniqueid: str) -> list[str]:
    """One FastAGI ``incoming`` request from ``source``, answered like Asterisk; the commands the server sent."""
    reader, writer = await _connect(port, source)
    env = asterisk_env(
        script="incoming",
        host="127.0.0.1",
        port=port,
        uniqueid=uniqueid,
        channel="PJSIP/trunk-00000001",
        caller="+77011234567",
        extension="109",
        context="from-trunk",
        args=None,
    )
    commands: list[str] = []
    try:
        writer.write("".join(f"{k}: {v}\n" for k, v in env).encode() + b"\n")
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), 5):
            commands.append(line.decode().strip())
            writer.write((asterisk_reply(commands[-1]) + "\n").encode())
            await writer.drain()
    except ConnectionResetError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return commands


@pytest.fixture
async def agi(make_fastagi: Callable[..., Any]) -> FastAgiServer:
    server: FastAgiServer = await make_fastagi(allow=parse_allow_list(ASTERISK))
    return server


async def test_fastagi_closes_a_connection_from_outside_the_list_and_serves_asterisk(
    agi: FastAgiServer, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.allowlist")
    reader, writer = await _connect(agi.bound_port, STRANGER)
    writer.write(b"agi_network: yes\n")  # whatever it sends, nothing of it is read
    assert await _closed_unread(reader)
    writer.close()
    assert agi.allow.refused == 1 and not collector.of(CallStarted)
    assert any("FastAGI" in r.getMessage() and STRANGER in r.getMessage() for r in caplog.records)

    commands = await _agi_incoming(agi.bound_port, ASTERISK, "1763781367.77")
    assert commands and commands[0].startswith("EXEC MixMonitor")
    started = collector.of(CallStarted)
    assert [s.uniqueid for s in started] == ["1763781367.77"]


async def test_audiosocket_closes_a_stream_from_outside_the_list_and_takes_asterisks(
    collector: Collector, directory: MediaDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.allowlist")
    server = AudioSocketServer(
        audio=collector,
        events=collector,
        directory=directory,
        host="127.0.0.1",
        port=0,
        allow=parse_allow_list(f"{ASTERISK}/32, 10.9.9.0/24"),
    )
    await server.start()
    try:
        media = str(uuid.uuid4())
        directory.register(media, "1763781367.78")
        reader, writer = await _connect(server.bound_port, STRANGER)
        writer.write(uuid_frame(media) + encode_frame(KIND_AUDIO, b"\x00\x01" * 160))
        assert await _closed_unread(reader)
        writer.close()
        assert server.allow.refused == 1 and not collector.of(AudioStreamStarted)
        assert any("AudioSocket" in r.getMessage() and STRANGER in r.getMessage() for r in caplog.records)

        reader, writer = await _connect(server.bound_port, ASTERISK)
        writer.write(uuid_frame(media) + encode_frame(KIND_AUDIO, b"\x00\x01" * 160))
        await writer.drain()
        await collector.wait(lambda: bool(collector.of(AudioStreamStarted)))
        assert collector.of(AudioStreamStarted)[0].uniqueid == "1763781367.78"
        writer.close()
    finally:
        await server.stop()


async def test_with_no_list_a_loopback_server_takes_loopback_and_a_wide_one_warns(
    collector: Collector, directory: MediaDirectory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telephony.allowlist")
    local = FastAgiServer(events=collector, directory=directory, recordings_dir=tmp_path, host="127.0.0.1", port=0)
    await local.start()
    try:
        assert await _agi_incoming(local.bound_port, STRANGER, "1763781367.79"), "loopback is Asterisk here"
    finally:
        await local.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    wide = AudioSocketServer(audio=collector, events=collector, directory=directory, host="0.0.0.0", port=0)
    await wide.start()
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("AudioSocket listens on 0.0.0.0" in w and "CALLCARD_TELEPHONY_ALLOW" in w for w in warnings)
        reader, writer = await _connect(wide.bound_port, STRANGER)
        writer.write(encode_frame(KIND_AUDIO, b"\x00" * 320))  # audio before its UUID: the protocol closes it
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert wide.allow.refused == 0
    finally:
        await wide.stop()


def test_the_list_parses_addresses_and_networks_and_names_a_bad_entry() -> None:
    networks = parse_allow_list(" 10.0.0.5, 10.0.0.0/24 ,, fd00::/8 ")
    assert [str(n) for n in networks] == ["10.0.0.5/32", "10.0.0.0/24", "fd00::/8"]
    with pytest.raises(ConfigError, match="asterisk.local"):
        parse_allow_list("10.0.0.5,asterisk.local")
    allow = PeerAllowList(networks, bound_host="0.0.0.0")
    assert allow.allows(("10.0.0.77", 5000)) and allow.allows(("::ffff:10.0.0.5", 5000, 0, 0))
    assert not allow.allows(("10.0.1.1", 5000)) and not allow.allows(None)
    assert PeerAllowList((), bound_host="::1").allows(("::1", 1, 0, 0))
    assert not PeerAllowList((), bound_host="localhost").allows(("10.0.0.5", 1))
    assert peer_address(("fe80::1%eth0", 1, 0, 2)) is not None


def test_the_setting_refuses_a_bad_address() -> None:
    from core.config import Settings

    assert Settings(_env_file=None, telephony_allow="10.0.0.5,10.0.0.0/24").telephony_allow
    with pytest.raises(ValueError, match="CALLCARD_TELEPHONY_ALLOW"):
        Settings(_env_file=None, telephony_allow="10.0.0.5,not-an-address")
