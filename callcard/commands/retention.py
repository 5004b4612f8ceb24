"""`callcard retention`: apply the retention policy now (or count what it would do), and show the policy in force,
each kind's cut-off and the last runs. The daily job (callcard.retention_runner) does the same as `run` once a day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

POLICY_OPTION = click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A retention policy YAML file (default: CALLCARD_RETENTION_POLICY_FILE, or the shipped policy).",
)
NOW_OPTION = click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO",
    help="The moment to apply the policy at, e.g. 2027-01-31T03:00:00+05:00 (default: now).",
)
URL_OPTION = click.option(
    "--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file)."
)


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO date and time, e.g. 2027-01-31T03:00:00+05:00") from exc
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no time zone; add one, e.g. +05:00 or Z")
    return moment.astimezone(UTC)


def _policy(policy_file: Path | None):  # type: ignore[no-untyped-def]
    from core.config import Settings
    from privacy.retention import RetentionPolicyError, load_policy

    try:
        return load_policy(policy_file or Settings().retention_policy_file)
    except RetentionPolicyError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def retention() -> None:
    """The retention policy: how long recordings, transcripts and appellants' numbers are kept."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@NOW_OPTION
@POLICY_OPTION
@URL_OPTION
def run(dry_run: bool, now_text: str | None, policy_file: Path | None, url: str | None) -> None:
    """Apply the policy: remove what is older than each kind's days (calls under a legal hold are skipped)."""
    from callcard.retention_runner import run_retention
    from core.config import Settings
    from models.db import make_engine, make_sessionmaker

    now = _now(now_text)
    policy = _policy(policy_file)
    settings = Settings()
    engine = make_engine(url or settings.database_url)
    try:
        report = run_retention(
            make_sessionmaker(engine),
            policy=policy,
            now=now,
            recordings_dir=settings.recordings_path,
            dry_run=dry_run,
        )
    finally:
        engine.dispose()
    click.echo(report.summary())
    for item in report.undeletable:
        click.echo(f"  call {item.call_id}: cannot delete {item.path}: {item.error}", err=True)
    if report.run_id is not None:
        click.echo(f"stored as retention run {report.run_id} ({report.state.value})")
    if report.error is not None:
        raise SystemExit(1)


@retention.command("show")
@NOW_OPTION
@POLICY_OPTION
@URL_OPTION
@click.option("--runs", type=click.IntRange(min=0, max=100), default=5, show_default=True, help="Last runs to list.")
def show(now_text: str | None, policy_file: Path | None, url: str | None, runs: int) -> None:
    """The policy in force, each kind's cut-off at --now, and the last runs."""
    from models.db import make_engine, make_sessionmaker
    from models.repo.retention import list_runs
    from privacy.retention import RetentionKind

    now = _now(now_text)
    policy = _policy(policy_file)
    click.echo(f"policy: {policy.source}")
    cutoffs = policy.cutoffs(now)
    for kind in RetentionKind:
        rule = policy.rule(kind)
        moment = cutoffs[kind]
        if moment is None:
            click.echo(f"  {kind.value}: keep")
        else:
            when = moment.isoformat(timespec="seconds")
            click.echo(f"  {kind.value}: {rule.action.value} after {rule.days} days (calls ended before {when})")
    if runs == 0:
        return
    from core.config import Settings

    engine = make_engine(url or Settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows, total = list_runs(session, limit=runs)
            click.echo(f"runs: {total}")
            for r in rows:
                counts = ", ".join(f"{k} {v}" for k, v in (r.removed or {}).items())
                click.echo(f"  {r.id}\t{r.started_at.isoformat(timespec='seconds')}\t{r.state}\t{counts}")
                if r.error:
                    click.echo(f"\t{r.error.splitlines()[0]}")
    finally:
        engine.dispose()
