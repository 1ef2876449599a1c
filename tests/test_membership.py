"""Topic membership kept in the store (publish/selection.py, store/membership.py): select() must
always give what a full scan of the store gives, whatever happened in between: polls with new
stories, edits, reposts that join a story (and may become its representative), new carriers,
pruning, topics edited, added and removed, and another process with other topics on the same
database. A hypothesis state machine does random sequences of these and compares after each step,
on SQLite and (fewer examples: each has its own database) on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from pg import Cluster

from aggregator.config.static_site import StaticSiteConfig
from aggregator.models import Item, Source, Topic
from aggregator.publish.selection import RULES_KEPT_FOR, forget_unused_rules, scan, select
from aggregator.publish.static_site import export_after_publish
from aggregator.store import Store
from aggregator.topics import compile_topics

BASE = datetime(2024, 5, 1, tzinfo=UTC)
SOURCES = ("a", "b", "c")
WORDS = [
    "发布", "社区", "版本", "性能", "内核", "编译器", "插件", "工具链", "文档", "测试", "云端", "存储",
    "网络", "调度", "内存", "安全", "接口", "框架", "用户", "开发者", "集群", "推理", "训练", "模型",
]  # fmt: skip
# Sentences that change what an article matches when an edit appends one.
EDITS = ["", "公司正在招聘 AI 工程师。", "The kernel team ships Rust drivers.", "開源數據庫社區發布新版本。"]
VOCABULARY = ["AI", "大模型", "Rust", "開源", "开源", "招聘", "kernel", "数据库", "/rust\\s+driv/", "社区"]
QUERIES = [
    "",
    "AI OR Rust",
    "title:文章 NOT 招聘",
    "source:b",
    "category:资讯",
    "link:b.example",
    "text:kernel",
]
ARTICLES = 5  # few, so that polls meet the same articles again


def article_text(index: int) -> str:
    """Six sentences of article `index`: distinct enough from every other article that they never
    share a story, long enough that a repost of it joins its story."""
    sentences = []
    for n in range(6):
        picked = [WORDS[(index * 7 + n * 5 + k * 3) % len(WORDS)] for k in range(6)]
        sentences.append(f"第{index}篇第{n}段：" + "、".join(picked) + f"，编号 {index * 100 + n}。")
    if index % 3 == 0:
        sentences.append("AI 大模型的推理成本继续下降。")
    if index % 4 == 1:
        sentences.append("开源社区发布了 Rust 编写的新工具。")
    return "\n".join(sentences)


def make_item(source: str, article: int, repost: bool, edit: int, hours: int) -> Item:
    """Article `article` as `source` carries it: under the shared URL, or as a repost under its
    own URL (tagged title, footer: it joins the article's story), maybe edited; published
    `hours` after the article's own hour."""
    title = f"第{article}篇文章：{WORDS[article]}更新"
    text = article_text(article) + EDITS[edit]
    if repost:
        title, text = f"【转载】{title} | {source}", text + f"\n本文转载自 {source}，版权归原作者所有。"
    url_key = f"{source}.example/{article}" if repost else f"news.example/{article}"
    categories = ("资讯",) if (article + edit) % 2 else ("AI", "开源")
    return Item(
        source_id=source,
        key=f"{article}-{'repost' if repost else 'same'}",
        link=f"https://{url_key}",
        url_key=url_key,
        title=title,
        author="bot" if edit == 2 else None,
        published=BASE + timedelta(hours=article * 5 + hours),
        updated=None,
        content_html="".join(f"<p>{line}</p>" for line in text.split("\n")),
        text=text,
        categories=categories,
        thumbnail=None,
        content_hash=hashlib.sha256(f"{title}|{text}|{categories}".encode()).hexdigest(),
    )


entries = st.tuples(
    st.integers(0, ARTICLES - 1), st.booleans(), st.integers(0, len(EDITS) - 1), st.integers(-3, 3)
)
keywords = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3).map(tuple)
# Each topic sets one or two rules (more would rarely take any story) and maybe limits.
RULES = {
    "any": keywords,
    "all": keywords,
    "none": keywords,
    "sources": st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2, unique=True).map(tuple),
    "categories": st.lists(st.sampled_from(["资讯", "AI"]), min_size=1, max_size=1).map(tuple),
    "query": st.sampled_from(QUERIES[1:]),
    "min_length": st.sampled_from([100, 400]),
}
LIMITS = {
    "fold_chinese": st.booleans(),
    "max_age": st.sampled_from([None, 5 * 3600.0, 30 * 3600.0]),
    "max_items": st.sampled_from([None, 1, 2, 5]),
}


@st.composite
def topic_sets(draw: st.DrawFn) -> list[Topic]:
    topics = []
    for n in range(draw(st.integers(1, 4))):
        names = draw(st.lists(st.sampled_from(sorted(RULES)), max_size=2, unique=True))
        values = {name: draw(RULES[name]) for name in names}
        values |= {name: draw(strategy) for name, strategy in LIMITS.items()}
        topics.append(Topic(id=f"t{n}", title=f"T{n}", **values))
    return topics


class MembershipMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.path = self.make_database()
        self.store = Store(self.path)
        self.store.sync_sources([Source(s, f"https://{s}.example/rss", s.upper()) for s in SOURCES])
        self.clock = BASE
        self.topics = compile_topics([Topic(id="everything", title="All")])

    def make_database(self) -> Path | str:
        """The `database:` of this example's store: a new SQLite file."""
        return Path(tempfile.mkdtemp(prefix="membership-")) / "store.db"

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(Path(self.path).parent, ignore_errors=True)

    @initialize(topics=topic_sets())
    def configure(self, topics: list[Topic]) -> None:
        self.topics = compile_topics(topics)

    @rule(source=st.sampled_from(SOURCES), polled=st.lists(entries, min_size=1, max_size=5))
    def poll(self, source: str, polled: list[tuple[int, bool, int, int]]) -> None:
        items = {}
        for article, repost, edit, hours in polled:
            item = make_item(source, article, repost, edit, hours)
            items[item.key] = item  # one version of an entry per document
        self.clock += timedelta(hours=1)
        self.store.save_poll(self.store.source_state(source), list(items.values()), self.clock)

    @rule(data=st.data(), edit=st.integers(0, len(EDITS) - 1))
    def edit(self, data: st.DataObject, edit: int) -> None:
        """A source edits one of its entries in place (same key, new content)."""
        carried = self.store.db.execute(
            "SELECT source_id, key FROM item_sources ORDER BY source_id, key"
        ).fetchall()
        if carried:
            source, key = data.draw(st.sampled_from(carried))
            article, kind = key.split("-")
            item = make_item(source, int(article), kind == "repost", edit, 0)
            self.clock += timedelta(hours=1)
            self.store.save_poll(self.store.source_state(source), [item], self.clock)

    @rule(hours=st.integers(1, 12), per_source=st.sampled_from([None, 1, 3]))
    def prune(self, hours: int, per_source: int | None) -> None:
        self.store.prune(self.clock, hours * 3600.0, per_source)

    @rule(topics=topic_sets())
    def edit_topics(self, topics: list[Topic]) -> None:
        self.topics = compile_topics(topics)
        # As publish() does, once the earlier rules have gone unused for long enough.
        forget_unused_rules(self.store, self.topics, datetime.now(UTC) + 2 * RULES_KEPT_FOR)

    @rule(topics=topic_sets(), forget=st.booleans())
    def another_process(self, topics: list[Topic], forget: bool) -> None:
        """A second connection with other topics selects (and maybe publishes, dropping ours)."""
        with Store(self.path) as other:
            theirs = compile_topics(topics)
            assert select(other, theirs, 50, self.clock) == scan(other, theirs, 50, self.clock)
            if forget:
                forget_unused_rules(other, theirs, datetime.now(UTC) + 2 * RULES_KEPT_FOR)

    @rule(max_items=st.sampled_from([1, 3, 50]), later=st.integers(0, 48))
    def select_later(self, max_items: int, later: int) -> None:
        now = self.clock + timedelta(hours=later, seconds=later * 17.5)
        assert select(self.store, self.topics, max_items, now) == scan(
            self.store, self.topics, max_items, now
        )

    @invariant()
    def select_is_a_scan(self) -> None:
        assert select(self.store, self.topics, 3, self.clock) == scan(self.store, self.topics, 3, self.clock)


MembershipMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_membership_matches_a_full_scan = MembershipMachine.TestCase


def test_membership_matches_a_full_scan_on_postgresql(postgresql: Cluster) -> None:
    class OnPostgreSQL(MembershipMachine):
        def make_database(self) -> str:
            return postgresql.database()

        def teardown(self) -> None:
            self.store.close()
            postgresql.drop(self.path)

    run_state_machine_as_test(
        OnPostgreSQL, settings=settings(MembershipMachine.TestCase.settings, max_examples=20)
    )


def test_membership_is_built_once_and_kept_by_triggers(database: Path | str) -> None:
    """The first select() builds a topic's rows; later ones only evaluate the stories a poll
    changed (queued by the triggers), and dropped topics lose their rows."""
    with Store(database) as store:
        store.sync_sources([Source(s, f"https://{s}.example/rss", s.upper()) for s in SOURCES])
        store.save_poll(store.source_state("a"), [make_item("a", n, False, 0, 0) for n in range(6)], BASE)
        topics = compile_topics([Topic(id="ai", title="AI", any=("大模型",)), Topic(id="all", title="All")])
        chosen = select(store, topics, 50, BASE)
        assert [s.item.title for s in chosen["ai"]] == [f"第{n}篇文章：{WORDS[n]}更新" for n in (3, 0)]
        count = "SELECT count(*) FROM topic_stories"
        assert store.db.execute(count).fetchone()[0] == 2 + 6
        assert store.db.execute("SELECT count(*) FROM topic_stale").fetchone()[0] == 0

        store.save_poll(store.source_state("b"), [make_item("b", 1, False, 1, 0)], BASE + timedelta(hours=1))
        assert store.db.execute("SELECT count(*) FROM topic_stale").fetchone()[0] == 1  # the story it joined
        chosen = select(store, topics, 50, BASE)
        assert [s.id for s in chosen["ai"]] == [s.id for s in scan(store, topics, 50, BASE)["ai"]]

        forget_unused_rules(store, topics[1:], BASE)  # both used now: both kept
        assert store.db.execute("SELECT count(*) FROM topic_rules").fetchone()[0] == 2
        forget_unused_rules(store, topics[1:], BASE + RULES_KEPT_FOR + timedelta(seconds=1))
        assert store.db.execute("SELECT count(*) FROM topic_rules").fetchone()[0] == 1
        assert store.db.execute(count).fetchone()[0] == 6


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:
    with Store(database) as store:
        store.sync_sources([Source(s, f"https://{s}.example/rss", s.upper()) for s in SOURCES])
        yield store


def chosen_sources(store: Store, topic: Topic, now: datetime) -> list[str]:
    """The source of each story the topic takes, checked against a full scan."""
    topics = compile_topics([topic])
    chosen = select(store, topics, 50, now)
    assert chosen == scan(store, topics, 50, now)
    return [story.item.source_id for story in chosen[topic.id]]


def test_a_new_carrier_brings_a_story_into_a_sources_topic(store: Store) -> None:
    carried_by_b = Topic(id="b", title="B", sources=("b",))
    store.save_poll(store.source_state("a"), [make_item("a", 1, False, 0, 0)], BASE)
    assert chosen_sources(store, carried_by_b, BASE) == []
    store.save_poll(store.source_state("b"), [make_item("b", 1, False, 0, 0)], BASE + timedelta(hours=1))
    assert chosen_sources(store, carried_by_b, BASE) == ["a"]  # a's item, now carried by b too


def test_an_earlier_repost_becomes_the_representative(store: Store) -> None:
    hiring = Topic(id="hiring", title="Hiring", any=("招聘",))
    store.save_poll(store.source_state("a"), [make_item("a", 0, False, 0, 0)], BASE)
    assert chosen_sources(store, hiring, BASE) == []
    # c's copy, published three hours before a's, joins the story and represents it.
    store.save_poll(store.source_state("c"), [make_item("c", 0, True, 1, -3)], BASE + timedelta(hours=1))
    assert chosen_sources(store, hiring, BASE) == ["c"]


def test_pruning_the_representative_hands_the_story_to_the_next_item(store: Store) -> None:
    hiring = Topic(id="hiring", title="Hiring", any=("招聘",))
    store.save_poll(store.source_state("c"), [make_item("c", 0, True, 1, -3)], BASE)
    store.save_poll(store.source_state("a"), [make_item("a", 0, False, 0, 0)], BASE + timedelta(hours=5))
    assert chosen_sources(store, hiring, BASE) == ["c"]
    assert store.prune(BASE + timedelta(hours=6), max_age=2 * 3600) == 1  # c's copy, first seen first
    assert store.count_stories() == 1
    assert chosen_sources(store, hiring, BASE) == []  # a's item represents the story now


@pytest.mark.parametrize("via", ["publish", "static site export"])
@pytest.mark.parametrize(("processes", "started_with"), [(None, 2), (1, 1), (0, None)])
def test_a_large_build_matches_in_worker_processes(
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    processes: int | None,
    started_with: int | None,
    via: str,
) -> None:
    """Over a store of PARALLEL_BUILD stories or more, the build matches in worker processes
    (one per core, here two, unless polling.workers says otherwise: 0 for none), BATCH stories a
    job; the rows are what matching here gives. A static site's export after a publish that had
    nothing to do may be the one to build, so it takes the same bound."""
    from aggregator import pool
    from aggregator.publish import selection

    monkeypatch.setattr(selection, "PARALLEL_BUILD", 5)
    monkeypatch.setattr(selection, "BATCH", 3)  # 12 stories: two transactions of two jobs each
    monkeypatch.setattr(pool, "default_workers", lambda: 2)
    for index, source in enumerate(SOURCES):
        articles = range(index * 4, index * 4 + 4)
        store.save_poll(
            store.source_state(source), [make_item(source, n, False, n % 4, n) for n in articles], BASE
        )
    assert store.count_stories() == 12
    topics = compile_topics(
        [Topic(id=str(n), title=str(n), any=(word,), none=("招聘",)) for n, word in enumerate(VOCABULARY)]
        + [Topic(id="q", title="q", query="AI OR Rust")]
    )
    started = []
    real = selection._workers_for

    def spy(stories: int, processes: int | None):
        workers = real(stories, processes)
        started.append(workers and workers.processes)
        return workers

    monkeypatch.setattr(selection, "_workers_for", spy)
    if via == "publish":
        chosen = select(store, topics, 50, BASE, processes=processes)
    else:
        site = StaticSiteConfig("hugo", tmp_path / "site")
        output = SimpleNamespace(static_site=(site,), max_items=50)
        assert export_after_publish(store, topics, output, [], processes)[0].written  # a new site
        chosen = select(store, topics, 50, BASE)  # built: no processes started again
    assert started == [started_with]
    assert chosen == scan(store, topics, 50, BASE)
    assert any(chosen[t.topic.id] for t in topics) and not all(chosen[t.topic.id] for t in topics)
