"""OPML 2.0 subscription lists: topics.opml (every topic feed) and `aggregator sources export`.

Spec: OPML 2.0 (http://opml.org/spec2.opml), "subscription lists": one <outline type="rss"> per
feed with text (required), title, xmlUrl and htmlUrl; an outline holding others is a folder, and
`category` is a comma-separated list of categories. The head carries the title and `docs`, and on
purpose neither dateCreated nor dateModified: a date would change the bytes on every publish (or
whenever any topic changed), and readers importing the list have no use for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from lxml import etree

from aggregator.models import Source
from aggregator.publish.feed import RSS, PublishedFeed

SPEC = "http://opml.org/spec2.opml"


def render(feeds: list[PublishedFeed], *, site_title: str, base_url: str) -> bytes:
    """The topics as an OPML 2.0 subscription list (UTF-8)."""
    opml, body = _document(site_title)
    for feed in feeds:
        etree.SubElement(
            body,
            "outline",
            type="rss",
            version="RSS2",
            text=feed.title,
            title=feed.title,
            description=feed.description,
            xmlUrl=feed.url(RSS),
            htmlUrl=base_url,
        )
    return _serialize(opml)


def render_sources(sources: Iterable[Source], *, title: str) -> bytes:
    """Configured sources as an OPML 2.0 subscription list (UTF-8), for importing into a reader.

    Only http(s) sources are listed: a local sample file means nothing to a reader. Each source
    sits in a folder named after its first category (readers show folders, most ignore the
    `category` attribute), and `category` lists all of them, so importing the file back with
    `aggregator sources import` gives each source the same categories.
    """
    opml, body = _document(title)
    folders: dict[str, etree._Element] = {}
    for source in sources:
        if urlsplit(source.url).scheme not in ("http", "https"):
            continue
        parent = body
        if source.categories:
            name = source.categories[0]
            if name not in folders:
                folders[name] = etree.SubElement(body, "outline", text=name, title=name)
            parent = folders[name]
        outline = etree.SubElement(
            parent, "outline", type="rss", text=source.title or source.id, title=source.title or source.id
        )
        outline.set("xmlUrl", source.url)
        if source.site:
            outline.set("htmlUrl", source.site)
        if source.categories:
            outline.set("category", ",".join(source.categories))
    return _serialize(opml)


def _document(title: str) -> tuple[etree._Element, etree._Element]:
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "docs").text = SPEC
    return opml, etree.SubElement(opml, "body")


def _serialize(opml: etree._Element) -> bytes:
    return etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True)
