"""`callcard serve`: migrate the database, make sure someone can log in, then run the whole service."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from core.config import PLACEHOLDER_SECRET, Settings


def local_secret(data_dir: Path) -> str:
    """A random signing key kept in data_dir (mode 0600), made on first start; used in development."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def ensure_first_admin(settings: Settings) -> str | None:
    """Create user "admin" with a random password when the database has no users; return the password."""
    from api.security import hash_password
    from models.db import make_engine, make_sessionmaker
    from models.repo import users

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            if users.count_users(session) > 0:
                return None
            password = secrets.token_urlsafe(12)
            users.create_user(
                session, username="admin", role="admin", password_hash=hash_password(password),
                full_name="Administrator", actor="system:serve",
            )
    finally:
        engine.dispose()
    note = settings.data_dir / "initial-admin.txt"
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"username: admin\npassword: {password}\n")
    return password


@click.command()
@click.option("--api/--no-api", "api", default=None, help="Serve the web API and pages (default: on).")
@click.option("--ari/--no-ari", "ari", default=None, help="Run the ARI application (default: CALLCARD_ARI_ENABLED).")
@click.option("--audiosocket/--no-audiosocket", "audiosocket", default=None, help="Run the AudioSocket media server.")
@click.option("--agi/--no-agi", "agi", default=None, help="Run the FastAGI server.")
@click.option("--bind", default=None, help="host:port of the web service (default: CALLCARD_API_BIND).")
def serve(api: bool | None, ari: bool | None, audiosocket: bool | None, agi: bool | None, bind: str | None) -> None:
    """Run callcard: web API and pages, ARI application, AudioSocket media server and FastAGI server."""
    import asyncio
    import logging

    from callcard.app import build_services, run_services
    from core.logging import setup_logging
    from models import migrations

    overrides: dict[str, object] = {}
    for name, value in (("api_enabled", api), ("ari_enabled", ari), ("audiosocket_enabled", audiosocket),
                        ("agi_enabled", agi), ("api_bind", bind)):
        if value is not None:
            overrides[name] = value
    settings = Settings(**overrides)  # type: ignore[arg-type]
    setup_logging(settings.log_level)
    log = logging.getLogger("callcard")
    if settings.secret_key == PLACEHOLDER_SECRET:
        settings.secret_key = local_secret(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrations.upgrade(settings.database_url)
    except Exception as exc:
        raise click.ClickException(f"the database could not be prepared: {exc}") from exc
    password = ensure_first_admin(settings)
    host, _, port = settings.api_bind.rpartition(":")
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    if password:
        click.echo(
            f"\nFirst start: log in at http://{shown}:{port}/login as 'admin' with password: {password}\n"
            f"(also saved in {settings.data_dir / 'initial-admin.txt'}; add operators with "
            f"`callcard users add NAME --role operator`)\n"
        )
    else:
        click.echo(f"callcard: open http://{shown}:{port}/login")
    services = build_services(settings)
    log.info("ASR: %s", services.speech.status() if services.speech else "off")
    log.info("classifier: %s", getattr(services.proposer, "version", "off"))
    asyncio.run(run_services(services))
