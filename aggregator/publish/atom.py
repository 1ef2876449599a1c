"""Atom 1.0 output, written with feedgen.

Spec: RFC 4287 (https://www.rfc-editor.org/rfc/rfc4287), with Media RSS for the thumbnail.
Two things feedgen 1.0 gets wrong for entries are written by a small entry extension instead:
its entry <link> loses rel and type (`atom_entry` rebinds the loop variable), which would turn
the thumbnail enclosure into a second alternate link; and its <source> has only a title and an
untyped link, while RFC 4287 4.2.11 recommends keeping the source feed's id, title and updated.

As in rss.py, feedgen builds each entry's <entry> element once per publish, and its bytes
(PublishedEntry.rendered) go into every feed listing the entry.
"""

from __future__ import annotations

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.ext.media import MediaEntryExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from aggregator.publish.feed import ATOM, PublishedEntry, PublishedFeed
from aggregator.publish.rendered import Splice

ENTRIES = Splice(None, b"</feed>\n")  # entries are the root's last elements


def render(feed: PublishedFeed) -> bytes:
    """The topic as an Atom 1.0 document (UTF-8)."""
    empty = channel(feed).atom_str(pretty=True)
    return ENTRIES.document(empty, [_entry(entry, empty) for entry in feed.entries])


def channel(feed: PublishedFeed) -> FeedGenerator:
    """A feedgen feed holding the topic's feed-level elements, without entries."""
    fg = FeedGenerator()
    fg.load_extension("media")  # its namespace, declared on the root
    fg.id(feed.url(ATOM))
    fg.title(feed.title)
    fg.subtitle(feed.description)
    fg.link(href=feed.base_url, rel="alternate", type="text/html")
    fg.link(href=feed.url(ATOM), rel="self", type=ATOM.media_type)
    if feed.hub:  # WebSub discovery (https://www.w3.org/TR/websub/#discovery): the hub and self links
        fg.link(href=feed.hub, rel="hub")
    # RFC 4287 4.1.1: a feed needs an author unless every entry has one, and some items have none.
    fg.author(name=feed.site_title)
    fg.updated(feed.updated)  # feedgen would say "now"
    return fg


def fill(entry: FeedEntry, published: PublishedEntry) -> None:
    """Give a feedgen entry (with the media and LinksSourceExtension extensions loaded, in this
    order) what the published entry says."""
    entry.id(published.atom_id)
    entry.title(published.title)
    entry.content(published.content_html, type="html")
    entry.published(published.published)
    entry.updated(published.updated)  # feedgen would say "now"
    if published.author:
        entry.author(name=published.author)
    if published.categories:
        entry.category([{"term": category} for category in published.categories])
    if published.thumbnail:
        entry.media.thumbnail(url=published.thumbnail, group=None)
        entry.media.content(
            url=published.thumbnail, medium="image", type=published.thumbnail_type, group=None
        )
    entry.links_source.set(published)


def _entry(published: PublishedEntry, empty: bytes) -> bytes:
    """The entry's <entry> in a feed (whose document without entries is `empty`), built by
    feedgen the first time it is asked for."""
    text = published.rendered.get("atom")
    if text is None:
        entry = FeedEntry()
        entry.register_extension("media", MediaEntryExtension)  # as rss.py, without load_extension's import
        entry.register_extension("links_source", LinksSourceExtension, atom=True, rss=False)
        fill(entry, published)
        text = published.rendered["atom"] = ENTRIES.entry(entry.atom_entry(), empty)
    return text  # type: ignore[return-value]


class LinksSourceExtension(BaseEntryExtension):
    """Writes an entry's links (alternate, thumbnail enclosure) and its <source>.

    <source> names the source whose item is published: its feed URL as id and self link, its
    title, and as `updated` the entry's date, since the source feed's own is unknown here (a
    lower bound: that feed changed at least when it carried this entry).
    """

    def __init__(self) -> None:
        self._published: PublishedEntry | None = None

    def set(self, published: PublishedEntry) -> None:
        self._published = published

    def extend_atom(self, entry):  # feedgen's hook; plain names take the feed root's Atom namespace
        published = self._published
        if published is None:
            return entry
        if published.link:
            xml_elem("link", entry, rel="alternate", href=published.link)
        if published.thumbnail and published.thumbnail_type:
            xml_elem("link", entry, rel="enclosure", type=published.thumbnail_type, href=published.thumbnail)
        source = xml_elem("source", entry)
        xml_elem("id", source).text = published.source.atom_id
        xml_elem("title", source).text = published.source.title
        if published.source.feed_url:
            xml_elem("link", source, rel="self", href=published.source.feed_url)
        xml_elem("updated", source).text = published.updated.isoformat()
        return entry
