"""`aggregator migrate --to postgresql://...` (store/transfer.py): the sample polled into SQLite,
copied into PostgreSQL, gives the same rows in every table and the same published feeds; the
copy's identities go on after the copied values; and what must be refused is, leaving the target
as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_store_engines import CONFIG, NOW, published, run, sample

from aggregator.cli import main
from aggregator.scheduler import DaemonLock
from aggregator.store import Store
from aggregator.store import webhooks as outbox
from aggregator.store.membership import Membership


def announce(store: Store, story_ids: list[str]) -> None:
    """Queue a webhook delivery per story: rows in the outbox, whose order is a `seq` identity."""
    announced = [
        outbox.Announcement("ai", s, outbox.Delivery(f"d-{s}", "ai", s, "https://r.example/", "{}"))
        for s in story_ids
    ]
    outbox.record(store, {"ai": "https://r.example/"}, [], announced, NOW)


SEQ_TABLES = ("websub_subscriptions", "webhook_deliveries")  # ordered by rowid on SQLite, seq on PostgreSQL


def rows(store: Store, table: str) -> list[tuple]:
    """Every row of `table`, seq (SQLite: rowid) included, in one order on both engines."""
    columns = [row[0] for row in store.db.execute(f"SELECT * FROM {table} LIMIT 0").description]
    if "seq" not in columns and store.engine.row_order == "rowid" and table in SEQ_TABLES:
        columns.append("rowid AS seq")
    found = store.db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return sorted(
        (tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in found), key=repr
    )


def tables(store: Store) -> list[str]:
    return [
        row[0]
        for row in store.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name != 'schema_version' ORDER BY table_name"
        )
    ]


def migrate(folder: Path, url: str, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["-c", str(folder / CONFIG), "migrate", "--to", url])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def polled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Path:
    """The sample polled into its SQLite file, with a few outbox rows besides."""
    folder = sample(tmp_path / "sqlite")
    run(folder, monkeypatch, capsys, "poll", "--no-progress")
    with Store(folder / "data/sample.db") as store:
        announce(store, [story.id for story in store.stories()][:3])
        with Membership(store).transaction():
            Membership(store).queue([story.id for story in store.stories()][:2])  # copied as queued
    return folder


def test_migrate_copies_every_row_and_publishes_the_same_feeds(
    polled: Path,
    tmp_path: Path,
    postgresql_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    code, out, err = migrate(polled, postgresql_url, capsys)
    assert code == 0, err
    assert "s3cret" not in out
    with Store(polled / "data/sample.db") as lite, Store(postgresql_url) as pg:
        names = tables(pg)
        assert len(names) == 18  # SQLite has 23: five are FTS5's
        counts = {name: len(rows(lite, name)) for name in names}
        for name in names:
            assert rows(pg, name) == rows(lite, name), name
            assert f"  {name} " in out and out.split(f"  {name} ")[1].split()[0] == str(counts[name])
        assert sum(n > 0 for n in counts.values()) >= 12  # the sample fills most tables
        assert counts["webhook_deliveries"] == 3 and counts["topic_stale"] == 2
        assert f"{sum(counts.values())} rows in 18 tables" in out

        # identities go on after the copied values
        copied = pg.db.execute("SELECT max(seq) FROM webhook_deliveries").fetchone()[0]
        announce(pg, ["s-new"])
        assert pg.db.execute("SELECT seq FROM webhook_deliveries WHERE id = 'd-s-new'").fetchone()[0] > copied
        kept = pg.db.execute("SELECT max(id) FROM topic_rules").fetchone()[0]
        with Membership(pg).transaction():
            assert Membership(pg).keep("another digest", {}) > kept

    # `aggregator publish` from PostgreSQL writes the feeds SQLite published
    feeds = published(polled)
    folder = sample(tmp_path / "postgresql", postgresql_url)
    run(folder, monkeypatch, capsys, "publish")
    assert published(folder) == feeds and sum(len(items) for items in feeds.values()) > 10


def test_a_target_with_rows_is_refused_and_left_alone(
    polled: Path, postgresql_url: str, capsys: pytest.CaptureFixture
) -> None:
    with Store(postgresql_url) as pg:
        announce(pg, ["s1"])
        pg.db.execute("CREATE TABLE notes (body text)")  # another program's: not ours to fill
    code, _out, err = migrate(polled, postgresql_url, capsys)
    assert code == 1
    assert (
        "is not empty (rows or tables: notes, webhook_announced, webhook_deliveries, webhook_topics)" in err
    )
    with Store(postgresql_url) as pg:
        assert pg.count_items() == 0 and len(rows(pg, "webhook_deliveries")) == 1


def test_a_row_that_cannot_be_copied_leaves_the_target_empty(
    polled: Path, postgresql_url: str, capsys: pytest.CaptureFixture
) -> None:
    # Two entry keys that differ only by a NUL (stored before keys lost it): one key once cleaned.
    with Store(polled / "data/sample.db") as lite:
        lite.db.execute(
            "INSERT INTO item_sources (source_id, key, item_id, link, first_seen, raw_hash) "
            "SELECT source_id, key || char(0), item_id, link, first_seen, raw_hash FROM item_sources "
            "WHERE source_id = 'oschina' ORDER BY key LIMIT 1"
        )
        (key,) = lite.db.execute("SELECT min(key) FROM item_sources WHERE source_id = 'oschina'").fetchone()
    code, _out, err = migrate(polled, postgresql_url, capsys)
    assert code == 1 and "cannot copy table item_sources into" in err
    assert f"Key (source_id, key)=(oschina, {key}) already exists" in err
    with Store(postgresql_url) as pg:
        assert [name for name in tables(pg) if rows(pg, name)] == []


def test_migrate_is_refused_while_a_daemon_uses_the_file(
    polled: Path, postgresql_url: str, capsys: pytest.CaptureFixture
) -> None:
    lock = DaemonLock(polled / "data/sample.db")
    lock.acquire()
    try:
        code, _out, err = migrate(polled, postgresql_url, capsys)
    finally:
        lock.release()
    assert code == 1 and "another aggregator daemon" in err and "stop it first" in err


@pytest.mark.parametrize(
    ("database", "to", "code", "message"),
    [
        (
            "postgresql://u:pw@db.example/feeds",
            "postgresql://u:pw@db2.example/feeds",
            2,
            "is already postgresql://u@db.example/feeds",
        ),
        (
            "data/sample.db",
            "mysql://u:pw@db.example/feeds",
            2,
            "--to: unsupported database URL scheme 'mysql'",
        ),
        ("data/sample.db", "other.db", 2, "--to: give a postgresql://"),
        ("data/none.db", "postgresql://u:pw@db.example/feeds", 1, "no SQLite database at data/none.db"),
    ],
)
def test_what_cannot_be_migrated_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    database: str,
    to: str,
    code: int,
    message: str,
) -> None:
    folder = sample(tmp_path, database)
    monkeypatch.chdir(folder)  # relative paths in the config are taken from here
    (folder / "data").mkdir()
    (folder / "data/sample.db").touch()
    got, _out, err = migrate(folder, to, capsys)
    assert got == code and message in err and ":pw@" not in err
