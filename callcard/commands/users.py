"""`callcard users`: add users (printing a generated password when none is given) and list them."""

from __future__ import annotations

import click

ROLES = (
    "operator",
    "supervisor",
    "qa",
    "admin",
    "executor",
)  # models.records.ROLES (not imported: keeps the CLI quick to start)


def _sessionmaker(url: str | None):  # type: ignore[no-untyped-def]
    from core.config import Settings
    from models.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url or Settings().database_url))


@click.group()
def users() -> None:
    """User accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password", default=None, help="Password (default: a random one, printed once).")
@click.option("--full-name", default="", help="The person's name as shown in the desk.")
@click.option("--ui-language", type=click.Choice(("ru", "kk")), default="ru", show_default=True)
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
@click.option("--if-missing", is_flag=True, help="Do nothing (and succeed) when the user already exists.")
@click.option("--org", "org_code", default=None, help="An executor's organisation (its code, or its id).")
def add(
    username: str,
    role: str,
    password: str | None,
    full_name: str,
    ui_language: str,
    url: str | None,
    if_missing: bool,
    org_code: str | None,
) -> None:
    """Add USERNAME with a role; prints the generated password when none is given."""
    from api.passwords import password_problem
    from api.security import generate_password, hash_password
    from models.repo import DuplicateRecord
    from models.repo import users as repo

    problem = password_problem(password, username=username) if password is not None else None
    if problem is not None:
        raise click.BadParameter(problem, param_hint="--password")
    secret = password or generate_password()
    maker = _sessionmaker(url)
    with maker() as session:
        if if_missing and repo.find_by_username(session, username=username) is not None:
            click.echo(f"user {username} already exists; nothing changed")
            return
        try:
            organisation_id = _organisation_id(session, org_code) if org_code else None
            user = repo.create_user(
                session,
                username=username,
                role=role,
                password_hash=hash_password(secret),
                full_name=full_name,
                ui_language=ui_language,
                organisation_id=organisation_id,
            )
        except DuplicateRecord as exc:
            raise click.ClickException(f"{exc}; choose another username") from exc
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"added {user.role} {user.username} (id {user.id})")
    if password is None:
        click.echo(f"password: {secret}")


def _organisation_id(session, code: str) -> int:  # type: ignore[no-untyped-def]
    """The id of the organisation with this code (or id)."""
    from sqlalchemy import select

    from models.handover import Organisation

    column = Organisation.id if code.isdigit() else Organisation.code
    found = session.scalar(select(Organisation.id).where(column == (int(code) if code.isdigit() else code)))
    if found is None:
        raise ValueError(f"no organisation {code!r}; `callcard orgs export` lists them")
    return int(found)


@users.command("list")
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def list_(url: str | None) -> None:
    """Every user: id, username, role, active, name."""
    from models.repo import users as repo

    with _sessionmaker(url)() as session:
        rows = repo.list_users(session)
    if not rows:
        click.echo("no users yet; add one with: callcard users add NAME --role admin")
        return
    for u in rows:
        state = "active" if u.active else "disabled"
        click.echo(f"{u.id}\t{u.username}\t{u.role}\t{state}\t{u.full_name}")
