"""`callcard serve` as a newcomer runs it: migrates, creates the first admin, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.callcard.serving import wait_until_serving


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_empty_lets_the_admin_in_and_stops_on_sigterm(tmp_path: Path) -> None:
    api = f"127.0.0.1:{_port()}"
    env = {
        **os.environ,
        "CALLCARD_DATA_DIR": str(tmp_path / "var"),
        "CALLCARD_API_BIND": api,
        "CALLCARD_AUDIOSOCKET_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_AGI_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_ASR_ENABLED": "false",
    }
    cli = Path(sys.executable).with_name("callcard")
    proc = subprocess.Popen([str(cli), "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_serving(proc, api)
        note = (tmp_path / "var" / "initial-admin.txt").read_text(encoding="utf-8")
        password = note.split("password:")[1].strip()
        assert oct((tmp_path / "var" / "initial-admin.txt").stat().st_mode & 0o777) == "0o600"
        login = httpx.post(f"http://{api}/api/auth/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        assert login.json()["user"]["must_change_password"] is True
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        forced = httpx.get(f"http://{api}/api/cards?status=draft", headers=headers)
        assert forced.status_code == 403 and forced.json()["code"] == "password_change_required"
        changed = httpx.patch(
            f"http://{api}/api/auth/me",
            json={"current_password": password, "password": "Kenesary-45-Astana"},
            headers=headers,
        )
        assert changed.status_code == 200, changed.text
        assert not (tmp_path / "var" / "initial-admin.txt").exists()  # the first password is spent: forgotten
        login = httpx.post(
            f"http://{api}/api/auth/login", json={"username": "admin", "password": "Kenesary-45-Astana"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        queue = httpx.get(f"http://{api}/api/cards?status=draft", headers=headers)
        assert queue.status_code == 200 and queue.json() == {"data": [], "count": 0}
        ready = httpx.get(f"http://{api}/api/ready", headers=headers).json()
        assert ready["ready"] and ready["components"]["classifier"]["status"] == "ok"
        assert ready["components"]["asr"]["status"] == "off"
        assert httpx.get(f"http://{api}/login").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "log in at http://" in output and "callcard is stopping" in output
    assert password not in output.split("First start", 1)[1].split("\n", 3)[-1]  # printed once, not logged again
