"""The store keeps each item once, updates edits in place, and records every carrier."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import StoreError
from aggregator.models import Item, Source
from aggregator.store import Store, schema
from aggregator.store import sqlite as sqlite_engine
from aggregator.store.rows import CHUNK, _execute_in, _in_chunks, _select_in

NOW = datetime(2021, 7, 6, 8, 0, tzinfo=UTC)


def make_item(source_id: str, key: str, url_key: str | None, title: str = "飞桨开源 5 年", **fields) -> Item:
    base = Item(
        source_id=source_id,
        key=key,
        link=f"https://{url_key}" if url_key else None,
        url_key=url_key,
        title=title,
        author="开源中国",
        published=datetime(2021, 7, 5, 23, 58, tzinfo=UTC),
        updated=None,
        content_html="<p>飞桨已凝聚 320 万开发者</p>",
        text="飞桨已凝聚 320 万开发者",
        categories=("编程", "资讯"),
        thumbnail="https://oscimg.oschina.net/a.png",
        content_hash=f"hash-{title}",
    )
    return replace(base, **fields)


def opened(database) -> Iterator[Store]:
    with Store(database) as store:
        store.sync_sources(
            [Source("a", "https://a.example/rss", "Source A"), Source("b", "https://b.example/rss", "B")]
        )
        yield store


@pytest.fixture
def store(database):
    """A store with sources a and b, on each engine (conftest.database)."""
    yield from opened(database)


@pytest.fixture
def sqlite_store(tmp_path):
    yield from opened(tmp_path / "test.db")


def save(store: Store, source_id: str, items: list[Item]):
    return store.save_poll(store.source_state(source_id), items, NOW)


def test_new_items_are_stored_once(store):
    first = save(
        store, "a", [make_item("a", "g1", "oschina.net/news/1"), make_item("a", "g2", "oschina.net/news/2")]
    )
    assert len(first.new) == 2
    again = save(
        store, "a", [make_item("a", "g1", "oschina.net/news/1"), make_item("a", "g2", "oschina.net/news/2")]
    )
    assert again.changed == []
    assert store.count_items() == 2


def test_edited_item_is_updated_in_place(store):
    (item_id,) = save(store, "a", [make_item("a", "g1", "oschina.net/news/1")]).new
    edited = make_item("a", "g1", "oschina.net/news/1", title="飞桨开源 5 年（更新）")
    result = save(store, "a", [edited])
    assert result.updated == [item_id] and not result.new
    (story,) = store.stories()
    assert story.item.title == "飞桨开源 5 年（更新）"
    assert store.search("更新") == [item_id]  # the full-text index follows the edit


def test_same_url_from_two_sources_is_one_item_with_two_carriers(store):
    (item_id,) = save(store, "a", [make_item("a", "g1", "oschina.net/news/1")]).new
    result = save(store, "b", [make_item("b", "other-guid", "oschina.net/news/1", title="转载：飞桨")])
    assert result.new == [] and result.carried == [item_id]
    (story,) = store.stories()
    assert [c.source_id for c in story.carriers] == ["a", "b"]
    assert story.item.title == "飞桨开源 5 年"  # another carrier's copy does not overwrite the owner's
    assert (
        save(store, "b", [make_item("b", "other-guid", "oschina.net/news/1", title="转载：飞桨")]).changed
        == []
    )


def test_the_earliest_version_of_a_url_is_kept_whatever_the_poll_order(store):
    repost = make_item(
        "b", "r1", "oschina.net/news/1", title="转载：飞桨", published=datetime(2021, 7, 6, tzinfo=UTC)
    )
    (item_id,) = save(store, "b", [repost]).new
    result = save(store, "a", [make_item("a", "g1", "oschina.net/news/1")])  # the original, published earlier
    assert result.carried == [item_id]
    (story,) = store.stories()
    assert story.item.title == "飞桨开源 5 年" and story.item.source_id == "a"
    assert {c.source_id for c in story.carriers} == {"a", "b"}
    # Polling the repost again changes nothing.
    assert save(store, "b", [repost]).changed == []


def test_url_variants_within_one_source_are_one_item(store):
    result = save(
        store, "a", [make_item("a", "g1", "oschina.net/news/1"), make_item("a", "g9", "oschina.net/news/1")]
    )
    assert len(result.new) == 1 and result.carried == []
    assert store.count_items() == 1
    assert save(store, "a", [make_item("a", "g9", "oschina.net/news/1")]).changed == []


def test_items_without_links_are_scoped_to_their_source(store):
    save(store, "a", [make_item("a", "hash:1", None)])
    save(store, "b", [make_item("b", "hash:1", None)])
    assert store.count_items() == 2


def test_unchanged_items_are_not_rewritten(sqlite_store):
    items = [make_item("a", f"g{i}", f"x.org/{i}") for i in range(20)]
    save(sqlite_store, "a", items)
    before = sqlite_store.db.conn.total_changes
    save(sqlite_store, "a", items)
    # Only the source's state row is written.
    assert sqlite_store.db.conn.total_changes - before == 1


def test_unchanged_items_are_not_rewritten_on_postgresql(postgresql_url):
    """As above: a row rewritten in PostgreSQL gets a new xmin (the transaction that wrote it)."""
    for store in opened(postgresql_url):
        items = [make_item("a", f"g{i}", f"x.org/{i}") for i in range(20)]
        save(store, "a", items)
        versions = "SELECT {0}, xmin::text FROM {1} ORDER BY {0}"
        tables = {"items": "id", "item_sources": "key", "stories": "id", "story_bands": "item_id, bucket"}
        before = {t: store.db.execute(versions.format(k, t)).fetchall() for t, k in tables.items()}
        save(store, "a", items)
        assert {t: store.db.execute(versions.format(k, t)).fetchall() for t, k in tables.items()} == before


def test_stories_are_newest_first_with_carriers(store):
    old = make_item("a", "old", "x.org/old", published=datetime(2020, 1, 1, tzinfo=UTC))
    new = make_item("a", "new", "x.org/new", published=datetime(2021, 1, 1, tzinfo=UTC))
    save(store, "a", [old, new])
    stories = list(store.stories())
    assert [s.item.key for s in stories] == ["new", "old"]
    assert stories[0].carriers[0].source_title == "Source A"
    assert stories[0].item.categories == ("编程", "资讯")
    assert stories[0].first_seen == NOW


def test_poll_state_round_trips(store):
    state = store.source_state("a")
    state.etag, state.last_modified, state.error_streak = '"v1"', "Mon, 05 Jul 2021 23:58:00 GMT", 3
    state.last_error, state.next_check_at = "fetch: HTTP 503", NOW
    store.save_state(state)
    again = store.source_state("a")
    assert (again.etag, again.error_streak, again.last_error, again.next_check_at) == (
        '"v1"',
        3,
        "fetch: HTTP 503",
        NOW,
    )


def test_chinese_full_text_search(store):
    save(
        store,
        "a",
        [
            make_item("a", "g1", "x.org/1", text="百度飞桨深度学习平台"),
            make_item("a", "g2", "x.org/2", title="Rust 1.54"),
        ],
    )
    assert len(store.search("深度学习")) == 1
    assert len(store.search("rust")) == 1


def test_a_failed_save_leaves_nothing_half_written(store):
    save(store, "a", [make_item("a", "g1", "x.org/1")])
    broken = make_item("a", "g2", "x.org/2", content_html=None)  # NOT NULL violation mid-transaction
    with pytest.raises(StoreError):
        save(store, "a", [make_item("a", "g3", "x.org/3"), broken])
    assert store.count_items() == 1


def test_database_schema_version_and_reopen(tmp_path):
    path = tmp_path / "db.sqlite"
    with Store(path) as store:
        store.sync_sources([Source("a", "https://a.example/rss")])
        save(store, "a", [make_item("a", "g1", "x.org/1")])
    with Store(path) as store:
        assert store.count_items() == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_database_gets_the_later_migrations_and_keeps_its_rows(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    for statement in schema.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO sources (id, url, config_url) VALUES ('a', 'https://a.example/rss', 'x')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.source_state("a").url == "https://a.example/rss"
        save(store, "a", [make_item("a", "g1", "x.org/1")])
        assert store.count_items() == 1
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == schema.VERSION


def test_unopenable_database_is_a_store_error(tmp_path):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open database"):
        Store(tmp_path / "dir.db")


def test_prune_by_age_leaves_tombstones_that_keep_items_out(store):
    assert len(save(store, "a", [make_item("a", "g1", "x.org/1")]).new) == 1
    later = NOW + timedelta(days=91)
    assert store.prune(later, max_age=90 * 86400) == 1
    assert store.count_items() == 0
    # The source still carries it: it is not stored again, from this source or another.
    assert store.save_poll(store.source_state("a"), [make_item("a", "g1", "x.org/1")], later).changed == []
    assert store.save_poll(store.source_state("b"), [make_item("b", "zz", "x.org/1")], later).changed == []
    assert store.count_items() == 0
    # A new item of the same source is stored as usual.
    assert len(store.save_poll(store.source_state("a"), [make_item("a", "g2", "x.org/2")], later).new) == 1


def test_prune_keeps_the_newest_items_per_source(store):
    items = [
        make_item("a", f"g{i}", f"x.org/{i}", published=datetime(2021, 1, i + 1, tzinfo=UTC))
        for i in range(5)
    ]
    save(store, "a", items)
    save(store, "b", [make_item("b", "b1", "y.org/1")])
    assert store.prune(NOW, max_age=90 * 86400, max_items_per_source=2) == 3
    assert sorted(s.item.key for s in store.stories()) == ["b1", "g3", "g4"]


def test_old_tombstones_are_forgotten(store):
    save(store, "a", [make_item("a", "g1", "x.org/1")])
    store.prune(NOW + timedelta(days=91), max_age=90 * 86400)
    store.prune(NOW + timedelta(days=91 + 91), max_age=90 * 86400)
    assert store.db.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 0


def test_a_long_in_list_is_run_chunk_by_chunk_and_every_row_counts(store):
    """_select_in and _execute_in run `IN ({marks})` once per CHUNK values (SQLite's cap on bound
    parameters), with the other parameters where the statement names them, and miss no row."""
    paths = [f"public/topic-{n:04}" for n in range(2 * CHUNK + 7)]  # three chunks, the last short
    with store._transaction():
        store.db.conn.executemany(
            "INSERT INTO published_feeds (path, fingerprint) VALUES (?, ?)", [(p, p[-1]) for p in paths]
        )
    sql = "SELECT path FROM published_feeds WHERE fingerprint != ? AND path IN ({marks}) AND path != ? ORDER BY path"
    assert [len(params) for _, params in _in_chunks(sql, paths, ["9"], [paths[3]])] == [502, 502, 9]
    found = [row[0] for row in _select_in(store.db, sql, paths, before=["9"], after=[paths[3]])]
    assert found == [p for p in paths if not p.endswith("9") and p != paths[3]]  # in order, chunk after chunk
    # A list named twice (a UNION) takes the other parameters and the chunk once per {marks}.
    union = (
        "SELECT path FROM published_feeds WHERE fingerprint = ? AND path IN ({marks}) "
        "UNION SELECT path FROM published_feeds WHERE fingerprint = ? AND path IN ({marks})"
    )
    assert sorted(row[0] for row in _select_in(store.db, union, paths, before=["0"])) == paths[::10]
    with store._transaction():
        assert (
            _execute_in(store.db, "DELETE FROM published_feeds WHERE path IN ({marks})", paths[2:])
            == len(paths) - 2
        )
    assert [row[0] for row in store.db.execute("SELECT path FROM published_feeds ORDER BY path")] == paths[:2]
    assert list(_select_in(store.db, sql, [], before=["9"], after=[""])) == []  # no values, no statement


def test_a_poll_started_before_a_reload_does_not_write_back_the_old_url(store):
    """SIGHUP gave source a another URL while a poll of the old one ran: the poll's items are
    kept, its state (about the old URL) is not, and the new URL is polled at once."""
    polling = store.source_state("a")
    store.sync_sources([Source("a", "https://a.example/new-rss", "Source A")])
    polling.etag, polling.next_check_at = '"old"', NOW + timedelta(hours=1)
    assert len(store.save_poll(polling, [make_item("a", "g1", "x.org/1")], NOW).new) == 1
    state = store.source_state("a")
    assert state.url == "https://a.example/new-rss"
    assert state.etag is None and store.due_sources(NOW, ["a"], 10) == ["a"]
    # A permanent redirect of the old URL does not replace the new one either ...
    polling.moved_from, polling.url = polling.url, "https://a.example/moved"
    store.save_state(polling)
    assert store.source_state("a").url == "https://a.example/new-rss"
    # ... but one of the URL the row names does.
    state.moved_from, state.url, state.etag = state.url, "https://a.example/moved", '"new"'
    store.save_state(state)
    assert (store.source_state("a").url, store.source_state("a").etag) == ("https://a.example/moved", '"new"')


def test_saving_a_push_leaves_the_sources_row_alone(store):
    polled = store.source_state("a")
    polled.etag, polled.error_streak, polled.next_check_at = '"e"', 2, NOW + timedelta(hours=1)
    store.save_state(polled)
    pushed = store.save_poll(
        store.source_state("a"), [make_item("a", "g1", "x.org/1")], NOW, poll_state=False
    )
    assert len(pushed.new) == 1
    assert store.source_state("a") == polled


def test_search_finds_items_before_and_after_their_batch_is_indexed(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_engine, "SEARCH_BATCH", 3)

    def waiting() -> int:
        return store.db.execute("SELECT count(*) FROM items_fts_pending").fetchone()[0]

    def check_index() -> None:  # FTS5 compares the index with every item: raises when they differ
        assert waiting() == 0
        store.db.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")

    with Store(tmp_path / "db.sqlite") as store:
        store.sync_sources([Source("a", "https://a.example/rss")])
        deep, rust = save(
            store,
            "a",
            [
                make_item("a", "g1", "x.org/1", text="百度飞桨深度学习平台"),
                make_item("a", "g2", "x.org/2", title="Rust 1.54"),
            ],
        ).new
        assert waiting() == 2  # not indexed yet, and found all the same
        assert store.search("深度学习") == [deep] and store.search("rust") == [rust]
        (go,) = save(store, "a", [make_item("a", "g3", "x.org/3", title="Go 1.17 发布")]).new
        assert waiting() == 0  # the third made a batch
        assert (
            store.search("深度学习") == [deep]
            and store.search("rust") == [rust]
            and store.search("1.17") == [go]
        )
        check_index()
        # Edited once indexed: the index follows at once.
        save(store, "a", [make_item("a", "g1", "x.org/1", text="百度飞桨机器学习平台", content_hash="v2")])
        assert store.search("深度学习") == [] and store.search("机器学习") == [deep]
        check_index()
        # Edited while waiting: nothing to take out of the index.
        (quantum,) = save(store, "a", [make_item("a", "g4", "x.org/4", text="量子计算的新进展")]).new
        save(store, "a", [make_item("a", "g4", "x.org/4", text="光子计算的新进展", content_hash="v2")])
        assert waiting() == 1
        assert store.search("量子计算") == [] and store.search("光子计算") == [quantum]
        # Pruned, indexed or waiting: gone from search, and the index stays whole.
        assert store.prune(NOW + timedelta(days=400), max_age=86400) == 4
        assert waiting() == 0
        assert store.search("机器学习") == [] and store.search("光子计算") == []
        check_index()
