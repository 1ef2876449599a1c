"""A pool of worker processes for the CPU-heavy, database-free steps: reading and preparing
documents during a poll (prepare.py), matching stories against topics when a publish builds
membership over a large store (publish/selection.py). Both are pure functions of picklable
values, so on a machine with several cores they run beside the process that fetches and writes.
multiprocessing is imported when a pool first starts: commands that never start one (a publish
of a small store) do not pay for loading it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ParseError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

T = TypeVar("T")
PARENT_CHECK_SECONDS = 1.0
INLINE_JOBS = 16  # jobs run in the calling process before the pool starts (Workers)
BACKLOG = 2  # documents waiting for each process at most (Workers.documents)


def default_workers() -> int:
    """Worker processes for this machine: one per core, none on a single core (nothing to gain)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if cores > 1 else 0


class WorkerDied(Exception):
    """A worker process died while running a job of Workers.map."""


class Workers:
    """A pool of `processes` worker processes; 0 runs every job in the calling process.

    The first `inline` jobs run in the calling process too, and the pool starts with the next:
    starting it costs about a second of CPU (each worker imports the pipeline), more than a
    handful of documents take, so a steady poll in which few sources changed never pays it.
    Workers are spawned (fresh interpreters: they never inherit the daemon's threads, sockets or
    database connection), leave SIGINT and SIGTERM to the main process, which stops them once
    its polls have drained, and exit by themselves when it dies, even by SIGKILL. A worker that
    dies (killed, out of memory) fails the job it was running (run: a ParseError naming the
    cause; map: WorkerDied), and the next job starts a fresh pool.
    """

    def __init__(self, processes: int, inline: int = INLINE_JOBS):
        self.processes = processes
        self.inline = inline
        self._pool: ProcessPoolExecutor | None = None
        # Fetched documents not yet prepared: one job per process and BACKLOG more each. A poll
        # fetches with it (Fetcher.fetch), so that when fetching outruns the processes (a first
        # poll of many sources on a fast network) the bodies, a quarter of a megabyte each, do
        # not pile up in memory in front of them. Without processes a body is read at once.
        self.documents = asyncio.Semaphore(processes * (1 + BACKLOG)) if processes else None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if not self.processes:
            return function(*args)
        if self.inline > 0:
            self.inline -= 1
            return function(*args)
        from concurrent.futures.process import BrokenProcessPool

        pool = self._started()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool:
            self._replace(pool)
            raise ParseError("the worker process reading this document died (out of memory?)") from None

    def map(self, function: Callable[[Any], T], jobs: list[Any]) -> list[T]:
        """function(job) for each of `jobs`, in order, spread over the processes; blocks until all
        are done. A worker that dies raises WorkerDied (the pool is replaced for the next call)."""
        if not self.processes:
            return [function(job) for job in jobs]
        from concurrent.futures.process import BrokenProcessPool

        pool = self._started()
        try:
            return list(pool.map(function, jobs))
        except BrokenProcessPool:
            self._replace(pool)
            raise WorkerDied("a worker process died (out of memory?)") from None

    def start(self) -> None:
        """Start the processes now (each imports the pipeline, about a second of CPU) rather
        than at the first job, which may be inside a transaction."""
        if self.processes:
            self.map(int, [0] * self.processes)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_serve,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """Drop a pool whose worker died; the next job starts a fresh one."""
        if self._pool is pool:  # the first of its failed jobs replaces it
            log.error("a worker process died; starting new ones")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)

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
