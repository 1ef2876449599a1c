"""normalize: the RawItems of one parsed document become Items ready to dedup, store and match.

Pure functions, no I/O. For each item, in this order:

1. base: the first http(s) URL of the item's base (xml:base or the document URL), the feed's
   link and the source's URL; relative URLs resolve against it.
2. link: absolute, tracking parameters removed (urls.strip_tracking), never javascript: or data:;
   url_key = canonical_url(link), the identity across sources (None unless the link is http(s)).
3. content_html: the item's content, else its summary, its first MAX_CONTENT characters,
   sanitized once (html.sanitize_html) with URLs made absolute in the same pass; text = its plain
   text. The cap keeps one hostile item from costing megabytes in every topic file it reaches
   (a long article's HTML is some 100 KB; the cut falls in a tag at worst, which nh3 drops).
4. title: plain text (html.plain_text: tags stripped, whatever type the feed declared, since
   some readers render RSS titles as HTML; whitespace collapsed), at most MAX_TITLE characters;
   an untitled item takes the start of its text, else its link. Author and categories are plain
   text the same way.
5. dates in UTC: published falls back to updated, then to `now`; a date more than a day ahead
   becomes `now`. updated only when the feed gave one.
6. categories: the item's tags, then the source's configured categories, each once (compared
   after stripping and case-folding; the first spelling wins); at most MAX_CATEGORIES of the
   item's own, each at most MAX_TITLE characters.
7. thumbnail: see thumbnail.py for the order.
8. key (identity.py): guid, else link, else a hash of title and content. An item listed twice
   gets the same key twice, and only the first is kept.
   content_hash covers what readers see: title, link, author, content, categories, thumbnail and
   the date the feed gave (not `now`, which would change it on every poll).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from itertools import chain

from aggregator.models import Item, ParsedFeed, RawItem, Source
from aggregator.normalize.html import html_to_text, plain_text, safe_url, sanitize_html
from aggregator.normalize.identity import item_keys, short_hash
from aggregator.normalize.thumbnail import choose_thumbnail
from aggregator.normalize.urls import canonical_url, is_web_url, strip_tracking

__all__ = [
    "Entry",
    "canonical_url",
    "entries",
    "html_to_text",
    "merge_categories",
    "normalize",
    "normalize_entries",
    "sanitize_html",
    "source_context",
    "strip_tracking",
]

FUTURE_TOLERANCE = timedelta(days=1)
UNTITLED_LENGTH = 80
MAX_TITLE = 500  # characters of a title, author or category; more is no title but a hostile feed
MAX_CONTENT = 256 * 1024  # characters of an item's HTML
MAX_CATEGORIES = 64  # an item's own tags (WordPress posts carry 20 at most in practice)
# Part of every Entry.raw_hash: change it when a change here alters what an unchanged entry
# becomes, so the next poll normalizes every entry again.
NORMALIZE_VERSION = "1"
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Entry:
    """One RawItem of a document with what identifies it there, before the costly steps.

    `raw_hash` covers everything normalize reads (the raw item, its key, link and base, the
    source's id and categories, and NORMALIZE_VERSION): an entry whose hash the store already
    holds for this source and key would normalize to what is stored, so a poll skips it.
    """

    raw: RawItem
    key: str
    link: str | None
    base: str | None
    raw_hash: str


def normalize(feed: ParsedFeed, source: Source, *, now: datetime) -> list[Item]:
    """Normalize every item of `feed`, polled from `source` at `now` (see the module docstring)."""
    return normalize_entries(entries(feed, source), source, now=now)


def entries(feed: ParsedFeed, source: Source) -> list[Entry]:
    """The entries of `feed` with their keys (steps 1, 2 and 8 of the module docstring), in
    document order; a key listed twice is kept the first time only (see identity.py)."""
    bases = [_base(raw.base, feed.link, source.url) for raw in feed.items]
    links = [
        safe_url(raw.link, base) if raw.link else None for raw, base in zip(feed.items, bases, strict=True)
    ]
    keys = item_keys(feed.items, links)
    context = source_context(source)
    found: dict[str, Entry] = {}
    for raw, base, link, key in zip(feed.items, bases, links, keys, strict=True):
        if key not in found:
            raw_hash = short_hash(context, key, link or "", base or "", *_raw_fields(raw))
            found[key] = Entry(raw, key, link, base, raw_hash)
    return list(found.values())


def _raw_fields(raw: RawItem) -> Iterable[str]:
    """Every field of `raw` as text: strings as they are (repr of a dataclass escapes its content,
    ten times the cost), None as NUL (so it differs from "None"), the rest by repr."""
    for name in _RAW_FIELDS:
        value = getattr(raw, name)
        yield value if isinstance(value, str) else "\0" if value is None else repr(value)


_RAW_FIELDS = tuple(f.name for f in fields(RawItem))


def source_context(source: Source) -> str:
    """What of `source` and of this module, besides the entry itself, decides what an entry becomes."""
    return _SEPARATOR.join((NORMALIZE_VERSION, source.id, source.url, *source.categories))


def normalize_entries(entries: Iterable[Entry], source: Source, *, now: datetime) -> list[Item]:
    """The Items of these entries of one document of `source`, polled at `now`."""
    now = _as_utc(now)
    return [
        _item(e.raw, source, key=e.key, link=e.link, base=e.base, raw_hash=e.raw_hash, now=now)
        for e in entries
    ]


def _item(
    raw: RawItem,
    source: Source,
    *,
    key: str,
    link: str | None,
    base: str | None,
    raw_hash: str,
    now: datetime,
) -> Item:
    content_html = sanitize_html((raw.content or raw.summary or "")[:MAX_CONTENT], base)
    text = html_to_text(content_html)
    title = _title(raw, text, link)
    author = (_shorten(plain_text(raw.author[: MAX_TITLE * 4]), MAX_TITLE) if raw.author else "") or None
    given_date = raw.published or raw.updated
    published = _clamp(given_date, now) if given_date else now
    tags = (_shorten(plain_text(tag[: MAX_TITLE * 4]), MAX_TITLE) for tag in raw.tags[:MAX_CATEGORIES])
    categories = merge_categories(tags, source.categories)
    thumbnail = choose_thumbnail(raw, content_html, base)
    return Item(
        source_id=source.id,
        key=key,
        link=link,
        url_key=canonical_url(link) if is_web_url(link) else None,  # a relative link identifies nothing
        title=title,
        author=author,
        published=published,
        updated=_clamp(raw.updated, now) if raw.updated else None,
        content_html=content_html,
        text=text,
        categories=categories,
        thumbnail=thumbnail,
        content_hash=short_hash(
            title,
            link or "",
            author or "",
            content_html,
            "\x1e".join(categories),
            thumbnail or "",
            _as_utc(given_date).isoformat() if given_date else "",
        ),
        raw_hash=raw_hash,
    )


def merge_categories(*groups: Iterable[str]) -> tuple[str, ...]:
    """The names of `groups` in order, each once: compared stripped and case-folded, first spelling kept."""
    seen: set[str] = set()
    merged: list[str] = []
    for name in chain.from_iterable(groups):
        name = " ".join(name.split())
        folded = name.casefold()
        if name and folded not in seen:
            seen.add(folded)
            merged.append(name)
    return tuple(merged)


def _title(raw: RawItem, text: str, link: str | None) -> str:
    # Markup may make a title long before its text is: read a few times MAX_TITLE of it.
    title = plain_text(raw.title[: MAX_TITLE * 8], is_html=raw.title_is_html) if raw.title else ""
    if title:
        return _shorten(title, MAX_TITLE)
    # The start of the text, else the link: plain text too, since the content's text may spell a
    # tag ("&lt;script&gt;" in its HTML).
    untitled = plain_text(text[: UNTITLED_LENGTH * 4]) if text else ""
    if untitled:
        return _shorten(untitled, UNTITLED_LENGTH)
    return plain_text(link or "")


def _shorten(text: str, length: int) -> str:
    """`text` cut to about `length` characters, at a space when one is near the end, with an ellipsis."""
    if len(text) <= length:
        return text
    cut = text[:length]
    space = cut.rfind(" ")
    if space > length * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _base(*candidates: str | None) -> str | None:
    return next((url for url in candidates if url and is_web_url(url)), None)


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clamp(moment: datetime, now: datetime) -> datetime:
    """`moment` in UTC, or `now` when it lies more than FUTURE_TOLERANCE ahead of `now`."""
    moment = _as_utc(moment)
    return now if moment > now + FUTURE_TOLERANCE else moment
