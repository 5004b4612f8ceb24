"""Private file modes for callcard's data: the database, recordings, spool and keys are 0600 in 0700 folders.

They hold password hashes, transcripts, caller numbers and audio, so nobody but callcard's own user may read
them. ``restrict_umask`` makes every file the process creates private (set once, first thing, by ``callcard
serve``); ``private_dir`` creates a folder 0700 whatever the umask; ``wider_than_private`` finds what is
readable by group or others, for the start-up warning.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_UMASK = 0o077  # files 0600, folders 0700
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
LOOSE_BITS = 0o077  # any group or other permission


def restrict_umask() -> int:
    """Make every file and folder this process creates from now on private; returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; an existing folder keeps the mode it has."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to set
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is narrowed by the umask, never widened: make it exact
    return path


def wider_than_private(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """The existing paths among ``paths`` that group or others may use, with their permission bits."""
    wide: list[tuple[Path, int]] = []
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue  # absent (not made yet) or unreadable: nothing to report
        if stat.S_ISLNK(mode):
            continue  # a link's own bits mean nothing; its target is checked where it is listed
        if mode & LOOSE_BITS:
            wide.append((path, stat.S_IMODE(mode)))
    return wide


def tree(root: Path, *, limit: int = 10_000) -> list[Path]:
    """``root`` and what lies under it (top-down, at most ``limit`` paths, so a huge archive stays cheap)."""
    found: list[Path] = []
    if not root.exists():
        return found
    found.append(root)
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in (*dirs, *files):
            if len(found) >= limit:
                return found
            found.append(base / name)
    return found
