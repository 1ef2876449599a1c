"""The store on PostgreSQL as on SQLite: one schema, the same answers, end to end through the CLI.

The store-level tests (test_store, test_stories, test_search, test_websub_units and parts of
test_fulltext) run on both engines through conftest's `database` fixture; these are what is
particular to the engines: the schema kept in step, the placeholders, migrations, locks, errors
and the config's `database:` URL.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FeedServer, wait_for
from test_daemon import Daemon, daemons, rss, served_titles  # noqa: F401 - the daemons fixture

from aggregator.cli import main
from aggregator.errors import StoreError
from aggregator.models import Source
from aggregator.store import Store, redact, schema, schema_postgresql
from aggregator.store import webhooks as outbox
from aggregator.store.postgresql import DAEMON_LOCK, Connection

ROOT = Path(__file__).parent.parent
CONFIG = "config/sample.yaml"
NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_both_engines_have_the_same_tables_and_columns(tmp_path: Path, postgresql_url: str) -> None:
    assert len(schema_postgresql.MIGRATIONS) == len(schema.MIGRATIONS)
    with Store(tmp_path / "db.sqlite") as lite:
        tables = [
            row[0]
            for row in lite.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("items_fts")  # FTS5's tables: pg_trgm indexes instead
        ]
        expected = {
            table: [row[1] for row in lite.db.execute(f"PRAGMA table_info({table})")] for table in tables
        }
    with Store(postgresql_url) as pg:
        found: dict[str, list[str]] = {}
        for table, column in pg.db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name != 'schema_version' AND column_name != 'seq' ORDER BY table_name, ordinal_position"
        ):
            found.setdefault(table, []).append(column)
    assert found == expected


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT ? WHERE x = ?", [1, 2], ("SELECT %s WHERE x = %s", [1, 2])),
        ("VALUES (?1, ?2, ?2, ?3)", ["a", "b", "c"], ("VALUES (%s, %s, %s, %s)", ["a", "b", "b", "c"])),
        ("SELECT '?', \"a?\" FROM t WHERE y LIKE ? ESCAPE '\\'", ["%x"], None),
        ("SELECT 'it''s ?' || ?, 5 % 2", ["z"], ("SELECT 'it''s ?' || %s, 5 %% 2", ["z"])),
    ],
)
def test_placeholders_are_translated_for_psycopg(sql: str, params: list, expected: tuple | None) -> None:
    translated, order = Connection(lambda: None, "")._translate(sql)  # type: ignore[arg-type, return-value]
    got = (translated, params if order is None else [params[i] for i in order])
    if expected is None:  # quoted ? are text, not placeholders
        expected = ("SELECT '?', \"a?\" FROM t WHERE y LIKE %s ESCAPE '\\'", ["%x"])
    assert got == expected


def test_a_reopened_database_keeps_its_rows_and_version(postgresql_url: str) -> None:
    with Store(postgresql_url) as store:
        store.sync_sources([Source("a", "https://a.example/rss", "A")])
    with Store(postgresql_url) as store:
        assert store.source_state("a").url == "https://a.example/rss"
        assert store.db.execute("SELECT version FROM schema_version").fetchone()[0] == len(schema.MIGRATIONS)


def test_processes_opening_a_new_database_at_once_migrate_it_once(postgresql_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        try:
            start.wait(timeout=30)
            with Store(postgresql_url) as store:
                store.sync_sources([Source("a", "https://a.example/rss")])
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_a_newer_schema_is_refused(postgresql_url: str) -> None:
    with Store(postgresql_url) as store:
        store.db.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(StoreError, match="schema version 999, newer"):
        Store(postgresql_url)


def test_one_daemon_per_database(postgresql_url: str) -> None:
    with Store(postgresql_url) as first, Store(postgresql_url) as second:
        first.lock_daemon()
        with pytest.raises(StoreError, match="another aggregator daemon is already running on database"):
            second.lock_daemon()
    with Store(postgresql_url) as third:  # the lock goes with its connection
        third.lock_daemon()


def test_a_dropped_connection_is_replaced_with_its_locks(postgresql_url: str) -> None:
    """The server ends the daemon's connection (a restart, a failover, an administrator): the
    write it cut short fails as a StoreError, the next one goes through on a new connection, and
    the daemon's lock is held again, so a second daemon is still refused."""
    with Store(postgresql_url) as daemon, Store(postgresql_url) as admin:
        daemon.lock_daemon()
        pid = daemon.db.execute("SELECT pg_backend_pid()").fetchone()[0]
        admin.db.execute("SELECT pg_terminate_backend(?)", [pid])
        with pytest.raises(StoreError, match="lost the connection"):
            daemon.sync_sources([Source("a", "https://a.example/rss")])
        daemon.sync_sources([Source("a", "https://a.example/rss")])
        assert daemon.db.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
        assert daemon.source_state("a").url == "https://a.example/rss"
        with pytest.raises(StoreError, match="another aggregator daemon is already running"):
            admin.lock_daemon()


def test_a_write_waits_for_the_lock_at_most_the_busy_timeout(postgresql_url: str) -> None:
    with Store(postgresql_url) as holder, Store(postgresql_url, busy_timeout=0.2) as waiter:
        locked = pytest.raises(StoreError, match=r"is locked by another process \(waited 0.2s")
        with holder._transaction(), locked:  # the holder has the write lock
            waiter.sync_sources([Source("a", "https://a.example/rss")])
        waiter.sync_sources([Source("a", "https://a.example/rss")])
        assert waiter.source_state("a").url == "https://a.example/rss"


def test_an_unreachable_server_is_a_store_error_without_the_password(postgresql_url: str) -> None:
    url = postgresql_url.rsplit(":", 1)[0] + ":1/nowhere"  # port 1: nothing listens
    with pytest.raises(StoreError) as e:
        Store(url)
    assert f"cannot open database {redact(url)}: " in str(e.value) and "s3cret" not in str(e.value)
    assert redact(url) == "postgresql://aggregator@127.0.0.1:1/nowhere"


def test_the_webhook_outbox_leases_in_insertion_order(database: Path | str) -> None:
    """Deliveries queued together (the same created_at) are claimed in the order they were queued."""
    with Store(database) as store:
        ids = [f"d{n}" for n in (3, 1, 2)]
        announced = [
            outbox.Announcement("ai", f"s{n}", outbox.Delivery(i, "ai", f"s{n}", "https://r.example/", "{}"))
            for n, i in enumerate(ids)
        ]
        outbox.record(store, {"ai": "https://r.example/"}, [], announced, NOW)
        claimed = outbox.claim(store, NOW, timedelta(minutes=5), limit=10)
        assert [d.id for d in claimed] == ids
        assert outbox.claim(store, NOW, timedelta(minutes=5), limit=10) == []  # leased
        assert outbox.next_due(store) == NOW + timedelta(minutes=5)
        outbox.finish(store, claimed[0], outbox.DELIVERED, NOW)
        outbox.postpone(store, claimed[1:], NOW + timedelta(hours=1), "HTTP 503")
        assert outbox.next_due(store) == NOW + timedelta(hours=1)


# -- end to end: the bundled sample polled and published into each engine ----------------------------


def sample(folder: Path, database: str | None = None) -> Path:
    """The bundled sample config copied into `folder`, with `database` in place of its SQLite file."""
    shutil.copytree(ROOT / "config", folder / "config")
    if database:
        config = folder / CONFIG
        config.write_text(config.read_text().replace("database: data/sample.db", f"database: {database}"))
    return folder


def run(folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> str:
    monkeypatch.chdir(folder)
    capsys.readouterr()
    assert main(["-c", CONFIG, *args]) == 0
    return capsys.readouterr().out


def published(folder: Path) -> dict[str, list]:
    """topic file -> the items of its JSON Feed."""
    return {p.name: json.loads(p.read_text())["items"] for p in sorted((folder / "public").glob("*.json"))}


def test_poll_publish_and_search_on_postgresql_as_on_sqlite(
    tmp_path: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    lite = sample(tmp_path / "sqlite")
    pg = sample(tmp_path / "postgresql", postgresql_url)
    for folder in (lite, pg):
        run(folder, monkeypatch, capsys, "poll", "--no-progress")
    feeds = published(pg)
    assert feeds == published(lite) and sum(len(items) for items in feeds.values()) > 10
    assert not (pg / "data").exists()  # nothing went to an SQLite file

    # publish regenerates every topic from the database alone
    shutil.rmtree(pg / "public")
    run(pg, monkeypatch, capsys, "publish")
    assert published(pg) == feeds

    found = run(pg, monkeypatch, capsys, "search", "飞桨")  # two characters: a scan
    assert "他们为什么爱飞桨" in found and found == run(lite, monkeypatch, capsys, "search", "飞桨")
    longer = run(pg, monkeypatch, capsys, "search", "开发者")  # three: the trigram index
    assert "他们为什么爱飞桨" in longer and longer == run(lite, monkeypatch, capsys, "search", "开发者")

    with Store(postgresql_url) as store:  # the index serves Chinese: pg_trgm makes trigrams of it
        store.db.execute("SET enable_seqscan = off")
        plan = store.db.execute("EXPLAIN SELECT id FROM items WHERE text ILIKE '%%开发者%%'").fetchall()
        assert "Bitmap Index Scan on items_text_trgm" in " ".join(row[0] for row in plan)


def test_config_check_names_the_database_without_its_password(
    tmp_path: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    out = run(sample(tmp_path, postgresql_url), monkeypatch, capsys, "config", "check")
    assert f"database  {redact(postgresql_url)}" in out and "s3cret" not in out


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ("mysql://u:pw@db.example/feeds", "unsupported database URL scheme 'mysql'"),
        ("postgresql://u:pw@db.example:99999/feeds", "port is not a number from 1 to 65535"),
        ("postgresql://u:pw@db.example:5432/", "names no database"),
        ("postgresql://u:pw@db.example/feeds?colour=blue", 'invalid URI query parameter: "colour"'),
    ],
)
def test_a_bad_database_url_is_a_located_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, database: str, message: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(f"sources: []\n\ndatabase: {database}\n")
    assert main(["-c", str(config), "config", "check"]) != 0
    err = capsys.readouterr().err
    assert f"{config}:3: database: " in err and message in err and ":pw@" not in err


def test_the_daemon_on_postgresql(
    tmp_path: Path,
    postgresql_url: str,
    feed_server: FeedServer,
    daemons,  # noqa: F811 - the fixture
) -> None:
    """`aggregator run` polls into PostgreSQL and serves what it published; a second daemon on the
    same database is refused (the advisory lock, where SQLite has a lock file), and no lock file
    or SQLite file is made."""
    feed_server.serve("/feed", rss("AI one"))
    daemon = Daemon(tmp_path / "first", {"news": feed_server.url("/feed")}, database=postgresql_url).start()
    daemons.append(daemon)
    wait_for(lambda: served_titles(daemon, "ai") == ["AI one"], what="first item served")

    second = Daemon(tmp_path / "second", {"news": feed_server.url("/feed")}, database=postgresql_url)
    refused = second.spawn()
    assert refused.wait(timeout=30) != 0
    assert "another aggregator daemon is already running on database" in second.log.read_text()

    feed_server.serve("/feed", rss("AI two", "AI one"))
    wait_for(lambda: served_titles(daemon, "ai") == ["AI two", "AI one"], what="changed feed served")
    assert daemon.stop() == 0
    assert sorted(p.name for p in (tmp_path / "first").iterdir()) == [
        "aggregator.yaml",
        "daemon.log",
        "public",
    ]
    with Store(postgresql_url) as store:
        assert store.count_items() == 2


def test_a_daemon_whose_database_another_took_while_its_connection_was_lost_stops(
    tmp_path: Path,
    postgresql_url: str,
    feed_server: FeedServer,
    daemons,  # noqa: F811 - the fixture
) -> None:
    """The server drops the daemon's connection, and another process takes the daemon lock before
    the daemon reconnects: the daemon must not go on polling beside it. It stops, exit status 1,
    saying why."""
    feed_server.serve("/feed", rss("AI one"))
    daemon = Daemon(tmp_path / "first", {"news": feed_server.url("/feed")}, database=postgresql_url).start()
    daemons.append(daemon)
    wait_for(lambda: served_titles(daemon, "ai") == ["AI one"], what="first item served")
    with Store(postgresql_url) as other:
        other.db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'aggregator' AND pid <> pg_backend_pid()"
        )
        # Waits until the daemon's old session is gone, and is first in line for its lock then.
        other.db.execute("SELECT pg_advisory_lock(?)", [DAEMON_LOCK])
        assert daemon.process is not None
        assert daemon.process.wait(timeout=30) == 1
    assert "another process took the lock this one held" in daemon.log.read_text()
    daemon.process = None
