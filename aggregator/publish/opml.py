"""topics.opml: every topic's RSS feed, for importing all topics into a reader at once.

Spec: OPML 2.0 (http://opml.org/spec2.opml), "subscription lists": one <outline type="rss"> per
feed with text, title, xmlUrl and htmlUrl.
"""

from __future__ import annotations

from lxml import etree

from aggregator.publish.feed import RSS, PublishedFeed


def render(feeds: list[PublishedFeed], *, site_title: str, base_url: str) -> bytes:
    """The topics as an OPML 2.0 subscription list (UTF-8)."""
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = site_title
    body = etree.SubElement(opml, "body")
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
    return etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True)
