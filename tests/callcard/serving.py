"""Waiting for a `callcard serve` process to answer."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_until_serving(proc: subprocess.Popen[str], api: str, within_s: float = 60) -> None:
    """Return once ``proc`` answers GET /api/health on ``api`` (host:port); fail with its output if it exits."""
    deadline = time.monotonic() + within_s
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "serve exited"
        try:
            if httpx.get(f"http://{api}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"serve did not come up within {within_s:g} s"
        time.sleep(0.2)
