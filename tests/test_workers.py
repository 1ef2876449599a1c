"""`aggregator worker`: several processes sharing the polling of one PostgreSQL database
(aggregator/worker.py, aggregator/store/leases.py).

The end-to-end test runs three workers against a loopback world on two hosts and SIGKILLs one
while its requests are in flight, then counts every request and every stored item.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FeedServer, Request, Response, serving, wait_for

from aggregator.cli import main
from aggregator.errors import LeaseLost, StoreError
from aggregator.models import Item, Source
from aggregator.store import Store, leases

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _sources(n: int) -> list[Source]:
    return [Source(id=f"s{i:02d}", title=f"Source {i}", url=f"http://127.0.0.1:1/{i}") for i in range(n)]


def _item(key: str) -> Item:
    return Item(
        source_id="s00",
        key=key,
        link=f"https://example.org/{key}",
        url_key=f"https://example.org/{key}",
        title=f"Title {key}",
        author=None,
        published=NOW,
        updated=None,
        content_html="<p>text</p>",
        text="text",
        categories=(),
        thumbnail=None,
        content_hash=key,
    )


# -- claims ----------------------------------------------------------------------------------------


def test_claims_of_two_workers_never_overlap_and_run_out(postgresql_url: str) -> None:
    with Store(postgresql_url) as one, Store(postgresql_url) as two:
        one.sync_sources(_sources(10))
        first = leases.claim(one, "one", 60, NOW, 6)
        second = leases.claim(two, "two", 60, NOW, 10)
        assert len(first) == 6 and len(second) == 4
        assert not set(first) & set(second)
        assert leases.claim(one, "one", 60, NOW, 10) == {}  # everything is claimed

        # A claim that ran out (a dead worker's) is claimed again, with a higher fencing token.
        one.db.execute(
            "UPDATE sources SET lease_until = clock_timestamp() - interval '1 second' WHERE id = 's00'"
        )
        again = leases.claim(two, "two", 60, NOW, 10)
        assert list(again) == ["s00"] and again["s00"] == first.get("s00", second.get("s00")) + 1


def test_only_due_and_configured_sources_are_claimed(postgresql_url: str) -> None:
    with Store(postgresql_url) as store:
        store.sync_sources(_sources(3))
        store.db.execute(
            "UPDATE sources SET next_check_at = ? WHERE id = 's00'", ["2026-11-27T09:00:00+00:00"]
        )
        store.db.execute("UPDATE sources SET gone = 1 WHERE id = 's01'")
        smaller = [*_sources(3)[:2], Source(id="new", title="New", url="http://127.0.0.1:1/new")]
        store.sync_sources(smaller)  # a one-shot command with another config retires nothing
        assert sorted(leases.claim(store, "w", 60, NOW, 10)) == ["new", "s02"]
        store.db.execute("UPDATE sources SET lease_until = NULL")
        store.sync_sources(smaller, retire=True)  # the config the workers poll
        # s00 is not due yet, s01 answered 410, s02 left the config: only the new source.
        assert list(leases.claim(store, "w", 60, NOW, 10)) == ["new"]
        assert list(leases.claim(store, "w", 60, NOW + timedelta(hours=2), 10)) == ["s00"]
        # The worker's own polls still running are not claimed again, their claims run out or not.
        store.db.execute("UPDATE sources SET lease_until = NULL, next_check_at = NULL")
        assert sorted(leases.claim(store, "w", 60, NOW, 10, busy=["s00"])) == ["new"]


def test_a_poll_is_saved_only_while_its_claim_holds(postgresql_url: str) -> None:
    with Store(postgresql_url) as one, Store(postgresql_url) as two:
        one.sync_sources(_sources(1))
        token = leases.claim(one, "one", 60, NOW, 1)["s00"]
        state = one.source_state("s00")
        state.lease = token
        one.db.execute("UPDATE sources SET lease_until = clock_timestamp() - interval '1 second'")
        with pytest.raises(LeaseLost):  # ran out, even though no one claimed it since
            one.save_poll(state, [_item("a")], NOW)

        newer = leases.claim(two, "two", 60, NOW, 1)["s00"]
        with pytest.raises(LeaseLost):  # another worker holds it now
            one.save_poll(state, [_item("a")], NOW)
        with pytest.raises(LeaseLost):
            one.save_state(state)
        assert one.count_items() == 0

        mine = two.source_state("s00")
        mine.lease = newer
        mine.next_check_at = NOW + timedelta(hours=1)
        assert two.save_poll(mine, [_item("a")], NOW).new
        row = two.db.execute("SELECT lease_owner, lease_until, lease_token FROM sources").fetchone()
        assert row == (None, None, newer)  # the save ended the claim

        # A reload gave the source another URL while a poll of the old one ran: the poll's state
        # is not saved over the new URL, and its claim ends all the same.
        token = leases.claim(two, "two", 60, NOW + timedelta(hours=2), 1)["s00"]
        polled = two.source_state("s00")
        polled.lease = token
        two.sync_sources([Source(id="s00", title="Source 0", url="http://127.0.0.1:1/moved")])
        two.save_state(polled)
        row = two.db.execute("SELECT url, lease_owner, next_check_at FROM sources").fetchone()
        assert row == ("http://127.0.0.1:1/moved", None, None)


def test_renewing_keeps_a_claim_from_running_out(postgresql_url: str) -> None:
    with Store(postgresql_url) as one, Store(postgresql_url) as two:
        one.sync_sources(_sources(2))
        leases.claim(one, "one", 0.5, NOW, 2)
        one.db.execute(
            "UPDATE sources SET lease_until = clock_timestamp() - interval '1 second' WHERE id = 's01'"
        )
        two_took = leases.claim(two, "two", 60, NOW, 2)
        assert list(two_took) == ["s01"]
        # s00 is renewed for a minute; s01 went to the other worker and is not taken back.
        assert leases.renew(one, "one", ["s00", "s01"], 60) == {"s00"}
        one.db.execute("SELECT pg_sleep(0.6)")  # past the first claim's end, on the server's clock
        assert leases.claim(two, "two", 60, NOW, 2) == {}


def test_host_slots_cap_requests_across_workers(postgresql_url: str) -> None:
    """Two workers' slot counters, each with its own connection: at most per_host together."""

    async def scenario(one: leases.SharedHostSlots, two: leases.SharedHostSlots) -> None:
        held: list[str] = []
        release = asyncio.Event()
        most = 0

        async def fetch(slots: leases.SharedHostSlots, host: str) -> None:
            nonlocal most
            async with slots.slot(host):
                held.append(host)
                most = max(most, held.count("a.example"))
                await release.wait()
                held.remove(host)

        tasks = [asyncio.create_task(fetch(s, "a.example")) for s in (one, two, one, two, two)]
        tasks.append(asyncio.create_task(fetch(two, "b.example")))  # another host: its own slots
        await asyncio.wait_for(_until(lambda: len(held) == 3), 10)
        assert sorted(held) == ["a.example", "a.example", "b.example"]
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert most == 2 and held == []

    with Store(postgresql_url) as store:
        one, two = leases.SharedHostSlots(store, 2), leases.SharedHostSlots(store, 2)
        try:
            asyncio.run(scenario(one, two))
        finally:
            one.close()
            two.close()


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_a_publish_forgets_only_the_changes_it_saw(database: Path | str) -> None:
    """A worker publishes what the store lists; another saves an edit of a listed item meanwhile:
    that edit stays listed for the next publish."""
    with Store(database) as store:
        store.sync_sources(_sources(1))
        state = store.source_state("s00")
        store.save_poll(state, [_item("a"), _item("b")], NOW)
        seen = store.unpublished()
        assert len(seen) == 2
        edited = _item("a")
        edited.title, edited.content_hash = "Edited", "edited"
        store.save_poll(state, [edited], NOW)  # while the publish of `seen` runs
        store.mark_published(seen)
        assert list(store.unpublished()) == [
            store.db.execute("SELECT id FROM items WHERE title = 'Edited'").fetchone()[0]
        ]


def test_a_sync_writes_only_what_changed(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        store.sync_sources(_sources(50), retire=True)
        before = store.db.conn.total_changes
        store.sync_sources(_sources(50), retire=True)
        assert store.db.conn.total_changes == before
        renamed = [*_sources(50)[:49], Source(id="s49", title="Renamed", url="http://127.0.0.1:1/49")]
        store.sync_sources(renamed, retire=True)
        assert store.db.conn.total_changes == before + 1


def test_connections_tell_a_vanished_peer_within_a_minute(postgresql_url: str) -> None:
    """TCP keepalives on the server's side of the store's connections: the locks of a worker
    whose machine vanished are freed in about a minute, not the system's two hours."""
    with Store(postgresql_url) as store:
        settings = dict(
            store.db.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count')"
            ).fetchall()
        )
    assert settings == {
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
    }


# -- the command ----------------------------------------------------------------------------------


def test_a_worker_needs_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "aggregator.yaml"
    config.write_text(f"database: {tmp_path / 'db.sqlite'}\nsources: []\ntopics: {{}}\n", encoding="utf-8")
    assert main(["-c", str(config), "worker"]) == 2
    assert "workers share a PostgreSQL database" in capsys.readouterr().err


def test_a_daemon_and_workers_never_share_a_database(postgresql_url: str) -> None:
    with Store(postgresql_url) as worker, Store(postgresql_url) as other, Store(postgresql_url) as daemon:
        worker.lock_worker()
        other.lock_worker()  # workers share
        with pytest.raises(StoreError, match="another aggregator daemon is already running"):
            daemon.lock_daemon()
    with Store(postgresql_url) as daemon, Store(postgresql_url) as worker:
        daemon.lock_daemon()
        with pytest.raises(StoreError, match="workers cannot share a database with it"):
            worker.lock_worker()


# -- three workers, one killed ----------------------------------------------------------------------

SOURCES_PER_HOST = 12
ITEMS = 5
PER_HOST = 2
LEASE = 3.0
LATENCY = 0.15  # seconds each answer takes, so that requests overlap


class World:
    """Two hosts (127.0.0.1 and 127.0.0.2) of SOURCES_PER_HOST feeds each. Every feed has ITEMS
    items of its own and one item that every feed of its host carries (one story, one stored
    item). Requests are recorded with the worker that made them (its User-Agent). Those of the
    worker to be killed to the first host are held until it is dead, so that it dies mid-poll
    holding that host's slots; they are not counted in flight (the test checks that no other
    worker reached that host before the kill instead)."""

    def __init__(self, servers: list[FeedServer]) -> None:
        self.servers = servers
        self.lock = threading.Lock()
        self.requests: list[tuple[float, str, str]] = []  # (time, worker, source id)
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.killed = threading.Event()
        self.urls: dict[str, str] = {}
        for h, server in enumerate(servers):
            for i in range(SOURCES_PER_HOST):
                source_id = f"h{h}s{i:02d}"
                server.routes[f"/{source_id}"] = self.handler(server.host, source_id, h)
                self.urls[source_id] = server.url(f"/{source_id}")

    def handler(self, host: str, source_id: str, h: int):
        items = "".join(
            f"<item><title>{source_id} item {n}</title><link>https://news.example/{source_id}/{n}</link>"
            f"<guid>{source_id}-{n}</guid><description>AI news {n} of {source_id}</description>"
            f"<pubDate>Fri, 27 Nov 2026 0{n}:00:00 GMT</pubDate></item>"
            for n in range(ITEMS)
        )
        shared = (
            f"<item><title>Shared story of host {h}</title><link>https://news.example/shared/{h}</link>"
            "<description>AI carried by every feed of this host</description>"
            "<pubDate>Fri, 27 Nov 2026 06:00:00 GMT</pubDate></item>"
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{source_id}</title>{items}{shared}</channel></rss>'

        def answer(request: Request) -> Response:
            worker = request.headers.get("user-agent", "")
            with self.lock:
                self.requests.append((time.monotonic(), worker, source_id))
            if worker == "worker-A" and h == 0:
                self.killed.wait(30)
                return Response(503, b"", {"Retry-After": "3600"})  # too late: A is dead
            with self.lock:
                self.in_flight[host] += 1
                self.most[host] = max(self.most[host], self.in_flight[host])
            try:
                time.sleep(LATENCY)  # the server's own latency, not a wait in the test
            finally:
                with self.lock:
                    self.in_flight[host] -= 1
            return Response(200, body.encode(), {"Content-Type": "application/rss+xml"})

        return answer

    def by(self, worker: str, host: int | None = None) -> list[tuple[float, str]]:
        with self.lock:
            return [
                (at, sid)
                for at, who, sid in self.requests
                if who == worker and (host is None or sid.startswith(f"h{host}"))
            ]


def _worker_config(tmp_path: Path, name: str, database: str, urls: dict[str, str]) -> Path:
    config = tmp_path / f"{name}.yaml"
    lines = [
        f"database: '{database}'",
        f"output: {{dir: {tmp_path / 'public'}, base_url: 'http://127.0.0.1:1/'}}",
        f"polling: {{interval: 1h, timeout: 40s, concurrency: 4, per_host: {PER_HOST}, lease: {LEASE}s, "
        f"workers: 0, user_agent: {name}}}",
        "sources:",
        *[f"  - {{id: {sid}, url: '{url}'}}" for sid, url in urls.items()],
        "topics:",
        "  everything: {title: Everything}",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _spawn(config: Path, name: str, log: Path) -> subprocess.Popen:
    handle = open(log, "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "-c", str(config), "-v", "worker", "--name", name],
        stdout=handle,
        stderr=handle,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_three_workers_one_killed_mid_poll(
    tmp_path: Path, postgresql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gen_one, gen_two = serving("127.0.0.1"), serving("127.0.0.2")
    servers = [next(gen_one), next(gen_two)]
    world = World(servers)
    names = ["worker-A", "worker-B", "worker-C"]
    logs = {name: tmp_path / f"{name}.log" for name in names}
    processes: dict[str, subprocess.Popen] = {}
    try:
        # A first, so that it claims sources before the others exist.
        processes["worker-A"] = _spawn(
            _worker_config(tmp_path, "worker-A", postgresql_url, world.urls), "A", logs["worker-A"]
        )
        # A claims the first sources, the first host's: both its slots are held by A's requests.
        wait_for(lambda: len(world.by("worker-A", host=0)) == PER_HOST, what="worker A's requests")
        for name in names[1:]:
            processes[name] = _spawn(
                _worker_config(tmp_path, name, postgresql_url, world.urls), name[-1], logs[name]
            )
        wait_for(lambda: world.by("worker-B") and world.by("worker-C"), what="B and C polling")

        with Store(postgresql_url) as store:
            claimed = {sid for (sid,) in store.db.execute("SELECT id FROM sources WHERE lease_owner = 'A'")}
        assert claimed, "worker A holds no claim"
        assert main(["-c", str(tmp_path / "worker-B.yaml"), "sources", "--json"]) == 0
        shown = {row["id"]: row["polled_by"] for row in json.loads(capsys.readouterr().out)}
        assert {sid for sid, worker in shown.items() if worker == "A"} >= claimed
        killed_at = time.monotonic()  # before the signal: the others may go on within microseconds
        processes["worker-A"].send_signal(signal.SIGKILL)
        processes["worker-A"].wait(timeout=10)
        world.killed.set()

        expected = len(world.urls) * ITEMS + len(servers)
        with Store(postgresql_url) as store:

            def all_saved() -> bool:
                for name in names[1:]:
                    assert processes[name].poll() is None, logs[name].read_text()
                left = store.db.execute(
                    "SELECT count(*) FROM sources WHERE last_success_at IS NULL"
                ).fetchone()[0]
                return left == 0 and not store.unpublished()

            wait_for(all_saved, timeout=90, what="every source saved and published")
            stored = store.count_items()
            links = store.db.execute(
                "SELECT link, count(*) FROM items GROUP BY link HAVING count(*) > 1"
            ).fetchall()
            carriers = store.db.execute("SELECT count(*) FROM item_sources").fetchone()[0]
            keys = {tuple(row) for row in store.db.execute("SELECT source_id, key FROM item_sources")}
    finally:
        world.killed.set()
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for gen in (gen_one, gen_two):
            gen.close()

    # No item stored twice, none lost: each feed's own items, and each host's shared one once,
    # carried by all 12 feeds of the host.
    assert links == []
    assert stored == expected
    assert carriers == len(world.urls) * (ITEMS + 1)
    assert len(keys) == carriers

    survivors = world.by("worker-B") + world.by("worker-C")
    polled = Counter(sid for _, sid in survivors)
    # No source was polled twice by the survivors (the interval is an hour), and those they did
    # not poll were polled by A before it died (of the second host: its requests there answer).
    assert max(polled.values()) == 1
    assert set(world.urls) - set(polled) <= {sid for _, sid in world.by("worker-A", host=1)}
    # A's sources were left alone while its claim held, and taken over once it ran out.
    for at, sid in survivors:
        if sid in claimed:
            assert at >= killed_at, f"{sid} was polled by another worker while A held its claim"
            assert at - killed_at <= LEASE + 5, f"{sid} re-polled {at - killed_at:.1f}s after A died"
    # The per-host cap held across the three workers: on the first host, A's held requests kept
    # the others out until it died (its slots freed with its connection), then they used both.
    assert all(at >= killed_at for at, sid in survivors if sid.startswith("h0"))
    assert world.most[servers[0].host] == PER_HOST
    assert world.most[servers[1].host] == PER_HOST
    published = (tmp_path / "public" / "everything.json").read_text(encoding="utf-8")
    assert "Shared story of host 1" in published


def test_a_worker_outlives_its_database_connections(
    tmp_path: Path, postgresql_url: str, feed_server: FeedServer
) -> None:
    """The server drops every connection of a running worker (a restart, a failover): the worker
    connects again and goes on polling, its per-host slots and its lock included."""
    body = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>AI one</title><link>https://news.example/1</link></item></channel></rss>'
    feed_server.serve("/feed", body)
    config = _worker_config(tmp_path, "worker-A", postgresql_url, {"news": feed_server.url("/feed")})
    log = tmp_path / "worker.log"
    process = _spawn(config, "A", log)
    try:
        with Store(postgresql_url) as admin:
            wait_for(lambda: admin.count_items() == 1, what="the first poll saved")
            dropped = admin.db.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'aggregator' AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            assert dropped >= 2  # the store's connection and the host slots'
            admin.db.execute("UPDATE sources SET next_check_at = NULL")  # due again now
            wait_for(lambda: len(feed_server.requests_to("/feed")) == 2, what="a poll after the drop")
            wait_for(
                lambda: admin.db.execute("SELECT next_check_at IS NOT NULL FROM sources").fetchone()[0],
                what="that poll saved",
            )
            with pytest.raises(StoreError, match="another aggregator daemon is already running"):
                admin.lock_daemon()  # the worker holds its share of the lock again
        assert process.poll() is None, log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
