"""An incremental publish (after a poll) renders only the topics whose feeds now say something
else than what their files were written from: a story that joined, changed or left a feed, or
files that went missing. A full publish renders every topic. Every file of a publish is written
in one batch (atomic.replace_files)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.errors import PublishError
from aggregator.models import Item, Source, Topic
from aggregator.publish import PublishSettings, feed, selection, write_outputs
from aggregator.store import Store
from aggregator.topics import compile_topics

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
TOPICS = compile_topics(
    [
        Topic("ai", "AI", any=("AI",)),
        Topic("rust", "Rust", any=("Rust",)),
        Topic("latest", "Latest", max_items=1),
    ]
)


def make_item(key: str, title: str, hours: int) -> Item:
    return Item(
        source_id="a",
        key=key,
        link=f"https://a.example/{key}",
        url_key=f"a.example/{key}",
        title=title,
        author=None,
        published=NOW - timedelta(hours=hours),
        updated=None,
        content_html=f"<p>{title}</p>",
        text=title,
        categories=(),
        thumbnail=None,
        content_hash=title,
    )


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:
    with Store(database) as store:
        store.sync_sources([Source("a", "https://a.example/rss", "A")])
        items = [make_item("1", "AI 芯片", 1), make_item("2", "Rust 1.78", 2), make_item("3", "数据库", 3)]
        store.save_poll(store.source_state("a"), items, NOW)
        yield store


@pytest.fixture
def settings(tmp_path: Path) -> PublishSettings:
    return PublishSettings(tmp_path / "public", "http://127.0.0.1:8080/")


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The topics publish() renders, in order."""
    topics: list[str] = []
    outputs = selection.topic_outputs

    def counting(published: feed.PublishedFeed) -> dict[str, bytes]:
        topics.append(published.topic_id)
        return outputs(published)

    monkeypatch.setattr(selection, "topic_outputs", counting)
    return topics


def edit(store: Store, key: str, title: str, hours: int) -> list[str]:
    """Save a new version of an item; return the changed ids, as a poll reports them."""
    return store.save_poll(store.source_state("a"), [make_item(key, title, hours)], NOW).changed


def test_full_then_incremental(store: Store, settings: PublishSettings, rendered: list[str]) -> None:
    report = selection.publish(store, TOPICS, settings)
    assert rendered == ["ai", "rust", "latest"]
    assert len(report.files) == 3 * 3 + 2

    rendered.clear()
    assert selection.publish(store, TOPICS, settings, []) == selection.PublishReport()
    assert selection.publish(store, TOPICS, settings, edit(store, "3", "数据库", 3)).files == []
    assert rendered == []  # the same stories, the same feeds: nothing rendered, nothing written

    # The Rust story now speaks of AI: it leaves one feed and joins another.
    report = selection.publish(store, TOPICS, settings, edit(store, "2", "AI 编程助手", 2))
    assert rendered == ["ai", "rust"]
    assert report.topics == ["ai", "rust"]
    assert settings.dir / "index.html" in report.files
    assert "AI 编程助手" not in (settings.dir / "latest.json").read_text()  # not its newest story


def test_a_full_publish_renders_every_topic(
    store: Store, settings: PublishSettings, rendered: list[str]
) -> None:
    selection.publish(store, TOPICS, settings)
    rendered.clear()
    assert selection.publish(store, TOPICS, settings).files == []  # same bytes: nothing rewritten
    assert rendered == ["ai", "rust", "latest"]


def test_missing_files_are_written_again(
    store: Store, settings: PublishSettings, rendered: list[str]
) -> None:
    selection.publish(store, TOPICS, settings)
    (settings.dir / "rust.atom").unlink()
    (settings.dir / "topics.opml").unlink()
    rendered.clear()
    report = selection.publish(store, TOPICS, settings, [])
    assert rendered == ["rust"]
    assert sorted(path.name for path in report.files) == ["rust.atom", "topics.opml"]


def test_another_renderer_renders_every_topic(
    store: Store, settings: PublishSettings, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade the files may differ for the same stories: fingerprints include the code."""
    selection.publish(store, TOPICS, settings)
    rendered.clear()
    monkeypatch.setattr(feed, "renderer", lambda: "another version")
    selection.publish(store, TOPICS, settings, edit(store, "3", "数据库 2", 3))
    assert rendered == ["ai", "rust", "latest"]


def test_edited_topics_are_published_and_their_old_rules_dropped_once_unused(
    store: Store, settings: PublishSettings, rendered: list[str]
) -> None:
    selection.publish(store, TOPICS, settings)
    edited = compile_topics([replace(TOPICS[0].topic, any=("数据库",)), TOPICS[1].topic])
    rendered.clear()
    selection.publish(store, edited, settings, [])  # a reload: rules changed, nothing polled
    assert rendered == []  # no story changed, so an incremental publish has nothing to do ...
    selection.publish(store, edited, settings)  # ... and the reload's full publish does it
    assert rendered == ["ai", "rust"]
    assert "数据库" in (settings.dir / "ai.json").read_text()
    assert kept_rules(store) == {t.digest for t in TOPICS + edited}  # another process may use them
    selection.forget_unused_rules(store, edited, datetime.now(UTC) + selection.RULES_KEPT_FOR / 2)
    assert kept_rules(store) == {t.digest for t in TOPICS + edited}
    selection.forget_unused_rules(store, edited, datetime.now(UTC) + selection.RULES_KEPT_FOR * 2)
    assert kept_rules(store) == {t.digest for t in edited}


def kept_rules(store: Store) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT digest FROM topic_rules")}


def test_processes_with_other_topics_do_not_rebuild_each_others_membership(
    store: Store, settings: PublishSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon and an `aggregator publish` with an edited config share one database: each
    builds its rules' membership once, not again at every publish of the other."""
    edited = compile_topics([replace(TOPICS[0].topic, any=("数据库",))])
    builds: list[int] = []
    build = selection._build
    monkeypatch.setattr(
        selection,
        "_build",
        lambda s, m, building, processes: builds.append(len(building)) or build(s, m, building, processes),
    )
    for _ in range(2):
        selection.publish(store, TOPICS, settings)
        selection.publish(store, edited, settings)
    assert builds == [3, 1]  # the daemon's three topics, then the edited one: never again
    assert "数据库" in (settings.dir / "ai.json").read_text()


HUB_SETTINGS = {"websub_hub": "https://hub.example/"}


def owed_pings(store: Store) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT url FROM websub_pings")}


def test_the_pings_of_rewritten_feeds_are_queued_by_the_publish(store: Store, tmp_path: Path) -> None:
    settings = PublishSettings(tmp_path / "public", "http://127.0.0.1:8080/", **HUB_SETTINGS)
    selection.publish(store, TOPICS, settings)
    base = "http://127.0.0.1:8080/"
    assert owed_pings(store) == {base + t.topic.id + f.suffix for t in TOPICS for f in feed.FORMATS}
    store.db.execute("DELETE FROM websub_pings")
    selection.publish(store, TOPICS, settings, edit(store, "2", "AI 编程助手", 2))
    assert owed_pings(store) == {base + t + f.suffix for t in ("ai", "rust") for f in feed.FORMATS}
    store.db.execute("DELETE FROM websub_pings")
    selection.publish(store, TOPICS, PublishSettings(settings.dir, base), edit(store, "2", "Rust 1.79", 2))
    assert owed_pings(store) == set()  # no hub configured: no ping owed


def test_a_publish_cut_short_still_owes_the_pings_of_what_it_wrote(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later group of topics cannot be written (a full disk): the retry finds the first group's
    fingerprints recorded and rewrites nothing there, so its pings must be owed already."""
    settings = PublishSettings(tmp_path / "public", "http://127.0.0.1:8080/", **HUB_SETTINGS)
    selection.publish(store, TOPICS, settings)
    store.db.execute("DELETE FROM websub_pings")
    monkeypatch.setattr(selection, "TOPICS_PER_WRITE", 1)
    real = selection.write_outputs
    calls: list[str] = []

    def full_disk_on_the_second_group(directory: Path, outputs: dict[str, bytes]) -> list[Path]:
        calls.append(next(iter(outputs)))
        if len(calls) == 2:
            raise PublishError("cannot write rust.xml: No space left on device")
        return real(directory, outputs)

    monkeypatch.setattr(selection, "write_outputs", full_disk_on_the_second_group)
    changed = edit(store, "1", "AI 芯片 Rust 版", 1)  # changes ai and latest, joins rust
    with pytest.raises(PublishError):
        selection.publish(store, TOPICS, settings, changed)
    assert {url.rsplit("/", 1)[1] for url in owed_pings(store)} == {"ai.xml", "ai.atom", "ai.json"}
    store.db.execute("DELETE FROM websub_pings")  # sent meanwhile
    selection.publish(store, TOPICS, settings, changed)  # the retry
    assert {url.rsplit("/", 1)[1].split(".")[0] for url in owed_pings(store)} == {"rust", "latest"}


def test_write_outputs_names_the_file_it_could_not_write(tmp_path: Path) -> None:
    (tmp_path / "b.xml").mkdir()  # a folder where a file should go: renaming over it fails
    with pytest.raises(PublishError, match=r"b\.xml"):
        write_outputs(tmp_path, {"a.xml": b"a", "b.xml": b"b", "c.xml": b"c"})
    assert (tmp_path / "a.xml").read_bytes() == b"a"  # each file on its own is replaced atomically
    assert not list(tmp_path.glob(".*.tmp"))  # and no temporary file is left behind


def test_write_outputs_writes_many_files(tmp_path: Path) -> None:
    outputs = {f"t{n}.xml": f"<rss>{n}</rss>".encode() for n in range(150)}
    assert len(write_outputs(tmp_path, outputs)) == 150
    assert all((tmp_path / name).read_bytes() == data for name, data in outputs.items())
    assert all((tmp_path / name).stat().st_mode & 0o777 == 0o644 for name in outputs)
    assert write_outputs(tmp_path, outputs) == []
    assert not list(tmp_path.glob(".*.tmp"))
