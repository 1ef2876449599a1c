"""RSS 2.0 output, written with feedgen.

Spec: https://www.rssboard.org/rss-specification, with Media RSS
(https://www.rssboard.org/media-rss) for the thumbnail and Dublin Core for authors: RSS's own
<author> must be an e-mail address, and items carry only a name. The self link and a WebSub hub
are <atom:link> elements in the channel (https://www.w3.org/TR/websub/#discovery); feedgen writes
only the self one, so the hub comes from a small feed extension.

feedgen builds each entry's <item> element once per publish, and its bytes (kept in
PublishedEntry.rendered) go into every feed listing the entry (rendered.Splice): the bytes
feedgen writes for it in any feed.
"""

from __future__ import annotations

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.ext.dc import DcEntryExtension
from feedgen.ext.media import MediaEntryExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from aggregator.publish.feed import RSS, PublishedEntry, PublishedFeed
from aggregator.publish.rendered import Splice

# feedgen extensions, in this order on the feed and its entries. Entries get the classes directly:
# FeedEntry.load_extension() first tries to import a module that does not exist, every time.
EXTENSIONS = {"media": MediaEntryExtension, "dc": DcEntryExtension}
ITEMS = Splice("channel", b"  </channel>\n</rss>\n")  # items are the channel's last elements


def render(feed: PublishedFeed) -> bytes:
    """The topic as an RSS 2.0 document (UTF-8)."""
    empty = channel(feed).rss_str(pretty=True)
    return ITEMS.document(empty, [_item(entry, empty) for entry in feed.entries])


def channel(feed: PublishedFeed) -> FeedGenerator:
    """A feedgen feed holding the topic's channel, without entries."""
    fg = FeedGenerator()
    for extension in EXTENSIONS:
        fg.load_extension(extension)
    if feed.hub:
        fg.register_extension("websub_hub", WebSubHubExtension, atom=False, rss=True)
        fg.websub_hub.hub = feed.hub
    fg.title(feed.title)
    fg.link(href=feed.url(RSS), rel="self", type=RSS.media_type)
    fg.link(href=feed.base_url, rel="alternate")  # feedgen's <link> is the last one given
    fg.description(feed.description)
    fg.updated(feed.updated)  # lastBuildDate; feedgen would say "now"
    return fg


def fill(item: FeedEntry, entry: PublishedEntry) -> None:
    """Give a feedgen entry (with EXTENSIONS loaded) what the entry says."""
    item.guid(entry.id, permalink=False)
    item.title(entry.title)
    if entry.link:
        item.link(href=entry.link)
    item.description(entry.content_html)  # full HTML; readers all read description
    item.published(entry.published)
    if entry.author:
        item.dc.dc_creator(entry.author)
    if entry.categories:
        item.category([{"term": category} for category in entry.categories])
    if entry.thumbnail:
        item.media.thumbnail(url=entry.thumbnail, group=None)
        item.media.content(url=entry.thumbnail, medium="image", type=entry.thumbnail_type, group=None)
        if entry.thumbnail_type:  # an enclosure must say its type; length 0 means unknown
            item.enclosure(entry.thumbnail, 0, entry.thumbnail_type)
    if entry.source.feed_url:
        item.source(url=entry.source.feed_url, title=entry.source.title)


def _item(entry: PublishedEntry, empty: bytes) -> bytes:
    """The entry's <item> in a feed (whose document without items is `empty`), built by feedgen
    the first time it is asked for."""
    text = entry.rendered.get("rss")
    if text is None:
        item = FeedEntry()
        for name, extension in EXTENSIONS.items():
            item.register_extension(name, extension)
        fill(item, entry)
        text = entry.rendered["rss"] = ITEMS.entry(item.rss_entry(), empty)
    return text  # type: ignore[return-value]


class WebSubHubExtension(BaseExtension):
    """Writes <atom:link rel="hub"> into the channel (feedgen runs it before adding the items)."""

    hub: str | None = None

    def extend_rss(self, rss_feed):  # feedgen's hook: the <rss> root, whose nsmap declares atom
        if self.hub:
            xml_elem("{http://www.w3.org/2005/Atom}link", rss_feed.find("channel"), rel="hub", href=self.hub)
        return rss_feed
