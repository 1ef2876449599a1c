"""parse: bytes and headers in, ParsedFeed out. One fixture per behaviour under fixtures/parse/."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.errors import ParseError
from aggregator.parse import parse
from aggregator.parse.charset import decode
from aggregator.parse.dates import parse_date

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
RSS = {"Content-Type": "application/rss+xml"}


def codecs_bom(encoding: str) -> bytes:
    return "\ufeff".encode(encoding)


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_fixture(name: str, content_type: str = "application/xml", url: str = "https://example.com/feed"):
    return parse(read(name), {"Content-Type": content_type}, url)


# -- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "content_type", "fmt", "title", "count"),
    [
        ("formats/rss20.xml", "application/rss+xml", "rss20", "开源中国-最新资讯", 2),
        ("formats/atom10.xml", "application/atom+xml", "atom10", "LWN.net headlines", 2),
        ("formats/atom03.xml", "application/atom+xml", "atom03", "diveintomark", 2),
        ("formats/rss10_rdf.xml", "application/rdf+xml", "rss10", "Slashdot", 1),
        ("formats/rss091_netscape.xml", "text/xml", "rss091n", "Le Monde informatique", 1),
        ("jsonfeed/jsonfeed10.json", "application/feed+json", "json10", "Daring Fireball", 1),
        ("jsonfeed/jsonfeed11.json", "application/json", "json11", "开源中国 JSON", 2),
    ],
)
def test_formats(fixture: str, content_type: str, fmt: str, title: str, count: int) -> None:
    feed = parse_fixture(fixture, content_type)
    assert (feed.format, feed.title, len(feed.items), feed.recovered_error) == (fmt, title, count, None)


def test_rss20_item_fields() -> None:
    feed = parse_fixture("formats/rss20.xml", "application/rss+xml", url="https://www.oschina.net/news/rss")
    assert feed.link == "https://www.oschina.net/news"
    assert feed.ttl_minutes == 30
    first, second = feed.items
    assert first.guid == "oschina-148720"
    assert (
        first.link == "https://www.oschina.net/news/148720?utm_source=rss&utm_medium=feed"
    )  # normalize strips
    assert first.title == "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？"
    assert not first.title_is_html
    assert first.content is not None and "截至今年 5月" in first.content  # content:encoded, the richer body
    assert first.summary is not None and first.summary.startswith("<p>2016年")  # description
    assert first.base == "https://www.oschina.net/news/rss"
    assert first.author == "开源中国"
    assert first.tags == ["编程", "开源中国"]
    assert first.published == datetime(2021, 7, 5, 23, 58, tzinfo=UTC)
    assert first.updated is None  # not copied from pubDate
    assert second.guid == second.link == "https://www.oschina.net/news/148721"
    assert second.published == datetime(2021, 7, 6, 0, 30, tzinfo=UTC)  # +0800 in UTC
    assert second.content == second.summary  # no content:encoded: the description is the body


def test_atom10_item_fields() -> None:
    feed = parse_fixture("formats/atom10.xml", "application/atom+xml")
    assert feed.link == "https://lwn.net/"
    first, second = feed.items
    assert first.guid == "tag:lwn.net,2024:963000"
    assert (
        first.link == "https://lwn.net/Articles/963000/"
    )  # the text/html alternate, not the PDF listed first
    assert first.title_is_html and first.title == "The <code>io_uring</code> security story"
    assert first.author == "LWN editors"  # the feed's author applies (RFC 4287 4.2.1)
    assert first.published is None
    assert first.updated == datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
    assert first.content is not None and "<code>io_uring</code>" in first.content  # xhtml content
    # A type="text" summary is escaped: its "<b>" is text, not markup.
    assert (
        first.summary
        == '<p>A look at io_uring &amp; why distributions disable it; "a &lt;b&gt; tag" stays text.</p>'
    )
    assert first.tags == ["kernel", "security"]
    assert second.author == "Jonathan Corbet"
    assert second.published == datetime(2024, 2, 28, 10, 0, tzinfo=UTC)
    assert second.updated == datetime(2024, 2, 29, 10, 0, tzinfo=UTC)


def test_atom03_dates_and_an_entry_without_link() -> None:
    first, second = parse_fixture("formats/atom03.xml").items
    assert first.link == "http://diveintomark.org/archives/2004/05/01/atom-03"
    assert first.published == datetime(2004, 5, 1, 12, 0, tzinfo=UTC)  # issued, -04:00
    assert first.updated == datetime(2004, 5, 1, 12, 0, tzinfo=UTC)  # modified
    assert first.content == "<p>The 0.3 snapshot is out.</p>"
    # feedparser offers the id as the link when there is none; a tag: URI is no link.
    assert (second.guid, second.link) == ("tag:diveintomark.org,2004:3.2", None)


def test_rss10_rdf() -> None:
    (item,) = parse_fixture("formats/rss10_rdf.xml").items
    assert item.guid == item.link == "https://linux.slashdot.org/story/24/03/01/1/"
    assert item.author == "msmash"
    assert item.tags == ["debian"]
    assert item.updated == datetime(2024, 3, 1, 14, 40, tzinfo=UTC)  # dc:date


def test_rss091_html_entities_survive_the_netscape_doctype() -> None:
    feed = parse_fixture("formats/rss091_netscape.xml", "text/xml")
    (item,) = feed.items
    assert item.title == "La sécurité du logiciel libre en débat"
    assert item.summary == "Les développeurs\xa0: «\xa0il faut financer les mainteneurs\xa0»."
    assert feed.recovered_error is None


def test_a_feed_inside_an_xhtml_page_is_read() -> None:
    feed = parse_fixture("formats/xhtml_wrapped_atom.xml", "text/html")
    assert feed.format == "atom10"
    assert [(i.title, i.link) for i in feed.items] == [("Inside the page", "https://wrapped.example/1")]


def test_nested_title_and_description_do_not_replace_the_items_own() -> None:
    first, second = parse_fixture("fields/nested_title_and_description.xml").items
    assert first.title == "Kubernetes security audit: what users need to know"
    assert first.content is not None and first.content.startswith("<p>The audit found <b>no critical")
    assert first.author == "Maya Chen"  # <author><name> and dc:creator name her once
    assert (second.title, second.content, second.author) == ("Second post", "Body two.", "Li Wei")


def test_empty_channel_is_a_feed_without_items() -> None:
    feed = parse(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>',
        RSS,
        "https://q/",
    )
    assert (feed.format, feed.title, feed.items, feed.recovered_error) == ("rss20", "Quiet", [], None)


# -- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "content_type", "title", "in_summary"),
    [
        (
            "encoding/gb2312.xml",
            "application/rss+xml",
            "朱镕基谈开源：国产深度学习框架的机遇",
            "吉野家的“𠮷”字",
        ),
        ("encoding/gb2312.xml", "text/xml; charset=gb2312", "朱镕基谈开源：国产深度学习框架的机遇", "𠮷"),
        # A wrong charset in the header: the body is not UTF-8, so the XML declaration decides.
        (
            "encoding/gb2312.xml",
            "application/rss+xml; charset=utf-8",
            "朱镕基谈开源：国产深度学习框架的机遇",
            "𠮷",
        ),
        (
            "encoding/gbk_header_only.xml",
            "text/xml; charset=GBK",
            "百度飞桨发布新版本，镕铸产业级深度学习平台",
            "分享的态度",
        ),
        (
            "encoding/big5.xml",
            "application/rss+xml",
            "開源中國：飛槳開源五年，匯聚三百二十萬開發者",
            "售價 €99",
        ),
        # text/xml without charset is US-ASCII to RFC 3023 (and to feedparser); the declaration is right.
        (
            "encoding/iso-8859-1.xml",
            "text/xml",
            "Élections : le délégué à l'économie numérique présente « son » projet",
            "Ça dépend",
        ),
        (
            "encoding/windows-1251.xml",
            "application/rss+xml; charset=windows-1251",
            "Яндекс открыл исходный код библиотеки для машинного обучения",
            "Выпуск № 42",
        ),
        (
            "encoding/utf8_bom.xml",
            "text/xml; charset=iso-8859-1",
            "开源中国：GOTC 2021 全球开源技术峰会",
            "顶级开源项目",
        ),
        # A server's default ISO-8859-1 label on a UTF-8 document: valid UTF-8 wins.
        (
            "formats/rss20.xml",
            "text/xml; charset=ISO-8859-1",
            "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
            "百度PaddlePaddle",
        ),
    ],
)
def test_encodings(fixture: str, content_type: str, title: str, in_summary: str) -> None:
    feed = parse_fixture(fixture, content_type)
    item = feed.items[0]
    assert item.title == title
    assert item.summary is not None and in_summary in item.summary
    assert feed.recovered_error is None


def test_a_corrupt_byte_in_a_gbk_feed_costs_one_character() -> None:
    body = read("encoding/gbk_header_only.xml").replace("开源".encode("gbk"), b"\xff\xff", 1)
    (item,) = parse(body, {"Content-Type": "text/xml; charset=GBK"}, "https://example.com/").items
    assert item.title == "百度飞桨发布新版本，镕铸产业级深度学习平台"
    assert item.summary is not None and "分享的态度" in item.summary


UTF8_DECLARED = b'<?xml version="1.0" encoding="utf-8"?>'


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        # One stray byte in a UTF-8 feed costs one character, not the whole document.
        (UTF8_DECLARED + "<t>开源中国".encode() + b"\xff</t>", "", "开源中国\ufffd</t>"),
        (b"<t>" + "开源中国飞桨".encode() + b"\xff</t>", "text/xml", "开源中国飞桨\ufffd</t>"),
        # Undeclared legacy text: GB18030, else Windows-1252.
        (b"<t>" + "开源中国飞桨，百度深度学习".encode("gbk") + b"</t>", "", "百度深度学习"),
        (b"<t>" + "Où en est la sécurité ? Ça dépend.".encode("latin-1") + b"</t>", "", "Ça dépend."),
        # Labels: GBK as GB18030, Big5 as CP950, ISO-8859-1 as Windows-1252 (curly quotes).
        (b"<t>" + "𠮷".encode("gb18030") + b"</t>", "text/xml; charset=GBK", "𠮷"),
        (b"<t>" + "€99".encode("cp950") + b"</t>", "text/xml; charset=big5", "€99"),
        (b"<t>\x93quoted\x94</t>", "text/xml; charset=iso-8859-1", "\u201cquoted\u201d"),
        (b"<t>\x81</t>", "text/xml; charset=iso-8859-1", "\x81"),  # undefined in Windows-1252: Latin-1
        (
            '<?xml version="1.0" encoding="utf-16"?><t>开源</t>'.encode("utf-16-le"),
            "",
            "<t>开源</t>",
        ),  # no BOM: sniffed
        (
            codecs_bom("utf-16-be") + "<t>开源</t>".encode("utf-16-be"),
            "text/xml; charset=utf-8",
            "<t>开源</t>",
        ),
        # No BOM and no declaration: UTF-16 and UTF-32 by where the NUL bytes are.
        ('<rss version="2.0">开源</rss>'.encode("utf-16-le"), "", '<rss version="2.0">开源</rss>'),
        ('<rss version="2.0">开源</rss>'.encode("utf-16-be"), "", '<rss version="2.0">开源</rss>'),
        ('<?xml version="1.0"?><t>开源</t>'.encode("utf-32-le"), "", "<t>开源</t>"),
        ('<?xml version="1.0"?><t>开源</t>'.encode("utf-32-be"), "", "<t>开源</t>"),
        # A GBK body labelled UTF-8 by a server default and by its declaration: GB18030.
        (
            UTF8_DECLARED + "<t>百度飞桨发布新版本，开源中国报道</t>".encode("gbk"),
            "text/xml; charset=utf-8",
            "百度飞桨发布新版本，开源中国报道",
        ),
        # ...but stray Windows-1252 quotes in a UTF-8 document stay one U+FFFD each.
        (
            UTF8_DECLARED + b"<t>it\x92s \x93quoted\x94 \xe2\x80\x94 ok</t>",
            "",
            "it\ufffds \ufffdquoted\ufffd \u2014 ok",
        ),
        # Big5 labels read Hong Kong (HKSCS) characters too.
        (b"<t>" + "香港嘅嘢㗎".encode("big5hkscs") + b"</t>", "text/xml; charset=big5", "香港嘅嘢㗎"),
    ],
)
def test_charset_decisions(body: bytes, content_type: str, text: str) -> None:
    assert text in decode(body, content_type)


# -- dates -------------------------------------------------------------------------------------


def test_dates_feedparser_misreads() -> None:
    items = parse_fixture("dates/odd_forms.xml").items
    assert {i.title: i.published or i.updated for i in items} == {
        "slashes": datetime(2021, 1, 10, 14, 33, tzinfo=UTC),  # feedparser: this month of 2021
        "chinese": datetime(2021, 7, 5, tzinfo=UTC),
        "chinese with time": datetime(2021, 7, 5, 23, 58, tzinfo=UTC),
        "chinese weekday": datetime(2021, 7, 5, 15, 58, tzinfo=UTC),
        "gmt plus": datetime(2021, 7, 5, 15, 58, tzinfo=UTC),
        "no zone": datetime(2021, 7, 5, 23, 58, tzinfo=UTC),
        "unix": datetime(2021, 7, 5, 15, 58, tzinfo=UTC),  # feedparser: a day in 2016
        "named zone": datetime(2021, 7, 6, 4, 58, tzinfo=UTC),  # EST: feedparser's reading
        "dc date": datetime(2021, 7, 5, 8, 0, tzinfo=UTC),  # dc:date is the updated date
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021/07/05 23:58:00 +0800", datetime(2021, 7, 5, 15, 58, tzinfo=UTC)),
        ("2021.7.5", datetime(2021, 7, 5, tzinfo=UTC)),
        ("2021年7月5日 8时5分", datetime(2021, 7, 5, 8, 5, tzinfo=UTC)),
        ("1625500680123", datetime(2021, 7, 5, 15, 58, tzinfo=UTC)),  # milliseconds
        ("周一, 5 July 2021 23:58 UTC+08:00", datetime(2021, 7, 5, 15, 58, tzinfo=UTC)),
        # Left to feedparser: forms it reads right, or cannot be told apart.
        ("2021-07-05 23:58:00", None),
        ("Mon, 05 Jul 2021 23:58:00 CST", None),
        # Not dates.
        ("2021/13/45", None),
        ("Mon, 05 Jul 2021 23:58:00 +9999", None),
        ("Mon, 05 Foo 2021 23:58:00", None),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_json_feed_dates_in_odd_forms() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"id": "1", "date_published": "2021年7月5日", "date_modified": "2021/07/06 08:00"}],
        }
    ).encode()
    (item,) = parse(body, {}, "https://j/").items
    assert (item.published, item.updated) == (
        datetime(2021, 7, 5, tzinfo=UTC),
        datetime(2021, 7, 6, 8, tzinfo=UTC),
    )


# -- identity ----------------------------------------------------------------------------------


def test_guids_stay_as_written() -> None:
    items = parse_fixture("identity/guids_stay_as_written.xml", url="https://news.example.cn/rss").items
    assert [(i.guid, i.link) for i in items] == [
        ("148720", "https://news.example.cn/a/1"),
        ("/news/148721", "https://news.example.cn/news/148721"),  # a permalink: its link resolves
        ("Item 3, final", "https://news.example.cn/a/3"),
    ]


# -- URLs --------------------------------------------------------------------------------------


def test_relative_urls_resolve_against_xml_base() -> None:
    feed = parse_fixture("urls/xml_base.xml", url="https://feeds.example.org/blog.xml")
    (item,) = feed.items
    assert feed.link == "https://blog.example.org/"
    assert item.link == "https://blog.example.org/2024/03/relative-everything.html"
    assert item.base == "https://blog.example.org/2024/03/"  # content URLs resolve in normalize
    assert item.enclosures == [("https://blog.example.org/2024/03/talk.mp3", "audio/mpeg")]


def test_relative_urls_resolve_against_the_document_url() -> None:
    feed = parse_fixture("urls/document_url.xml", url="https://news.example.com/feeds/all.xml")
    (item,) = feed.items
    assert feed.link == "https://news.example.com/"
    assert item.link == "https://news.example.com/articles/42"
    assert item.base == "https://news.example.com/feeds/all.xml"


def test_urls_urllib_cannot_read_are_dropped() -> None:
    feed = parse_fixture("urls/unreadable_urls.xml", url="https://broken.example.com/feed")
    first, second = feed.items
    assert feed.link is None
    assert (first.link, first.enclosures, first.media_thumbnails) == (None, [], [])
    assert (second.title, second.base) == ("Broken base", "https://broken.example.com/feed")
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "feed_url": 5,
            "home_page_url": "http://[oops/",
            "items": [{"id": "1", "url": "http://[oops/1", "image": "/img.png"}],
        }
    ).encode()
    (item,) = parse(body, {}, "https://j.example/feed.json").items
    assert (item.link, item.media_thumbnails) == (None, ["https://j.example/img.png"])


def test_thumbnail_candidates() -> None:
    (item,) = parse_fixture("thumbnail/media_thumbnail.xml", url="https://thumbs.example.com/feed.xml").items
    assert item.media_thumbnails == ["https://thumbs.example.com/thumbs/small.jpg"]
    assert item.media_images == ["https://img.example.com/media-content.jpg"]
    assert item.enclosures == [("https://img.example.com/enclosure.jpg", "image/jpeg")]
    assert item.itunes_image == "https://img.example.com/itunes.jpg"  # feedparser's entry.image.href


def test_media_content_that_is_not_an_image_is_no_image() -> None:
    (item,) = parse_fixture("thumbnail/media_content.xml").items
    assert item.media_images == ["https://img.example.com/media-content.jpg"]


# -- JSON Feed ---------------------------------------------------------------------------------


def test_json_feed_10() -> None:
    feed = parse_fixture(
        "jsonfeed/jsonfeed10.json", "application/feed+json", url="https://df.example.net/feeds/json"
    )
    assert feed.link == "https://daringfireball.example.net/"
    (item,) = feed.items
    assert item.guid == "20240301"  # a number in the document
    assert item.link == "https://daringfireball.example.net/2024/03/compact_text"  # against home_page_url
    assert (item.title, item.title_is_html) == ("Plain text <b>is</b> not HTML", False)
    assert item.content == (
        "<p>First paragraph with a &lt;script&gt; tag &amp; an ampersand.</p>"
        "<p>Second paragraph,<br>with a line break.</p>"
    )
    assert item.summary == "<p>Text with &lt;angle&gt; brackets.</p>"
    assert item.author == "John Gruber"  # the feed's author applies
    assert item.published == datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    assert item.updated is None
    assert item.tags == ["Apple", "apple", "Linking"]  # normalize merges repeats


def test_json_feed_11() -> None:
    feed = parse_fixture(
        "jsonfeed/jsonfeed11.json", "application/feed+json", url="https://cdn.example.com/f.json"
    )
    first, second = feed.items
    assert first.guid == first.link == "https://www.oschina.net/news/148720"
    assert first.content == '<p>飞桨已凝聚 320 万开发者。<img src="img/paddle.png"></p>'
    assert first.base == "https://www.oschina.net/news/feed.json"  # feed_url, resolved by normalize
    assert first.author == "局长, 小编"  # the item's own authors win
    assert first.published == datetime(2021, 7, 5, 23, 58, tzinfo=UTC)
    assert first.updated == datetime(2021, 7, 6, 0, 0, tzinfo=UTC)
    assert first.tags == ["飞桨", "AI"]
    assert first.media_thumbnails == ["https://www.oschina.net/news/images/cover.png"]
    assert first.media_images == ["https://oscimg.oschina.net/banner.png"]
    assert first.enclosures == [
        ("https://oscimg.oschina.net/poster.jpg", "image/jpeg"),
        ("https://www.oschina.net/podcast/148720.mp3", "audio/mpeg"),
    ]
    assert second.link == "https://gotc.oschina.net/"  # external_url when url is missing
    assert second.title is None
    assert second.author == "开源中国"
    assert second.content == "<p>GOTC 2021 将在深圳、上海两地分别举办。</p>"


@pytest.mark.parametrize(
    ("prefix", "content_type"),
    [(b"", "text/plain"), (b"\xef\xbb\xbf \n\t", "application/octet-stream"), (b"", "application/json")],
)
def test_json_feed_detected_by_its_first_character(prefix: bytes, content_type: str) -> None:
    body = (
        prefix
        + json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": []}).encode()
    )
    assert parse(body, {"content-type": content_type}, "https://j/").format == "json11"


# -- ill-formed and not feeds ------------------------------------------------------------------


def test_unescaped_ampersand_is_recovered() -> None:
    feed = parse_fixture("illformed/unescaped_ampersand.xml")
    assert feed.title == "Tools & Tips"
    assert [(i.title, i.link) for i in feed.items] == [
        ("Git & GitHub: ten habits", "https://tips.example.com/post?id=1&lang=en"),
        ("Rust vs Go", "https://tips.example.com/post?id=2"),
    ]
    assert feed.recovered_error is not None and "&" in feed.recovered_error


def test_ampersands_in_cdata_are_left_alone() -> None:
    body = b'<rss version="2.0"><channel><item><title><![CDATA[AT&T]]></title><link><![CDATA[https://x.example/?a=1&b=2]]></link></item></channel></rss>'
    feed = parse(body, RSS, "https://x.example/")
    assert [(i.title, i.link) for i in feed.items] == [("AT&T", "https://x.example/?a=1&b=2")]
    assert feed.recovered_error is None


def test_references_to_forbidden_characters_are_repaired() -> None:
    feed = parse_fixture("illformed/forbidden_characters.xml")
    assert [i.title for i in feed.items] == [
        "Surrogate \ufffd here",
        "Nul \ufffd and huge \ufffd and \ufffd",
        "Vertical tab and escape",
        "Fine 中文 😀",
    ]
    assert feed.recovered_error == (
        "ill-formed XML: control characters removed; references to characters XML forbids read as U+FFFD"
    )


def test_blank_lines_before_the_xml_declaration() -> None:
    feed = parse_fixture("illformed/blank_lines_before_declaration.xml")
    assert [(i.title, i.author) for i in feed.items] == [("After blank lines", "Ann")]
    assert feed.recovered_error is None


def test_entities_expanding_into_each_other_are_not_expanded() -> None:
    start = time.perf_counter()
    feed = parse_fixture("illformed/entity_expansion.xml")
    assert time.perf_counter() - start < 1
    assert [(i.title, i.link) for i in feed.items] == [("Laugh: &h;", "https://e.example/1")]


def test_plain_entity_declarations_expand() -> None:
    feed = parse_fixture("illformed/plain_entity_declaration.xml")
    assert (feed.title, feed.items[0].title, feed.recovered_error) == (
        "Example News",
        "© 2024 Example News",
        None,
    )


def test_truncated_document_is_recovered() -> None:
    feed = parse_fixture("illformed/truncated.xml")
    assert feed.format == "rss20"
    assert feed.items[0].title == "Complete item"
    assert feed.items[0].summary == "<p>All here.</p>"
    assert feed.recovered_error is not None and feed.recovered_error.startswith("ill-formed XML at line")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/rss+xml", "empty body"),
        (b" \r\n\t ", "application/rss+xml", "empty body"),
        (
            read("notafeed/html_page.html"),
            "text/html; charset=utf-8",
            "got an HTML page (it names a feed at https://www.oschina.net/news/rss)",
        ),
        (b"<html><body>Moved</body></html>", "text/html", "got an HTML page"),
        (b"Service Unavailable", "text/plain", "neither XML nor JSON (starts with 'Service Unavailable')"),
        (read("notafeed/not_jsonfeed.json"), "application/json", 'JSON without a JSON Feed "version"'),
        (b"[1, 2]", "application/json", "JSON list, where a JSON Feed is an object"),
        (b'{"version": "https://jsonfeed.org/version/1.1", ', "application/feed+json", "invalid JSON"),
        (
            b'<?xml version="1.0"?><sitemap><url/></sitemap>',
            "application/xml",
            "the root element <sitemap> is not RSS, Atom or RDF",
        ),
        (b'<?xml version="1.0"?><unclosed', "application/xml", "not well-formed XML"),
        # Valid JSON that Python will not build: nesting past the recursion limit, a huge number.
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", "unreadable JSON (RecursionError"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": 1' + b"0" * 5000 + b"}]}",
            "application/feed+json",
            "unreadable JSON (ValueError",
        ),
    ],
)
def test_not_a_feed(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body, {"Content-Type": content_type}, "https://www.oschina.net/")
    assert str(caught.value).startswith("parse: not a feed: ")
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<?a?>" * 50_000 + b"<",  # once took exponential time in a first-element regex
        b"<!--a-->" * 50_000,
        b'<rss version="2.0"><channel><item><title>x</title>' + b"<![CDATA[ & " * 30_000,
        b"<html><head>" + b"<link rel=alternate " * 20_000,
        # Python's SAX driver looks attributes up one by one: 20,000 on one element took seconds.
        b'<rss version="2.0"><channel><item><enclosure '
        + b" ".join(b'a%d="1"' % i for i in range(20_000))
        + b' url="https://e.example/a.jpg"/></item></channel></rss>',
        b'<rss version="2.0"><channel><item><title>' + b"<b>" * 20_000 + b"</title></item></channel></rss>",
        b'<rss version="2.0"><channel>' + b"<item><title>x &#xD800; &bogus;</title></item>" * 5_000,
    ],
    ids=[
        "declarations",
        "comments",
        "unclosed-cdata",
        "unclosed-links",
        "many-attributes",
        "unclosed-tags",
        "ill-formed-items",
    ],
)
def test_hostile_bodies_take_linear_time(body: bytes) -> None:
    start = time.perf_counter()
    with contextlib.suppress(ParseError):
        parse(body, {}, "https://example.com/")
    assert time.perf_counter() - start < 2
