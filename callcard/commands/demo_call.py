"""`callcard demo-call FILE.wav`: play a WAV file as a caller into a running `callcard serve`, no PBX needed."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo-call")
@click.argument("wav", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--caller", default="+77010000109", show_default=True, help="The caller's number.")
@click.option("--url", default=None, help="callcard's web address, to check it is up (default: from api_bind).")
@click.option(
    "--audiosocket",
    "audiosocket",
    default=None,
    help="host:port of callcard's AudioSocket server (default: CALLCARD_AUDIOSOCKET_ADVERTISE).",
)
@click.option("--agi", "agi", default=None, help="host:port of callcard's FastAGI server (default: CALLCARD_AGI_BIND).")
@click.option("--fast", is_flag=True, help="Send the audio as fast as possible instead of in real time.")
def demo_call(wav: Path, caller: str, url: str | None, audiosocket: str | None, agi: str | None, fast: bool) -> None:
    """Call callcard with WAV as the caller's voice, the way Asterisk would.

    The call is registered over FastAGI (`incoming`, as the dialplan does, with the stream's UUID as its
    argument), the voice goes over an AudioSocket connection in 20 ms frames at real-time pace, then the
    call hangs up (`hangup`, as the h extension does). Watch it on the operator desk.
    """
    import asyncio
    import logging

    import httpx

    from core.config import Settings, split_hostport
    from core.errors import TelephonyError
    from core.logging import setup_logging
    from telephony.demo import run_demo_call

    settings = Settings()
    setup_logging("WARNING")
    logging.getLogger("telephony.demo").setLevel(logging.INFO)
    api_host, api_port = split_hostport(settings.api_bind, 8000)
    base = (url or f"http://{'127.0.0.1' if api_host in ('0.0.0.0', '') else api_host}:{api_port}").rstrip("/")
    try:
        health = httpx.get(f"{base}/api/health", timeout=5)
        if health.status_code != 200:
            click.echo(f"warning: {base}/api/health answered {health.status_code}", err=True)
    except httpx.HTTPError as exc:
        click.echo(f"warning: callcard's web service at {base} is not reachable ({exc})", err=True)
    as_host, as_port = split_hostport(audiosocket or settings.audiosocket_advertise, 9092)
    agi_host, agi_port = split_hostport(agi or settings.agi_bind, 4573)
    if agi_host == "0.0.0.0":
        agi_host = "127.0.0.1"
    if as_host == "0.0.0.0":
        as_host = "127.0.0.1"
    click.echo(f"calling callcard as {caller}: {wav} -> AGI {agi_host}:{agi_port}, AudioSocket {as_host}:{as_port}")
    click.echo(f"watch it at {base}/desk")
    try:
        result = asyncio.run(
            run_demo_call(
                wav,
                caller=caller,
                agi_host=agi_host,
                agi_port=agi_port,
                audiosocket_host=as_host,
                audiosocket_port=as_port,
                realtime=not fast,
            )
        )
    except TelephonyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"call {result.uniqueid} (callcard id {result.call_id or 'pending'}): {result.frames} frames "
        f"in {result.seconds:.1f} s; hung up"
    )
