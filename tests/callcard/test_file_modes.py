"""callcard's private data is private: `callcard serve` on an empty folder makes the database (and its -wal and
-shm), the recordings and their folders, the spool and the keys 0600/0700; a start with a widened file warns,
naming it; and the first admin's password note is deleted at start once that password is no longer in use."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from tests.callcard.serving import wait_until_serving

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def _env(var: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CALLCARD_DATA_DIR": str(var),
        "CALLCARD_API_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_AUDIOSOCKET_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_AGI_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_ASR_ENABLED": "false",
    }


class ServeRunner:
    """Runs `callcard serve` in ``cwd``: ``start(env)`` until it answers /api/health, ``stop()`` returns its output."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, env: dict[str, str]) -> None:
        cli = Path(sys.executable).with_name("callcard")
        # A loose umask, as a shell usually has: the service must not depend on the caller's.
        proc = subprocess.Popen(
            [str(cli), "serve"], cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, preexec_fn=lambda: os.umask(0o022),
        )
        self.procs.append(proc)
        wait_until_serving(proc, env["CALLCARD_API_BIND"])

    def stop(self) -> str:
        proc = self.procs.pop()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
        return output


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeRunner]:
    """A ServeRunner whose processes are killed if a test leaves them running."""
    runner = ServeRunner(tmp_path)
    yield runner
    for proc in runner.procs:
        proc.kill()
        proc.wait(10)


def _tone(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x10\x00\xf0" * int(4000 * seconds))
    return path


def test_serve_makes_its_data_private_and_warns_about_a_widened_file(serve: ServeRunner, tmp_path: Path) -> None:
    from models.db import make_engine, make_sessionmaker
    from models.repo import users
    from telephony.demo import run_demo_call

    runner = serve
    var = tmp_path / "var"
    env = _env(var)
    runner.start(env)
    agi_port = int(env["CALLCARD_AGI_BIND"].rsplit(":", 1)[1])
    as_port = int(env["CALLCARD_AUDIOSOCKET_BIND"].rsplit(":", 1)[1])
    demo = asyncio.run(
        run_demo_call(
            _tone(tmp_path / "tone.wav"), agi_port=agi_port, audiosocket_port=as_port, realtime=False,
            write_recording=False,  # that file is Asterisk's (MixMonitor); callcard's own is the caller leg
        )
    )
    caller_dir = var / "recordings" / "caller"
    deadline = time.monotonic() + 20
    while not list(caller_dir.glob(f"*{demo.uniqueid}*.wav")):
        assert time.monotonic() < deadline, f"no caller-leg recording in {caller_dir}"
        time.sleep(0.1)
    recording = next(caller_dir.glob(f"*{demo.uniqueid}*.wav"))
    db = var / "callcard.db"
    wal, shm = db.with_name("callcard.db-wal"), db.with_name("callcard.db-shm")
    assert wal.exists() and shm.exists(), "the service keeps SQLite in WAL mode"
    modes = {p.name: _mode(p) for p in (db, wal, shm, recording, var / "secret_key", var / "initial-admin.txt")}
    assert set(modes.values()) == {"0o600"}, modes
    folders = {str(p.relative_to(tmp_path)): _mode(p) for p in (var, var / "recordings", caller_dir, var / "spool")}
    assert set(folders.values()) == {"0o700"}, folders
    first = runner.stop()
    assert "group or others may use it" not in first, first

    engine = make_engine(f"sqlite:///{db}")
    with make_sessionmaker(engine)() as session:
        admin = users.find_by_username(session, username="admin")
        assert admin is not None and admin.must_change_password, "the first admin must change the password"
        admin.must_change_password = False  # as a password change (API or CLI) leaves it
        session.commit()
    engine.dispose()
    db.chmod(0o644)
    caller_dir.chmod(0o755)
    runner.start(env)
    second = runner.stop()
    assert f"file {db} is mode 0644" in second, second
    assert f"folder {caller_dir} is mode 0755" in second, second
    assert f"{recording}" not in second, "a private recording is not named"
    assert not (var / "initial-admin.txt").exists()
    assert "deleted" in second and "initial-admin.txt" in second and "has changed it" in second


def test_the_admin_note_stays_while_its_password_must_still_be_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from callcard.commands.serve import ensure_first_admin, forget_spent_admin_note
    from models import migrations

    settings = Settings(_env_file=None, data_dir=tmp_path / "var", secret_key="s" * 40)
    settings.data_dir.mkdir()
    migrations.upgrade(settings.database_url)
    assert ensure_first_admin(settings)
    note = settings.data_dir / "initial-admin.txt"
    assert not forget_spent_admin_note(settings) and note.exists()
    note.write_text("username: somebody-gone\npassword: x\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="callcard"):
        assert forget_spent_admin_note(settings)
    assert not note.exists() and "there is no user 'somebody-gone'" in caplog.text


def test_a_new_sqlite_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    from sqlalchemy import text

    from models.db import make_engine

    old = os.umask(0o022)
    try:
        db = tmp_path / "fresh" / "callcard.db"
        engine = make_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            modes = {p.name: _mode(p) for p in (db, db.with_name("callcard.db-wal"), db.with_name("callcard.db-shm"))}
        engine.dispose()
    finally:
        os.umask(old)
    assert set(modes.values()) == {"0o600"}, modes
    assert _mode(db.parent) == "0o700"


def test_the_start_up_check_names_each_wide_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from callcard.app import prepare_private_folders, warn_about_wide_paths

    settings = Settings(_env_file=None, data_dir=tmp_path / "var", secret_key="s" * 40)
    prepare_private_folders(settings)
    spooled = settings.spool_path / "pending.jsonl"
    spooled.write_text("{}\n", encoding="utf-8")
    spooled.chmod(0o600)
    assert warn_about_wide_paths(settings) == []
    spooled.chmod(0o640)
    settings.recordings_path.chmod(0o750)
    with caplog.at_level(logging.WARNING, logger="callcard.app"):
        wide = warn_about_wide_paths(settings)
    assert {p for p, _ in wide} == {spooled, settings.recordings_path}
    assert f"file {spooled} is mode 0640" in caplog.text
    assert f"folder {settings.recordings_path} is mode 0750" in caplog.text
