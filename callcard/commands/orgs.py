"""`callcard orgs`: import and export the organisations and routing rules as one YAML or CSV file.

The file format is described in handover/orgfile.py; a sample for Astana is core/data/orgs-astana.sample.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

ACTOR = "system:cli"


def _context(url: str | None) -> tuple[Any, Any]:
    """A session factory on the database, and the site's taxonomy."""
    from core.config import Settings
    from core.taxonomy import load_taxonomy
    from models.db import make_engine, make_sessionmaker

    settings = Settings()
    maker = make_sessionmaker(make_engine(url or settings.database_url))
    return maker, load_taxonomy(settings.taxonomy_path, settings.deadlines_path)


def _street_names() -> list[str]:
    from classifier.address import StreetIndex

    return [street.name for street in StreetIndex.load().streets]


def _decision(decision: Any) -> str:
    return decision.organisation or "no organisation"


@click.group()
def orgs() -> None:
    """Organisations that do the work, and the rules that route cards to them."""


@orgs.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; write nothing.")
@click.option(
    "--format", "fmt", type=click.Choice(("yaml", "csv")), default=None, help="File format (default: by extension)."
)
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def import_(file: Path, dry_run: bool, fmt: str | None, url: str | None) -> None:
    """Replace the organisations and routing rules with those in FILE (checked first; nothing written on errors).

    Organisations and rules are matched by code: importing the same file twice changes nothing. Rules missing
    from FILE are deleted, organisations missing from it are deactivated.
    """
    from handover.directory import import_directory
    from handover.orgfile import OrgFileError, format_of, read_directory

    maker, taxonomy = _context(url)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from exc
    try:
        directory = read_directory(text, fmt=fmt or format_of(file.name), taxonomy=taxonomy, streets=_street_names())
    except OrgFileError as exc:
        raise click.ClickException(f"{file}: nothing imported.\n{exc}") from exc
    with maker() as session:
        report = import_directory(session, directory, actor=ACTOR, dry_run=dry_run)
    for change in report.changes:
        fields = f" ({', '.join(change.after)})" if change.action == "update" else ""
        click.echo(f"{change.entity} {change.code}: {change.action}{fields}")
    if not report.changes:
        click.echo("no changes: the stored organisations and rules already equal the file")
    if report.moves:
        click.echo(f"{len(report.moves)} open card(s) would go to another organisation:")
        for move in report.moves:
            number = move.reg_number or f"card {move.card_id}"
            click.echo(f"  {number}: {_decision(move.before)} -> {_decision(move.after)} ({move.after.reason})")
    else:
        click.echo("no open card changes organisation")
    counts = {a: sum(1 for c in report.changes if c.action == a) for a in ("create", "update", "deactivate", "delete")}
    summary = ", ".join(f"{n} {action}d" for action, n in counts.items() if n)
    if dry_run:
        click.echo("dry run: nothing written")
    else:
        click.echo(
            f"imported {len(directory.organisations)} organisations and {len(directory.rules)} rules"
            + (f" ({summary})" if summary else "")
        )


@orgs.command("export")
@click.option("--format", "fmt", type=click.Choice(("yaml", "csv")), default="yaml", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def export(fmt: str, output: Path | None, url: str | None) -> None:
    """Write the organisations and routing rules as one file that `callcard orgs import` reads back."""
    from handover.directory import load_directory
    from handover.orgfile import write_csv, write_yaml

    maker, _ = _context(url)
    with maker() as session:
        directory = load_directory(session)
    text = write_csv(directory) if fmt == "csv" else write_yaml(directory)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(directory.organisations)} organisations and {len(directory.rules)} rules to {output}")


@orgs.command("webhook")
@click.argument("code")
@click.argument("url")
@click.option("--database", "db_url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or SQLite).")
def webhook(code: str, url: str, db_url: str | None) -> None:
    """Send the events of organisation CODE's cards to URL, signed with a new secret printed once (keep it: the
    receiver needs it to verify X-Callcard-Signature; the old secret stops working at once)."""
    from handover.webhook_admin import set_webhook
    from models.repo.errors import RecordNotFound
    from models.repo.organisations import get_organisation

    maker, _ = _context(db_url)
    with maker() as session:
        try:
            org = get_organisation(session, code=code)
            done = set_webhook(session, organisation_id=org.id, url=url, actor=ACTOR)
        except (RecordNotFound, ValueError) as exc:
            raise click.ClickException(f"nothing changed: {exc}") from exc
        click.echo(f"organisation {code}: webhooks go to {done.organisation.webhook_url}")
    click.echo(f"secret (shown once): {done.secret}")
