"""`callcard db`: bring the database schema up to date (SQLite file or PostgreSQL URL)."""

from __future__ import annotations

import click


def _redact(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
def upgrade(url: str | None, revision: str) -> None:
    """Create or migrate the schema to the newest revision."""
    from core.config import Settings
    from models import migrations

    target = url or Settings().database_url
    try:
        migrations.upgrade(target, revision)
    except Exception as exc:  # report a person-readable reason, not a traceback
        raise click.ClickException(f"could not upgrade {_redact(target)}: {exc}") from exc
    click.echo(f"database {_redact(target)} is at revision {migrations.current(target)}")


@db.command()
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def current(url: str | None) -> None:
    """Show the revision the database is at, and the newest one shipped."""
    from core.config import Settings
    from models import migrations

    target = url or Settings().database_url
    click.echo(f"database: {migrations.current(target) or 'empty'}; newest: {migrations.head()}")
