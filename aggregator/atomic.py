"""Replace a file atomically: readers see the old file or the new one, never half of one.

Used for every file the program writes for others to read: published outputs and the config
file that `sources import` edits.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

# Files written, fsynced together and renamed per round: bounded, so that a site of many topics
# never holds more open files than this.
ROUND = 64
# fsyncs waiting at once. Each waits for a journal commit, and one commit serves every fsync
# waiting for it: 152 feed files took 1.2 s fsynced one after another, 0.1 s eight at a time.
FSYNC_THREADS = 8


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a temporary file beside `path` (named `.NAME.*.tmp`, so the server never
    serves it), fsync it, give it `mode`, rename it over `path`, then fsync the folder so the
    rename survives a crash. Raises OSError; the temporary file is removed on failure.
    """
    replace_files({path: data}, mode)


def replace_files(files: dict[Path, bytes], mode: int) -> None:
    """replace_file() for several files, faster than one by one: the temporary files are written,
    then fsynced together, then renamed, then each folder is fsynced once.

    Each file is replaced atomically; the set is not (after an error, files renamed so far stay
    replaced, the others untouched, and no temporary file is left). An OSError raised here has
    the path it was writing as its `filename`.
    """
    paths = list(files)
    for start in range(0, len(paths), ROUND):
        _replace_round({path: files[path] for path in paths[start : start + ROUND]}, mode)


def _replace_round(files: dict[Path, bytes], mode: int) -> None:
    opened: dict[Path, tuple[BinaryIO, str]] = {}
    try:
        for path, data in files.items():
            with _naming(path):
                fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                file = os.fdopen(fd, "wb")
                opened[path] = (file, temp)
                file.write(data)
                file.flush()
                os.fchmod(file.fileno(), mode)
        if len(opened) > 1:
            with ThreadPoolExecutor(min(FSYNC_THREADS, len(opened))) as pool:
                for done in [pool.submit(_fsync, path, file) for path, (file, _) in opened.items()]:
                    done.result()
        else:
            for path, (file, _) in opened.items():
                _fsync(path, file)
        for path, (file, temp) in list(opened.items()):
            with _naming(path):
                file.close()
                os.replace(temp, path)
            del opened[path]
        for folder in dict.fromkeys(path.parent for path in files):
            with _naming(folder):
                _fsync_dir(folder)
    finally:
        for file, temp in opened.values():
            with suppress(OSError):  # best effort; the error that got us here is the one to report
                file.close()
                os.unlink(temp)


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Re-raise an OSError with `path` as its filename (mkstemp's would name the temporary file)."""
    try:
        yield
    except OSError as error:
        if error.filename == str(path):
            raise
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error


def _fsync(path: Path, file: BinaryIO) -> None:
    with _naming(path):
        os.fsync(file.fileno())


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX keeps directory entries in the directory's own blocks)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
