"""parse/fast.py: feedparser's reading of the common case, cheaper, with feedparser as the fallback.

Every document is parsed twice through parse(): as it runs (fast.py first) and with fast.py
switched off (feedparser for everything); the two ParsedFeeds, or the two ParseErrors, must be
equal. bench/parse_corpus.py does the same on corpora outside the repo.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from unittest import mock

import pytest
from test_hostile_documents import EXPANSIONS, NESTED, SECONDS, dtd_server, external_documents, leaked

from aggregator.errors import ParseError
from aggregator.parse import fast, parse

ROOT = Path(__file__).parent.parent
DOCUMENTS = sorted(
    [p for p in (ROOT / "tests" / "fixtures" / "parse").rglob("*") if p.is_file()]
    + [p for p in (ROOT / "config" / "samples").iterdir() if p.is_file()]
)
URL = "https://example.com/news/feed.xml"


def outcome(body: bytes, headers: dict[str, str] | None = None, max_items: int | None = None) -> object:
    try:
        return parse(body, headers or {}, URL, max_items=max_items)
    except ParseError as error:
        return f"ParseError: {error}"


def both(body: bytes, headers: dict[str, str] | None = None, max_items: int | None = None) -> tuple:
    """(fast path's outcome, feedparser's outcome, whether fast.py read it)"""
    taken = []
    real = fast.read

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        taken.append(result is not None)
        return result

    with mock.patch.object(fast, "read", spy):
        quick = outcome(body, headers, max_items)
    with mock.patch.object(fast, "read", return_value=None):
        slow = outcome(body, headers, max_items)
    return quick, slow, any(taken)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fixture_reads_the_same_either_way(path: Path) -> None:
    quick, slow, _ = both(path.read_bytes())
    assert quick == slow


def test_the_fast_path_reads_the_common_formats() -> None:
    """Not a tautology of the test above: the common documents must not all fall back."""
    for name in (
        "tests/fixtures/parse/formats/rss20.xml",
        "tests/fixtures/parse/formats/atom10.xml",
        "tests/fixtures/parse/formats/atom03.xml",
        "tests/fixtures/parse/formats/rss10_rdf.xml",
        "tests/fixtures/parse/formats/rss091_netscape.xml",
        "tests/fixtures/parse/thumbnail/media_content.xml",
        "tests/fixtures/parse/thumbnail/itunes_image.xml",
        "tests/fixtures/parse/urls/xml_base.xml",
        "config/samples/oschina.xml",
        "config/samples/infoq-en.atom",
        "config/samples/solidot-gbk.xml",
    ):
        quick, slow, taken = both((ROOT / name).read_bytes())
        assert taken and quick == slow and quick.items, name


def rss(items: str, head: str = "", namespaces: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0" {namespaces}><channel>'
        f"<title>t</title><link>https://example.com/</link><ttl>15</ttl>{items}</channel></rss>"
    ).encode()


def atom(entries: str, attributes: str = "") -> bytes:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom" {attributes}><title type="html">A &amp;lt;b&amp;gt;</title>'
        f"{entries}</feed>"
    ).encode()


MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
ITUNES = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'

# Each case is a construct whose reading depends on one of feedparser's rules.
CASES = {
    "title-looks-like-html": rss("<item><title>a &lt;b&gt;bold&lt;/b&gt;</title><guid>1</guid></item>"),
    "title-plain-text": rss("<item><title>a &lt; b</title><guid>1</guid></item>"),
    "guid-permalink": rss('<item><guid isPermaLink="true">https://e.example/1</guid></item>'),
    "guid-not-permalink": rss('<item><guid isPermaLink="false">https://e.example/1</guid></item>'),
    "link-and-guid": rss("<item><link>/a?x=1&amp;y=2</link><guid>g</guid></item>"),
    "description-then-content": rss(
        "<item><description>short</description><content:encoded><![CDATA[<p>long body</p>]]>"
        "</content:encoded></item>",
        namespaces='xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    ),
    "two-descriptions": rss(
        "<item><description>one</description><description>two, longer</description></item>"
    ),
    "dates": rss(
        "<item><pubDate>Mon, 05 Jul 2021 23:58:00 +0800</pubDate><dc:date>2021-07-05T23:58:00Z</dc:date>"
        "</item><item><pubDate>2021年7月5日</pubDate></item><item><pubDate>Tuesday 5 July</pubDate></item>",
        namespaces=MEDIA,
    ),
    "authors": rss(
        "<item><author>jo@e.example (Jo Doe)</author></item><item><dc:creator>张三</dc:creator>"
        "<dc:creator>李四</dc:creator></item>",
        namespaces=MEDIA,
    ),
    "categories": rss(
        '<item><category>a</category><category domain="x">b</category><category>a</category>'
        '<media:category scheme="s">c</media:category></item>',
        namespaces=MEDIA,
    ),
    "media": rss(
        '<item><media:group><media:content url="/i.jpg" medium="image"/><media:content url="v.mp4" '
        'type="video/mp4"/></media:group><media:thumbnail url="t.png"/><media:thumbnail>u.png'
        '</media:thumbnail><enclosure url="/a.mp3" type="audio/mpeg" length="1"/>'
        "<media:title>media title</media:title></item>",
        namespaces=MEDIA,
    ),
    "itunes": rss(
        '<item><title>ep</title><itunes:image href="cover.jpg"/><itunes:summary>s</itunes:summary>'
        "<itunes:author>host</itunes:author><itunes:keywords>a, b</itunes:keywords></item>",
        namespaces=ITUNES,
    ),
    "channel-image-and-source": rss(
        "<image><url>/logo.png</url><title>logo</title><link>https://example.com/</link></image>"
        '<item><title>x</title><source url="https://other.example/feed">Other</source></item>'
    ),
    "c1-and-mislabelled-utf8": rss(
        "<item><title>don\u0092t</title><description>caf\u00c3\u00a9</description></item>"
    ),
    "character-references": rss("<item><title>&#x92;&#233;&#8364;</title></item>"),
    "xml-base": atom(
        '<entry xml:base="https://b.example/dir/"><id>tag:x,1</id><link href="page.html"/>'
        '<content type="html" xml:base="sub/">&lt;img src="i.png"&gt;</content></entry>',
        'xml:base="https://a.example/"',
    ),
    "atom-xhtml": atom(
        '<entry><id>i</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">T <b>bold</b></div>'
        '</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b<br/></p>'
        "</div></content><summary>plain</summary></entry>"
    ),
    "atom-links": atom(
        '<entry><id>i</id><link rel="enclosure" href="/f.mp3" type="audio/mpeg"/><link rel="self" '
        'href="/self"/><link rel="alternate" type="application/pdf" href="/a.pdf"/><link href="/html"/>'
        '<author><name>A</name><email>a@e.example</email></author><category term="t" label="L"/>'
        "<published>2024-01-02T03:04:05+01:00</published><updated>2024-02-03</updated></entry>"
    ),
    "inline-html-in-description": rss("<item><description>a <b>b</b> <div>c</div></description></item>"),
    "netscape-doctype": (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>n</title><item><title>x</title></item></channel></rss>"
    ),
    "rdf": (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
        b'<channel rdf:about="https://e.example/"><title>r</title></channel>'
        b'<item rdf:about="https://e.example/1"><title>one</title><link>https://e.example/1</link></item>'
        b"</rdf:RDF>"
    ),
    # What the fast path leaves to feedparser: each must still read the same.
    "html-entity": rss("<item><title>caf&eacute;&nbsp;</title></item>"),
    "bare-ampersand": rss("<item><title>a & b</title></item>"),
    "ampersand-in-a-comment": rss("<!-- a & b --><item><title>x</title></item>"),
    "not-well-formed": rss("<item><title>x</item>"),
    "entity-declaration": rss("<item><title>&c;</title></item>", head='<!DOCTYPE rss [<!ENTITY c "(C)">]>'),
    "undeclared-prefix": rss("<item><media:thumbnail url='x.png'/></item>"),
    "opml": b'<opml version="2.0"><body><outline xmlUrl="https://e.example/feed"/></body></opml>',
    "svg": rss(
        '<item><description><svg xmlns="http://www.w3.org/2000/svg"><title>s</title></svg></description></item>'
    ),
}
FALLS_BACK = {"not-well-formed", "entity-declaration", "undeclared-prefix", "opml", "svg"}


@pytest.mark.parametrize("name", list(CASES))
def test_constructs_read_the_same_either_way(name: str) -> None:
    quick, slow, taken = both(CASES[name])
    assert quick == slow
    assert taken == (name not in FALLS_BACK), "fast path taken" if taken else "fell back"


def test_more_items_than_max_items_are_cut_as_before() -> None:
    items = "".join(
        f"<item><guid>g{i}</guid><pubDate>Mon, 0{1 + i % 9} Jan 2024 00:00:00 GMT</pubDate></item>"
        for i in range(30)
    )
    quick, slow, taken = both(rss(items), max_items=10)
    assert taken and quick == slow and len(quick.items) == 10 and quick.items_dropped == 20


def test_fast_read_declines_what_it_leaves_to_feedparser() -> None:
    assert fast.read(rss("<item><title>x</item>")) is None  # expat rejects it
    assert fast.read(b"\xef\xbb\xbf" + rss("")) is None  # feedparser strips the BOM its own way
    assert fast.read(rss("<item/>" * 3), max_items=2) is None  # limits.py chooses the items
    assert fast.read(rss("<!-- & -->")) is None and fast.read(rss("<!-- & -->"), mended=True) is not None


# -- hostile documents, through the fast path --------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPANSIONS))
def test_entity_declarations_never_reach_the_fast_path(name: str) -> None:
    started = time.process_time()
    assert fast.read(EXPANSIONS[name].encode()) is None
    assert time.process_time() - started < 0.1


@pytest.mark.parametrize("name", list(NESTED))
def test_deep_nesting_through_the_fast_path(name: str) -> None:
    started = time.process_time()
    result = fast.read(NESTED[name].encode())
    assert time.process_time() - started < SECONDS
    quick, slow, _ = both(NESTED[name].encode())
    assert quick == slow and (result is None or isinstance(result["entries"], list))


def test_the_fast_path_reads_no_local_file_and_fetches_nothing(tmp_path, dtd_server) -> None:
    canary = tmp_path / "secret.txt"
    canary.write_text("CANARY-7f3a9e-local-file-contents\n", encoding="utf-8")
    for name, document in external_documents(canary.as_uri(), dtd_server).items():
        result = fast.read(document.encode())
        # Every DOCTYPE is declined; XInclude is read as the plain element it is to a feed reader.
        assert (result is None) == (name != "xinclude"), name
        assert leaked(repr(result)) == [], name
        quick, slow, _ = both(document.encode())
        assert quick == slow, name
    assert [request.path for request in dtd_server.requests] == []


__all__ = ["dtd_server"]  # the fixture, imported for the test above


# -- the cost: what the fast path is for ---------------------------------------------------------


def bench_like(items: int = 50) -> bytes:
    """A document shaped like the benchmark's: 50 items of 4 KB of article HTML in CDATA."""
    body = "<p>" + "开源中国 OSChina 发布了新的版本，带来了更快的编译速度。" * 40 + "</p>"
    entries = "".join(
        f"<item><title>标题 {i}</title><link>https://e.example/news/{i}.html</link>"
        f'<guid isPermaLink="false">e-{i}</guid><pubDate>Mon, 01 Jan 2024 00:{i:02d}:00 GMT</pubDate>'
        f"<dc:creator>作者</dc:creator><category>开源</category>"
        f'<media:thumbnail url="https://e.example/{i}.png"/><description><![CDATA[{body}]]></description></item>'
        for i in range(items)
    )
    return rss(entries, namespaces=MEDIA)


def test_the_fast_path_costs_a_fraction_of_feedparser() -> None:
    body = bench_like()
    quick, slow, taken = both(body)
    assert taken and quick == slow

    def cost(path_off: bool) -> float:
        with mock.patch.object(fast, "read", return_value=None) if path_off else contextlib.nullcontext():
            started = time.process_time()
            parse(body, {}, URL)
            return time.process_time() - started

    # Interleaved, the least of five each: a busy machine slows both alike. Measured: a quarter;
    # a third leaves room.
    fast_costs, feedparser_costs = zip(*((cost(False), cost(True)) for _ in range(5)), strict=True)
    assert min(fast_costs) < min(feedparser_costs) / 3
