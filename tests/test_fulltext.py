"""Full text for summary-only sources: a loopback site whose feed has one-line descriptions and
whose article pages carry navigation, ads and comments around the article."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES, Response, serving
from test_daemon import Daemon, daemons, wait_for  # noqa: F401 - the daemons fixture

from aggregator import config, fulltext, network
from aggregator.cli import main
from aggregator.errors import ConfigError
from aggregator.fetch import Fetcher
from aggregator.models import Source
from aggregator.refresh import NOT_MODIFIED, refresh
from aggregator.store import Store

ZH_PAGE = (FIXTURES / "fulltext" / "zh.html").read_text(encoding="utf-8")
EN_PAGE = (FIXTURES / "fulltext" / "en.html").read_text(encoding="utf-8")
SUMMARY = "<p>Summary only.</p>"
HOSTILE = ("missing", "huge", "binary", "pdf", "slow", "type-less-binary")


def rss(*links: str, summary: str = SUMMARY) -> str:
    items = "".join(
        f"<item><guid>{link}</guid><title>Story {n}</title><link>{link}</link>"
        f"<description><![CDATA[{summary}]]></description>"
        f"<pubDate>Mon, 05 Jul 2021 {10 + n}:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>{items}</channel></rss>'


def write_config(tmp_path: Path, feed_url: str, *, timeout: str = "5s", full_text: str = "true") -> Path:
    path = tmp_path / "aggregator.yaml"
    path.write_text(
        f"database: {tmp_path / 'test.db'}\n"
        f"output:\n  dir: {tmp_path / 'public'}\n  base_url: http://127.0.0.1:8080/\n"
        f"polling:\n  timeout: {timeout}\n  per_host: 2\n"
        f"sources:\n  - id: site\n    url: {feed_url}\n    full_text: {full_text}\n"
        "topics:\n  everything:\n",
        encoding="utf-8",
    )
    return path


def poll(path: Path) -> int:
    return main(["-c", str(path), "poll", "--no-progress"])


def published(tmp_path: Path) -> dict[str, dict]:
    feed = json.loads((tmp_path / "public" / "everything.json").read_text(encoding="utf-8"))
    return {item["url"].rsplit("/", 1)[-1]: item for item in feed["items"]}


@pytest.fixture
def site(feed_server):
    """The feed at /feed.xml, a Chinese (GBK) and an English article, and hostile pages."""
    release = threading.Event()
    zh = ZH_PAGE.replace('charset="utf-8"', 'charset="gbk"').encode("gbk")
    feed_server.routes["/news/zh/149058.html"] = Response(200, zh, {"Content-Type": "text/html"})
    feed_server.serve("/blog/2021/rust-154.html", EN_PAGE, "text/html; charset=utf-8")
    huge = b"<html><body>" + b"<p>Padding paragraph, again and again.</p>" * 130_000 + b"</body></html>"
    feed_server.serve("/articles/huge", huge, "text/html")  # 5 MB: under max_body, over MAX_PAGE
    feed_server.serve("/articles/binary", os.urandom(50_000), "text/html")
    feed_server.serve("/articles/type-less-binary", b"\x89PNG\r\n\x1a\n" + os.urandom(20_000), "")
    feed_server.serve("/articles/pdf", b"%PDF-1.7\n" + b"<p>not html</p>" * 100, "application/pdf")

    def slow(request):
        release.wait(10)  # longer than the poll's timeout; released when the test ends
        return Response(200, b"<html><body><p>late</p></body></html>", {"Content-Type": "text/html"})

    feed_server.routes["/articles/slow"] = slow
    links = [
        feed_server.url(p)
        for p in ("/news/zh/149058.html", "/blog/2021/rust-154.html", *(f"/articles/{h}" for h in HOSTILE))
    ]
    feed_server.serve("/feed.xml", rss(*links))
    yield feed_server
    release.set()


@pytest.fixture
def public_server(monkeypatch):
    """A feed server on 127.0.0.2 playing a host on the internet: the address policy takes
    127.0.0.2 as public, the rest of 127.0.0.0/8 (feed_server's 127.0.0.1) stays internal."""
    internal = network.internal
    monkeypatch.setattr(
        network, "internal", lambda address: str(address) != "127.0.0.2" and internal(address)
    )
    yield from serving("127.0.0.2")


def full_texts(tmp_path: Path) -> dict[str, tuple[str, str | None]]:
    """link -> (status, error) of every article page tried."""
    with sqlite3.connect(tmp_path / "test.db") as conn:
        return {
            link: (status, error)
            for link, status, error in conn.execute("SELECT link, status, error FROM full_texts")
        }


def test_poll_publishes_the_article_body_without_boilerplate(tmp_path, site, capsys):
    path = write_config(tmp_path, site.url("/feed.xml"), timeout="1s")
    assert poll(path) == 0
    assert "1 ok" in capsys.readouterr().out
    items = published(tmp_path)

    zh = items["149058.html"]["content_html"]
    assert "截至今年 5 月，飞桨已凝聚 320 万开发者" in zh  # decoded from GBK by its <meta charset>
    assert "开源不是终点" in zh and "三个方向持续投入" in zh
    for boilerplate in ("首页", "广告", "热门资讯", "相关阅读", "网友甲", "评论", "版权所有", "分享到"):
        assert boilerplate not in zh
    base = site.url("/news/zh/")
    assert f'src="{base}images/paddle-growth.png"' in zh  # relative URLs resolve against the page
    assert f'href="{site.url("/news/149000")}"' in zh
    assert items["149058.html"]["image"] == f"{base}images/paddle-growth.png"  # the thumbnail rule

    en = items["rust-154.html"]["content_html"]
    assert "stabilisation of a set of WebAssembly intrinsics" in en and "Cargo improvements" in en
    for boilerplate in (
        "cookies",
        "Sponsored",
        "Sign in",
        "42 comments",
        "rustacean99",
        "Trending",
        "newsletter",
    ):
        assert boilerplate not in en
    assert f'href="{site.url("/blog/releases/1.54")}"' in en
    # The page's script, handlers, javascript: link and iframe are gone, as from feed content.
    for hostile in ("<script", "onerror", "javascript:", "alert(", "<iframe", "evil.example"):
        assert hostile not in en

    for name in HOSTILE:  # the feed's summary stays, and the poll succeeded
        assert items[name]["content_html"] == SUMMARY


def test_each_page_is_fetched_once_across_polls(tmp_path, site):
    path = write_config(tmp_path, site.url("/feed.xml"), timeout="1s")
    for _ in range(3):
        assert poll(path) == 0
    assert len(site.requests_to("/feed.xml")) == 3
    # Pages are asked for as HTML; the feed as a feed.
    assert site.requests_to("/blog/2021/rust-154.html")[0].headers["accept"] == (
        "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
    )
    assert site.requests_to("/feed.xml")[0].headers["accept"].startswith("application/rss+xml")
    for page in ("/news/zh/149058.html", "/blog/2021/rust-154.html", *(f"/articles/{h}" for h in HOSTILE)):
        assert len(site.requests_to(page)) == 1, page
    assert "飞桨已凝聚" in published(tmp_path)["149058.html"]["content_html"]  # kept on every poll
    rows = dict(sqlite3.connect(tmp_path / "test.db").execute("SELECT link, status FROM full_texts"))
    assert rows[site.url("/news/zh/149058.html")] == "ok"
    assert rows[site.url("/articles/missing")] == "kept"
    assert rows[site.url("/articles/slow")] == "retry"  # a timeout may pass: tried again later


def test_pages_are_fetched_within_the_per_host_limit(tmp_path, feed_server):
    lock = threading.Lock()
    active, seen = [0], []
    both = threading.Event()

    def article(request):
        with lock:
            active[0] += 1
            seen.append(active[0])
            if active[0] == 2:
                both.set()
        both.wait(2)  # hold the request until a second one arrives, so overlap shows
        with lock:
            active[0] -= 1
        return Response(200, EN_PAGE.encode(), {"Content-Type": "text/html"})

    paths = [f"/a/{n}" for n in range(6)]
    for p in paths:
        feed_server.routes[p] = article
    feed_server.serve("/feed.xml", rss(*(feed_server.url(p) for p in paths)))
    assert poll(write_config(tmp_path, feed_server.url("/feed.xml"))) == 0
    assert len(seen) == 6
    assert max(seen) == 2  # polling.per_host, reached and never passed


def test_retry_policy_and_an_edited_entry_keeps_its_full_text(database, feed_server):
    answers = [
        Response(503, b"busy", {"Retry-After": "7200"}),
        Response(200, EN_PAGE.encode(), {"Content-Type": "text/html"}),
    ]
    feed_server.routes["/post"] = lambda request: answers.pop(0) if len(answers) > 1 else answers[0]
    feed_server.serve("/feed.xml", rss(feed_server.url("/post")))
    source = Source("site", feed_server.url("/feed.xml"), full_text=True)
    start = datetime(2024, 5, 1, tzinfo=UTC)

    async def run(store, at):
        async with Fetcher(timeout=5) as fetcher:
            return await refresh(source, fetcher, store, now=at)

    with Store(database) as store:
        store.sync_sources([source])
        first = asyncio.run(run(store, start))
        assert first.saved.new and len(feed_server.requests_to("/post")) == 1
        asyncio.run(run(store, start + timedelta(hours=1, minutes=30)))  # Retry-After asked for 2 h
        assert len(feed_server.requests_to("/post")) == 1
        later = asyncio.run(run(store, start + timedelta(hours=2)))
        assert len(feed_server.requests_to("/post")) == 2
        assert later.saved.updated == first.saved.new  # the stored item now has the full text
        (story,) = store.stories()
        assert "WebAssembly intrinsics" in story.item.content_html

        feed_server.serve("/feed.xml", rss(feed_server.url("/post")).replace("Story 0", "Story zero"))
        edited = asyncio.run(run(store, start + timedelta(hours=3)))
        assert edited.saved.updated and len(feed_server.requests_to("/post")) == 2
        (story,) = store.stories()
        assert story.item.title == "Story zero" and "WebAssembly intrinsics" in story.item.content_html
        unchanged = asyncio.run(run(store, start + timedelta(hours=4)))
        assert unchanged.status == NOT_MODIFIED  # the same document: not even read again


def test_a_transient_failure_is_tried_at_most_max_attempts_times(database, feed_server):
    feed_server.routes["/post"] = Response(500, b"oops")
    feed_server.serve("/feed.xml", rss(feed_server.url("/post")))
    source = Source("site", feed_server.url("/feed.xml"), full_text=True)

    async def run(store, at):
        async with Fetcher(timeout=5) as fetcher:
            await refresh(source, fetcher, store, now=at)

    with Store(database) as store:
        store.sync_sources([source])
        for day in range(6):
            asyncio.run(run(store, datetime(2024, 5, 1 + day, tzinfo=UTC)))
        status = store.db.execute("SELECT status, attempts FROM full_texts").fetchone()
    assert len(feed_server.requests_to("/post")) == fulltext.MAX_ATTEMPTS
    assert status == ("failed", fulltext.MAX_ATTEMPTS)


def test_stored_items_and_internal_links_of_a_public_source_are_not_fetched(tmp_path, feed_server):
    # Turned on for a source whose items are stored already: no backlog of pages is fetched.
    feed_server.serve("/post", EN_PAGE, "text/html")
    feed_server.serve("/feed.xml", rss(feed_server.url("/post")))
    path = write_config(tmp_path, feed_server.url("/feed.xml"), full_text="false")
    assert poll(path) == 0
    assert poll(write_config(tmp_path, feed_server.url("/feed.xml"))) == 0
    assert feed_server.requests_to("/post") == []
    # A feed from a local file (or a public host) linking to a loopback address is not followed.
    other = tmp_path / "other"
    other.mkdir()
    local = other / "feed.xml"
    local.write_text(rss(feed_server.url("/post?local")), encoding="utf-8")
    assert poll(write_config(other, str(local))) == 0
    assert not [r for r in feed_server.requests if "local" in r.path]


def test_a_public_page_redirecting_into_our_network_is_refused(tmp_path, feed_server, public_server):
    feed_server.serve(
        "/metrics", "<html><body><p>" + "secret_metric 42. " * 50 + "</p></body></html>", "text/html"
    )
    public_server.routes["/moved"] = Response(302, b"", {"Location": feed_server.url("/metrics")})
    public_server.routes["/metadata"] = Response(
        302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    public_server.routes["/mapped"] = Response(
        302, b"", {"Location": f"http://[::ffff:127.0.0.1]:{feed_server.port}/metrics"}
    )
    public_server.serve("/post", EN_PAGE, "text/html")
    links = [public_server.url(p) for p in ("/moved", "/metadata", "/mapped", "/post")]
    public_server.serve("/feed.xml", rss(*links))
    assert poll(write_config(tmp_path, public_server.url("/feed.xml"))) == 0

    assert feed_server.requests == []  # nothing reached the internal server
    items = published(tmp_path)
    for name in ("moved", "metadata", "mapped"):  # the feed's summary stays
        assert items[name]["content_html"] == SUMMARY
        status, error = full_texts(tmp_path)[public_server.url(f"/{name}")]
        assert status == "kept" and "inside our network" in error  # refused, not tried and timed out
    assert "WebAssembly intrinsics" in items["post"]["content_html"]  # a public page still works


SPELLINGS = ("127.1", "2130706433", "0x7f.1", "0177.0.0.1", "localhost", "[::ffff:127.0.0.1]")


def test_loopback_spelled_as_a_host_name_is_refused_for_a_public_source(tmp_path, feed_server):
    feed_server.serve("/post", EN_PAGE, "text/html")
    links = [f"http://{host}:{feed_server.port}/post?{n}" for n, host in enumerate(SPELLINGS)]
    local = tmp_path / "feed.xml"  # a local file is not on our network: its links are held to public
    local.write_text(rss(*links), encoding="utf-8")
    assert poll(write_config(tmp_path, str(local))) == 0
    assert feed_server.requests == []
    assert {status for status, _ in full_texts(tmp_path).values()} == {"kept"}
    assert all(item["content_html"] == SUMMARY for item in published(tmp_path).values())

    # The other side: a source on our network may have its internal links fetched, however spelled
    # (those aiohttp accepts: it refuses the all-digit legacy forms as invalid URLs).
    other = tmp_path / "loopback"
    other.mkdir()
    feed_server.serve(
        "/feed.xml",
        rss(*(f"http://{host}:{feed_server.port}/post?{host}" for host in ("0x7f.1", "localhost"))),
    )
    assert poll(write_config(other, feed_server.url("/feed.xml"))) == 0
    assert (
        len(feed_server.requests_to("/post?0x7f.1")) == len(feed_server.requests_to("/post?localhost")) == 1
    )
    assert {status for status, _ in full_texts(other).values()} == {"ok"}


def test_a_due_retry_of_an_entry_that_left_the_feed_does_not_force_parses(tmp_path, feed_server):
    feed_server.routes["/post"] = Response(503, b"busy")
    feed_server.serve("/other", EN_PAGE, "text/html")
    feed_server.serve("/feed.xml", rss(feed_server.url("/post")))
    source = Source("site", feed_server.url("/feed.xml"), full_text=True)
    start = datetime(2024, 5, 1, tzinfo=UTC)

    async def run(store, at):
        async with Fetcher(timeout=5) as fetcher:
            return await refresh(source, fetcher, store, now=at)

    with Store(tmp_path / "test.db") as store:
        store.sync_sources([source])
        asyncio.run(run(store, start))  # the page failed: a retry in an hour
        feed_server.serve("/feed.xml", rss(feed_server.url("/other")))  # and the entry left the feed
        asyncio.run(run(store, start + timedelta(minutes=10)))
        for hours in (2, 3):  # the retry would be due: the unchanged document is still skipped
            assert asyncio.run(run(store, start + timedelta(hours=hours))).status == NOT_MODIFIED
    assert len(feed_server.requests_to("/post")) == 1
    status, error = full_texts(tmp_path)[feed_server.url("/post")]
    assert status == "failed" and "left the feed" in error


def test_the_daemon_publishes_the_full_text(tmp_path, feed_server, daemons):  # noqa: F811
    class FullTextDaemon(Daemon):
        def write_config(self, sources: dict[str, str]) -> None:
            super().write_config(sources)
            text = self.config.read_text(encoding="utf-8").replace(
                "{id: site,", "{id: site, full_text: true,"
            )
            self.config.write_text(text, encoding="utf-8")

    feed_server.serve("/post", EN_PAGE, "text/html")
    feed_server.serve("/feed.xml", rss(feed_server.url("/post")))
    daemon = FullTextDaemon(tmp_path, {"site": feed_server.url("/feed.xml")}).start()
    daemons.append(daemon)

    def content() -> str:
        status, _, body = daemon.get("/everything.json")
        items = json.loads(body)["items"] if status == 200 else []
        return items[0]["content_html"] if items else ""

    wait_for(lambda: "WebAssembly intrinsics" in content(), what="the article served")
    wait_for(lambda: len(feed_server.requests_to("/feed.xml")) >= 3, what="more polls")
    assert daemon.stop() == 0
    assert len(feed_server.requests_to("/post")) == 1


def test_slow_extraction_is_given_up_and_the_next_page_waits(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(fulltext, "EXTRACT_TIMEOUT", 0.2)
    monkeypatch.setattr(fulltext, "_readable", lambda html, base: (release.wait(5), ("<p>x</p>", "x"))[1])

    async def both():
        with pytest.raises(fulltext._Refused, match=r"longer than 0\.2s"):
            await fulltext._extract("<p>a</p>", "http://127.0.0.1/")
        waiting = asyncio.ensure_future(fulltext._extract("<p>b</p>", "http://127.0.0.1/"))
        await asyncio.sleep(0)  # let it reach the gate
        assert not waiting.done()
        release.set()
        return await waiting

    assert asyncio.run(both()) == ("<p>x</p>", "x")


def test_full_text_must_be_true_or_false(tmp_path):
    path = tmp_path / "aggregator.yaml"
    path.write_text("sources:\n  - id: a\n    url: http://x/\n    full_text: yes please\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert f"{path}:4: sources[a].full_text: expected true or false" in str(caught.value)
