"""Publish: a topic's RSS, Atom and JSON feeds, index.html and topics.opml, parsed back."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html

from aggregator.errors import PublishError
from aggregator.models import Carrier, Item, Story, Topic
from aggregator.publish import (
    STALE_TEMPORARY,
    PublishSettings,
    publish_index,
    publish_topic,
    write_atomic,
    write_outputs,
)
from aggregator.publish.feed import EMPTY_FEED_UPDATED, STORY_NAMESPACE

BASE_URL = "http://127.0.0.1:8080/"
THUMB = "https://oscimg.oschina.net/oscnet/up-2e007b852c41ac7858c6b9f47d0179d3fd0.png"
MEDIA = "{http://search.yahoo.com/mrss/}"
ATOM = "{http://www.w3.org/2005/Atom}"

# From the OSChina seed article (tests don't read ../shared), as the sanitizer leaves it.
SEED_HTML = (
    "<p>2016年，百度PaddlePaddle作为国产深度学习框架开源的先行者，打造了我国首个自主研发的产业级深度学习平台。"
    "截至今年 5月，飞桨已凝聚 320 万开发者，相比 1 年前增长近 70%，飞桨服务的企事业单位也已经达到 12 万家。</p>\n"
    "<p>深度学习框架对人工智能的发展来说意义重大。</p>"
)
# The seed's own body shows its head image, so nothing may be inlined again.
SEED_HTML_WITH_IMAGE = (
    "<p>未来，飞桨会持续迭代，建设繁荣的开源生态。</p>\n"
    f'<p><img alt="" src="{THUMB}" referrerpolicy="no-referrer"></p>\n'
    "<p>演讲嘉宾：周倜 | 百度资深研发工程师，LF AI&amp;Data 基金会技术委员会成员</p>"
)

OSCHINA = Carrier(
    "oschina", "开源中国", "https://www.oschina.net/news/rss", "https://www.oschina.net/news/148410"
)
ITHOME = Carrier("ithome", "IT之家", "https://www.ithome.com/rss/", "https://www.ithome.com/0/560/123.htm")
TOPIC = Topic("ai", "AI 人工智能", "飞桨、大模型与 AI 开源")


def make_story(
    story_id: str,
    *,
    title: str,
    content_html: str,
    published: datetime,
    thumbnail: str | None = None,
    carriers: tuple[Carrier, ...] = (OSCHINA,),
    author: str | None = "开源中国",
    categories: tuple[str, ...] = (),
    updated: datetime | None = None,
) -> Story:
    item = Item(
        source_id=carriers[0].source_id,
        key=story_id,
        link=carriers[0].link,
        url_key=carriers[0].link,
        title=title,
        author=author,
        published=published,
        updated=updated,
        content_html=content_html,
        text="",
        categories=categories,
        thumbnail=thumbnail,
        content_hash=story_id,
    )
    return Story(id=story_id, item=item, carriers=list(carriers), first_seen=published)


def seed_stories() -> list[Story]:
    """Newest first: the seed with a thumbnail and two carriers; one bare; one already showing its image."""
    return [
        make_story(
            "oschina:148410",
            title="开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
            content_html=SEED_HTML,
            published=datetime(2021, 7, 5, 23, 58, tzinfo=UTC),
            updated=datetime(2021, 7, 6, 8, 0, tzinfo=UTC),
            thumbnail=THUMB,
            carriers=(OSCHINA, ITHOME),
            categories=("编程", "开源中国", "资讯"),
        ),
        make_story(
            "oschina:148409",
            title="GOTC 全球开源技术峰会 7 月举办",
            content_html="<p>GOTC 2021 将在深圳、上海两地分别举办。</p>",
            published=datetime(2021, 7, 5, 20, 0, tzinfo=UTC),
            carriers=(replace(OSCHINA, link="https://www.oschina.net/news/148409"),),
            author=None,
        ),
        make_story(
            "oschina:148408",
            title="飞桨领航团已建立 150 个社群",
            content_html=SEED_HTML_WITH_IMAGE,
            published=datetime(2021, 7, 4, 9, 30, tzinfo=UTC),
            thumbnail=THUMB,
            carriers=(replace(OSCHINA, link="https://www.oschina.net/news/148408"),),
            categories=("开源中国",),
        ),
    ]


@pytest.fixture
def settings(tmp_path: Path) -> PublishSettings:
    return PublishSettings(dir=tmp_path / "public", base_url=BASE_URL)


def publish(
    settings: PublishSettings, stories: list[Story] | None = None, topic: Topic = TOPIC
) -> list[Path]:
    return publish_topic(topic, seed_stories() if stories is None else stories, settings)


def read_json(settings: PublishSettings, name: str = "ai.json") -> dict:
    return json.loads((settings.dir / name).read_bytes())


def test_publish_writes_three_feeds(settings: PublishSettings) -> None:
    written = publish(settings)

    assert written == [settings.dir / "ai.xml", settings.dir / "ai.atom", settings.dir / "ai.json"]
    assert feedparser.parse((settings.dir / "ai.xml").read_bytes()).version == "rss20"
    assert feedparser.parse((settings.dir / "ai.atom").read_bytes()).version == "atom10"


@pytest.mark.parametrize("name", ["ai.xml", "ai.atom"])
def test_entries_capped_at_max_items_newest_first(settings: PublishSettings, name: str) -> None:
    publish(replace(settings, max_items=2))

    parsed = feedparser.parse((settings.dir / name).read_bytes())
    assert [e.title for e in parsed.entries] == [
        "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
        "GOTC 全球开源技术峰会 7 月举办",
    ]
    assert len(read_json(settings)["items"]) == 2


def test_a_story_given_twice_is_listed_once(settings: PublishSettings) -> None:
    stories = seed_stories()
    publish(settings, [stories[0], stories[0], stories[1]])

    assert [item["id"] for item in read_json(settings)["items"]] == ["oschina:148410", "oschina:148409"]


def test_rss_entry(settings: PublishSettings) -> None:
    publish(settings)
    data = (settings.dir / "ai.xml").read_bytes()
    entry = feedparser.parse(data).entries[0]
    item = etree.fromstring(data).find("channel/item")

    assert entry.link == "https://www.oschina.net/news/148410"
    assert item.find("guid").text == "oschina:148410"
    assert item.find("guid").get("isPermaLink") == "false"
    assert [t.term for t in entry.tags] == ["编程", "开源中国", "资讯"]
    assert entry.author == "开源中国"  # dc:creator: RSS <author> must be an e-mail address
    assert entry.published_parsed[:5] == (2021, 7, 5, 23, 58)
    assert item.find("enclosure").attrib == {"url": THUMB, "length": "0", "type": "image/png"}
    assert entry.media_thumbnail == [{"url": THUMB}]
    assert entry.media_content == [{"url": THUMB, "type": "image/png", "medium": "image"}]
    assert item.find("source").get("url") == "https://www.oschina.net/news/rss"
    assert item.find("source").text == "开源中国"


def test_atom_entry(settings: PublishSettings) -> None:
    publish(settings)
    data = (settings.dir / "ai.atom").read_bytes()
    entry = feedparser.parse(data).entries[0]
    element = etree.fromstring(data).find(f"{ATOM}entry")

    assert entry.id == f"urn:uuid:{uuid.uuid5(STORY_NAMESPACE, 'oschina:148410')}"
    assert entry.link == "https://www.oschina.net/news/148410"
    assert [t.term for t in entry.tags] == ["编程", "开源中国", "资讯"]
    assert entry.author == "开源中国"
    assert entry.published == "2021-07-05T23:58:00+00:00"
    assert entry.updated == "2021-07-06T08:00:00+00:00"
    links = {link.get("rel"): link.attrib for link in element.findall(f"{ATOM}link")}
    assert links["alternate"]["href"] == "https://www.oschina.net/news/148410"
    assert links["enclosure"] == {"rel": "enclosure", "type": "image/png", "href": THUMB}
    assert element.find(f"{MEDIA}thumbnail").get("url") == THUMB
    source = element.find(f"{ATOM}source")
    assert source.findtext(f"{ATOM}id") == "https://www.oschina.net/news/rss"
    assert source.findtext(f"{ATOM}title") == "开源中国"
    assert source.find(f"{ATOM}link").attrib == {"rel": "self", "href": "https://www.oschina.net/news/rss"}


def test_ids_are_stable_across_runs_and_sets(tmp_path: Path) -> None:
    first = PublishSettings(dir=tmp_path / "one", base_url=BASE_URL)
    second = PublishSettings(dir=tmp_path / "two", base_url="https://news.example.org/feeds/")
    publish(first)
    publish(second, seed_stories()[1:])

    def ids(settings: PublishSettings, name: str) -> list[str]:
        return [e.id for e in feedparser.parse((settings.dir / name).read_bytes()).entries]

    for name in ("ai.xml", "ai.atom"):
        assert ids(first, name)[1:] == ids(second, name)
    assert ids(first, "ai.xml") == ["oschina:148410", "oschina:148409", "oschina:148408"]


def test_entry_without_author_or_thumbnail(settings: PublishSettings) -> None:
    publish(settings)

    rss = etree.fromstring((settings.dir / "ai.xml").read_bytes()).findall("channel/item")[1]
    assert rss.find("{http://purl.org/dc/elements/1.1/}creator") is None
    assert rss.find("enclosure") is None and rss.find(f"{MEDIA}thumbnail") is None
    atom = etree.fromstring((settings.dir / "ai.atom").read_bytes())
    assert atom.findall(f"{ATOM}entry")[1].find(f"{ATOM}author") is None
    assert atom.findtext(f"{ATOM}author/{ATOM}name") == "Feed aggregator"  # RFC 4287 4.1.1
    item = read_json(settings)["items"][1]
    assert "authors" not in item and "image" not in item
    assert "<img" not in item["content_html"]


def test_thumbnail_is_inlined_once(settings: PublishSettings) -> None:
    publish(settings)
    inline = f'<p><img src="{THUMB}" alt="" referrerpolicy="no-referrer"></p>'

    items = read_json(settings)["items"]
    assert items[0]["content_html"].startswith(inline)
    assert items[0]["content_html"].count(THUMB) == 1
    assert items[2]["content_html"].count(THUMB) == 1  # the content already shows it
    assert items[2]["content_html"].startswith("<p>未来")
    for name in ("ai.xml", "ai.atom"):
        entries = feedparser.parse((settings.dir / name).read_bytes()).entries
        assert [e.summary.count(THUMB) for e in entries] == [1, 0, 1]


def test_thumbnail_with_query_is_recognised_escaped(settings: PublishSettings) -> None:
    thumb = "https://img.example.com/a.jpg?w=200&h=100"
    story = make_story(
        "s1",
        title="t",
        content_html='<p><img src="https://img.example.com/a.jpg?w=200&amp;h=100"></p>',
        published=datetime(2024, 1, 1, tzinfo=UTC),
        thumbnail=thumb,
    )
    publish(settings, [story])

    item = read_json(settings)["items"][0]
    assert item["content_html"].count("a.jpg") == 1
    assert item["image"] == thumb


def test_other_carriers_are_listed(settings: PublishSettings) -> None:
    publish(settings)

    items = read_json(settings)["items"]
    assert items[0]["content_html"].endswith(
        '<p>Also reported by: <a href="https://www.ithome.com/0/560/123.htm">IT之家</a></p>'
    )
    assert "Also reported by" not in items[1]["content_html"]
    assert items[0]["_aggregator"] == {
        "sources": [
            {"id": "oschina", "title": "开源中国", "url": OSCHINA.source_url, "link": OSCHINA.link},
            {"id": "ithome", "title": "IT之家", "url": ITHOME.source_url, "link": ITHOME.link},
        ]
    }
    for name in ("ai.xml", "ai.atom"):
        entry = feedparser.parse((settings.dir / name).read_bytes()).entries[0]
        assert "Also reported by" in entry.summary and ITHOME.link in entry.summary


def test_the_carrier_whose_item_is_published_is_the_source(settings: PublishSettings) -> None:
    story = seed_stories()[0]
    story.carriers = [ITHOME, OSCHINA]  # the item is OSChina's, whatever the carriers' order
    publish(settings, [story])

    rss = etree.fromstring((settings.dir / "ai.xml").read_bytes())
    assert rss.find("channel/item/source").text == "开源中国"
    assert ">IT之家</a>" in read_json(settings)["items"][0]["content_html"]


def test_base_url_gets_its_trailing_slash(tmp_path: Path) -> None:
    settings = PublishSettings(dir=str(tmp_path), base_url="https://news.example.org/feeds")  # type: ignore[arg-type]

    assert settings.base_url == "https://news.example.org/feeds/"
    assert settings.dir == tmp_path


def test_self_links_and_feed_metadata(settings: PublishSettings) -> None:
    publish(settings)

    rss = feedparser.parse((settings.dir / "ai.xml").read_bytes()).feed
    atom = feedparser.parse((settings.dir / "ai.atom").read_bytes()).feed
    document = read_json(settings)
    assert {"rel": "self", "href": BASE_URL + "ai.xml", "type": "application/rss+xml"} in rss.links
    assert rss.link == BASE_URL
    assert {"rel": "self", "href": BASE_URL + "ai.atom", "type": "application/atom+xml"} in atom.links
    assert atom.id == BASE_URL + "ai.atom"
    assert document["feed_url"] == BASE_URL + "ai.json"
    assert document["home_page_url"] == BASE_URL
    assert rss.title == atom.title == document["title"] == "AI 人工智能"
    assert rss.description == atom.subtitle == document["description"] == "飞桨、大模型与 AI 开源"


def test_feed_date_is_the_newest_entry_date(settings: PublishSettings) -> None:
    publish(settings)

    root = etree.fromstring((settings.dir / "ai.xml").read_bytes())
    assert root.findtext("channel/lastBuildDate") == "Tue, 06 Jul 2021 08:00:00 +0000"
    atom = etree.fromstring((settings.dir / "ai.atom").read_bytes())
    assert atom.findtext(f"{ATOM}updated") == "2021-07-06T08:00:00+00:00"


def test_empty_topic_has_a_fixed_date(settings: PublishSettings) -> None:
    publish(settings, [], Topic("empty", "空的"))

    rss = feedparser.parse((settings.dir / "empty.xml").read_bytes())
    atom = feedparser.parse((settings.dir / "empty.atom").read_bytes())
    assert rss.entries == [] and atom.entries == []
    assert rss.feed.updated_parsed[:3] == atom.feed.updated_parsed[:3] == EMPTY_FEED_UPDATED.timetuple()[:3]
    assert rss.feed.description  # a default, since RSS requires one
    assert read_json(settings, "empty.json")["items"] == []


def test_json_feed(settings: PublishSettings) -> None:
    publish(settings)

    document = read_json(settings)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    first = document["items"][0]
    assert first["id"] == "oschina:148410"
    assert first["url"] == "https://www.oschina.net/news/148410"
    assert first["title"] == "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？"
    assert SEED_HTML in first["content_html"]
    assert first["image"] == THUMB
    assert first["date_published"] == "2021-07-05T23:58:00+00:00"
    assert first["date_modified"] == "2021-07-06T08:00:00+00:00"
    assert first["tags"] == ["编程", "开源中国", "资讯"]
    assert first["authors"] == [{"name": "开源中国"}]
    assert "date_modified" not in document["items"][1]


def test_text_xml_cannot_hold_is_dropped(settings: PublishSettings) -> None:
    story = make_story(
        "s1",
        title="AI\x0b 芯片\x00",
        content_html="<p>a\x1fb</p>",
        published=datetime(2024, 1, 1, tzinfo=UTC),
    )
    publish(settings, [story])

    assert feedparser.parse((settings.dir / "ai.atom").read_bytes()).entries[0].title == "AI 芯片"


def test_republishing_identical_input_rewrites_nothing(settings: PublishSettings) -> None:
    publish(settings)
    for path in settings.dir.iterdir():
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # so any rewrite would show

    assert publish(settings) == []
    assert {path.stat().st_mtime_ns for path in settings.dir.iterdir()} == {1_000_000_000}


def test_changing_one_story_rewrites_the_topic(settings: PublishSettings) -> None:
    publish(settings)
    old = (settings.dir / "ai.json").read_bytes()
    stories = seed_stories()
    stories[1].item.title = "GOTC 全球开源技术峰会 7 月 9 日举办"

    assert publish(settings, stories) == [
        settings.dir / "ai.xml",
        settings.dir / "ai.atom",
        settings.dir / "ai.json",
    ]
    assert (settings.dir / "ai.json").read_bytes() != old


def test_write_atomic(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"

    assert write_atomic(path, b"one") is True
    assert write_atomic(path, b"one") is False
    assert write_atomic(path, b"two") is True
    assert path.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["feed.xml"]  # no temporary files left
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_publish_removes_the_stale_temporary_files_of_its_own_outputs(tmp_path: Path) -> None:
    """Only those of the files it writes, and only once no writer can be alive (STALE_TEMPORARY)."""
    stale = STALE_TEMPORARY + 60
    files = {
        ".ai.xml.k3j2ab_9.tmp": stale,  # a killed publisher's: removed
        ".ai.atom.x1y2z3w4.tmp": 1,  # another publisher's, being written now: kept
        ".other.xml.k3j2ab_9.tmp": stale,  # not one of the files written here: kept
        ".ai.xml.tmp": stale,  # not a name mkstemp gives: kept
        ".ai.xml.k3j2ab_9.bak": stale,
    }
    for name, age in files.items():
        (tmp_path / name).write_bytes(b"half a feed")
        os.utime(tmp_path / name, (time.time() - age, time.time() - age))
    write_outputs(tmp_path, {"ai.xml": b"<rss/>", "ai.atom": b"<feed/>"})
    kept = sorted(name for name in files if name != ".ai.xml.k3j2ab_9.tmp")
    assert sorted(os.listdir(tmp_path)) == sorted([*kept, "ai.atom", "ai.xml"])


def test_write_atomic_into_a_read_only_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PublishError, match=r"feed\.xml: Permission denied"):
            write_atomic(tmp_path / "feed.xml", b"data")
    finally:
        tmp_path.chmod(0o755)
    assert os.listdir(tmp_path) == []


def test_unwritable_output_directory_raises_publish_error(tmp_path: Path) -> None:
    """Runs as root too: a regular file where the folder should be cannot be written into."""
    blocker = tmp_path / "public"
    blocker.write_bytes(b"")

    with pytest.raises(PublishError) as raised:
        publish(PublishSettings(dir=blocker / "feeds", base_url=BASE_URL))
    assert str(blocker / "feeds") in str(raised.value)
    assert "Not a directory" in str(raised.value) or "File exists" in str(raised.value)
    with pytest.raises(PublishError, match=r"public/feed\.xml: Not a directory"):
        write_atomic(blocker / "feed.xml", b"data")


def test_topic_id_must_be_a_plain_file_name(settings: PublishSettings) -> None:
    with pytest.raises(PublishError, match="cannot be a file name"):
        publish(settings, [], Topic("../etc", "x"))


def index_topics() -> list[tuple[Topic, list[Story]]]:
    return [
        (Topic("ai", "AI <script>alert(1)</script> & 大模型", "AI news"), seed_stories()),
        (Topic("empty", "空的"), []),
    ]


def test_index_html(settings: PublishSettings) -> None:
    written = publish_index(index_topics(), settings)

    assert written == [settings.dir / "index.html", settings.dir / "topics.opml"]
    data = (settings.dir / "index.html").read_bytes()
    assert data.startswith(b"<!DOCTYPE html>")
    page = lxml_html.fromstring(data)
    alternates = [
        (link.get("type"), link.get("href")) for link in page.xpath("//head/link[@rel='alternate']")
    ]
    assert alternates == [
        ("application/rss+xml", BASE_URL + "ai.xml"),
        ("application/atom+xml", BASE_URL + "ai.atom"),
        ("application/feed+json", BASE_URL + "ai.json"),
        ("application/rss+xml", BASE_URL + "empty.xml"),
        ("application/atom+xml", BASE_URL + "empty.atom"),
        ("application/feed+json", BASE_URL + "empty.json"),
    ]
    assert (
        page.xpath("//head/link[@rel='alternate']/@title")[0] == "AI <script>alert(1)</script> & 大模型 (RSS)"
    )
    assert not page.xpath("//script")
    assert "AI &lt;script&gt;alert(1)&lt;/script&gt; &amp; 大模型".encode() in data
    assert page.xpath("//meta[@name='viewport']")
    section = page.get_element_by_id("topic-ai")
    assert "3 stories" in section.text_content()
    assert section.xpath(".//img/@src") == [THUMB, THUMB]  # two of the three have a thumbnail
    assert section.xpath(".//a[@type='application/atom+xml']/@href") == [BASE_URL + "ai.atom"]
    assert "No stories yet." in page.get_element_by_id("topic-empty").text_content()


def test_index_html_shows_only_the_latest_entries(settings: PublishSettings) -> None:
    stories = [
        make_story(
            f"s{n}",
            title=f"第 {n} 条",
            content_html="<p>x</p>",
            published=datetime(2024, 1, 30 - n, tzinfo=UTC),
        )
        for n in range(8)
    ]
    publish_index([(TOPIC, stories)], settings)

    page = lxml_html.fromstring((settings.dir / "index.html").read_bytes())
    assert [a.text for a in page.xpath("//section//li//a")] == [f"第 {n} 条" for n in range(5)]
    assert "8 stories" in page.text_content()


def test_topics_opml(settings: PublishSettings) -> None:
    publish_index(index_topics(), settings)

    opml = etree.fromstring((settings.dir / "topics.opml").read_bytes())
    assert opml.get("version") == "2.0"
    outlines = [outline.attrib for outline in opml.findall("body/outline")]
    assert [(o["type"], o["text"], o["xmlUrl"], o["htmlUrl"]) for o in outlines] == [
        ("rss", "AI <script>alert(1)</script> & 大模型", BASE_URL + "ai.xml", BASE_URL),
        ("rss", "空的", BASE_URL + "empty.xml", BASE_URL),
    ]


def test_republishing_the_index_rewrites_nothing(settings: PublishSettings) -> None:
    publish_index(index_topics(), settings)

    assert publish_index(index_topics(), settings) == []
