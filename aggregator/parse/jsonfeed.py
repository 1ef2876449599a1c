"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) mapped onto RawItem.

Relative URLs are resolved against the feed's `feed_url`, else its `home_page_url`, else the URL
the document came from (the spec says nothing on relative URLs; this matches how the document
itself names where it lives). An item without authors takes the feed's, as the spec says.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from aggregator.errors import ParseError
from aggregator.models import ParsedFeed, RawItem
from aggregator.parse.dates import parse_date
from aggregator.parse.plaintext import text_to_html
from aggregator.parse.urls import resolve_url

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(\d+)(?:\.(\d+))?/?$", re.IGNORECASE)


def parse_json_feed(text: str, url: str, max_items: int | None = None) -> ParsedFeed:
    """Read a JSON Feed document; raise ParseError when the text is not one.

    Of more than `max_items` items only the newest are mapped (by date_published, else
    date_modified; undated last, in document order).
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (ValueError, RecursionError) as exc:
        # Valid JSON that Python will not build: a number past 4,300 digits (ValueError, CVE-2020-10735),
        # or nesting deeper than the interpreter's recursion limit.
        raise ParseError(f"not a feed: unreadable JSON ({type(exc).__name__}: {exc})") from exc
    if _SURROGATE_ESCAPE.search(text):
        _replace_lone_surrogates(doc)
    if not isinstance(doc, dict):
        raise ParseError(f"not a feed: JSON {type(doc).__name__}, where a JSON Feed is an object")
    version = doc.get("version")
    match = _VERSION.match(version.strip()) if isinstance(version, str) else None
    if match is None:
        raise ParseError('not a feed: JSON without a JSON Feed "version" (https://jsonfeed.org/version/1.1)')

    base = _url(doc.get("feed_url"), url) or _url(doc.get("home_page_url"), url) or url
    feed_author = _authors(doc)
    items = doc.get("items")
    objects = [obj for obj in items if isinstance(obj, dict)] if isinstance(items, list) else []
    kept = _newest(objects, max_items)
    return ParsedFeed(
        format=f"json{match.group(1)}{match.group(2) or '0'}",
        title=_text(doc.get("title")) or "",
        link=_url(doc.get("home_page_url"), url),
        items=[_item(obj, base, feed_author) for obj in kept],
        items_dropped=len(objects) - len(kept),
        hubs=_websub_hubs(doc.get("hubs"), url),
        self_url=_url(doc.get("feed_url"), url),
    )


def _websub_hubs(hubs: Any, url: str) -> tuple[str, ...]:
    """The URLs of the `hubs` whose type is WebSub (1.1 "Subscribing to Real-time Notifications":
    the topic is then the feed's `feed_url`); rssCloud and other protocols are left out."""
    if not isinstance(hubs, list):
        return ()
    found = (
        _url(hub.get("url"), url)
        for hub in hubs
        if isinstance(hub, dict) and isinstance(hub.get("type"), str) and hub["type"].lower() == "websub"
    )
    return tuple(dict.fromkeys(href for href in found if href))


def _newest(objects: list[dict[str, Any]], count: int | None) -> list[dict[str, Any]]:
    """The newest `count` item objects, in document order (all of them when `count` is None)."""
    if count is None or len(objects) <= count:
        return objects

    def age(index: int) -> tuple[bool, float, int]:
        obj = objects[index]
        moment = _date(obj.get("date_published")) or _date(obj.get("date_modified"))
        return (moment is None, -moment.timestamp() if moment else 0.0, index)

    return [objects[i] for i in sorted(sorted(range(len(objects)), key=age)[:count])]


def _item(obj: dict[str, Any], base: str, feed_author: str | None) -> RawItem:
    content_html = _text(obj.get("content_html"))
    content_text = _text(obj.get("content_text"))
    summary = _text(obj.get("summary"))
    tags = obj.get("tags")
    attachments = obj.get("attachments")
    return RawItem(
        guid=_text(obj.get("id")),
        link=_url(obj.get("url"), base) or _url(obj.get("external_url"), base),
        title=_text(obj.get("title")),
        content=content_html or (text_to_html(content_text) if content_text else None),
        summary=text_to_html(summary) if summary else None,
        base=base,
        author=_authors(obj) or feed_author,
        published=_date(obj.get("date_published")),
        updated=_date(obj.get("date_modified")),
        tags=[tag.strip() for tag in tags if isinstance(tag, str) and tag.strip()]
        if isinstance(tags, list)
        else [],
        media_thumbnails=[u for u in [_url(obj.get("image"), base)] if u],
        media_images=[u for u in [_url(obj.get("banner_image"), base)] if u],
        enclosures=[
            (u, _text(att.get("mime_type")) or "")
            for att in (attachments if isinstance(attachments, list) else [])
            if isinstance(att, dict) and (u := _url(att.get("url"), base))
        ],
    )


def _replace_lone_surrogates(doc: Any) -> None:
    """Replace, in place, the lone surrogates of every string in `doc` with U+FFFD.

    JSON may escape half a surrogate pair ("\\ud800"), and json.loads keeps it: such a string can
    be neither encoded as UTF-8 (for nh3, SQLite, the published files) nor shown. A loop, not a
    recursion: the document may nest as deep as json.loads allowed.
    """
    stack = [doc]
    while stack:
        node = stack.pop()
        members = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        for key, value in list(members):
            if isinstance(value, str):
                node[key] = _LONE_SURROGATE.sub("\ufffd", value)
            elif isinstance(value, dict | list):
                stack.append(value)


def _text(value: Any) -> str | None:
    """A string member, stripped; numbers are accepted (ids are often numbers in the wild)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _url(value: Any, base: str) -> str | None:
    return resolve_url(base, value) if isinstance(value, str) else None


def _authors(obj: dict[str, Any]) -> str | None:
    """Names of `authors` (1.1), else of `author` (1.0), joined with commas."""
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")]
    names = [name for a in authors if isinstance(a, dict) and (name := _text(a.get("name")))]
    return ", ".join(names) or None


def _date(value: Any) -> datetime | None:
    """An RFC 3339 date (the spec's format), or an RFC 822 or other form seen in the wild
    (dates.parse_date), in UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if found := parse_date(text):
        return found
    try:
        parsed = datetime.fromisoformat(text.upper())  # upper(): RFC 3339 allows "t" and "z"
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
