"""Poll cadence: intervals, what servers ask, backoff, and what refresh records for 301/410/429."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Response

from aggregator.cadence import Cadence, needs_full_fetch
from aggregator.fetch import Fetcher
from aggregator.models import Source, SourceState
from aggregator.refresh import FAILED, NOT_MODIFIED, OK, refresh
from aggregator.store import Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXACT = Cadence(jitter=0.0)  # no jitter: exact expectations


def minutes(moment: datetime) -> float:
    return (moment - NOW).total_seconds() / 60


@pytest.mark.parametrize(
    ("headers", "ttl", "expected_minutes"),
    [
        ({}, None, 30),  # the interval
        ({"cache-control": "public, max-age=3600"}, None, 60),  # the server asks for longer
        ({"cache-control": "max-age=60"}, None, 30),  # asking for less never makes us poll sooner
        ({}, 90 * 60.0, 90),  # RSS <ttl>
        ({"expires": "Thu, 26 Nov 2026 14:00:00 GMT", "date": "Thu, 26 Nov 2026 12:00:00 GMT"}, None, 120),
        ({"expires": "0"}, None, 30),  # invalid Expires means already expired
        ({"cache-control": "max-age=31536000"}, None, 24 * 60),  # believed up to a day
        (
            {"cache-control": "max-age=7200", "expires": "Thu, 26 Nov 2026 20:00:00 GMT"},
            None,
            120,
        ),  # max-age wins
    ],
)
def test_after_success(headers, ttl, expected_minutes):
    assert minutes(EXACT.after_success(1800, NOW, headers, ttl)) == expected_minutes


@pytest.mark.parametrize(
    ("streak", "retry_after", "expected_minutes"),
    [
        (1, None, 30),
        (2, None, 60),
        (3, None, 120),
        (10, None, 12 * 60),  # capped
        (100, None, 12 * 60),  # never overflows, never gives up
        (1, 7200.0, 120),  # Retry-After longer than the backoff
        (1, 60.0, 30),  # Retry-After shorter: the backoff holds
        (1, 10 * 86400.0, 24 * 60),  # Retry-After believed up to a day
    ],
)
def test_after_failure(streak, retry_after, expected_minutes):
    assert minutes(EXACT.after_failure(1800, streak, NOW, retry_after)) == expected_minutes


def test_jitter_only_delays_and_spreads():
    cadence = Cadence(rng=random.Random(7))
    delays = [minutes(cadence.after_success(1800, NOW, {})) for _ in range(50)]
    assert all(30 <= d <= 33 for d in delays)
    assert len(set(delays)) > 40


def test_dead_after_and_full_fetch():
    state = SourceState("a", failing_since=NOW - timedelta(days=8))
    assert Cadence().is_dead(state, NOW)
    assert not Cadence().is_dead(SourceState("a", failing_since=NOW - timedelta(days=6)), NOW)
    assert needs_full_fetch(SourceState("a"), NOW)
    assert not needs_full_fetch(SourceState("a", last_full_at=NOW - timedelta(hours=23)), NOW)
    assert needs_full_fetch(SourceState("a", last_full_at=NOW - timedelta(hours=25)), NOW)


# -- what refresh records ---------------------------------------------------------------------------

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><ttl>120</ttl>'
    b"<item><guid>1</guid><title>Rust 1.54</title><link>http://x/1</link></item></channel></rss>"
)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        yield store


def poll(store: Store, source: Source, now: datetime = NOW):
    async def run():
        async with Fetcher(timeout=5) as fetcher:
            return await refresh(source, fetcher, store, cadence=EXACT, now=now)

    store.sync_sources([source])
    return asyncio.run(run()), store.source_state(source.id)


def test_success_schedules_by_ttl_and_resets_errors(store, feed_server):
    source = Source("a", feed_server.serve("/rss", RSS), interval=1800)
    outcome, state = poll(store, source)
    assert outcome.status == OK
    assert state.ttl == 7200 and minutes(state.next_check_at) == 120
    assert state.last_full_at == NOW and state.error_streak == 0


def test_not_modified_keeps_the_feed_ttl(store, feed_server):
    def conditional(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, RSS, {"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    feed_server.routes["/rss"] = conditional
    source = Source("a", feed_server.url("/rss"), interval=1800)
    poll(store, source)
    outcome, state = poll(store, source, NOW + timedelta(hours=3))
    assert outcome.status == NOT_MODIFIED
    assert minutes(state.next_check_at) == 180 + 120
    # A day after the last full answer, validators are left out once.
    poll(store, source, NOW + timedelta(hours=25))
    assert "if-none-match" not in feed_server.requests_to("/rss")[-1].headers


def test_failures_back_off_and_retry_after_is_honoured(store, feed_server):
    feed_server.routes["/busy"] = Response(429, b"slow down", {"Retry-After": "7200"})
    source = Source("a", feed_server.url("/busy"), interval=1800)
    outcome, state = poll(store, source)
    assert outcome.status == FAILED and "429" in outcome.error
    assert state.error_streak == 1 and state.failing_since == NOW
    assert minutes(state.next_check_at) == 120
    feed_server.routes["/busy"] = Response(500, b"oops")
    _, state = poll(store, source, NOW + timedelta(hours=2))
    assert state.error_streak == 2 and state.failing_since == NOW  # the streak keeps its start
    assert minutes(state.next_check_at) == 120 + 60


def test_permanent_redirect_updates_the_stored_url(store, feed_server):
    new_url = feed_server.serve("/new", RSS)
    feed_server.routes["/old"] = Response(301, b"", {"Location": "/new"})
    source = Source("a", feed_server.url("/old"))
    _, state = poll(store, source)
    assert state.url == new_url
    poll(store, source, NOW + timedelta(hours=1))
    assert len(feed_server.requests_to("/old")) == 1  # the next poll goes straight to the new URL
    # A new URL in the config wins over the redirect.
    other = feed_server.serve("/other", RSS)
    _, state = poll(store, Source("a", other), NOW + timedelta(hours=2))
    assert state.url == other


def test_gone_stops_polling_until_the_config_changes(store, feed_server):
    feed_server.routes["/gone"] = Response(410, b"gone")
    source = Source("a", feed_server.url("/gone"))
    _, state = poll(store, source)
    assert state.gone and state.next_check_at is None
    assert store.due_sources(NOW + timedelta(days=30), ["a"], 10) == []
    store.sync_sources([Source("a", feed_server.serve("/back", RSS))])
    assert store.due_sources(NOW, ["a"], 10) == ["a"]
    assert not store.source_state("a").gone
