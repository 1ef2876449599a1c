"""Per-topic max_age, max_items and min_length, applied by publish.selection.select() over a real
store; select() folds each story once for all the topics, and reads only what it returns once the
topics' membership is built."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.models import Item, Source, Story, Topic
from aggregator.publish.selection import scan, select
from aggregator.store import Store
from aggregator.topics import compile_topics, prepared

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)

# Distinct headlines, newest first: story i was published i days and one hour before NOW.
HEADLINES = [
    ("AI 芯片出货量创新高", "国产 AI 芯片今年出货量大幅增长，多家厂商公布了新的产品路线图。"),
    ("開源大模型評測結果公布", "多個開源大模型在中文理解任務上的得分接近商用模型。"),
    ("Rust 1.78 released", "The new Rust release stabilises diagnostic attributes."),
    ("AI 简讯", "短"),
    ("PostgreSQL 17 beta", "PostgreSQL 17 beta improves vacuum and logical replication for large clusters."),
    ("机器学习平台招聘", "某公司招聘机器学习平台工程师，负责训练集群与推理服务。"),
    ("KubeCon China 2024 议程", "KubeCon China 2024 在香港举行，议程涵盖 AI 与云原生。"),
    ("SQLite 3.46", "SQLite 3.46 adds a new PRAGMA optimize behaviour."),
]


def make_item(index: int) -> Item:
    title, text = HEADLINES[index]
    return Item(
        source_id="a",
        key=f"k{index}",
        link=f"https://a.example/news/{index}",
        url_key=f"a.example/news/{index}",
        title=title,
        author=None,
        published=NOW - timedelta(days=index, hours=1),
        updated=None,
        content_html=f"<p>{text}</p>",
        text=text,
        categories=(),
        thumbnail=None,
        content_hash=f"h{index}",
    )


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    with Store(tmp_path / "limits.db") as store:
        store.sync_sources([Source("a", "https://a.example/rss", "A")])
        store.save_poll(store.source_state("a"), [make_item(i) for i in range(len(HEADLINES))], NOW)
        yield store


def chosen_titles(store: Store, *rules: Topic, max_items: int = 50) -> dict[str, list[str]]:
    chosen = select(store, compile_topics(rules), max_items, now=NOW)
    return {topic_id: [s.item.title for s in stories] for topic_id, stories in chosen.items()}


def test_max_items_per_topic(store: Store) -> None:
    chosen = chosen_titles(
        store,
        Topic(id="two", title="T", max_items=2),
        Topic(id="default", title="T"),
        Topic(id="over", title="T", max_items=20),
        max_items=5,
    )
    assert chosen["two"] == [HEADLINES[0][0], HEADLINES[1][0]]
    assert len(chosen["default"]) == 5  # output.max_items when the topic sets none
    assert len(chosen["over"]) == 5  # and never more than output.max_items


def test_max_age_by_published_date(store: Store) -> None:
    chosen = chosen_titles(store, Topic(id="recent", title="T", max_age=3 * 86400))
    assert chosen["recent"] == [HEADLINES[i][0] for i in range(3)]  # 0d1h, 1d1h, 2d1h; not 3d1h


def counting_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[Story]:
    """The stories Store.stories() yields from now on, whoever asks."""
    read: list[Story] = []
    stories = store.stories

    def counting(*args, **kwargs) -> Iterator[Story]:
        for story in stories(*args, **kwargs):
            read.append(story)
            yield story

    monkeypatch.setattr(store, "stories", counting)
    return read


def test_max_age_stops_the_scan_early(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    read = counting_reads(store, monkeypatch)
    recent = Topic(id="recent", title="T", query="NOT 招聘", max_age=2 * 86400)
    chosen = scan(store, compile_topics([recent]), 50, now=NOW)
    assert len(chosen["recent"]) == 2
    assert len(read) == 3  # the first story older than max_age closes the topic


def test_select_reads_only_the_stories_it_returns(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a topic's membership is built, select() loads its chosen stories and no others."""
    recent = Topic(id="recent", title="T", query="NOT 招聘", max_age=3 * 86400, max_items=2)
    assert chosen_titles(store, recent)["recent"] == [HEADLINES[0][0], HEADLINES[1][0]]
    read = counting_reads(store, monkeypatch)
    assert chosen_titles(store, recent)["recent"] == [HEADLINES[0][0], HEADLINES[1][0]]
    assert [s.item.title for s in read] == [HEADLINES[0][0], HEADLINES[1][0]]


def test_min_length_counts_plain_text_characters(store: Store) -> None:
    chosen = chosen_titles(store, Topic(id="long", title="T", any=("AI",), min_length=10))
    assert "AI 简讯" not in chosen["long"]  # its text is one character
    assert chosen["long"] == [HEADLINES[0][0], HEADLINES[6][0]]


def test_limits_combine_with_rules(store: Store) -> None:
    chosen = chosen_titles(
        store,
        Topic(
            id="ai", title="T", query="(AI OR 大模型 OR 机器学习) NOT 招聘", max_age=7 * 86400, max_items=2
        ),
        max_items=50,
    )
    assert chosen["ai"] == [HEADLINES[0][0], HEADLINES[1][0]]


def test_select_folds_each_story_once_for_all_topics(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding and the Chinese conversion are the costly part of matching: once per story."""
    rules = [
        Topic(id="ai", title="T", any=("AI", "大模型", "機器學習"), none=("招聘",)),
        Topic(id="rust", title="T", query="title:rust OR 编程语言"),
        Topic(id="db", title="T", query="(PostgreSQL OR SQLite OR 数据库) -招聘"),
        Topic(id="literal", title="T", any=("AI",), fold_chinese=False),
        Topic(id="cloud", title="T", query='"kubecon china" OR 云原生'),
    ]
    compiled = compile_topics(rules)  # compiling folds the keywords: count only select()
    calls = {"fold": 0, "simplify": 0}
    fold, simplify = prepared.fold, prepared.simplify

    def counting_fold(text: str) -> str:
        calls["fold"] += 1
        return fold(text)

    def counting_simplify(text: str) -> str:
        calls["simplify"] += 1
        return simplify(text)

    monkeypatch.setattr(prepared, "fold", counting_fold)  # where stories are folded
    monkeypatch.setattr(prepared, "simplify", counting_simplify)
    chosen = select(store, compiled, 50, now=NOW)
    assert calls == {"fold": len(HEADLINES), "simplify": len(HEADLINES)}
    assert [s.item.title for s in chosen["ai"]] == [HEADLINES[i][0] for i in (0, 1, 3, 6)]
