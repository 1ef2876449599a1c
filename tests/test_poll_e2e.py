"""End to end: the real CLI polls a real loopback HTTP server into a real SQLite file and publishes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from conftest import Response

from aggregator import prepare
from aggregator.cli import main

ROOT = Path(__file__).parent.parent
SEED_HTML = (
    "<p>2016年，百度PaddlePaddle作为国产深度学习框架开源的先行者。截至今年 5月，飞桨已凝聚 320 万开发者。</p>"
    '<p><img alt="" src="https://oscimg.oschina.net/oscnet/up-2e007b852c41ac7858c6b9f47d0179d3fd0.png"></p>'
)


def rss(*items: str, title: str = "开源中国-综合资讯") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://www.oschina.net/news</link><description>news</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def rss_item(
    guid: str,
    title: str,
    link: str,
    body: str = "<p>正文</p>",
    categories=(),
    date="Mon, 05 Jul 2021 23:58:00 GMT",
):
    cats = "".join(f"<category>{c}</category>" for c in categories)
    return (
        f"<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>"
        f"<description><![CDATA[{body}]]></description>{cats}<pubDate>{date}</pubDate></item>"
    )


SEED_ITEM = rss_item(
    "https://www.oschina.net/news/149058",
    "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
    "https://www.oschina.net/news/149058",
    SEED_HTML,
    categories=["AI"],
)
RUST_ITEM = rss_item(
    "https://www.oschina.net/news/149100",
    "Rust 1.54 发布",
    "https://www.oschina.net/news/149100",
    "<p>Rust 1.54 稳定版已发布，Trust the compiler.</p>",
    date="Fri, 30 Jul 2021 08:00:00 GMT",
)
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Tech News</title><id>urn:test:tech</id><updated>2021-07-06T10:00:00Z</updated>
  <link href="https://news.example.com/"/>
  <entry>
    <id>urn:test:1</id><title>Maintainers in Thailand meet</title>
    <link href="https://news.example.com/thailand"/>
    <updated>2021-07-06T10:00:00Z</updated>
    <content type="html">&lt;p&gt;A community meetup.&lt;/p&gt;</content>
  </entry>
  <entry>
    <id>urn:test:2</id><title>PaddlePaddle, five years on</title>
    <link href="http://WWW.oschina.net/news/149058/?utm_source=rss#comments"/>
    <updated>2021-07-06T09:00:00Z</updated>
    <content type="html">&lt;p&gt;Reposted.&lt;/p&gt;</content>
  </entry>
</feed>"""


def write_config(tmp_path: Path, sources: list[tuple[str, str]]) -> Path:
    lines = [
        f"database: {tmp_path / 'data' / 'test.db'}",
        "output:",
        f"  dir: {tmp_path / 'public'}",
        "  base_url: http://127.0.0.1:8080/",
        "polling:",
        "  timeout: 5s",
        "sources:",
    ]
    for source_id, url in sources:
        lines += [f"  - id: {source_id}", f"    title: Source {source_id}", f"    url: {url}"]
        if source_id == "oschina":
            lines.append("    categories: [编程, 开源中国, 资讯]")
    lines += [
        "topics:",
        "  ai:",
        "    title: AI 人工智能",
        "    any: [AI, 人工智能, 飞桨, 深度学习]",
        "    none: [招聘]",
        "  rust:",
        "    title: Rust",
        "    any: [Rust]",
        "  everything:",
        "    title: 全部",
    ]
    path = tmp_path / "aggregator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def poll(config: Path, *args: str) -> int:
    return main(["-c", str(config), "poll", "--no-progress", *args])


def entries(tmp_path: Path, topic: str) -> list:
    return feedparser.parse((tmp_path / "public" / f"{topic}.xml").read_bytes()).entries


def test_poll_stores_and_publishes_topics(tmp_path, feed_server, capsys):
    oschina = feed_server.serve("/rss", rss(SEED_ITEM, RUST_ITEM), ETag='"v1"')
    news = feed_server.serve("/atom", ATOM, "application/atom+xml")
    config = write_config(tmp_path, [("oschina", oschina), ("news", news)])

    assert poll(config) == 0
    out = capsys.readouterr().out
    assert "polled 2 sources: 2 ok, 0 not modified, 0 failed; items: 3 new, 0 updated" in out

    ai = entries(tmp_path, "ai")
    assert [e.title for e in ai] == ["开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？"]
    seed = ai[0]
    assert seed.link == "https://www.oschina.net/news/149058"
    assert [t.term for t in seed.tags] == ["AI", "编程", "开源中国", "资讯"]
    assert seed.media_thumbnail[0]["url"].endswith("up-2e007b852c41ac7858c6b9f47d0179d3fd0.png")
    assert [e.title for e in entries(tmp_path, "rust")] == ["Rust 1.54 发布"]
    # "Thailand"/"Maintainers" hold no keyword of the ai topic; everything takes every story once.
    assert len(entries(tmp_path, "everything")) == 3
    for name in ("ai.xml", "ai.atom", "ai.json", "index.html", "topics.opml"):
        assert (tmp_path / "public" / name).stat().st_size > 0


def test_url_variant_in_another_source_is_one_story_with_both_carriers(tmp_path, feed_server):
    oschina = feed_server.serve("/rss", rss(SEED_ITEM))
    news = feed_server.serve("/atom", ATOM, "application/atom+xml")
    config = write_config(tmp_path, [("oschina", oschina), ("news", news)])
    assert poll(config) == 0

    feed = json.loads((tmp_path / "public" / "everything.json").read_text(encoding="utf-8"))
    seeds = [i for i in feed["items"] if "149058" in i["url"]]
    assert len(seeds) == 1
    carriers = {s["id"] for s in seeds[0]["_aggregator"]["sources"]}
    assert carriers == {"oschina", "news"}


def test_second_poll_is_conditional_and_rewrites_nothing(tmp_path, feed_server, capsys):
    body = rss(SEED_ITEM).encode()

    def conditional(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": '"v1"'})

    feed_server.routes["/rss"] = conditional
    config = write_config(tmp_path, [("oschina", feed_server.url("/rss"))])
    assert poll(config) == 0
    published = tmp_path / "public" / "ai.xml"
    mtime = published.stat().st_mtime_ns
    capsys.readouterr()

    assert poll(config) == 0
    assert "1 not modified" in capsys.readouterr().out
    assert feed_server.requests_to("/rss")[-1].headers["if-none-match"] == '"v1"'
    assert published.stat().st_mtime_ns == mtime


def test_edited_item_is_updated_and_republished(tmp_path, feed_server, capsys):
    url = feed_server.serve("/rss", rss(RUST_ITEM))
    config = write_config(tmp_path, [("oschina", url)])
    assert poll(config) == 0
    feed_server.serve("/rss", rss(RUST_ITEM.replace("Rust 1.54 发布", "Rust 1.54 正式发布")))
    capsys.readouterr()
    assert poll(config) == 0
    assert "0 new, 1 updated" in capsys.readouterr().out
    assert [e.title for e in entries(tmp_path, "rust")] == ["Rust 1.54 正式发布"]
    assert (
        sqlite3.connect(tmp_path / "data" / "test.db").execute("SELECT count(*) FROM items").fetchone()[0]
        == 1
    )


def test_the_same_body_again_is_not_parsed_until_the_source_settings_change(tmp_path, feed_server, capsys):
    url = feed_server.serve("/rss", rss(SEED_ITEM))  # no validators: every answer is a 200
    config = write_config(tmp_path, [("oschina", url)])
    assert poll(config) == 0
    capsys.readouterr()

    assert poll(config) == 0
    assert "0 ok, 1 not modified" in capsys.readouterr().out

    # The categories are part of what the document becomes: the same bytes are read again.
    text = config.read_text(encoding="utf-8").replace(
        "[编程, 开源中国, 资讯]", "[编程, 开源中国, 资讯, 新闻]"
    )
    config.write_text(text, encoding="utf-8")
    assert poll(config) == 0
    assert "1 ok, 0 not modified, 0 failed; items: 0 new, 1 updated" in capsys.readouterr().out
    db = sqlite3.connect(tmp_path / "data" / "test.db")
    assert "新闻" in json.loads(db.execute("SELECT categories FROM items").fetchone()[0])


def test_a_changed_document_normalizes_only_its_changed_entries(tmp_path, feed_server, capsys, monkeypatch):
    url = feed_server.serve("/rss", rss(SEED_ITEM, RUST_ITEM))
    config = write_config(tmp_path, [("oschina", url)])
    assert poll(config) == 0
    normalized: list[str] = []
    real = prepare.normalize_entries

    def recording(found, source, *, now):
        normalized.extend(entry.key for entry in found)
        return real(found, source, now=now)

    monkeypatch.setattr(prepare, "normalize_entries", recording)
    feed_server.serve("/rss", rss(SEED_ITEM, RUST_ITEM.replace("Rust 1.54 发布", "Rust 1.54 正式发布")))
    capsys.readouterr()
    assert poll(config) == 0
    assert "0 new, 1 updated" in capsys.readouterr().out
    assert normalized == ["https://www.oschina.net/news/149100"]
    assert [e.title for e in entries(tmp_path, "rust")] == ["Rust 1.54 正式发布"]


@pytest.mark.parametrize("command", [["-m", "aggregator"], ["-c", "from aggregator.cli import main; main()"]])
def test_many_sources_are_read_by_worker_processes(tmp_path, feed_server, command):
    sources = [
        (
            f"s{n}",
            feed_server.serve(f"/{n}", rss(rss_item(f"urn:{n}", f"Rust 1.{n} 发布", f"https://e.com/{n}"))),
        )
        for n in range(20)  # more documents than pool.INLINE_JOBS / 2: the pool starts
    ]
    config = write_config(tmp_path, sources)
    config.write_text(config.read_text().replace("polling:\n", "polling:\n  workers: 2\n"))
    done = subprocess.run(
        [sys.executable, *command, "-c", str(config), "poll", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "polled 20 sources: 20 ok, 0 not modified, 0 failed; items: 20 new" in done.stdout
    # Workers import the main module again: it must not run the command a second time.
    assert len(feed_server.requests) == 20
    assert sorted(e.title for e in entries(tmp_path, "rust")) == sorted(f"Rust 1.{n} 发布" for n in range(20))


def test_failing_source_is_recorded_and_others_go_on(tmp_path, feed_server, capsys):
    good = feed_server.serve("/rss", rss(RUST_ITEM))
    html = feed_server.serve("/page", "<html><body>Not a feed</body></html>", "text/html")
    config = write_config(
        tmp_path, [("oschina", good), ("broken", feed_server.url("/missing")), ("page", html)]
    )
    assert poll(config) == 0
    out = capsys.readouterr().out
    assert "1 ok, 0 not modified, 2 failed" in out
    assert "broken" in out and "404" in out

    db = sqlite3.connect(tmp_path / "data" / "test.db")
    rows = dict(db.execute("SELECT id, error_streak FROM sources").fetchall())
    assert rows == {"oschina": 0, "broken": 1, "page": 1}
    reason = db.execute("SELECT last_error FROM sources WHERE id = 'page'").fetchone()[0]
    assert "not a feed" in reason


def test_poll_one_source_only(tmp_path, feed_server, capsys):
    a = feed_server.serve("/a", rss(RUST_ITEM))
    b = feed_server.serve("/b", rss(SEED_ITEM))
    config = write_config(tmp_path, [("oschina", a), ("other", b)])
    assert poll(config, "--source", "other") == 0
    assert feed_server.requests_to("/a") == []
    assert poll(config, "--source", "nope") == 2


def test_publish_regenerates_from_the_database(tmp_path, feed_server, capsys):
    config = write_config(tmp_path, [("oschina", feed_server.serve("/rss", rss(SEED_ITEM)))])
    assert poll(config) == 0
    shutil.rmtree(tmp_path / "public")
    assert main(["-c", str(config), "publish"]) == 0
    assert len(entries(tmp_path, "ai")) == 1


def test_unwritable_database_exits_1(tmp_path, feed_server, capsys):
    config = write_config(tmp_path, [("oschina", feed_server.serve("/rss", rss(SEED_ITEM)))])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.db").mkdir()  # a folder where the database file should be
    assert poll(config) == 1
    assert "cannot open database" in capsys.readouterr().err


def test_offline_sample_publishes_non_empty_topics(tmp_path):
    """`aggregator -c config/sample.yaml poll` works with no network, from a fresh working directory."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    run = subprocess.run(
        [sys.executable, "-m", "aggregator", "-c", "config/sample.yaml", "poll"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "0 failed" in run.stdout
    public = tmp_path / "public"
    for topic in ("ai", "oss-events", "everything"):
        parsed = feedparser.parse((public / f"{topic}.xml").read_bytes())
        assert parsed.entries, topic
        assert not parsed.bozo, (topic, parsed.bozo_exception)
    for published in public.iterdir():  # local sample paths are private to this machine
        text = published.read_text(encoding="utf-8")
        assert "file:" not in text and str(tmp_path) not in text, published.name
    titles = [e.title for e in feedparser.parse((public / "ai.xml").read_bytes()).entries]
    assert "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？" in titles


@pytest.mark.parametrize("command", [["poll"], ["publish"], ["config", "check"]])
def test_bad_config_exits_2_with_location(tmp_path, capsys, command):
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - id: x\n", encoding="utf-8")
    assert main(["-c", str(config), *command]) == 2
    assert f"{config}:2: sources[0]: missing required key 'url'" in capsys.readouterr().err


def test_a_long_backlog_is_published_whole_and_forgotten_a_list_at_a_time(tmp_path, feed_server, monkeypatch):
    """Storing without publishing (an import, days of failing publishes) leaves a long list of
    unpublished changes. A publish lists at most republish.LISTED of them (listing a million at
    once cost 180 MB), publishes every topic since it cannot tell which the others touch, and
    forgets only what it listed; the next publishes take the rest."""
    from aggregator import republish
    from aggregator.store import Store

    oschina = feed_server.serve("/rss", rss(SEED_ITEM, RUST_ITEM), ETag='"v1"')
    news = feed_server.serve("/atom", ATOM, "application/atom+xml")
    config = write_config(tmp_path, [("oschina", oschina), ("news", news)])
    assert poll(config) == 0
    database = tmp_path / "data" / "test.db"
    with Store(database) as store:
        store.db.execute("INSERT INTO unpublished (item_id, changes) SELECT id, 1 FROM items")
        assert len(store.unpublished()) == 3
    monkeypatch.setattr(republish, "LISTED", 2)
    published = []
    real = republish.publish
    monkeypatch.setattr(
        republish,
        "publish",
        lambda store, topics, settings, changed: (
            published.append(changed) or real(store, topics, settings, changed)
        ),
    )
    left = []
    for _ in range(3):
        assert poll(config) == 0  # nothing new: each poll publishes what is listed unpublished
        with Store(database) as store:
            left.append(len(store.unpublished()))
    assert left == [1, 0, 0]
    assert published[0] is None  # two of three listed: every topic
    assert len(published[1]) == 1  # the last one, incrementally
    assert published[2] == []
