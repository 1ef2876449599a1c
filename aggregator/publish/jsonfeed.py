"""JSON Feed 1.1 output.

Spec: https://www.jsonfeed.org/version/1.1/. Fields we add go under `_aggregator`, as the spec's
"Extensions" section asks (a key starting with an underscore): `sources` lists every source that
carried the story, the one whose item is published first. A WebSub hub is listed in `hubs`
("Subscribing to Real-time Notifications": its topic is the `feed_url`).
"""

from __future__ import annotations

import json
from typing import Any

from aggregator.publish.feed import JSON_FEED, PublishedEntry, PublishedFeed

VERSION = "https://jsonfeed.org/version/1.1"


def render(feed: PublishedFeed) -> bytes:
    """The topic as a JSON Feed 1.1 document (UTF-8, keys in a fixed order)."""
    document = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": feed.base_url,
        "feed_url": feed.url(JSON_FEED),
        "description": feed.description,
    }
    if feed.hub:
        document["hubs"] = [{"type": "WebSub", "url": feed.hub}]
    document["items"] = [_item(entry) for entry in feed.entries]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _item(entry: PublishedEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    if entry.link:
        item["url"] = entry.link
    item["title"] = entry.title
    item["content_html"] = entry.content_html
    if entry.thumbnail:
        item["image"] = entry.thumbnail
    item["date_published"] = entry.published.isoformat()
    if entry.modified:
        item["date_modified"] = entry.modified.isoformat()
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.categories:
        item["tags"] = list(entry.categories)
    item["_aggregator"] = {
        "sources": [
            {"id": ref.id, "title": ref.title, "url": ref.feed_url, "link": ref.link} for ref in entry.sources
        ]
    }
    return item
