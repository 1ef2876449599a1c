"""Latency through the daemon: from a source changing to its topic feed being served updated.

`aggregator run` is started on the world's config (short polling interval) and left to poll every
source once. Then, one at a time, a random source gets a new item at the server, and the
daemon's own HTTP output (the catch-all topic's JSON Feed, which lists the newest stories) is
fetched every POLL_SECONDS until the item's link appears. The server says when it first served the
new version, which splits the latency in two: waiting for the schedule to come round to the
source, and the daemon's own work (fetch, parse, store, publish on the next tick, serve).
"""

from __future__ import annotations

import json
import random
import signal
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import measure

POLL_SECONDS = 0.1
WAIT_SECONDS = 600  # the longest wait for one step: start-up and first pass, or one change
STOP_SECONDS = 60  # SIGTERM -> exit; the daemon promises 10 s, a longer wait is measured, not assumed
CATCH_ALL = "everything"


@dataclass(frozen=True)
class Latency:
    """Medians over `changes` changes, in seconds."""

    changes: int
    total: float  # change -> visible in the daemon's output
    schedule: float  # change -> the daemon fetched the new version
    work: float  # fetched -> visible
    worst: float
    peak_rss: int  # the daemon's, over the whole measurement
    stop: float | None  # SIGTERM -> exit, seconds; None when it had to be killed after STOP_SECONDS


def _get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _post(url: str, document: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _until(condition: Callable[[], bool], deadline: float, what: str) -> None:
    """Check `condition` every POLL_SECONDS until it holds; raise TimeoutError at `deadline`."""
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(POLL_SECONDS)


def _answers(url: str) -> bytes | None:
    """The body at `url`, or None while the daemon does not answer (starting, or busy: a daemon
    whose event loop is blocked answers late, and that is part of what is measured)."""
    try:
        return _get(url, timeout=5)
    except (urllib.error.URLError, OSError):
        return None


def measure_latency(config: Path, world_base: str, daemon_port: int, sources: int, changes: int) -> Latency:
    """Start the daemon, let it poll every source once, then time `changes` changes.

    Raises TimeoutError when one step (start-up, the first pass, one change) takes longer than
    WAIT_SECONDS.
    """
    daemon_base = f"http://127.0.0.1:{daemon_port}"
    requests_before = json.loads(_get(world_base + "/_stats"))["requests"]
    child = measure.Child(measure.aggregator(config, "run"))
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        _until(lambda: _answers(daemon_base + "/healthz") is not None, deadline, "the daemon's /healthz")
        _until(
            lambda: json.loads(_get(world_base + "/_stats"))["requests"] >= requests_before + sources,
            deadline,
            "the daemon to poll every source once",
        )
        rng = random.Random(sources)
        samples = []
        for _ in range(changes):
            source = rng.randrange(sources)
            answer = _post(world_base + "/_change", {"sources": [source]})
            link, changed_at = answer["changed"][str(source)], answer["at"]
            _until(
                lambda link=link: link.encode() in (_answers(f"{daemon_base}/{CATCH_ALL}.json") or b""),
                time.monotonic() + WAIT_SECONDS,
                f"{link} in {CATCH_ALL}.json",
            )
            visible_at = time.time()
            fetched_at = json.loads(_get(f"{world_base}/_served/{source}"))["served_at"]
            samples.append((visible_at - changed_at, fetched_at - changed_at, visible_at - fetched_at))
    finally:
        stopping = time.perf_counter()
        child.process.send_signal(signal.SIGTERM)
        try:
            run, stop = child.finish(timeout=STOP_SECONDS), time.perf_counter() - stopping
        except measure.CommandFailed as error:  # killed at the deadline, or exited non-zero
            run, stop = error.run, None if error.timed_out else time.perf_counter() - stopping
    total, schedule, work = (statistics.median(column) for column in zip(*samples, strict=True))
    return Latency(changes, total, schedule, work, max(s[0] for s in samples), run.peak_rss, stop)
