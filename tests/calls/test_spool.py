"""The durable spool: append-only, fsync'd, replayed in order, resumable, robust to torn and bad lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from calls.spool import Spool


def test_records_replay_in_order_and_the_spool_empties(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append({"op": "x", "n": i, "text": "Сәлем, қала"})
    assert len(spool) == 5 and not spool.empty
    seen: list[int] = []
    assert spool.replay(lambda r: seen.append(r["n"])) == 5
    assert seen == [0, 1, 2, 3, 4]
    assert spool.empty and len(spool) == 0 and spool.path.stat().st_size == 0


def test_replay_stops_at_a_failure_and_resumes_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(4):
        spool.append({"n": i})
    applied: list[int] = []

    def flaky(record: dict[str, Any]) -> None:
        if record["n"] == 2:
            raise ConnectionError("database down")
        applied.append(record["n"])

    with pytest.raises(ConnectionError):
        spool.replay(flaky)
    assert applied == [0, 1]
    reopened = Spool(tmp_path)  # callcard restarted
    assert len(reopened) == 2
    reopened.replay(lambda r: applied.append(r["n"]))
    assert applied == [0, 1, 2, 3]  # nothing lost, nothing applied twice


def test_torn_tail_and_unreadable_lines_are_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"n": 1})
    with spool.path.open("ab") as fh:
        fh.write(b"this is not json\n")
        fh.write(b'{"n": 2}\n{"n": 3, "trunc')  # a crash in the middle of an append
    reopened = Spool(tmp_path)
    reopened.append({"n": 4})
    seen: list[int] = []
    reopened.replay(lambda r: seen.append(r["n"]))
    assert seen == [1, 2, 4]
    rejected = reopened.rejected_path.read_text()
    assert "torn record" in rejected and "unreadable line" in rejected and "trunc" in rejected
    assert reopened.empty
