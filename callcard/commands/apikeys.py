"""`callcard apikeys`: the organisations' Open311 keys: add (the key is printed once), list, revoke.

Only the key's SHA-256 is stored (models/repo/apikeys.py); a lost key cannot be shown again: revoke it and add a
new one. An organisation gets a key only when it is active and receives its cards over Open311 ("open311" in its
``receives``).
"""

from __future__ import annotations

import click

ACTOR = "system:cli"


def _sessionmaker(url: str | None):  # type: ignore[no-untyped-def]
    from core.config import Settings
    from models.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url or Settings().database_url))


URL_OPTION = click.option(
    "--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file)."
)


@click.group()
def apikeys() -> None:
    """API keys of the organisations' systems (Open311 GeoReport v2 at /open311/v2/)."""


@apikeys.command("add")
@click.argument("name")
@click.option("--org", "org_ref", required=True, help="The organisation (its code, or its id).")
@URL_OPTION
def add(name: str, org_ref: str, url: str | None) -> None:
    """Give the organisation a new key called NAME; prints the key once."""
    from models.repo import apikeys as repo
    from models.repo.errors import RecordNotFound

    with _sessionmaker(url)() as session:
        try:
            org = repo.find_organisation(session, org_ref)
            issued = repo.issue(session, name=name, organisation_id=org.id, actor=ACTOR)
        except (RecordNotFound, ValueError) as exc:
            raise click.ClickException(f"no key made: {exc}") from exc
        click.echo(f"key {issued.record.id} ({issued.record.name}) for {org.code} ({org.name_ru}):")
        click.echo(issued.key)
        click.echo("Keep it now: only its hash is stored, it cannot be shown again.", err=True)


@apikeys.command("list")
@URL_OPTION
def list_(url: str | None) -> None:
    """Every key: id, prefix, organisation, name, created, last used, revoked."""
    from models.repo import apikeys as repo

    with _sessionmaker(url)() as session:
        rows = repo.list_keys(session)
        if not rows:
            click.echo("no API keys")
            return
        for key in rows:
            used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never used"
            state = f"revoked {key.revoked_at.isoformat(timespec='seconds')}" if key.revoked_at else "active"
            click.echo(
                f"{key.id}\t{key.prefix}…\t{key.organisation.code}\t{key.name}\t"
                f"created {key.created_at.isoformat(timespec='seconds')}\t{used}\t{state}"
            )


@apikeys.command("revoke")
@click.argument("key_id", type=click.IntRange(min=1))
@URL_OPTION
def revoke(key_id: int, url: str | None) -> None:
    """Revoke key KEY_ID: from now on it is refused (403)."""
    from models.repo import apikeys as repo
    from models.repo.errors import InvalidTransition, RecordNotFound

    with _sessionmaker(url)() as session:
        try:
            key = repo.revoke(session, key_id=key_id, actor=ACTOR)
        except (RecordNotFound, InvalidTransition) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"key {key.id} ({key.name}, {key.prefix}…) revoked")
