"""Engine and session factories; nothing is created at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names; None for other databases and for in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return Path(path.split("?", 1)[0])


def create_private_sqlite_file(path: Path) -> None:
    """Create the SQLite file ``path`` (an empty file is an empty database) readable by its owner alone, 0600,
    in a 0700 folder if the folder is new. SQLite gives its -wal and -shm files the database file's mode, so
    they are private too. An existing file is left as it is (the start-up check warns when it is wider)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so writers queue instead of failing.

    A new SQLite file is created 0600 (create_private_sqlite_file) before SQLite opens it.
    """
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            create_private_sqlite_file(path)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when a transaction begins (BEGIN IMMEDIATE below).
            dbapi_conn.isolation_level = None
            # Unicode-aware lower() for case-insensitive search (SQLite's own lower() is ASCII-only).
            dbapi_conn.create_function("casefold", 1, _casefold, deterministic=True)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock at BEGIN so two writers never deadlock on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        # Fail fast when the server is unreachable, so call events go to the durable spool instead of waiting.
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", 5)
        kwargs["connect_args"] = connect_args
        kwargs.setdefault("pool_timeout", 10)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
