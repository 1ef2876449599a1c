"""Hostile content: no script, handler, script URL, style, form, meta, base, link, plug-in, svg or
math from an item survives into anything we publish, and readers still get the article.

The vectors are in tests/xss_vectors.py, the definition of active content in
tests/active_content.py. The end-to-end tests serve hostile items from a loopback server in RSS,
Atom and JSON Feed, poll them with the real command line (`aggregator poll`), and scan every
published file: the HTML inside each feed is parsed (lxml and html.parser) and every element
and attribute looked at.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from active_content import (
    TAG_LIKE,
    fragment_problems,
    output_problems,
    page_problems,
)
from conftest import FeedServer
from xss_vectors import CLASSICS, HANDLERS, SCRIPT_URLS, TEXT_FIELD_VECTORS, VECTORS

from aggregator.cli import main
from aggregator.models import ParsedFeed, RawItem, Source
from aggregator.normalize import normalize
from aggregator.normalize.html import sanitize_html
from aggregator.store import Store

SEED = Path("/work/shared/seeds/000_815ec370a438c5bf.txt")
BASE = "https://news.example.com/articles/1"
NOW = datetime(2024, 3, 1, tzinfo=UTC)


# -- the checker itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html_",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href=" &#14;  javascript:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
        '<p style="color:red">x</p>',
        "<style>p{}</style>",
        "<form><input></form>",
        '<meta http-equiv="refresh" content="0;url=https://e.example/">',
        '<base href="https://e.example/">',
        '<link rel="stylesheet" href="https://e.example/x.css">',
        "<object data=x></object>",
        "<embed src=x>",
        "<svg></svg>",
        "<math></math>",
        "<noscript>x</noscript>",
        "<!--[if IE]><script>alert(1)</script><![endif]-->",
        '<img srcset="https://e.example/a.png 1x, javascript:alert(1) 2x">',
        "<xss:script>alert(1)</xss:script>",
    ],
)
def test_the_checker_sees_active_content(html_):
    assert fragment_problems(html_)


def test_the_checker_accepts_an_ordinary_article():
    article = (
        '<p>Text <a href="https://e.example/" rel="noopener noreferrer">link</a> '
        '<img src="https://e.example/a.png" alt=""> <img src="data:image/png;base64,iVBORw0KGgo=">'
        "<code>x &lt; y</code></p><ul><li>one</li></ul><table><tr><td>1</td></tr></table>"
        '<a href="mailto:a@e.example">mail</a> <a href="/relative">rel</a>'
    )
    assert fragment_problems(article) == []


# -- the sanitizer -------------------------------------------------------------------------------


def test_sanitizer_output_holds_no_active_content():
    """Every vector (~2,500 of them: classics, ~30 URL obfuscations on 25 URL carriers, handlers
    on 25 kinds of element in 6 spellings) comes out of sanitize_html inert."""
    failures = {}
    for name, vector in VECTORS:
        clean = sanitize_html(vector, BASE)
        if problems := fragment_problems(clean):
            failures[name] = (clean, problems)
    assert failures == {}


def test_style_attributes_and_elements_are_dropped_whole():
    clean = sanitize_html(
        '<p style="color:red;background:url(https://t.example/p.gif)">a</p><style>p{}</style>', BASE
    )
    assert clean == "<p>a</p>"


def test_text_fields_never_read_as_markup():
    """Titles, authors and categories, given as text or as HTML, are plain text in the item."""
    raws = [
        RawItem(
            guid=f"g{i}-{is_html}", title=vector, title_is_html=is_html, author=vector, tags=[vector, "ok"]
        )
        for i, vector in enumerate(TEXT_FIELD_VECTORS)
        for is_html in (False, True)
    ]
    items = normalize(ParsedFeed("rss20", items=raws), Source("s", BASE), now=NOW)
    for item in items:
        for text in (item.title, item.author or "", *item.categories):
            assert not TAG_LIKE.search(text), text


# -- end to end ------------------------------------------------------------------------------------


def e2e_vectors() -> list[tuple[str, str]]:
    """The classics, every URL obfuscation in a link and an image, two spellings of every handler."""
    vectors = list(CLASSICS)
    generated = dict(VECTORS)
    for url_name in SCRIPT_URLS:
        for carrier in ("a-href", "img-src", "iframe-src", "form-action"):
            for quote in ('"', "'"):
                name = f"url-{url_name}-{carrier}-{quote}"
                if name in generated:
                    vectors.append((name, generated[name]))
    for tag, handler, _ in HANDLERS:
        for spelling in ("quoted", "slashes"):
            vectors.append((f"on-{tag}-{handler}-{spelling}", generated[f"on-{tag}-{handler}-{spelling}"]))
    return vectors


def rss_document(vectors: list[tuple[str, str]]) -> str:
    items = []
    for i, (name, vector) in enumerate(vectors):
        description = (
            f"<![CDATA[{vector}]]>" if "]]>" not in vector and i % 2 else html.escape(vector, quote=False)
        )
        items.append(
            f"<item><guid>rss-{i}</guid><title>RSS {html.escape(name)}</title>"
            f"<link>https://news.example.com/rss/{i}</link><description>{description}</description>"
            "<pubDate>Fri, 01 Mar 2024 00:00:00 GMT</pubDate></item>"
        )
    hostile_fields = "".join(
        f"<item><guid>field-{i}</guid><title>{html.escape(text)}</title>"
        f"<link>{html.escape(url)}</link><description>fields {i}</description>"
        f"<author>{html.escape(text)}</author><category>{html.escape(text)}</category>"
        f'<enclosure url="{html.escape(url)}" type="image/png" length="1"/>'
        f'<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="{html.escape(url)}"/>'
        "<pubDate>Fri, 01 Mar 2024 00:00:00 GMT</pubDate></item>"
        for i, (text, url) in enumerate(zip(TEXT_FIELD_VECTORS, list(SCRIPT_URLS.values()) * 2, strict=False))
    )
    html_titles = "".join(
        f"<item><guid>title-{i}</guid><title><![CDATA[{text}]]></title><link>https://news.example.com/t/{i}</link>"
        "<description>t</description><pubDate>Fri, 01 Mar 2024 00:00:00 GMT</pubDate></item>"
        for i, text in enumerate(TEXT_FIELD_VECTORS)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostile RSS</title>'
        f"<link>https://news.example.com/</link>{''.join(items)}{hostile_fields}{html_titles}</channel></rss>"
    )


def atom_document(vectors: list[tuple[str, str]]) -> str:
    entries = "".join(
        f'<entry><id>urn:atom:{i}</id><title type="html">{html.escape(name)}</title>'
        f'<link href="https://news.example.com/atom/{i}"/><updated>2024-03-01T00:00:00Z</updated>'
        f'<content type="html">{html.escape(vector)}</content></entry>'
        for i, (name, vector) in enumerate(vectors)
    )
    titles = "".join(
        f'<entry><id>urn:atom:title:{i}</id><title type="{kind}">{html.escape(text)}</title>'
        f'<link href="https://news.example.com/atom/t/{i}/{kind}"/><updated>2024-03-01T00:00:00Z</updated>'
        f'<author><name>{html.escape(text)}</name></author><category term="{html.escape(text)}"/>'
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p onclick="alert(1)">x</p>'
        '<script>alert(1)</script><a href="javascript:alert(1)">a</a></div></content></entry>'
        for i, text in enumerate(TEXT_FIELD_VECTORS)
        for kind in ("text", "html")
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Hostile Atom</title>'
        f'<id>urn:atom</id><updated>2024-03-01T00:00:00Z</updated><link href="https://news.example.com/"/>'
        f"{entries}{titles}</feed>"
    )


def json_document(vectors: list[tuple[str, str]]) -> str:
    items = [
        {
            "id": f"json-{i}",
            "url": f"https://news.example.com/json/{i}",
            "title": name,
            "content_html": vector,
            "date_published": "2024-03-01T00:00:00Z",
        }
        for i, (name, vector) in enumerate(vectors)
    ]
    items += [
        {
            "id": f"json-field-{i}",
            "url": url,
            "external_url": url,
            "image": url,
            "title": text,
            "authors": [{"name": text}],
            "tags": [text],
            "content_text": text,
            "date_published": "2024-03-01T00:00:00Z",
        }
        for i, (text, url) in enumerate(zip(TEXT_FIELD_VECTORS, SCRIPT_URLS.values(), strict=False))
    ]
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "Hostile JSON", "items": items}
    )


def write_config(tmp_path: Path, sources: dict[str, str]) -> Path:
    lines = [
        f"database: {tmp_path / 'db.sqlite'}",
        f"output: {{dir: {tmp_path / 'public'}, base_url: 'http://127.0.0.1:8080/', max_items: 2000}}",
        "polling: {timeout: 20s, max_items_per_poll: 2000}",
        "sources:",
        *[f"  - {{id: {sid}, title: 'Source {sid}', url: '{url}'}}" for sid, url in sources.items()],
        "topics:",
        "  everything: {title: Everything}",
        "  alerts: {title: Alerts, any: [alert]}",
    ]
    path = tmp_path / "aggregator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_hostile_items_polled_end_to_end_publish_no_active_content(tmp_path, feed_server: FeedServer, capsys):
    vectors = e2e_vectors()
    sources = {
        "rss": feed_server.serve("/rss", rss_document(vectors)),
        "atom": feed_server.serve("/atom", atom_document(vectors), "application/atom+xml"),
        "json": feed_server.serve("/json", json_document(vectors), "application/feed+json"),
    }
    config = write_config(tmp_path, sources)
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert "3 ok" in capsys.readouterr().out
    public = tmp_path / "public"

    # Every hostile item is stored, and each vector published at least once (the three sources'
    # copies of one vector may be one story).
    with Store(tmp_path / "db.sqlite") as store:
        carried = dict(
            store.db.execute("SELECT source_id, count(*) FROM item_sources GROUP BY source_id").fetchall()
        )
    fields = len(TEXT_FIELD_VECTORS)
    assert carried == {
        "rss": len(vectors) + 2 * fields,
        "atom": len(vectors) + 2 * fields,
        "json": len(vectors) + fields,
    }
    published = json.loads((public / "everything.json").read_text(encoding="utf-8"))
    assert len(published["items"]) >= len(vectors)
    assert output_problems(public) == {}
    assert main(["-c", str(config), "publish"]) == 0  # a full publish from the database, too
    assert output_problems(public) == {}
    names = {p.name for p in public.iterdir()}
    assert {"everything.xml", "everything.atom", "everything.json", "index.html", "topics.opml"} <= names


def test_index_page_shows_hostile_titles_and_links_as_text(tmp_path, feed_server: FeedServer):
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        + "".join(
            f"<item><guid>g{i}</guid><title>{html.escape(text)}</title><link>javascript:alert({i})</link>"
            f'<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="javascript:alert({i})"/>'
            "<pubDate>Fri, 01 Mar 2024 00:00:00 GMT</pubDate></item>"
            for i, text in enumerate(TEXT_FIELD_VECTORS)
        )
        + "</channel></rss>"
    )
    config = write_config(tmp_path, {"s": feed_server.serve("/rss", rss)})
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    page = (tmp_path / "public" / "index.html").read_text(encoding="utf-8")
    assert page_problems(page) == []
    assert "javascript:" not in page.lower() and "onerror" not in page.lower()


# -- readers still get the article -----------------------------------------------------------------

RICH = """
<h2>细节</h2>
<ol><li>第一</li><li>第二</li></ol>
<pre><code class="language-python">def f(x):
    return x &lt; 1 and "&amp;"</code></pre>
<p>Inline <code>paddle.nn</code> and <kbd>Ctrl</kbd>.</p>
<table><caption>基准</caption><thead><tr><th scope="col">模型</th><th>分数</th></tr></thead>
<tbody><tr><td>ERNIE</td><td colspan="1">91.2</td></tr></tbody></table>
<blockquote cite="https://www.oschina.net/">引用</blockquote>
<figure><img src="/images/figure.png" alt="图" width="640" height="480"><figcaption>图一</figcaption></figure>
"""


def seed_article() -> tuple[str, str]:
    """(title, HTML body) of the seed: Hexo front matter, then the article's HTML."""
    text = SEED.read_text(encoding="utf-8")
    _, front, body = text.split("---", 2)
    title = re.search(r"^title: '(.*)'$", front, re.M).group(1)
    return title, body


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed article is not on this machine")
def test_readers_still_get_the_article(tmp_path, feed_server: FeedServer):
    title, body = seed_article()
    rss = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>开源中国</title>'
        "<link>https://www.oschina.net/news</link><item><guid>https://www.oschina.net/news/149058</guid>"
        f"<title>{html.escape(title)}</title><link>https://www.oschina.net/news/149058</link>"
        f"<description><![CDATA[{body}{RICH}]]></description>"
        "<pubDate>Mon, 05 Jul 2021 23:58:00 GMT</pubDate></item></channel></rss>"
    )
    config = write_config(tmp_path, {"oschina": feed_server.serve("/rss", rss)})
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    public = tmp_path / "public"
    rss_out = lxml.etree.fromstring((public / "everything.xml").read_bytes())
    atom_out = lxml.etree.fromstring((public / "everything.atom").read_bytes())
    json_out = json.loads((public / "everything.json").read_text(encoding="utf-8"))
    atom = "{http://www.w3.org/2005/Atom}"
    bodies = {
        "rss": rss_out.findtext("channel/item/description"),
        "atom": atom_out.find(f"{atom}entry/{atom}content").text,
        "json": json_out["items"][0]["content_html"],
    }
    titles = {
        "rss": rss_out.findtext("channel/item/title"),
        "atom": atom_out.findtext(f"{atom}entry/{atom}title"),
        "json": json_out["items"][0]["title"],
    }
    assert set(titles.values()) == {"开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？"}
    for fmt, content in bodies.items():
        assert fragment_problems(content) == [], fmt
        tree = lxml.html.fragment_fromstring(content, create_parent="div")
        count = {tag: len(tree.findall(f".//{tag}")) for tag in ("p", "a", "img", "ul", "li", "strong", "hr")}
        assert count["p"] >= 30 and count["ul"] == 4 and count["strong"] == 5 and count["hr"] == 2, (
            fmt,
            count,
        )
        links = {a.get("href") for a in tree.iter("a")}
        assert "https://gotc.oschina.net/" in links, fmt
        images = {img.get("src") for img in tree.iter("img")}
        assert {
            "https://oscimg.oschina.net/oscnet/up-2e007b852c41ac7858c6b9f47d0179d3fd0.png",
            "https://oscimg.oschina.net/oscnet/up-31fe26830f4d8f02db116a08a07970146db.png",
            "https://oscimg.oschina.net/oscnet/up-806cec098ef4d989749f8632319e97d2162.png",
            feed_server.url("/images/figure.png"),  # made absolute against the document's URL
        } <= images, fmt
        assert "飞桨已凝聚 320 万开发者" in tree.text_content()
        # The appendix: headings, lists, code, tables, quotes and figures read as they were written.
        assert tree.find(".//h2").text == "细节" and len(tree.findall(".//ol/li")) == 2
        code = tree.find(".//pre/code")
        assert code is not None and 'return x < 1 and "&"' in code.text_content()
        assert [th.text for th in tree.iter("th")] == ["模型", "分数"] and tree.find(
            ".//caption"
        ).text == "基准"
        assert tree.find(".//td[@colspan='1']").text == "91.2"
        assert tree.find(".//blockquote").text == "引用" and tree.find(".//figcaption").text == "图一"
        assert tree.find(".//kbd").text == "Ctrl"
