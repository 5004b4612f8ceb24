"""Process memory hygiene for decoding workers: glibc arena limit, heap trimming, RSS from /proc."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h

_libc: ctypes.CDLL | None = None
_probed = False


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has mallopt and malloc_trim), else None (cached)."""
    global _libc, _probed  # a process-wide handle, like a model cache
    if not _probed:
        _probed = True
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
        except OSError:
            lib = None
        if lib is not None and hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt"):
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.malloc_trim.restype = ctypes.c_int
            lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.mallopt.restype = ctypes.c_int
            _libc = lib
    return _libc


def limit_arenas(n: int) -> bool:
    """Cap glibc's malloc arenas at ``n`` (call early, before threads start); False when not glibc or ``n`` < 1.

    Each decoding thread otherwise gets its own arena, and freed memory in an arena is kept by the process
    (a recognizer's lookahead cache freed on one thread's arena is not reused by another).
    """
    lib = _glibc()
    if lib is None or n < 1:
        return False
    ok = bool(lib.mallopt(M_ARENA_MAX, n))
    if not ok:
        logger.warning("mallopt(M_ARENA_MAX, %d) failed", n)
    return ok


def trim() -> bool:
    """Give free heap memory back to the OS (glibc ``malloc_trim(0)``); False when not glibc."""
    lib = _glibc()
    if lib is None:
        return False
    lib.malloc_trim(0)
    return True


def rss_mib(pid: int | None = None) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc/<pid>/status (Linux only)."""
    text = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    vals = {}
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            vals[line.split(":")[0]] = int(line.split()[1]) / 1024
    return vals["VmRSS"], vals["VmHWM"]
