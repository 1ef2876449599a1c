"""SQLite's full-text index only narrows search (it keeps no positions: schema.py, migration 12),
so what search answers does not depend on it: the same items for Chinese and English strings of
any length, with spaces, quotes, FTS5 operators and full-width characters, whether the items are
indexed or still wait to be (SQLite.index_pending); an item holding every trigram of a string,
but not the string, is not taken; and a database whose index kept positions is upgraded."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_store import NOW, make_item

from aggregator.models import Source, Topic
from aggregator.search import dry_run, search
from aggregator.store import Contains, Store, schema
from aggregator.store import sqlite as sqlite_engine
from aggregator.topics import compile_topic

# key -> (title, text), oldest first
ITEMS = {
    "deep": ("百度飞桨发布 2.1 版本", "百度飞桨深度学习平台已凝聚 320 万开发者。"),
    "rust": ("Rust 1.54 released", 'The "quoted" release adds macros: foo(bar) && baz*; see rust-lang.org.'),
    "wide": ("ＡＩ芯片（ＧＰＵ）出货量", "全角：ＡＩ、ＧＰＵ，“引号”与「括号」🚀火箭"),
    # Every trigram of 深度学习平台 and of abcde, never side by side.
    "apart": ("深度学习 and 学习平台", "abcd, bcde"),
    "operators": ("NEAR AND NOT OR", "a * b ^ c : d {e} (f) -g +h"),
    "quotes": ('It\'s "easy"', "say ''' hi"),
}

# query -> the items whose title or text holds it (ASCII letters in either case)
CASES = {
    "深度学": ["deep", "apart"],
    "深度学习": ["deep", "apart"],
    "深度学习平台": ["deep"],
    "百度飞桨深度学习平台已凝聚 320 万开发者": ["deep"],
    "320 万": ["deep"],
    "学习": ["deep", "apart"],  # too short for the index: a scan
    "rus": ["rust"],
    "RUST 1.54": ["rust"],
    '"quoted" release': ["rust"],
    "foo(bar) && baz*;": ["rust"],
    "rust-lang.org": ["rust"],
    "abcde": [],
    "bcde": ["apart"],
    "ＡＩ芯片": ["wide"],
    "（ＧＰＵ）": ["wide"],
    "“引号”": ["wide"],
    "ＡＩ、": ["wide"],
    "」🚀火": ["wide"],  # a character beyond the BMP: one character to FTS5 as to Python
    "NEAR AND": ["operators"],
    "NOT": ["operators"],
    "* b ^ c :": ["operators"],
    "{e} (f) -g +h": ["operators"],
    "It's": ["quotes"],
    's "ea': ["quotes"],
    "'''": ["quotes"],
    '"': ["rust", "quotes"],
    "量子计算": [],
}


def stored_items(store: Store) -> dict[str, str]:
    """Save ITEMS as one poll of source a; key -> item id."""
    items = [
        make_item(
            "a",
            key,
            f"x.org/{key}",
            title=title,
            text=text,
            content_html=f"<p>{text}</p>",
            published=NOW - timedelta(hours=len(ITEMS) - n),
        )
        for n, (key, (title, text)) in enumerate(ITEMS.items())
    ]
    store.save_poll(store.source_state("a"), items, NOW)
    ids = {row[0]: row[1] for row in store.db.execute("SELECT entry_key, id FROM items")}
    return {key: ids[key] for key in ITEMS}


def waiting(store: Store) -> int:
    return store.db.execute("SELECT count(*) FROM items_fts_pending").fetchone()[0]


def newest_first(ids: dict[str, str], keys: list[str]) -> list[str]:
    return [ids[key] for key in reversed(ITEMS) if key in keys]


@pytest.fixture(scope="module", params=["indexed", "waiting"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A store holding ITEMS, all in the index or all waiting for it; (store, key -> item id)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite_engine, "SEARCH_BATCH", 1 if request.param == "indexed" else 1000)
        with Store(tmp_path_factory.mktemp("index") / "db.sqlite") as store:
            store.sync_sources([Source("a", "https://a.example/rss", "A")])
            ids = stored_items(store)
            assert waiting(store) == (0 if request.param == "indexed" else len(ITEMS))
            yield store, ids


@pytest.mark.parametrize("query", CASES)
def test_store_search_finds_the_items_holding_the_string(filled, query: str) -> None:
    store, ids = filled
    assert store.search(query) == newest_first(ids, CASES[query])


def test_the_index_alone_takes_an_item_holding_each_trigram_apart(filled) -> None:
    """The index lookup is coarse, indexed items only; search's exact check drops the look-alike."""
    store, ids = filled
    stories = {row[0]: row[1] for row in store.db.execute("SELECT id, story_id FROM items")}
    deep, apart = stories[ids["deep"]], stories[ids["apart"]]
    indexed = waiting(store) == 0
    found = set(store.candidates(Contains(("深度学习平台",), ("title", "text"))))
    assert found == ({deep, apart} if indexed else {deep})
    assert set(store.candidates(Contains(("abcde",), ("text",)))) == ({apart} if indexed else set())
    assert [story.id for story in search(store, "深度学习平台").stories] == [deep]
    assert search(store, "abcde").stories == []


@pytest.mark.parametrize(
    "query", ["深度学习平台", "百度飞桨深度学习", "ＡＩ芯片", "rust-lang.org", "title:NEAR"]
)
def test_search_finds_what_the_topic_rules_take(filled, query: str) -> None:
    store, _ = filled
    found = [story.id for story in search(store, query, limit=100).stories]
    topic = compile_topic(Topic(id="q", title="q", query=query))
    assert found == [v.story.id for v in dry_run(store, topic, now=None) if v.matched]
    assert found  # the table above is not all misses


def test_a_string_with_hundreds_of_trigrams(filled) -> None:
    store, ids = filled
    long = ITEMS["deep"][1] * 40  # 880 characters, none of them stored so
    assert store.search(long) == []
    assert store.search(ITEMS["rust"][1]) == [ids["rust"]]


def test_a_database_whose_index_kept_positions_is_upgraded(tmp_path: Path, caplog) -> None:
    """A database at the schema before migration 12, with some items in its detail=full index
    and the rest waiting: after the upgrade every item is in the new index, none waits, and
    search, edits and deletions go on."""
    upgrade = schema.MIGRATIONS.index(schema._V12_SEARCH_TRIGRAMS)
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in schema.MIGRATIONS[:upgrade]:
        for statement in migration:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {upgrade}")
    engine = sqlite_engine.SQLite(path, 5)
    for n, (key, (title, text)) in enumerate(ITEMS.items()):
        conn.execute(
            "INSERT INTO items (id, title, published, content_html, text, categories, content_hash, "
            "source_id, entry_key, first_seen) VALUES (?, ?, ?, '', ?, '[]', ?, 'a', ?, ?)",
            [key, title, datetime(2021, 7, 1 + n, tzinfo=UTC).isoformat(), text, key, key, NOW.isoformat()],
        )
        if n == 3:  # the first four were indexed in a batch, as that version did
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(sqlite_engine, "SEARCH_BATCH", 1)
                engine.index_pending(sqlite_engine.Connection(conn))
    assert conn.execute("SELECT count(*) FROM items_fts_pending").fetchone()[0] == 2
    # The old index answers phrases: it kept positions.
    assert conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH '\"深度学习平台\"'").fetchall()
    conn.close()

    with caplog.at_level("WARNING", logger="aggregator.store"), Store(path) as store:
        assert f"from schema version {upgrade} to {schema.VERSION}" in caplog.text  # why opening is slow
        assert engine.version(store.db) == schema.VERSION
        created = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'items_fts'").fetchone()[0]
        assert "detail=none" in created and "content=items" in created and "trigram" in created
        assert waiting(store) == 0
        store.db.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
        ids = {key: key for key in ITEMS}
        for query, keys in CASES.items():
            assert store.search(query) == newest_first(ids, keys), query
        # The triggers of migration 11 keep the new index in step with edits and deletions.
        store.db.execute("UPDATE items SET text = '光子计算的新进展' WHERE id = 'deep'")
        store.db.execute("DELETE FROM items WHERE id = 'rust'")
        assert store.search("深度学习平台") == [] and store.search("光子计算") == ["deep"]
        assert store.search("rust-lang") == []
        store.db.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
