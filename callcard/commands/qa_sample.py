"""`callcard qa-sample`: draw the week's random sample of calls per operator for QA review (idempotent: drawing
the same week again only tops each operator up to N)."""

from __future__ import annotations

import click


@click.command("qa-sample")
@click.option("--week", default=None, help="ISO week, e.g. 2026-W50 (default: this week on the city's clock).")
@click.option(
    "--per-operator",
    type=click.IntRange(min=0),
    default=None,
    help="Calls per operator (default: CALLCARD_QA_SAMPLE_PER_OPERATOR_WEEK, 5).",
)
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def qa_sample(week: str | None, per_operator: int | None, url: str | None) -> None:
    """Draw N ended calls per operator for the ISO week that QA has not drawn yet; prints what was added."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from core.config import Settings
    from models.db import make_engine, make_sessionmaker
    from models.repo.qa_sampling import IsoWeek, draw

    settings = Settings()
    zone = ZoneInfo(settings.local_timezone)
    try:
        iso = IsoWeek.parse(week) if week else IsoWeek.of(datetime.now(UTC), zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from exc
    n = settings.qa_sample_per_operator_week if per_operator is None else per_operator
    engine = make_engine(url or settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            result = draw(session, iso, per_operator=n, zone=zone)
    finally:
        engine.dispose()
    click.echo(f"{result.week}: {len(result.added)} calls added, {n} per operator")
    for operator_id, count in sorted(result.totals.items()):
        click.echo(f"  operator {operator_id}: {count} in the sample")
