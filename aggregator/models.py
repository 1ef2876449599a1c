"""Plain records passed between pipeline stages. No I/O here.

The nouns follow DESIGN.md: a *source* is a feed we poll, an *item* is one normalised entry, a
*story* is what published feeds list (the items of several sources that report one piece of news,
shown as its earliest item with every source that carried it), a
*topic* is a named rule over items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Source:
    """A feed we poll, as configured."""

    id: str
    url: str  # http(s) URL, or file:// URL / absolute path for bundled local feeds
    title: str = ""
    categories: tuple[str, ...] = ()
    interval: float = 1800.0  # seconds between polls
    site: str | None = None  # the source's web site (OPML htmlUrl), when known
    full_text: bool = False  # fetch each new item's article page for its content (aggregator/fulltext.py)


@dataclass
class SourceState:
    """What the store remembers about a source between polls (conditional GET and health)."""

    source_id: str
    url: str | None = None  # the URL to poll: the configured one, or where a 301/308 moved it
    moved_from: str | None = None  # the URL polled, when this poll's 301/308 set `url` (not stored)
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_streak: int = 0
    failing_since: datetime | None = None  # start of the current error streak
    gone: bool = False  # the server answered 410 Gone: not polled again until the config URL changes
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_full_at: datetime | None = None  # last 200 answer with a body (not a 304)
    ttl: float | None = None  # seconds the feed asks between polls (RSS <ttl>), from its last body
    body_hash: str | None = None  # of the last document parsed (refresh.document_hash)
    next_check_at: datetime | None = None
    # The fencing token of an `aggregator worker`'s claim on the source (store/leases.py): saved
    # only while that claim holds, and the save ends it. None: no claim (one daemon, a CLI poll).
    lease: int | None = None


@dataclass
class FetchResult:
    """The outcome of one successful HTTP exchange (errors raise FetchError instead)."""

    url: str  # the final URL, after redirects
    status: int  # 200 or 304 (file sources report 200)
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""  # decoded from gzip/deflate; empty on 304
    permanent_redirect: str | None = None  # set when every redirect on the way was 301/308
    holds_document: bool = False  # holds a slot of the fetch's `documents`: release it once the body is read

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class RawItem:
    """One entry as the parser found it, before normalising.

    Text fields are as the document gave them (titles unescaped but possibly HTML when
    `title_is_html`); link-type fields are absolute where the document's base allowed.
    """

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    title_is_html: bool = False
    content: str | None = None  # HTML; the richest body the entry has
    summary: str | None = None  # HTML
    base: str | None = None  # base URL for relative URLs inside content/summary
    author: str | None = None
    published: datetime | None = None  # timezone-aware UTC
    updated: datetime | None = None
    tags: list[str] = field(default_factory=list)
    # Thumbnail candidates, each an absolute-if-possible URL, in document order.
    media_thumbnails: list[str] = field(default_factory=list)
    media_images: list[str] = field(default_factory=list)  # media:content with image medium/type
    enclosures: list[tuple[str, str]] = field(default_factory=list)  # (url, mime type)
    itunes_image: str | None = None


@dataclass
class ParsedFeed:
    """One parsed document."""

    format: str  # "rss20", "atom10", "json11", ... as feedparser names versions
    title: str = ""
    link: str | None = None
    ttl_minutes: int | None = None  # RSS <ttl>
    items: list[RawItem] = field(default_factory=list)
    recovered_error: str | None = None  # set when the document was ill-formed but items were recovered
    items_dropped: int = 0  # older items left out to keep within the per-poll cap (parse max_items)
    # WebSub discovery (parse/links.py): the hubs the document (or its Link headers) names, and
    # its self URL, the topic to subscribe to.
    hubs: tuple[str, ...] = ()
    self_url: str | None = None


@dataclass
class Item:
    """One normalised item, ready to store and match."""

    source_id: str
    key: str  # stable identity within its source: guid, else link, else content hash
    link: str | None
    url_key: str | None  # canonical form of `link`, the identity across sources
    title: str
    author: str | None
    published: datetime  # UTC; the time first seen when the entry had no date
    updated: datetime | None
    content_html: str  # sanitized, absolute URLs
    text: str  # plain text of content_html, for matching and search
    categories: tuple[str, ...]
    thumbnail: str | None
    content_hash: str  # changes when what readers see changes (title, content, categories...)
    raw_hash: str = ""  # the entry it came from (normalize.Entry): the next poll skips it while unchanged


@dataclass
class FullText:
    """What fetching one entry's article page gave (aggregator/fulltext.py): its content, or why
    the feed's content stays and whether to try again."""

    key: str  # the entry key within its source
    link: str
    status: str  # ok, kept (the feed's content stays for good), retry (at next_try_at), failed (gave up)
    attempts: int
    tried_at: datetime
    content_html: str | None = None  # sanitized, when ok
    text: str | None = None  # its plain text, when ok
    error: str | None = None
    next_try_at: datetime | None = None


@dataclass(frozen=True)
class Carrier:
    """A source that carried a story, and the link it used."""

    source_id: str
    source_title: str
    source_url: str
    link: str | None


@dataclass
class Story:
    """What a published feed lists: the story's representative item (its earliest, then richest)
    and every source that carried one of its items, each with its own link."""

    id: str  # stable, opaque (the id of the story's first item); used as the published entry id
    item: Item
    carriers: list[Carrier]
    first_seen: datetime  # when the first of its items was stored


@dataclass(frozen=True)
class StoryRules:
    """When items of different sources are grouped into one story (see aggregator/dedup/near.py)."""

    window: float = 3 * 86400.0  # seconds; items published further apart are never one story
    threshold: float = 0.6  # near.similarity at or above which an item joins a story


@dataclass(frozen=True)
class StoryMember:
    """One item of a story as one source carried it: a line of `aggregator stories`."""

    story_id: str
    item_id: str
    source_id: str
    source_title: str
    title: str
    link: str | None
    published: datetime
    similarity: float | None  # to the item it joined through; None for the item that began the story


@dataclass(frozen=True)
class Webhook:
    """Where to POST the stories entering a topic, and the secret that signs them (webhooks.py)."""

    url: str
    secret: str = field(repr=False)  # never in logs or tracebacks


@dataclass(frozen=True)
class Topic:
    """A named rule over items; see aggregator/topics/ for the matching order."""

    id: str
    title: str
    description: str = ""
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    query: str = ""  # a boolean query (grammar in aggregator/query.py); "" sets no query rule
    fold_chinese: bool = True  # traditional and simplified Chinese match each other
    max_age: float | None = None  # seconds; stories published longer ago are left out of the feed
    max_items: int | None = None  # stories in the feed; None: output.max_items (never more)
    min_length: int = 0  # characters of the item's plain text; shorter items are left out
    webhook: Webhook | None = None  # told of each new story entering the topic


def regex_keyword(keyword: str) -> str | None:
    """Return the pattern of a `/.../` keyword, or None for a plain keyword."""
    if len(keyword) >= 2 and keyword.startswith("/") and keyword.endswith("/"):
        return keyword[1:-1]
    return None
