"""Each entry is rendered once per publish (PublishedEntry.rendered) and its bytes are put into
every feed that lists it: the documents must be exactly those of feedgen building every entry in
place, and of json.dumps over the whole JSON Feed document, whatever the entries hold, however
many feeds share them, with a WebSub hub or without."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from feedgen.ext.base import BaseExtension
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.models import Carrier, Item, Story, Topic
from aggregator.publish import atom, jsonfeed, rss
from aggregator.publish.feed import PublishedFeed, build_feed

BASE_URL = "http://127.0.0.1:8080/"
START = datetime(2024, 1, 1, tzinfo=UTC)

# Text that is hard to write: markup, entities, CDATA ends, quotes, newlines, CJK, emoji, controls.
texts = st.lists(
    st.sampled_from([*"ab <>&'\"\n\t]中文開源😀\x0b\u2028", "&amp;", "<p>x</p>", "]]>"]), max_size=12
).map("".join)
urls = st.sampled_from(
    [None, "https://a.example/1", "https://a.example/x?y=1&z=2", "https://a.example/img.png", "/relative"]
)
carriers = st.builds(
    Carrier,
    source_id=st.sampled_from(["a", "b", "c"]),
    source_title=texts,
    source_url=st.sampled_from(["https://a.example/rss", "file:///srv/sample.xml", ""]),
    link=urls,
)


@st.composite
def stories(draw: st.DrawFn, story_id: str) -> Story:
    carried = draw(st.lists(carriers, min_size=1, max_size=3))
    item = Item(
        source_id=draw(st.sampled_from(["a", "b", carried[0].source_id])),
        key=story_id,
        link=draw(urls),
        url_key=None,
        title=draw(texts),
        author=draw(st.none() | texts),
        published=START + timedelta(minutes=draw(st.integers(0, 10_000))),
        updated=draw(st.none() | st.just(START + timedelta(days=9))),
        content_html=draw(texts),
        text="",
        categories=tuple(draw(st.lists(texts, max_size=3))),
        thumbnail=draw(
            st.sampled_from([None, "https://a.example/img.png", "https://a.example/pic.jpg?w=1&h=2"])
        ),
        content_hash=story_id,
    )
    return Story(id=story_id, item=item, carriers=carried, first_seen=item.published)


@st.composite
def shared_feeds(draw: st.DrawFn) -> list[PublishedFeed]:
    """Two to four feeds of one publish over one set of stories, sharing built entries."""
    pool = [draw(stories(f"s{n}")) for n in range(draw(st.integers(0, 6)))]
    hub = draw(st.sampled_from([None, "https://hub.example/websub?a=1&b=2"]))  # the publish's, for all
    built: dict = {}
    feeds = []
    for n in range(draw(st.integers(2, 4))):
        listed = draw(st.lists(st.sampled_from(pool), max_size=len(pool))) if pool else []
        topic = Topic(f"t{n}", draw(texts), draw(texts))
        feeds.append(
            build_feed(
                topic, listed, base_url=BASE_URL, site_title=draw(texts), max_items=4, hub=hub, built=built
            )
        )
    return feeds


def feedgen_rss(feed: PublishedFeed) -> bytes:
    """RSS as feedgen writes it when it builds every entry in the document itself."""
    fg = rss.channel(feed)
    for entry in feed.entries:
        rss.fill(fg.add_entry(order="append"), entry)
    return fg.rss_str(pretty=True)


def feedgen_atom(feed: PublishedFeed) -> bytes:
    fg = atom.channel(feed)
    fg.register_extension("links_source", BaseExtension, atom.LinksSourceExtension, atom=True, rss=False)
    for entry in feed.entries:
        atom.fill(fg.add_entry(order="append"), entry)
    return fg.atom_str(pretty=True)


def whole_json(feed: PublishedFeed) -> bytes:
    """The JSON Feed dumped as one document."""
    document = {
        "version": jsonfeed.VERSION,
        "title": feed.title,
        "home_page_url": feed.base_url,
        "feed_url": feed.url(jsonfeed.JSON_FEED),
        "description": feed.description,
        **({"hubs": [{"type": "WebSub", "url": feed.hub}]} if feed.hub else {}),
        "items": [jsonfeed._item(entry) for entry in feed.entries],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@settings(max_examples=150, deadline=None)
@given(shared_feeds())
def test_rendered_once_writes_the_same_bytes(feeds: list[PublishedFeed]) -> None:
    for _ in range(2):  # the second round renders every entry from what the first left
        for feed in feeds:
            assert rss.render(feed) == feedgen_rss(feed)
            assert atom.render(feed) == feedgen_atom(feed)
            assert jsonfeed.render(feed) == whole_json(feed)


def test_an_entry_listed_by_many_feeds_is_built_once() -> None:
    story = Story(
        "s1",
        Item("a", "k", "https://a.example/1", None, "AI", None, START, None, "<p>x</p>", "x", (), None, "h"),
        [Carrier("a", "A", "https://a.example/rss", "https://a.example/1")],
        START,
    )
    built: dict = {}
    feeds = [
        build_feed(Topic(f"t{n}", "T"), [story], base_url=BASE_URL, site_title="S", max_items=5, built=built)
        for n in range(3)
    ]
    assert feeds[0].entries[0] is feeds[2].entries[0]
    rss.render(feeds[0])
    item = feeds[0].entries[0].rendered["rss"]
    rss.render(feeds[1])
    assert feeds[1].entries[0].rendered["rss"] is item
