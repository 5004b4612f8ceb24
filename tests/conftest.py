"""Shared fixtures: migrated SQLite and real PostgreSQL databases, the API context and client, users and tokens.

Databases (every test gets a FRESH database, so no test depends on another's leftovers or on order):
    pg_admin_url   session: URL of a private PostgreSQL cluster started for this run (initdb into a temp dir,
                   binaries from CALLCARD_TEST_PG_BIN or the newest /usr/lib/postgresql/N/bin; run as the
                   unprivileged ``postgres`` user, created if missing, when we are root), or CALLCARD_TEST_PG_URL
                   (that role needs CREATEDB). If PostgreSQL cannot be started the tests FAIL, never skip.
    sqlite_url     a migrated SQLite file of its own (copied from a template migrated once per session).
    pg_url         a migrated PostgreSQL database of its own (CREATE DATABASE ... TEMPLATE, dropped afterwards).
    db_url         parametrised over ["sqlite", "postgres"]: use it (or ``engine``/``session``) in data-layer tests.
    engine         a models.db engine on db_url (disposed afterwards).
    sessionmaker   models.db.make_sessionmaker(engine).
    session        one Session from it (closed afterwards).

API (SQLite by default; parametrise ``api_db`` indirectly with "postgres" to run on PostgreSQL):
    settings       core.config.Settings for the test (data dirs under tmp_path, a test secret key).
    taxonomy       session: the bundled core.taxonomy.Taxonomy.
    make_ctx       make_ctx(transfer=None, **settings_overrides) -> api.context.ApiContext on the test database.
    ctx            make_ctx() with no telephony.
    client         fastapi TestClient on api.app.create_app(ctx) (a context manager, so lifespan runs).
    make_user      make_user(role="operator", username=None, password="pw-<role>-123", **create_user_kwargs)
                   -> models User (committed; e.g. must_change_password=True).
    token_for      token_for(user) -> bearer token of a new login session (api.login_sessions.start_session).
    auth_headers   auth_headers(role) -> {"Authorization": "Bearer ..."} for a fresh user of that role;
    operator_headers, qa_headers, admin_headers: ready-made headers for one user of each role.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker


def _find_pg_bin() -> Path:
    """Where initdb/pg_ctl live: CALLCARD_TEST_PG_BIN, the newest /usr/lib/postgresql/N/bin, or PATH."""
    given = os.environ.get("CALLCARD_TEST_PG_BIN")
    if given:
        return Path(given)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _find_pg_bin()
TEMPLATE_DB = "callcard_template"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_user() -> str:
    """The unprivileged account the cluster runs as when we are root: ``postgres``, created if missing."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
            check=True,
            capture_output=True,
        )
    return "postgres"


def _as_pg_user(cmd: list[str]) -> list[str]:
    """Run as the unprivileged postgres user when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", _pg_user(), "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"PostgreSQL: {what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}", pytrace=False)


def _admin_engine(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=2)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL server for this test session: CALLCARD_TEST_PG_URL, or a private cluster we start."""
    given = os.environ.get("CALLCARD_TEST_PG_URL")
    if given:
        yield given
        return
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL binaries not found in {PG_BIN}; install Debian's postgresql", pytrace=False)
    # As root, keep the cluster under /tmp: a TMPDIR inside /root would be unreachable for the postgres user.
    base = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="callcard-pg-", dir=base))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, _pg_user())
        shutil.chown(sock, _pg_user())
    port = _free_port()
    _run(
        _as_pg_user(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        "initdb",
    )
    options = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        " -c full_page_writes=off -c max_connections=200"
    )
    _run(
        _as_pg_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start"]
        ),
        "pg_ctl start",
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """Name of a migrated template database, created once per session."""
    from models import migrations

    admin = _admin_engine(pg_admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"'))
            conn.execute(text(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    finally:
        admin.dispose()
    migrations.upgrade(make_url(pg_admin_url).set(database=TEMPLATE_DB).render_as_string(hide_password=False))
    return TEMPLATE_DB


@pytest.fixture
def pg_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine(pg_admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
        yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session, copied for each test."""
    from models import migrations

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite file for one test."""
    path = tmp_path / "callcard.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend in turn."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test's database."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(name="sessionmaker")
def sessionmaker_fixture(engine: Engine) -> sessionmaker[Session]:
    """Session factory on the test's database."""
    return make_sessionmaker(engine)


@pytest.fixture
def session(sessionmaker: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the test's database."""
    with sessionmaker() as s:
        yield s


# ----------------------------------------------------------------------------------------------- API


@pytest.fixture
def api_db(request: pytest.FixtureRequest) -> str:
    """The database URL API tests run on: SQLite unless parametrised indirectly with "postgres"."""
    kind = getattr(request, "param", "sqlite")
    return str(request.getfixturevalue("pg_url" if kind == "postgres" else "sqlite_url"))


@pytest.fixture
def api_engine(api_db: str) -> Iterator[Engine]:
    """The engine behind the API context."""
    eng = make_engine(api_db)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, api_db: str) -> Any:
    """Settings for one test: its own data dirs and database, a test secret."""
    from core.config import Settings

    return Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        database_url=api_db,
        secret_key="test-secret-key-with-enough-length-0123456789",
    )


@pytest.fixture(scope="session")
def taxonomy() -> Any:
    """The bundled taxonomy (frozen, so one load serves the whole session)."""
    from core.taxonomy import load_taxonomy

    return load_taxonomy()


@pytest.fixture
def make_ctx(settings: Any, api_engine: Engine, taxonomy: Any) -> Callable[..., Any]:
    """Build an ApiContext on the test database; keyword arguments override settings fields."""
    from api.context import ApiContext
    from calls.hub import CardHub
    from classifier.address import StreetIndex

    street_names = tuple(street.name for street in StreetIndex.load().streets)

    def build(transfer: Any = None, **overrides: Any) -> ApiContext:
        the_settings = settings.model_copy(update=overrides) if overrides else settings
        return ApiContext(
            settings=the_settings,
            sessionmaker=make_sessionmaker(api_engine),
            taxonomy=taxonomy,
            hub=CardHub(),
            transfer=transfer,
            street_names=street_names,
        )

    return build


@pytest.fixture
def ctx(make_ctx: Callable[..., Any]) -> Any:
    """An ApiContext without telephony."""
    return make_ctx()


@pytest.fixture
def client(ctx: Any) -> Iterator[Any]:
    """A TestClient on create_app(ctx)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(ctx)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    """Argon2 hashes by password, reused across tests (hashing costs ~0.5 s on a busy CI core)."""
    return {}


@pytest.fixture
def make_user(ctx: Any, password_hashes: dict[str, str]) -> Callable[..., Any]:
    """Create a user in the test database: make_user(role="operator", username=None, password=None)."""
    from models.repo import users

    def build(role: str = "operator", username: str | None = None, password: str | None = None, **kw: Any) -> Any:
        from api.security import hash_password

        name = username or f"{role}-{uuid.uuid4().hex[:6]}"
        secret = password or f"pw-{role}-123"
        if secret not in password_hashes:
            password_hashes[secret] = hash_password(secret)
        with ctx.sessionmaker() as s:
            if role == "executor" and "organisation_id" not in kw:  # an executor works for an organisation
                from models.handover import Organisation

                org = Organisation(
                    code=f"org-{uuid.uuid4().hex[:6]}",
                    name_kk="Сынақ ұйымы",
                    name_ru="Тестовая организация",
                    services=["heating_utility"],
                    receives=["inbox"],
                    deadline_hours={},
                )
                s.add(org)
                s.commit()
                kw["organisation_id"] = org.id
            user = users.create_user(s, username=name, role=role, password_hash=password_hashes[secret], **kw)
        return user

    return build


@pytest.fixture
def token_for(ctx: Any) -> Callable[[Any], str]:
    """token_for(user) -> a bearer token of a new login session of ``user`` (api.login_sessions.start_session)."""
    from api.login_sessions import start_session

    def build(user: Any) -> str:
        with ctx.sessionmaker() as s:
            return start_session(s, user=user, settings=ctx.settings, client="testclient")

    return build


@pytest.fixture
def auth_headers(make_user: Callable[..., Any], token_for: Callable[[Any], str]) -> Callable[[str], dict[str, str]]:
    """auth_headers(role) -> Authorization headers of a fresh user with that role."""

    def build(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(make_user(role))}"}

    return build


@pytest.fixture
def operator_headers(auth_headers: Callable[[str], dict[str, str]]) -> dict[str, str]:
    """Headers of an operator."""
    return auth_headers("operator")


@pytest.fixture
def qa_headers(auth_headers: Callable[[str], dict[str, str]]) -> dict[str, str]:
    """Headers of a QA reviewer."""
    return auth_headers("qa")


@pytest.fixture
def admin_headers(auth_headers: Callable[[str], dict[str, str]]) -> dict[str, str]:
    """Headers of an admin."""
    return auth_headers("admin")
