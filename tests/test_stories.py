"""Stories in the store: reposts under other URLs join the story of the item they copy, near-misses
and items outside the time window do not, and the story's representative is its earliest item."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.models import Item, Source, StoryRules
from aggregator.store import Store
from aggregator.store.postgresql import PostgreSQL

NOW = datetime(2021, 8, 1, 12, 0, tzinfo=UTC)
PUBLISHED = datetime(2021, 7, 29, 8, 0, tzinfo=UTC)

RUST_154 = (
    "Rust 团队发布了 Rust 1.54 稳定版。Rust 是一门赋予每个人构建可靠且高效软件能力的编程语言。\n"
    "如果你已经通过 rustup 安装了旧版本的 Rust，可以通过运行 rustup update stable 命令升级到 Rust 1.54。\n"
    "本次更新的亮点包括：属性中现在可以调用类似函数的宏，例如使用 include_str 将 README 作为文档注释；"
    "wasm32 平台新增了一批 target_feature 内联函数；增量编译在修复了已知问题后重新默认启用。\n"
    "完整的变更内容请查阅 Rust、Cargo 和 Clippy 的详细发布说明。感谢所有为 Rust 1.54 作出贡献的开发者。"
)
RUST_155 = RUST_154.replace("1.54", "1.55").replace(
    "属性中现在可以调用类似函数的宏，例如使用 include_str 将 README 作为文档注释；"
    "wasm32 平台新增了一批 target_feature 内联函数；增量编译在修复了已知问题后重新默认启用。",
    "Cargo 会对编译器输出中重复的错误进行去重；浮点数解析改用 Eisel-Lemire 算法，速度更快也更准确；"
    "std::io::ErrorKind 的未分类错误有了新的变体。",
)


def make_item(source_id: str, key: str, *, title: str, text: str, **fields) -> Item:
    item = Item(
        source_id=source_id,
        key=key,
        link=f"https://{source_id}.example/news/{key}",
        url_key=f"{source_id}.example/news/{key}",
        title=title,
        author=None,
        published=PUBLISHED,
        updated=None,
        content_html="".join(f"<p>{line}</p>" for line in text.split("\n")),
        text=text,
        categories=(),
        thumbnail=None,
        content_hash=f"{title}-{len(text)}",
    )
    return replace(item, **fields)


def original(**fields) -> Item:
    return make_item("oschina", "1", **{"title": "Rust 1.54 发布", "text": RUST_154, **fields})


def repost(source_id: str = "mirror", key: str = "r1", **fields) -> Item:
    """The same news as another site republishes it an hour later: tagged title, full-width
    punctuation, a copyright footer, another URL and guid."""
    text = RUST_154.replace(",", "，").replace(":", "：") + "\n本文转载自开源中国，版权归原作者所有。"
    defaults = {
        "title": "【转载】Rust 1.54 发布 | 开源中国",
        "text": text,
        "published": PUBLISHED + timedelta(hours=1),
    }
    return make_item(source_id, key, **{**defaults, **fields})


@pytest.fixture
def store(database):
    """On each engine (conftest.database)."""
    with Store(database) as store:
        store.sync_sources(
            [
                Source("oschina", "https://oschina.example/rss", "开源中国"),
                Source("mirror", "https://mirror.example/rss", "Mirror"),
                Source("digest", "https://digest.example/rss", "Digest"),
            ]
        )
        yield store


def save(store: Store, source_id: str, *items: Item):
    return store.save_poll(store.source_state(source_id), list(items), NOW)


def test_a_repost_elsewhere_is_one_story_with_every_carrier_and_its_own_link(store):
    (first,) = save(store, "oschina", original()).new
    (second,) = save(store, "mirror", repost()).new  # another item: another URL, another guid
    (story,) = store.stories()
    assert story.id == first and second != first
    assert story.item.title == "Rust 1.54 发布"
    assert [(c.source_id, c.link) for c in story.carriers] == [
        ("oschina", "https://oschina.example/news/1"),
        ("mirror", "https://mirror.example/news/r1"),
    ]
    assert store.count_items() == 2
    # Either item id stands for the story (publish passes the ids a poll changed).
    assert [s.id for s in store.stories([second])] == [first]
    assert [s.id for s in store.stories([first, second])] == [first]


def test_an_earlier_member_becomes_the_representative_and_the_id_stays(store):
    (first,) = save(store, "mirror", repost()).new
    save(store, "oschina", original(published=PUBLISHED - timedelta(hours=3)))
    (story,) = store.stories()
    assert story.id == first  # stable: readers saw this id already
    assert story.item.source_id == "oschina" and story.item.title == "Rust 1.54 发布"
    assert story.carriers[0].source_id == "oschina"


def test_the_richer_of_two_items_published_together_represents_the_story(store):
    save(store, "mirror", make_item("mirror", "s", title="Rust 1.54 发布", text=RUST_154.split("\n")[0]))
    save(store, "oschina", original())
    (story,) = store.stories()
    assert story.item.source_id == "oschina" and len(story.item.text) == len(RUST_154)


def test_a_near_miss_with_another_version_is_another_story(store):
    save(store, "oschina", original())
    save(store, "mirror", make_item("mirror", "r2", title="Rust 1.55 发布", text=RUST_155))
    assert [s.item.title for s in store.stories()] == ["Rust 1.54 发布", "Rust 1.55 发布"]


@pytest.mark.parametrize("stored_before_numbers", [False, True])
def test_a_look_alike_whose_title_names_other_numbers_is_turned_away(store, stored_before_numbers):
    """The same body under a title naming another version is another story, whether the stored
    item's numbers are read from the index (its row, shingles and title unread) or, for an item
    stored before they were kept, from its cleaned title."""
    save(store, "oschina", original())
    store._fingerprints.clear()  # as in another process, or long after: read from the database
    if stored_before_numbers:
        store.db.execute("UPDATE items SET story_numbers = NULL")
    statements: list[str] = []
    if not isinstance(store.engine, PostgreSQL):
        store.db.conn.set_trace_callback(statements.append)
    save(store, "mirror", make_item("mirror", "r2", title="Rust 1.55 发布", text=RUST_154))
    assert [s.item.title for s in store.stories()] == ["Rust 1.54 发布", "Rust 1.55 发布"]
    if not isinstance(store.engine, PostgreSQL):
        read = [sql for sql in statements if sql.startswith("SELECT") and "story_shingles" in sql]
        assert bool(read) == stored_before_numbers
    save(store, "digest", make_item("digest", "d1", title="Rust 1.54 更新", text=RUST_154))
    assert [len(s.carriers) for s in store.stories()] == [2, 1]  # the same numbers: it joins


def test_items_further_apart_than_the_window_are_other_stories(store):
    save(store, "oschina", original())
    save(store, "mirror", repost(published=PUBLISHED + timedelta(days=3, hours=1)))
    assert len(list(store.stories())) == 2


def test_the_window_bounds_the_whole_story_not_each_pair(store):
    save(store, "oschina", original())
    save(store, "mirror", repost(published=PUBLISHED + timedelta(days=2)))
    # Two days after the second but four after the first: not grouped with either.
    save(store, "digest", repost("digest", "d1", published=PUBLISHED + timedelta(days=4)))
    assert sorted(len(s.carriers) for s in store.stories()) == [1, 2]


def test_window_and_threshold_come_from_the_rules(tmp_path):
    with Store(tmp_path / "strict.db", StoryRules(window=3600.0, threshold=0.6)) as store:
        store.sync_sources(
            [Source("oschina", "https://o.example/rss"), Source("mirror", "https://m.example/rss")]
        )
        save(store, "oschina", original())
        save(store, "mirror", repost(published=PUBLISHED + timedelta(hours=2)))
        assert len(list(store.stories())) == 2
    with Store(tmp_path / "picky.db", StoryRules(threshold=1.0)) as store:
        store.sync_sources(
            [Source("oschina", "https://o.example/rss"), Source("mirror", "https://m.example/rss")]
        )
        save(store, "oschina", original())
        edited = RUST_154.replace("感谢所有为 Rust 1.54 作出贡献的开发者。", "欢迎大家升级体验。")
        save(store, "mirror", repost(text=edited))  # 0.9 alike: one sentence rewritten
        assert len(list(store.stories())) == 2


def test_members_list_every_source_with_similarity(store):
    save(store, "oschina", original())
    save(store, "mirror", repost())
    summary = RUST_154.split("\n")[0]
    save(
        store,
        "digest",
        make_item(
            "digest", "d1", title="Rust 1.54 发布", text=summary, published=PUBLISHED + timedelta(hours=2)
        ),
    )
    (story,) = store.stories(min_sources=2)
    members = store.story_members(story.id)
    assert [m.source_id for m in members] == ["oschina", "mirror", "digest"]
    assert members[0].similarity is None
    assert all(m.similarity and m.similarity >= 0.6 for m in members[1:])
    assert members[1].link == "https://mirror.example/news/r1"


def test_min_sources_lists_only_stories_carried_by_several(store):
    save(store, "oschina", original(), make_item("oschina", "2", title="Rust 1.55 发布", text=RUST_155))
    save(store, "mirror", repost())
    assert [s.item.title for s in store.stories(min_sources=2)] == ["Rust 1.54 发布"]
    assert len(list(store.stories())) == 2


def test_stories_page_by_date_without_repeats(store):
    items = [
        make_item(
            "oschina",
            f"n{i}",
            title=f"第 {i} 条新闻",
            text=f"这是第 {i} 条互不相同的新闻，内容编号 {i * 7919}。" * 3,
            published=PUBLISHED - timedelta(hours=i),
        )
        for i in range(7)
    ]
    save(store, "oschina", *items)
    ids = [s.id for s in store.stories(batch=3)]
    assert len(ids) == len(set(ids)) == 7
    assert [s.item.key for s in store.stories(batch=3)] == [f"n{i}" for i in range(7)]


def test_an_edit_reindexes_the_item_and_keeps_its_story(store):
    (first,) = save(store, "oschina", original()).new
    save(store, "mirror", repost())
    edited = original(title="Rust 1.54 正式发布", content_hash="edited")
    assert save(store, "oschina", edited).updated == [first]
    (story,) = store.stories()
    assert story.id == first and story.item.title == "Rust 1.54 正式发布"
    buckets = store.db.execute("SELECT count(*) FROM story_bands WHERE item_id = ?", [first]).fetchone()[0]
    assert (
        buckets
        == len(store.db.execute("SELECT story_buckets FROM items WHERE id = ?", [first]).fetchone()[0]) // 8
    )


def test_pruning_the_representative_hands_the_story_to_the_next_member(store):
    (first,) = save(store, "oschina", original()).new
    later = NOW + timedelta(days=1)
    second = store.save_poll(store.source_state("mirror"), [repost()], later).new[0]
    assert store.prune(NOW + timedelta(hours=12), max_age=3600) == 1  # the first was seen earlier
    (story,) = store.stories()
    assert story.id == first and story.item.source_id == "mirror"
    assert store.db.execute("SELECT count(*) FROM story_bands WHERE item_id = ?", [first]).fetchone()[0] == 0
    store.prune(later + timedelta(hours=2), max_age=3600)
    assert list(store.stories()) == [] and store.count_items() == 0
    assert store.db.execute("SELECT count(*) FROM stories").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM story_bands").fetchone()[0] == 0
    assert second


def test_finding_a_story_reads_the_band_index_not_the_tables(store):
    query = (
        "SELECT DISTINCT item_id FROM story_bands WHERE bucket IN (?, ?, ?) "
        "AND published BETWEEN ? AND ? LIMIT 64"
    )
    if isinstance(store.engine, PostgreSQL):  # the plan once sequential scans are ruled out
        store.db.execute("SET enable_seqscan = off")
        plan = store.db.execute("EXPLAIN " + query, [1, 2, 3, 0, 10]).fetchall()
        detail = " ".join(row[0] for row in plan)
        assert "Index Only Scan using story_bands_pkey" in detail
        assert "published >= " in detail and "Seq Scan" not in detail
        return
    plan = store.db.execute("EXPLAIN QUERY PLAN " + query, [1, 2, 3, 0, 10]).fetchall()
    detail = " ".join(row[-1] for row in plan)
    assert "SEARCH story_bands USING PRIMARY KEY (bucket=? AND published>? AND published<?)" in detail
    assert "SCAN" not in detail.replace("SCAN CONSTANT", "")


def test_the_rules_come_from_the_config_and_are_checked(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("stories:\n  window: 36h\n  threshold: 0.75\n", encoding="utf-8")
    assert config.load(path).stories == StoryRules(window=36 * 3600.0, threshold=0.75)
    path.write_text("database: x.db\n", encoding="utf-8")
    assert config.load(path).stories == StoryRules(window=3 * 86400.0, threshold=0.6)
    path.write_text("stories:\n  window: soon\n  threshold: 1.5\n  treshold: 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        config.load(path)
    message = str(error.value)
    assert f"{path}:2: stories.window: 'soon' is not a duration" in message
    assert f"{path}:3: stories.threshold: expected a similarity between 0 and 1" in message
    assert f"{path}:4: stories.treshold: unknown key (did you mean 'threshold'?)" in message


def test_stories_page_by_page_are_one_walk_and_each_page_seeks(store, monkeypatch):
    """Read newest first in pages (keyset on published, then id), the stories come once each and
    in order, ties on the date included; on SQLite each page's statement seeks in the index on
    published instead of scanning from the newest story (reading a million stories page by page
    was quadratic)."""
    items = [
        make_item(
            "oschina",
            f"k{n}",
            title=f"Story {n}",  # another number each: never one story
            text=" ".join(f"w{n}t{k}" for k in range(40)),
            published=PUBLISHED - timedelta(days=n // 3),  # three stories a day: ties
        )
        for n in range(12)
    ]
    save(store, "oschina", *items)
    whole = [s.id for s in store.stories(batch=1000)]
    assert len(whole) == 12
    pages: list[tuple[str, list]] = []
    query = store.db.query
    monkeypatch.setattr(
        store.db, "query", lambda sql, params: pages.append((sql, params)) or query(sql, params)
    )
    assert [s.id for s in store.stories(batch=2)] == whole  # pages end inside and between ties
    assert len(pages) == 7  # six full pages and the empty one
    if not isinstance(store.engine, PostgreSQL):
        for sql, params in pages[1:]:  # as the engine plans them: with parameters, not values
            plan = " ".join(row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "USING INDEX stories_published (published<?)" in plan, plan
