"""normalize: identity, URLs, sanitized HTML, text, dates, categories and thumbnails of items."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.models import ParsedFeed, RawItem, Source
from aggregator.normalize import (
    canonical_url,
    html_to_text,
    merge_categories,
    normalize,
    sanitize_html,
    strip_tracking,
)
from aggregator.normalize.html import html_to_line
from aggregator.normalize.urls import TRACKING_KEYS
from aggregator.parse import parse

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
NOW = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
SOURCE = Source(
    id="oschina",
    url="https://www.oschina.net/news/rss",
    title="开源中国",
    categories=("编程", "开源中国", "资讯"),
)


def one(raw: RawItem, source: Source = SOURCE, feed_link: str | None = None, now: datetime = NOW):
    (item,) = normalize(ParsedFeed(format="rss20", link=feed_link, items=[raw]), source, now=now)
    return item


def from_fixture(name: str, url: str = "https://example.com/feed.xml", source: Source | None = None):
    feed = parse((FIXTURES / name).read_bytes(), {"Content-Type": "application/xml"}, url)
    return normalize(feed, source or Source(id="s", url=url), now=NOW)


# -- canonical_url and strip_tracking ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://www.oschina.net/news/148720", "https://www.oschina.net/news/148720"),
        ("HTTPS://WWW.OSCHINA.NET/news/148720", "https://www.oschina.net/news/148720"),
        ("https://www.oschina.net:443/news/148720", "https://www.oschina.net/news/148720"),
        ("http://www.oschina.net:80/news/148720", "https://www.oschina.net/news/148720"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://www.oschina.net/news/148720#comments", "https://www.oschina.net/news/148720"),
        ("https://www.oschina.net/news/148720/", "https://www.oschina.net/news/148720"),
        ("https://www.oschina.net", "https://www.oschina.net/"),
        ("https://www.oschina.net/", "https://www.oschina.net/"),
        ("https://www.oschina.net/?", "https://www.oschina.net/"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7", "https://example.com/a?id=7"),
        ("https://example.com/a?b=2&a=1&a=0", "https://example.com/a?a=0&a=1&b=2"),
        ("https://example.com/a?fbclid=x&gclid=y&spm=a21bo.1", "https://example.com/a"),
        ("https://example.com/%7Euser/%e4%b8%ad%E6%96%87", "https://example.com/~user/%E4%B8%AD%E6%96%87"),
        ("https://example.com/中文/新闻", "https://example.com/%E4%B8%AD%E6%96%87/%E6%96%B0%E9%97%BB"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a?q=%2f", "https://example.com/a?q=%2F"),  # reserved escapes stay escaped
        ("https://例子.中国/新闻", "https://xn--fsqu00a.xn--fiqs8s/%E6%96%B0%E9%97%BB"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/#!/story/1", "https://example.com/#!/story/1"),  # hash-bang pages keep it
        ("  https://example.com/a  ", "https://example.com/a"),
        # "www." is kept: www.example.com and example.com may be different sites.
        ("https://example.com/a", "https://example.com/a"),
        ("https://www.example.com/a", "https://www.example.com/a"),
        # Not http(s): returned as it is.
        ("tag:lwn.net,2024:963000", "tag:lwn.net,2024:963000"),
        ("mailto:editor@example.com", "mailto:editor@example.com"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@given(
    st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "https", "HTTP"]),
        st.sampled_from(["example.com", "WWW.Example.com:443", "example.com:8080", "例子.中国"]),
        st.text(alphabet="/abcE.%20中?=&#_~+", max_size=30).map(lambda s: "/" + s),
        st.sampled_from(["", "?utm_source=x", "?b=1&a=2", "#top"]),
    )
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert once.startswith("https://")


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?id=1&utm_campaign=x#top", "https://example.com/a?id=1#top"),
        ("https://example.com/a?UTM_Source=x&id=1", "https://example.com/a?id=1"),
        *[
            (f"https://example.com/a?id=1&{key}=x", "https://example.com/a?id=1")
            for key in sorted(TRACKING_KEYS)
        ],
        # Kept on purpose: parameters that may select content or grant access.
        (
            "https://example.com/a?from=rss&ref=home&share_token=abc",
            "https://example.com/a?from=rss&ref=home&share_token=abc",
        ),
        # Nothing else changes, not even the order or the escapes.
        ("https://example.com/a?b=%7e&a=1", "https://example.com/a?b=%7e&a=1"),
        ("https://example.com/a", "https://example.com/a"),
    ],
)
def test_strip_tracking(url: str, stripped: str) -> None:
    assert strip_tracking(url) == stripped


# -- sanitize_html -----------------------------------------------------------------------------

BASE = "https://www.oschina.net/news/148720"
HOSTILE = [
    ("<script>alert(1)</script><p>ok</p>", ["<script", "alert"]),
    ('<p>ok</p><img src="x.png" onerror="alert(1)">', ["onerror", "alert"]),
    ('<a href="javascript:alert(1)">x</a>', ["javascript", "alert"]),
    ('<a href="JaVaScRiPt:alert(1)">x</a>', ["javascript", "alert"]),
    ('<a href="java&#x09;script:alert(1)">x</a>', ["script:", "alert"]),
    ('<a href="java\tscript:alert(1)">x</a>', ["script:", "alert"]),
    ('<a href="java&#10;script:alert(1)">x</a>', ["script:", "alert"]),
    ('<a href="&#106;avascript:alert(1)">x</a>', ["avascript", "alert"]),
    ('<a href="&#x6A;&#x61;&#x76;&#x61;script:alert(1)">x</a>', ["script:", "alert"]),
    ('<a href=" &#x20;javascript:alert(1)">x</a>', ["javascript", "alert"]),
    ('<a href="\x01javascript:alert(1)">x</a>', ["javascript", "alert"]),
    ('<a href="vbscript:msgbox(1)">x</a>', ["vbscript", "msgbox"]),
    ('<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>', ["data:", "base64"]),
    ('<img src="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">', ["data:", "alert"]),
    ('<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">', ["data:", "svg"]),
    ('<p style="background:url(javascript:alert(1))">x</p>', ["style", "javascript"]),
    ("<style>p { color: red }</style><p>x</p>", ["<style", "color"]),
    ('<iframe src="https://evil.example/"></iframe><p>x</p>', ["iframe", "evil"]),
    (
        '<form action="https://evil.example/"><input name="q"><button>Go</button></form>',
        ["form", "input", "evil", "Go"],
    ),
    (
        '<svg onload="alert(1)"><circle r="5"/><text>svg text</text></svg>',
        ["svg", "alert", "circle", "svg text"],
    ),
    ("<math><mtext><script>alert(1)</script></mtext></math>", ["math", "alert"]),
    ('<object data="movie.swf"></object><embed src="movie.swf">', ["object", "embed", "swf"]),
    (
        '<meta http-equiv="refresh" content="0;url=https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css"><base href="https://evil.example/">',
        ["meta", "<link", "<base", "evil"],
    ),
    ('<div onmouseover="alert(1)" class="x" id="y">x</div>', ["onmouseover", "alert", "class", "id="]),
    (
        '<a href="https://example.com/" onclick="alert(1)" target="_blank">x</a>',
        ["onclick", "alert", "target"],
    ),
    ("<p>a<!-- <script>alert(1)</script> -->b</p>", ["<!--", "alert"]),
    ('<noscript><img src="https://t.example/pixel.gif"></noscript>', ["noscript", "pixel"]),
]


@pytest.mark.parametrize(("html", "forbidden"), HOSTILE)
def test_hostile_html_is_removed(html: str, forbidden: list[str]) -> None:
    clean = sanitize_html(html, BASE)
    for fragment in forbidden:
        assert fragment.lower() not in clean.lower(), clean


def test_article_markup_survives() -> None:
    html = (
        '<h2>Title</h2><p>Para with <em>em</em>, <strong>strong</strong> and <a href="/news/1">a link</a>.</p>'
        '<figure><img src="/img/a.png" alt="A" width="600" height="400"><figcaption>Caption</figcaption></figure>'
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote><p>quote</p></blockquote>"
        "<pre><code>print(1)</code></pre>"
        "<table><thead><tr><th>h</th></tr></thead><tbody><tr><td>c</td></tr></tbody></table>"
        '<p><a href="mailto:editor@oschina.net">mail</a> <img src="data:image/png;base64,iVBORw0KGgo="></p>'
    )
    assert sanitize_html(html, BASE) == (
        "<h2>Title</h2><p>Para with <em>em</em>, <strong>strong</strong> and "
        '<a href="https://www.oschina.net/news/1" rel="noopener noreferrer">a link</a>.</p>'
        '<figure><img src="https://www.oschina.net/img/a.png" alt="A" width="600" height="400">'
        "<figcaption>Caption</figcaption></figure>"
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote><p>quote</p></blockquote>"
        "<pre><code>print(1)</code></pre>"
        "<table><thead><tr><th>h</th></tr></thead><tbody><tr><td>c</td></tr></tbody></table>"
        '<p><a href="mailto:editor@oschina.net" rel="noopener noreferrer">mail</a> '
        '<img src="data:image/png;base64,iVBORw0KGgo="></p>'
    )


@pytest.mark.parametrize(
    ("html", "base", "expected"),
    [
        (
            '<a href="../b?utm_source=rss&amp;id=2">x</a>',
            "https://e.com/a/c/",
            '<a href="https://e.com/a/b?id=2" rel="noopener noreferrer">x</a>',
        ),
        ('<img src="//cdn.e.com/i.png">', "https://e.com/", '<img src="https://cdn.e.com/i.png">'),
        (
            '<a href="#note-1">1</a>',
            "https://e.com/p",
            '<a href="https://e.com/p#note-1" rel="noopener noreferrer">1</a>',
        ),
        (
            '<a href="/x">x</a>',
            None,
            '<a href="/x" rel="noopener noreferrer">x</a>',
        ),  # no base: kept relative
        (
            '<a href="/x">x</a>',
            "file:///srv/feeds/sample.xml",
            '<a rel="noopener noreferrer">x</a>',
        ),  # never file:
    ],
)
def test_urls_resolved_and_untracked_in_the_same_pass(html: str, base: str | None, expected: str) -> None:
    assert sanitize_html(html, base) == expected


@pytest.mark.parametrize(
    "attribute", ["data-src", "data-original", "data-lazy-src", "data-actualsrc", "DATA-SRC"]
)
def test_lazy_images_are_promoted(attribute: str) -> None:
    html = f'<p><img class="lazy" src="/static/blank.gif" srcset="/static/blank.gif 1x" {attribute}="/up/real.jpg" alt="real"></p>'
    assert sanitize_html(html, "https://e.com/") == '<p><img src="https://e.com/up/real.jpg" alt="real"></p>'


def test_lazy_attribute_holding_a_data_uri_is_not_promoted() -> None:
    html = '<img src="https://e.com/real.jpg" data-src="data:image/gif;base64,R0lGOD">'
    assert sanitize_html(html, None) == '<img src="https://e.com/real.jpg">'


@pytest.mark.parametrize(
    "html",
    [
        '<img "' * 30_000,
        '<img a="' * 30_000,
        '<img data-src="/a.jpg" src="x">' * 5_000,
        # Each block start tag makes an HTML parser search the stack of open elements for a <p>.
        "<div>" * 100_000 + "x",
        "<span>" * 20_000 + "<blockquote></blockquote>" * 20_000,
        "<ul><li>" * 20_000,
    ],
    ids=["quotes", "attributes", "lazy", "deep-divs", "spans-then-blocks", "lists"],
)
def test_hostile_markup_takes_linear_time(html: str) -> None:
    start = time.perf_counter()
    sanitize_html(html, "https://e.com/")
    html_to_line(html)
    assert time.perf_counter() - start < 2


def test_nesting_past_the_limit_is_flattened() -> None:
    html = "<div>" * 600 + "deep" + "</div>" * 600 + "<p>after</p>"
    clean = sanitize_html(html, None)
    assert (clean.count("<div>"), clean.count("</div>")) == (512, 512)
    assert clean.endswith("deep" + "</div>" * 512 + "<p>after</p>")
    shallow = "<p>para" * 5_000  # many tags, no depth: unchanged
    assert sanitize_html(shallow, None) == "<p>para</p>" * 5_000


def test_html_to_text() -> None:
    html = "<h2>标题</h2><p>第一段 &amp; <strong>加粗</strong>\n  继续</p><ul><li>一</li><li>二</li></ul><table><tr><td>a</td><td>b &lt; c</td></tr></table><p>x<br>y</p>"
    assert html_to_text(html) == "标题\n第一段 & 加粗 继续\n一\n二\na b < c\nx\ny"


# -- the seed article, end to end ------------------------------------------------------------


def test_seed_article() -> None:
    html = (FIXTURES / "content" / "oschina_article.html").read_text(encoding="utf-8")
    raw = RawItem(
        guid="https://www.oschina.net/news/148720",
        link="https://www.oschina.net/news/148720?utm_source=rss&utm_medium=feed",
        title="开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
        content=html,
        base="https://www.oschina.net/news/rss",
        author="开源中国",
        published=datetime(2021, 7, 5, 23, 58, tzinfo=UTC),
        tags=["编程", "开源中国", "资讯"],
    )
    item = one(raw)
    assert item.key == "https://www.oschina.net/news/148720"
    assert item.link == "https://www.oschina.net/news/148720"
    assert item.url_key == "https://www.oschina.net/news/148720"
    assert item.categories == ("编程", "开源中国", "资讯")
    assert item.thumbnail == "https://oscimg.oschina.net/oscnet/up-2e007b852c41ac7858c6b9f47d0179d3fd0.png"
    for gone in ("style=", "referrerpolicy", "class=", "<span", "target=", "Description:"):
        assert gone not in item.content_html
    assert item.content_html.count("<img ") == 3
    assert item.content_html.count("<li>") == 4
    assert (
        '<a href="https://gotc.oschina.net/" rel="noopener noreferrer"><u>https://gotc.oschina.net/</u></a>'
        in item.content_html
    )
    assert item.text.startswith("2016年，百度PaddlePaddle作为国产深度学习框架开源的先行者")
    assert "演讲嘉宾：侯震宇 | 百度集团副总裁\n" in item.text
    assert "LF AI&Data 基金会" in item.text
    assert re.fullmatch(r"[0-9a-f]{32}", item.content_hash)


# -- titles, dates, categories, author -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        (RawItem(title="The <code>io_uring</code> &amp; you", title_is_html=True), "The io_uring & you"),
        (RawItem(title="Bold <script>alert(1)</script>move", title_is_html=True), "Bold move"),
        (RawItem(title="a < b && c", title_is_html=False), "a < b && c"),  # plain text stays as it is
        (RawItem(title="  开源\n  中国 \t 资讯 "), "开源 中国 资讯"),
        (RawItem(title="", content="<p>Short untitled note.</p>"), "Short untitled note."),
        (
            RawItem(content="<p>" + "word " * 30 + "</p>"),
            "word word word word word word word word word word word word word word word word…",
        ),
        (RawItem(content="<p>" + "飞桨" * 50 + "</p>"), "飞桨" * 40 + "…"),
        (RawItem(link="https://e.com/untitled"), "https://e.com/untitled"),
        (RawItem(), ""),
    ],
)
def test_titles(raw: RawItem, title: str) -> None:
    assert one(raw).title == title


@pytest.mark.parametrize(
    ("published", "updated", "expected_published", "expected_updated"),
    [
        (None, None, NOW, None),  # no date: now
        (NOW - timedelta(days=3), None, NOW - timedelta(days=3), None),
        (NOW + timedelta(hours=20), None, NOW + timedelta(hours=20), None),  # within a day: a clock skew
        (NOW + timedelta(days=2), None, NOW, None),  # far future: clamped
        (None, NOW - timedelta(hours=1), NOW - timedelta(hours=1), NOW - timedelta(hours=1)),  # updated only
        (NOW - timedelta(days=1), NOW + timedelta(days=30), NOW - timedelta(days=1), NOW),
        (
            datetime(2024, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=8))),
            None,
            datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
            None,
        ),
        (datetime(2024, 3, 1, 12, 0), None, datetime(2024, 3, 1, 12, 0, tzinfo=UTC), None),  # naive: UTC
    ],
)
def test_dates(published, updated, expected_published, expected_updated) -> None:
    item = one(RawItem(guid="g", published=published, updated=updated))
    assert (item.published, item.updated) == (expected_published, expected_updated)
    assert item.published.tzinfo == UTC


@pytest.mark.parametrize(
    ("tags", "configured", "expected"),
    [
        (["AI", "开源"], ("编程", "开源中国"), ("AI", "开源", "编程", "开源中国")),
        (["Rust", " rust ", "RUST"], (), ("Rust",)),  # first spelling kept
        (["Linux"], ("linux", "Kernel"), ("Linux", "Kernel")),  # item tags first
        (["", "  ", "Open  Source"], ("open source",), ("Open Source",)),
        (["Straße"], ("STRASSE",), ("Straße",)),  # casefold, not lower
        ([], ("编程",), ("编程",)),
    ],
)
def test_categories(tags: list[str], configured: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert merge_categories(tags, configured) == expected
    assert one(RawItem(guid="g", tags=tags), replace(SOURCE, categories=configured)).categories == expected


def test_author_whitespace_collapsed() -> None:
    assert one(RawItem(guid="g", author="  Jonathan\n Corbet ")).author == "Jonathan Corbet"
    assert one(RawItem(guid="g", author="  ")).author is None


# -- links and base --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "feed_link", "link"),
    [
        (RawItem(link="/news/1?utm_source=rss"), None, "https://www.oschina.net/news/1"),  # the source URL
        (
            RawItem(link="/news/1"),
            "https://site.example/",
            "https://site.example/news/1",
        ),  # the feed link first
        (
            RawItem(link="n/1", base="https://b.example/x/"),
            "https://site.example/",
            "https://b.example/x/n/1",
        ),
        (RawItem(link="javascript:alert(1)"), None, None),
        (RawItem(link="data:text/html,hi"), None, None),
    ],
)
def test_links(raw: RawItem, feed_link: str | None, link: str | None) -> None:
    item = one(raw, feed_link=feed_link)
    assert item.link == link
    assert item.url_key == (canonical_url(link) if link else None)


def test_a_link_left_relative_has_no_url_key() -> None:
    local = Source(id="local", url="file:///srv/feeds/sample.xml")  # no http(s) base anywhere
    item = one(RawItem(link="/about", content='<a href="/x">x</a>'), local)
    assert (item.link, item.url_key) == ("/about", None)
    assert item.content_html == '<a href="/x" rel="noopener noreferrer">x</a>'


def test_urls_urllib_cannot_read_are_dropped() -> None:
    first, second = from_fixture("urls/unreadable_urls.xml", url="https://broken.example.com/feed")
    assert (first.link, first.url_key, first.thumbnail) == (None, None, None)
    assert first.content_html == (
        '<p><img> <a href="https://broken.example.com/relative" rel="noopener noreferrer">relative</a></p>'
    )
    assert (second.title, second.link) == ("Broken base", None)  # feedparser cannot resolve it either
    assert one(RawItem(link="http://[oops/x", content='<img src="http://[x/a.png">')).link is None


def test_relative_urls_with_xml_base() -> None:
    (item,) = from_fixture("urls/xml_base.xml", url="https://feeds.example.org/blog.xml")
    assert item.link == "https://blog.example.org/2024/03/relative-everything.html"
    assert 'href="https://blog.example.org/2024/02/previous.html"' in item.content_html
    assert 'src="https://blog.example.org/2024/03/chart.png"' in item.content_html
    assert item.thumbnail == "https://blog.example.org/2024/03/chart.png"


def test_relative_urls_with_the_document_url() -> None:
    (item,) = from_fixture("urls/document_url.xml", url="https://news.example.com/feeds/all.xml")
    assert item.link == "https://news.example.com/articles/42"
    assert 'href="https://news.example.com/feeds/other.html"' in item.content_html
    assert 'src="https://cdn.example.com/a.jpg"' in item.content_html


# -- thumbnails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "thumbnail"),
    [
        ("thumbnail/media_thumbnail.xml", "https://thumbs.example.com/thumbs/small.jpg"),
        ("thumbnail/media_content.xml", "https://img.example.com/media-content.jpg"),
        ("thumbnail/enclosure.xml", "https://img.example.com/enclosure.jpg"),
        ("thumbnail/itunes_image.xml", "https://img.example.com/itunes.jpg"),
        ("thumbnail/first_img.xml", "https://thumbs.example.com/uploads/2024/real-photo.jpg"),
        ("thumbnail/lazy_data_src.xml", "https://thumbs.example.com/uploads/2024/lazy-photo.jpg"),
    ],
)
def test_thumbnail_order(fixture: str, thumbnail: str) -> None:
    (item,) = from_fixture(fixture, url="https://thumbs.example.com/feed.xml")
    assert item.thumbnail == thumbnail


@pytest.mark.parametrize(
    ("raw", "thumbnail"),
    [
        (
            RawItem(enclosures=[("https://e.com/cover.png", "")]),
            "https://e.com/cover.png",
        ),  # untyped, by name
        (RawItem(enclosures=[("https://e.com/ep.mp3", "audio/mpeg")]), None),
        (
            RawItem(media_thumbnails=["data:image/png;base64,AAAA"], itunes_image="https://e.com/i.jpg"),
            "https://e.com/i.jpg",
        ),
        (
            RawItem(
                content='<img src="https://e.com/placeholder.png"><img src="https://e.com/b.jpg" width="0">'
            ),
            None,
        ),
        (
            RawItem(
                content='<img src="https://feeds.feedburner.com/~r/x/~4/abc"><img src="https://e.com/c.jpg">'
            ),
            "https://e.com/c.jpg",
        ),
    ],
)
def test_thumbnail_candidates(raw: RawItem, thumbnail: str | None) -> None:
    assert one(raw).thumbnail == thumbnail


# -- identity --------------------------------------------------------------------------------


def test_one_guid_for_every_item_does_not_collapse() -> None:
    items = from_fixture("identity/one_guid_for_all.xml")
    assert [i.key for i in items] == [f"https://sameguid.example.com/{n}" for n in (1, 2, 3)]


def test_shared_guid_and_link_fall_back_to_a_content_hash() -> None:
    items = from_fixture("identity/shared_guid_and_link.xml")
    # "Release 1.1" is listed twice: one key, so one item (the first listing)
    assert [i.title for i in items] == ["Release 1.0", "Release 1.1", "Roadmap"]
    assert [i.key.startswith("hash:") for i in items] == [True, True, False]
    assert items[2].key == "roadmap-2024"
    assert items[0].key != items[1].key
    assert from_fixture("identity/shared_guid_and_link.xml")[0].key == items[0].key  # stable


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (RawItem(guid=" urn:1 ", link="https://e.com/1"), "urn:1"),
        (RawItem(link="https://e.com/1?utm_source=rss"), "https://e.com/1"),
        (RawItem(title="t", content="<p>c</p>"), "hash:"),
    ],
)
def test_key_kinds(raw: RawItem, key: str) -> None:
    assert one(raw).key.startswith(key)


def test_content_hash_follows_what_readers_see() -> None:
    raw = RawItem(guid="g", title="T", content="<p>c</p>", tags=["a"])
    first = one(raw).content_hash
    assert one(raw, now=NOW + timedelta(hours=1)).content_hash == first  # no date: `now` is not hashed
    assert one(replace(raw, content="<p>c</p><script>x()</script>")).content_hash == first  # sanitized away
    for changed in (
        replace(raw, title="T2"),
        replace(raw, content="<p>d</p>"),
        replace(raw, tags=["b"]),
        replace(raw, author="A"),
        replace(raw, media_thumbnails=["https://e.com/t.jpg"]),
        replace(raw, published=NOW),
        replace(raw, link="https://e.com/1"),
    ):
        assert one(changed).content_hash != first


def test_an_items_own_fields_win_over_nested_ones() -> None:
    first, _ = from_fixture("fields/nested_title_and_description.xml")
    assert first.title == "Kubernetes security audit: what users need to know"
    assert first.text == "The audit found no critical issues, and here is the whole article about it."
    assert first.author == "Maya Chen"


def test_json_content_text_stays_text() -> None:
    feed = parse(
        (FIXTURES / "jsonfeed" / "jsonfeed10.json").read_bytes(), {}, "https://df.example.net/feed.json"
    )
    (item,) = normalize(feed, Source(id="df", url="https://df.example.net/feed.json"), now=NOW)
    assert "&lt;script&gt;" in item.content_html and "<script" not in item.content_html
    # The title is text too, but what reads as a tag is dropped all the same: the RSS we publish
    # it in is rendered as HTML by some readers (normalize.html.plain_text).
    assert item.title == "Plain text is not HTML"
    assert item.categories == ("Apple", "Linking")
