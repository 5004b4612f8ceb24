"""`callcard serve`: migrate the database, make sure someone can log in, then run the whole service."""

from __future__ import annotations

import logging
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


INITIAL_ADMIN_NOTE = "initial-admin.txt"


def settle_usernames(settings: Settings) -> None:
    """Give every user today's look-alike-proof username key (users from before migration 0003 have a
    provisional one until then)."""
    from models.db import make_engine, make_sessionmaker
    from models.repo import users

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            changed = users.settle_username_keys(session)
    finally:
        engine.dispose()
    if changed:
        logging.getLogger("callcard").info("%d username keys recomputed", changed)


def ensure_first_admin(settings: Settings) -> str | None:
    """Create user "admin" with a random password when the database has no users; return the password.

    The admin must change that password at the first login (``must_change_password``); the note in data_dir
    that holds it is deleted once they have (``forget_spent_admin_note``).
    """
    from api.security import hash_password
    from models.db import make_engine, make_sessionmaker
    from models.repo import users

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            if users.count_users(session) > 0:
                return None
            password = secrets.token_urlsafe(12)
            admin = users.create_user(
                session,
                username="admin",
                role="admin",
                password_hash=hash_password(password),
                full_name="Administrator",
                actor="system:serve",
            )
            admin.must_change_password = True
            session.add(admin)
            session.commit()
    finally:
        engine.dispose()
    note = settings.data_dir / INITIAL_ADMIN_NOTE
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"username: admin\npassword: {password}\n")
    return password


def forget_spent_admin_note(settings: Settings) -> bool:
    """Delete data_dir/initial-admin.txt once the admin it names no longer must change that password (changed
    through the API or the CLI) or no longer exists; say so in the log. True when it was deleted."""
    import logging

    from models.db import make_engine, make_sessionmaker
    from models.repo import users

    note = settings.data_dir / INITIAL_ADMIN_NOTE
    try:
        text = note.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    username = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("username:")), "")
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            admin = users.find_by_username(session, username=username) if username else None
            spent = admin is None or not admin.must_change_password
    finally:
        engine.dispose()
    if not spent:
        return False
    note.unlink(missing_ok=True)
    logging.getLogger("callcard").info(
        "deleted %s: the password it held is no longer in use (%s)",
        note,
        f"user {username!r} has changed it" if admin is not None else f"there is no user {username!r}",
    )
    return True


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
    from core.file_modes import restrict_umask
    from core.logging import setup_logging
    from models import migrations
    from models.db import create_private_sqlite_file, sqlite_path

    restrict_umask()  # first: every file and folder callcard creates from here on is private (0600/0700)

    overrides: dict[str, object] = {}
    for name, value in (
        ("api_enabled", api),
        ("ari_enabled", ari),
        ("audiosocket_enabled", audiosocket),
        ("agi_enabled", agi),
        ("api_bind", bind),
    ):
        if value is not None:
            overrides[name] = value
    settings = Settings(**overrides)  # type: ignore[arg-type]
    setup_logging(settings.log_level)
    log = logging.getLogger("callcard")
    if settings.secret_key == PLACEHOLDER_SECRET:
        settings.secret_key = local_secret(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = sqlite_path(settings.database_url)
    if database is not None:
        create_private_sqlite_file(database)
    try:
        migrations.upgrade(settings.database_url)
    except Exception as exc:
        raise click.ClickException(f"the database could not be prepared: {exc}") from exc
    settle_usernames(settings)
    password = ensure_first_admin(settings)
    forget_spent_admin_note(settings)
    host, _, port = settings.api_bind.rpartition(":")
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    if password:
        click.echo(
            f"\nFirst start: log in at http://{shown}:{port}/login as 'admin' with password: {password}\n"
            f"(you will be asked to change it at that login; until then it is also saved in "
            f"{settings.data_dir / INITIAL_ADMIN_NOTE}. Add operators with `callcard users add NAME --role operator`)\n"
        )
    else:
        click.echo(f"callcard: open http://{shown}:{port}/login")
    services = build_services(settings)
    log.info("ASR: %s", services.speech.status() if services.speech else "off")
    log.info("classifier: %s", getattr(services.proposer, "version", "off"))
    asyncio.run(run_services(services))
