"""Durable local spool of call events: append-only JSON lines, fsync'd, replayed in order, each applied once."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class Spool:
    """An append-only file of JSON records with a separate, atomically replaced replay offset.

    Every ``append`` is flushed and fsync'd before it returns, so a record survives a crash of callcard or of
    the machine. ``replay`` applies pending records in order and advances the offset after each success; a
    record is re-applied only if callcard dies between applying it and saving the offset, which is why the
    applied operations must be idempotent (the calls repository's are: keyed on the channel's uniqueid).
    Blocking: use it from a worker thread.
    """

    def __init__(self, directory: Path, name: str = "call-events") -> None:
        """Open (and create) ``directory/name.jsonl`` and its offset file."""
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{name}.jsonl"
        self.offset_path = directory / f"{name}.offset"
        self.rejected_path = directory / f"{name}.rejected.jsonl"
        self.path.touch(exist_ok=True)
        self._drop_torn_tail()
        _fsync_dir(directory)

    def _drop_torn_tail(self) -> None:
        """A crash inside ``append`` can leave a last line without its newline; set it aside, never append to it."""
        with self.path.open("rb+") as fh:
            data = fh.read()
            if not data or data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            logger.error("spool %s ends with a torn record (%d bytes); set aside", self.path, len(data) - cut)
            self.reject({"raw": data[cut:].decode("utf-8", "replace")}, "torn record")
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------------------------------------- writing

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (JSON line, flush, fsync)."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        _append_durably(self.path, line.encode("utf-8"))

    def reject(self, record: dict[str, Any], reason: str) -> None:
        """Keep a record that can never be applied aside, with the reason, instead of blocking the spool."""
        line = json.dumps({"reason": reason, "record": record}, ensure_ascii=False, default=str) + "\n"
        _append_durably(self.rejected_path, line.encode("utf-8"))

    # ------------------------------------------------------------------------------------------- reading

    @property
    def offset(self) -> int:
        """Bytes of the spool already applied."""
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _save_offset(self, offset: int) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            fh.write(str(offset))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.offset_path)

    def pending(self) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(end offset, record) of every record not yet applied, in order; None for an unreadable line."""
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            pos = fh.tell()
            for raw in fh:
                pos += len(raw)
                if not raw.endswith(b"\n"):
                    return  # being written right now; a later replay picks it up
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    logger.error("spool %s has an unreadable line at byte %d; set aside", self.path, pos - len(raw))
                    self.reject({"raw": raw.decode("utf-8", "replace")}, "unreadable line")
                    yield pos, None
                    continue
                yield pos, record

    def __len__(self) -> int:
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            return sum(1 for raw in fh if raw.endswith(b"\n"))

    @property
    def empty(self) -> bool:
        """True when nothing waits to be applied."""
        return self.path.stat().st_size <= self.offset

    def replay(self, apply: Callable[[dict[str, Any]], None]) -> int:
        """Apply pending records in order; stop at the first failure (it propagates). Returns how many applied.

        When everything is applied the spool is emptied.
        """
        done = 0
        for end, record in self.pending():
            if record is not None:
                apply(record)
                done += 1
            self._save_offset(end)
        if self.empty:
            self.clear()
        return done

    def clear(self) -> None:
        """Empty the spool (only once every record is applied)."""
        with self.path.open("wb") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        self._save_offset(0)


def _append_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
