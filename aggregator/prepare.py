"""What a poll does to a fetched document without the database, in worker processes.

Reading a document (parse, then the entries' keys and raw hashes) and preparing its new entries
(normalize, then the fingerprint the store's story lookup needs) are pure functions of picklable
values, and they are most of a poll's CPU: a few milliseconds to parse a 250 KB document, about
a millisecond per new item to sanitize and fingerprint. `Workers` runs them in a pool of
processes, so that on a machine with several cores they proceed while the event loop fetches and
the store writes; with no workers they run in the calling process.

Between the two steps refresh asks the store which entries it holds unchanged, and only the
others are prepared.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from .dedup import Fingerprint, fingerprint
from .errors import ParseError
from .models import Item, ParsedFeed, Source
from .normalize import Entry, entries, normalize_entries
from .parse import parse

log = logging.getLogger(__name__)

T = TypeVar("T")
PARENT_CHECK_SECONDS = 1.0
INLINE_JOBS = 16  # jobs run in the calling process before the pool starts (Workers)


@dataclass
class Document:
    """A parsed document: the feed's own fields (its `items` left empty) and its entries."""

    feed: ParsedFeed
    entries: list[Entry]


def read(body: bytes, headers: dict[str, str], url: str, source: Source, max_items: int | None) -> Document:
    """Parse a document of `source` into its entries. Raises ParseError."""
    feed = parse(body, headers, url, max_items=max_items)
    found = entries(feed, source)
    feed.items = []  # they travel once, inside the entries
    return Document(feed, found)


def prepare(found: list[Entry], source: Source, now: datetime) -> list[tuple[Item, Fingerprint]]:
    """The Items of these entries, each with its fingerprint (dedup.near)."""
    return [(item, fingerprint(item.title, item.text)) for item in normalize_entries(found, source, now=now)]


def default_workers() -> int:
    """Worker processes for this machine: one per core, none on a single core (nothing to gain)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if cores > 1 else 0


class Workers:
    """A pool of `processes` worker processes; 0 runs every job in the calling process.

    The first `inline` jobs run in the calling process too, and the pool starts with the next:
    starting it costs about a second of CPU (each worker imports the pipeline), more than a
    handful of documents take, so a steady poll in which few sources changed never pays it.
    Workers are spawned (fresh interpreters: they never inherit the daemon's threads, sockets or
    database connection), leave SIGINT and SIGTERM to the main process, which stops them once
    its polls have drained, and exit by themselves when it dies, even by SIGKILL. A worker that
    dies (killed, out of memory) fails the job it was running with a ParseError naming the
    cause, and the next job starts a fresh pool.
    """

    def __init__(self, processes: int, inline: int = INLINE_JOBS):
        self.processes = processes
        self.inline = inline
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if not self.processes:
            return function(*args)
        if self.inline > 0:
            self.inline -= 1
            return function(*args)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_serve,
                initargs=(os.getpid(),),
            )
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool:
            if self._pool is pool:  # the first of its failed jobs replaces it
                log.error("a worker process died; starting new ones")
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise ParseError("the worker process reading this document died (out of memory?)") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _serve(parent: int) -> None:
    """Worker start-up: signals are the main process's business; exit when it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)  # the main process died: nobody will collect our results

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
