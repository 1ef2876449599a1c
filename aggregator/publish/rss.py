"""RSS 2.0 output, written with feedgen.

Spec: https://www.rssboard.org/rss-specification, with Media RSS
(https://www.rssboard.org/media-rss) for the thumbnail and Dublin Core for authors: RSS's own
<author> must be an e-mail address, and items carry only a name. The self link and a WebSub hub
are <atom:link> elements in the channel (https://www.w3.org/TR/websub/#discovery); feedgen writes
only the self one, so the hub comes from a small feed extension.
"""

from __future__ import annotations

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from aggregator.publish.feed import RSS, PublishedFeed


def render(feed: PublishedFeed) -> bytes:
    """The topic as an RSS 2.0 document (UTF-8)."""
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.load_extension("dc")
    if feed.hub:
        fg.register_extension("websub_hub", WebSubHubExtension, atom=False, rss=True)
        fg.websub_hub.hub = feed.hub
    fg.title(feed.title)
    fg.link(href=feed.url(RSS), rel="self", type=RSS.media_type)
    fg.link(href=feed.base_url, rel="alternate")  # feedgen's <link> is the last one given
    fg.description(feed.description)
    fg.updated(feed.updated)  # lastBuildDate; feedgen would say "now"
    for entry in feed.entries:
        item = fg.add_entry(order="append")
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
    return fg.rss_str(pretty=True)


class WebSubHubExtension(BaseExtension):
    """Writes <atom:link rel="hub"> into the channel (feedgen runs it before adding the items)."""

    hub: str | None = None

    def extend_rss(self, rss_feed):  # feedgen's hook: the <rss> root, whose nsmap declares atom
        if self.hub:
            xml_elem("{http://www.w3.org/2005/Atom}link", rss_feed.find("channel"), rel="hub", href=self.hub)
        return rss_feed
