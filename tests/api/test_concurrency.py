"""50 operators confirming at once over real HTTP (uvicorn on loopback) get 50 consecutive registration numbers."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app

logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_fifty_operators_confirm_at_once_over_http(make_ctx: Any, make_user: Any, token_for: Any) -> None:
    ctx = make_ctx()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        # supervisors: the monitoring department confirms any draft (operators only those of the calls they hold)
        operators = [make_user("supervisor") for _ in range(5)]
        headers = [{"Authorization": f"Bearer {token_for(op)}"} for op in operators]
        with httpx.Client(base_url=base, timeout=60) as http:
            ids = [
                http.post("/api/cards", json={"topic": "heating"}, headers=headers[0]).json()["id"] for _ in range(50)
            ]
        barrier = threading.Barrier(50)
        results: list[httpx.Response] = []
        lock = threading.Lock()

        def confirm(i: int, card_id: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                barrier.wait()
                answer = http.post(f"/api/cards/{card_id}/confirm", headers=headers[i % 5])
            with lock:
                results.append(answer)

        workers = [threading.Thread(target=confirm, args=(i, cid)) for i, cid in enumerate(ids)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - started
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200][:3]
    seqs = sorted(int(r.json()["reg_number"][-6:]) for r in results)
    assert seqs == list(range(1, 51))
    assert len({r.json()["reg_number"][4:8] for r in results}) == 1
    assert elapsed < 60
    logger.warning(
        "CONCURRENCY http %s: 50 parallel confirm requests in %.3f s", ctx.settings.database_url[:10], elapsed
    )
