"""Worker processes: the same result as in the calling process, and a dead worker is survived."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator import prepare
from aggregator.errors import ParseError
from aggregator.models import Source
from aggregator.prepare import Workers

SAMPLE = Path(__file__).parent.parent / "config" / "samples"
SOURCE = Source("oschina", "https://www.oschina.net/news/rss", categories=("资讯",))
NOW = datetime(2026, 11, 26, tzinfo=UTC)


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
    pooled = _read_and_prepare(Workers(2), body)
    assert inline[0].entries and pooled[0].entries == inline[0].entries
    assert pooled[1] == inline[1]


def test_a_dead_worker_fails_its_job_and_the_next_job_gets_a_new_pool() -> None:
    workers = Workers(1)

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
        _read_and_prepare(Workers(1), b"<html><body>hello</body></html>")
