"""`callcard serve` as a newcomer runs it: migrates, creates the first admin, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


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
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "serve exited"
            try:
                if httpx.get(f"http://{api}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not come up within 60 s"
            time.sleep(0.2)
        note = (tmp_path / "var" / "initial-admin.txt").read_text(encoding="utf-8")
        password = note.split("password:")[1].strip()
        assert oct((tmp_path / "var" / "initial-admin.txt").stat().st_mode & 0o777) == "0o600"
        login = httpx.post(f"http://{api}/api/auth/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        queue = httpx.get(f"http://{api}/api/cards?status=draft", headers=headers)
        assert queue.status_code == 200 and queue.json() == {"data": [], "count": 0}
        ready = httpx.get(f"http://{api}/api/ready").json()
        assert ready["ready"] and ready["components"]["classifier"]["status"] == "ok"
        assert ready["components"]["asr"]["status"] == "off"
        assert httpx.get(f"http://{api}/login").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "log in at http://" in output and "callcard is stopping" in output
    assert password not in output.split("First start", 1)[1].split("\n", 3)[-1]  # printed once, not logged again
