"""Replace a file atomically: readers see the old file or the new one, never half of one.

Used for every file the program writes for others to read: published outputs and the config
file that `sources import` edits.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a temporary file beside `path` (named `.NAME.*.tmp`, so the server never
    serves it), fsync it, give it `mode`, rename it over `path`, then fsync the folder so the
    rename survives a crash. Raises OSError; the temporary file is removed on failure.
    """
    temp: str | None = None
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temp, path)
        temp = None
        _fsync_dir(path.parent)
    finally:
        if temp is not None:
            with suppress(OSError):  # best effort; the error that got us here is the one to report
                os.unlink(temp)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX keeps directory entries in the directory's own blocks)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
