"""`callcard qa`: score calls with the automatic QA checks, and export or import the rules QA leads edit."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import click

ACTOR = "system:cli"


def _sessionmaker(url: str | None) -> Any:
    from core.config import Settings
    from models.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url or Settings().database_url))


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO time", param_hint="--since") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


URL = click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")


@click.group()
def qa() -> None:
    """Automatic QA checks: scorecards of calls, and the rules (docs/qa.md)."""


@qa.command("score")
@click.option("--since", default=None, help="Score the calls started on or after this date (YYYY-MM-DD).")
@click.option("--call", "call_id", type=int, default=None, help="Score this one call.")
@URL
def score(since: str | None, call_id: int | None, url: str | None) -> None:
    """Score ended calls with the rules in force (a new scorecard each; the newest is in force)."""
    from models.repo import qa_scoring
    from qa.rules import RuleSetError
    from qa.stored import score_stored

    start = _since(since)
    maker = _sessionmaker(url)
    with maker() as session:
        ids = [call_id] if call_id is not None else qa_scoring.calls_to_score(session, since=start)
    if not ids:
        click.echo("no ended calls to score")
        return
    scored = failed_checks = skipped = 0
    for one in ids:
        with maker() as session:
            try:
                card = qa_scoring.score_call(session, one, scorer=score_stored)
            except RuleSetError as exc:
                raise click.ClickException(f"the QA rules in force no longer read: {exc}") from exc
        if card is None:
            skipped += 1
            if call_id is not None:
                raise click.ClickException(f"call {one} does not exist or has not ended")
            continue
        scored += 1
        failed_checks += card.failed
        click.echo(f"call {one}: {card.failed} of {card.checks} checks failed (rules v{card.rule_set_version})")
    click.echo(f"{scored} call(s) scored, {failed_checks} failed check(s) in all, {skipped} skipped")


@qa.group("rules")
def rules() -> None:
    """The automatic QA rules as one YAML file."""


@rules.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@URL
def export(file: Path, url: str | None) -> None:
    """Write the rules in force to FILE ("-": standard output)."""
    from models.repo import qa_scoring
    from qa.rules import RuleSetError, dump_rules_yaml, rule_set_of

    with _sessionmaker(url)() as session:
        row = qa_scoring.latest_rule_set(session)
        try:
            rule_set = rule_set_of(row.version if row else None, row.rules if row else None)
        except RuleSetError as exc:
            raise click.ClickException(f"the stored rules no longer read: {exc}") from exc
    text = dump_rules_yaml(rule_set.rules, version=rule_set.version)
    if str(file) == "-":
        click.echo(text, nl=False)
        return
    file.write_text(text, encoding="utf-8")
    click.echo(f"rules version {rule_set.version} ({len(rule_set.rules)} rules) written to {file}")


@rules.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default=None, help="Why the rules changed (kept with the version).")
@URL
def import_(file: Path, note: str | None, url: str | None) -> None:
    """Check FILE and save its rules as a new version (nothing saved when a rule is wrong)."""
    from models.repo import qa_scoring
    from qa.rules import RuleSet, RuleSetError, read_rules_yaml

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from exc
    try:
        parsed = read_rules_yaml(text)
    except RuleSetError as exc:
        problems = "\n".join(f"  - {p}" for p in exc.problems)
        raise click.ClickException(f"{file}: nothing saved.\n{problems}") from exc
    with _sessionmaker(url)() as session:
        row = qa_scoring.save_rule_set(
            session, rules=RuleSet(0, parsed).as_json(), note=note, user_id=None, actor=ACTOR
        )
        version = row.version
    click.echo(f"rules saved as version {version} ({len(parsed)} rules); calls scored from now on use it")
