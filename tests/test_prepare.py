"""Worker processes: the same result as in the calling process, and a dead worker is survived."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Response, wait_for

from aggregator import prepare
from aggregator.errors import ParseError
from aggregator.models import Source
from aggregator.pool import Workers

SAMPLE = Path(__file__).parent.parent / "config" / "samples"
SOURCE = Source("oschina", "https://www.oschina.net/news/rss", categories=("资讯",))
NOW = datetime(2026, 11, 26, tzinfo=UTC)
RSS = (SAMPLE / "oschina.xml").read_bytes()


def _read_and_prepare(workers: Workers, body: bytes) -> tuple[prepare.Document, list]:
    async def run() -> tuple[prepare.Document, list]:
        headers = {"content-type": "application/rss+xml"}
        document = await workers.run(prepare.read, body, headers, SOURCE.url, SOURCE, None)
        return document, await workers.run(prepare.prepare, document.entries, SOURCE, NOW)

    try:
        return asyncio.run(run())
    finally:
        workers.close()


def test_workers_give_what_the_calling_process_gives() -> None:
    body = min(SAMPLE.glob("*.xml"), key=lambda p: p.name).read_bytes()
    inline = _read_and_prepare(Workers(0), body)
    pooled = _read_and_prepare(Workers(2, inline=0), body)
    assert inline[0].entries and pooled[0].entries == inline[0].entries
    assert pooled[1] == inline[1]


def test_a_dead_worker_fails_its_job_and_the_next_job_gets_a_new_pool() -> None:
    workers = Workers(1, inline=0)

    async def run() -> int:
        with pytest.raises(ParseError, match=r"worker process .* died"):
            await workers.run(os._exit, 9)
        return await workers.run(pow, 2, 10)

    try:
        assert asyncio.run(run()) == 1024
    finally:
        workers.close()


def test_a_parse_error_in_a_worker_arrives_as_it_is() -> None:
    with pytest.raises(ParseError, match="not a feed: got an HTML page"):
        _read_and_prepare(Workers(1, inline=0), b"<html><body>hello</body></html>")


def test_workers_of_a_killed_poll_exit_by_themselves(tmp_path, feed_server) -> None:
    release = threading.Event()

    def slow(request):  # holds one source, so the poll is still running when it is killed
        release.wait(30)
        return Response(200, RSS, {"Content-Type": "application/rss+xml"})

    feed_server.routes["/slow"] = slow
    # more documents than pool.INLINE_JOBS / 2, so that the pool starts
    sources = [f"  - {{id: s{n}, url: '{feed_server.serve(f'/{n}', RSS)}'}}" for n in range(12)]
    sources.append(f"  - {{id: slow, url: '{feed_server.url('/slow')}'}}")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"database: {tmp_path / 'db.sqlite'}\noutput: {{dir: {tmp_path / 'out'}, base_url: 'http://x.test/'}}\n"
        "polling: {workers: 2}\nsources:\n" + "\n".join(sources) + "\ntopics: {all: {title: All}}\n"
    )
    poll = subprocess.Popen([sys.executable, "-m", "aggregator", "-c", str(config), "poll", "--no-progress"])
    try:
        workers = wait_for(lambda: _children(poll.pid), what="worker processes")
        os.kill(poll.pid, signal.SIGKILL)
        poll.wait(10)
        wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10, what="workers to exit")
    finally:
        release.set()
        if poll.poll() is None:
            poll.kill()


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
