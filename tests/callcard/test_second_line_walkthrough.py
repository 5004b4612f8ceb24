"""The second line as a newcomer tries it, with the real commands and a real `callcard serve`: import the sample
organisations of Astana, add a supervisor and an executor of the heat-network company, register a card, see where it
goes before confirming it, confirm it, find it in the organisation's inbox, resolve it there, read it through the
organisation's Open311 key, close it on the 109 side, and watch the dashboard count it resolved on time."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from core.taxonomy import bundled_path
from tests.callcard.serving import wait_until_serving

SAMPLE = bundled_path("orgs-astana.sample.yaml")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _callcard(env: dict[str, str], cwd: Path, *args: str) -> str:
    cli = Path(sys.executable).with_name("callcard")
    done = subprocess.run([str(cli), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _login(api: str, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(f"http://{api}/api/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_a_card_goes_to_its_organisation_is_resolved_there_and_closes_on_the_dashboard(tmp_path: Path) -> None:
    api = f"127.0.0.1:{_port()}"
    env = {
        **os.environ,
        "CALLCARD_DATA_DIR": str(tmp_path / "var"),
        "CALLCARD_API_BIND": api,
        "CALLCARD_AUDIOSOCKET_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_AGI_BIND": f"127.0.0.1:{_port()}",
        "CALLCARD_ASR_ENABLED": "false",
    }
    _callcard(env, tmp_path, "db", "upgrade")
    dry = _callcard(env, tmp_path, "orgs", "import", str(SAMPLE), "--dry-run")
    assert "dry run: nothing written" in dry
    assert "imported 24 organisations" in _callcard(env, tmp_path, "orgs", "import", str(SAMPLE))
    _callcard(env, tmp_path, "users", "add", "dana", "--role", "supervisor", "--password", "Dana-monitor-109")
    _callcard(
        env,
        tmp_path,
        "users",
        "add",
        "brigade",
        "--role",
        "executor",
        "--org",
        "astana-teplotranzit",
        "--password",
        "Brigade-heat-109",
    )
    issued = _callcard(env, tmp_path, "apikeys", "add", "teplotranzit-system", "--org", "astana-teplotranzit")
    # The key is URL-safe base64: it may begin or end with "-" or "_", where \b would cut it short.
    api_key = re.search(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{40,})(?![A-Za-z0-9_-])", issued)
    assert api_key is not None, issued

    cli = Path(sys.executable).with_name("callcard")
    proc = subprocess.Popen(
        [str(cli), "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_serving(proc, api)
        chief = _login(api, "dana", "Dana-monitor-109")
        base = f"http://{api}"
        card = _ok(
            httpx.post(
                f"{base}/api/cards",
                json={
                    "topic": "heating",
                    "service": "heating_utility",
                    "summary": "Пәтерде жылу жоқ, батареялар суық / В квартире нет отопления",
                    "language": "mixed",
                    "address": {"street": "проспект Абая", "house": "12"},
                },
                headers=chief,
            )
        )
        where = _ok(httpx.get(f"{base}/api/cards/{card['id']}/routing", headers=chief))
        assert where["organisation"] is not None and where["organisation"]["code"] == "astana-teplotranzit"
        confirmed = _ok(httpx.post(f"{base}/api/cards/{card['id']}/confirm", json={}, headers=chief))
        assert confirmed["status"] == "routed" and confirmed["organisation"]["code"] == "astana-teplotranzit"
        reg = confirmed["reg_number"]

        brigade = _login(api, "brigade", "Brigade-heat-109")
        inbox = _ok(httpx.get(f"{base}/api/inbox", headers=brigade))
        assert [c["reg_number"] for c in inbox["data"]] == [reg]
        _ok(httpx.post(f"{base}/api/inbox/{card['id']}/accept", json={}, headers=brigade))
        done = _ok(
            httpx.post(
                f"{base}/api/inbox/{card['id']}/done",
                json={"comment": "Стояк үрленді, жылу берілді / Стояк продут, тепло дали"},
                headers=brigade,
            )
        )
        assert done["status"] == "resolved"

        seen = _ok(httpx.get(f"{base}/open311/v2/requests/{reg}.json", params={"api_key": api_key.group(1)}))
        assert seen[0]["service_request_id"] == reg and seen[0]["status"] == "closed"
        assert seen[0]["status_notes"].startswith("Стояк үрленді")

        closed = _ok(httpx.post(f"{base}/api/cards/{card['id']}/close", json={}, headers=chief))
        assert closed["status"] == "closed"
        stats = _ok(httpx.get(f"{base}/api/stats/organisations", headers=chief))
        [row] = [o for o in stats["organisations"] if o["organisation"]["code"] == "astana-teplotranzit"]
        assert (row["handed_over"], row["resolved"], row["resolved_on_time"]) == (1, 1, 1)
        assert row["on_time_share"] == 1.0 and row["meets_goal"] is True and row["backlog"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
