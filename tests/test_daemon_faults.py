"""The daemon's background work survives faults in-process: a poll that crashes (a bug) or whose
WebSub bookkeeping fails, and a webhook Courier that crashes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FeedServer

from aggregator import config as config_module
from aggregator import scheduler, webhooks
from aggregator.errors import StoreError
from aggregator.pool import Workers
from aggregator.refresh import FAILED, OK, PollOutcome, fetcher_for
from aggregator.store import Store
from aggregator.websub import WebSub

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><guid>g1</guid><title>AI news</title><link>https://news.example.com/1</link></item>"
    b"</channel></rss>"
)


def load(tmp_path: Path, url: str) -> config_module.Config:
    path = tmp_path / "aggregator.yaml"
    path.write_text(
        f"database: {tmp_path / 'db.sqlite'}\n"
        f"output: {{dir: {tmp_path / 'public'}, base_url: 'http://127.0.0.1:8080/'}}\n"
        f"sources:\n  - {{id: a, url: '{url}'}}\n"
        "topics:\n  all:\n    title: All\n",
        encoding="utf-8",
    )
    return config_module.load(path)


def poll_once(config: config_module.Config, store: Store) -> tuple[scheduler.Daemon, list[PollOutcome]]:
    """Run one of the daemon's poll tasks for source a, as its tick starts them."""

    async def run() -> tuple[scheduler.Daemon, list[PollOutcome]]:
        daemon = scheduler.Daemon(config)
        daemon.store = store
        store.sync_sources(config.sources)
        daemon.fetcher = fetcher_for(config.polling)
        daemon.workers = Workers(0)
        daemon.websub = WebSub(store, daemon.fetcher, config, daemon.sources.get, daemon._pushed)
        batch = scheduler._Batch()
        async with daemon.fetcher:
            await daemon._start(daemon.sources["a"], batch)
        return daemon, batch.outcomes

    return asyncio.run(run())


def test_a_crashing_poll_is_logged_and_backs_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def bug(*args: object, **kwargs: object) -> PollOutcome:
        raise RuntimeError("a bug in a stage")

    monkeypatch.setattr(scheduler, "refresh", bug)
    config = load(tmp_path, "https://news.example.com/rss")
    with Store(config.database) as store, caplog.at_level(logging.ERROR):
        daemon, [outcome] = poll_once(config, store)
        assert outcome.status == FAILED and "a bug in a stage" in outcome.error
        [crash] = [r for r in caplog.records if r.getMessage() == "poll of a crashed"]
        assert crash.exc_info and crash.exc_info[0] is RuntimeError  # the traceback is logged
        state = store.source_state("a")
        assert state.error_streak == 1 and "a bug in a stage" in state.last_error
        now = datetime.now(UTC)
        assert state.next_check_at > now and store.due_sources(now, ["a"], 10) == []  # not every tick
        assert "a" not in daemon.in_flight


def test_a_saved_poll_stands_when_its_websub_bookkeeping_fails(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object) -> None:
        raise StoreError("database is locked by another process")

    monkeypatch.setattr(WebSub, "polled", locked)
    config = load(tmp_path, feed_server.serve("/rss", RSS))
    with Store(config.database) as store:
        daemon, [outcome] = poll_once(config, store)
        assert outcome.status == OK
        assert daemon.pending == set(outcome.saved.changed) and daemon.pending  # published next tick
        assert daemon.store_retry.ready() and daemon.store_retry.delay == 0  # polls go on


def test_a_crashed_courier_is_logged_and_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def deliver_due(*args: object) -> webhooks.DeliveryReport:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the courier")
        return webhooks.DeliveryReport()

    monkeypatch.setattr(webhooks, "deliver_due", deliver_due)
    monkeypatch.setattr(webhooks, "ERROR_PAUSE", 0.05)

    async def run() -> None:
        courier = webhooks.Courier()
        courier.start(store)
        async with asyncio.timeout(10):
            while len(calls) < 2:
                await asyncio.sleep(0.01)  # polling a condition, with the deadline above
        await courier.stop()

    with Store(tmp_path / "db.sqlite") as store, caplog.at_level(logging.ERROR):
        asyncio.run(run())
    [crash] = [r for r in caplog.records if r.getMessage().startswith("webhooks crashed")]
    assert crash.exc_info and crash.exc_info[0] is RuntimeError
