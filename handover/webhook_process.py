"""The webhook worker alone in a process, over the database of the settings (CALLCARD_*), until SIGTERM/SIGINT.

``python -m handover.webhook_process [DATABASE_URL]``: a separate delivery process beside `callcard serve` (which
runs the same worker itself), and the process the restart tests kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from core.config import Settings
from handover.webhook_worker import WebhookWorker, worker_from_settings
from models.db import make_engine, make_sessionmaker


async def serve(worker: WebhookWorker) -> None:
    """Run ``worker`` until a signal asks it to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await worker.start()
    logging.getLogger(__name__).info("webhook worker running")
    try:
        await stop.wait()
    finally:
        await worker.stop()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sessions = make_sessionmaker(make_engine(args[0] if args else settings.database_url))
    asyncio.run(serve(worker_from_settings(settings, sessions)))


if __name__ == "__main__":
    main()
