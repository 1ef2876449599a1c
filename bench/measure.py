"""Run a command as a child process and measure it: wall time, CPU (user+sys) and peak RSS.

CPU comes from os.wait4, which reports that one child's usage (getrusage's RUSAGE_CHILDREN would
mix in every child reaped so far). Peak RSS does not: on Linux a child's ru_maxrss starts from the
memory of the process it was forked from, since exec records the old image's high-water mark, so
a child of this (large) process would never report less than this process's own peak. The peak
is read instead from the child's VmHWM (/proc/PID/status, the high-water mark of its own image)
every POLL_SECONDS while it runs; only a peak in its last few milliseconds could be missed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    wall: float  # seconds
    cpu: float  # user + system seconds
    peak_rss: int  # bytes
    stdout: str


class CommandFailed(RuntimeError):
    """A child exited non-zero or was killed at its deadline; `run` measures it up to then."""

    def __init__(self, message: str, run: Run, timed_out: bool) -> None:
        super().__init__(message)
        self.run = run
        self.timed_out = timed_out


def aggregator(config: Path, *args: str) -> list[str]:
    """The argv of an `aggregator` command run by this interpreter."""
    return [sys.executable, "-m", "aggregator", "-c", str(config), *args]


class Child:
    """A started child process whose output goes to temporary files (no pipe to fill up)."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(self.argv, stdout=self._out, stderr=self._err)

    def finish(self, *, timeout: float) -> Run:
        """Wait for the child (killing it after `timeout` seconds) and measure it.

        Raises CommandFailed with the child's stderr when it exits non-zero or times out.
        """
        status, usage, peak = _wait(self.process, time.perf_counter() + timeout)
        wall = time.perf_counter() - self.started
        stdout, stderr = (_read(file) for file in (self._out, self._err))
        run = Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_rss=peak, stdout=stdout)
        command = " ".join(self.argv)
        if status is None:
            raise CommandFailed(f"{command} did not finish within {timeout:g}s\n{stderr[-2000:]}", run, True)
        if status != 0:
            raise CommandFailed(f"{command} exited with {status}\n{stderr[-2000:]}", run, False)
        return run


def run(argv: Sequence[str], *, timeout: float) -> Run:
    """Run `argv` to completion and measure it (see Child.finish)."""
    return Child(argv).finish(timeout=timeout)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    text = file.read().decode(errors="replace")
    file.close()
    return text


def _wait(child: subprocess.Popen, deadline: float) -> tuple[int | None, os.struct_rusage, int]:
    """Reap `child` with wait4, killing it at `deadline`; watch its VmHWM meanwhile.

    Returns (exit code, or None when killed; its resource usage; its peak RSS in bytes).
    """
    peak = 0
    while True:
        peak = max(peak, _high_water_mark(child.pid))
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not reap it again
            return child.returncode, usage, peak
        if time.perf_counter() > deadline:
            child.kill()
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            return None, usage, peak
        time.sleep(POLL_SECONDS)


def _high_water_mark(pid: int) -> int:
    """The VmHWM of a running process in bytes (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Summary:
    """Medians of several runs of one command."""

    wall: float
    cpu: float
    peak_rss: int
    runs: int

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Summary:
        return cls(
            wall=statistics.median(r.wall for r in runs),
            cpu=statistics.median(r.cpu for r in runs),
            peak_rss=int(statistics.median(r.peak_rss for r in runs)),
            runs=len(runs),
        )
