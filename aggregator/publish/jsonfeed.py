"""JSON Feed 1.1 output.

Spec: https://www.jsonfeed.org/version/1.1/. Fields we add go under `_aggregator`, as the spec's
"Extensions" section asks (a key starting with an underscore): `sources` lists every source that
carried the story, the one whose item is published first.
"""

from __future__ import annotations

import json
from typing import Any

from aggregator.publish.feed import JSON_FEED, PublishedEntry, PublishedFeed

VERSION = "https://jsonfeed.org/version/1.1"
INDENT = 2
# An item's place in the document: inside the top-level object's "items" list.
ITEM_INDENT = " " * (2 * INDENT)


def render(feed: PublishedFeed) -> bytes:
    """The topic as a JSON Feed 1.1 document (UTF-8, keys in a fixed order).

    The bytes are json.dumps(document, ensure_ascii=False, indent=2) of the whole document, in
    UTF-8; each item's part of them is made once (_item_bytes) and the parts are joined.
    """
    document: dict[str, Any] = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": feed.base_url,
        "feed_url": feed.url(JSON_FEED),
        "description": feed.description,
    }
    if feed.hub:  # WebSub: the hub that is told when the feed (its feed_url) changes
        document["hubs"] = [{"type": "WebSub", "url": feed.hub}]
    document["items"] = []  # last, so the items go where its "[]" ends the document
    text = json.dumps(document, ensure_ascii=False, indent=INDENT)
    if not feed.entries:
        return (text + "\n").encode("utf-8")
    items = b",\n".join(_item_bytes(entry) for entry in feed.entries)
    head = text.removesuffix("[]\n}") + "[\n"
    return head.encode("utf-8") + items + f"\n{' ' * INDENT}]\n}}\n".encode()


def _item_bytes(entry: PublishedEntry) -> bytes:
    """The item as it reads inside the document: dumped alone, every line indented to its depth.
    JSON escapes newlines inside strings, so every newline of the dump is one json.dumps wrote."""
    data = entry.rendered.get("json")
    if data is None:
        dumped = json.dumps(_item(entry), ensure_ascii=False, indent=INDENT)
        text = ITEM_INDENT + dumped.replace("\n", "\n" + ITEM_INDENT)
        data = entry.rendered["json"] = text.encode("utf-8")
    return data  # type: ignore[return-value]


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
