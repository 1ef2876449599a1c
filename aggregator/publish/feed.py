"""What a published topic feed says, decided once for every output format.

`build_feed` turns a topic's stories into a `PublishedFeed`: entries with their final content
(thumbnail inlined, other carriers listed), ids, dates and provenance. The format modules
(rss, atom, jsonfeed, html, opml) only render a PublishedFeed and never look at Story or Item,
so the five outputs cannot disagree with each other.

Nothing here may depend on the clock: the same stories must give byte-identical files, so
unchanged topics are not rewritten and their ETags stay stable.

Speed: one story is often listed by many topics (every broad topic, and the catch-all). A
publish builds its PublishedEntry once (build_feed's `built`), and each format module renders it
once into `PublishedEntry.rendered`, whatever number of feeds list it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

import feedgen.version
from lxml import etree

from aggregator.models import Carrier, Story, Topic

# RSS and Atom both require a feed date. A topic with no stories has no date of its own, and "now"
# would change the bytes on every run (rewriting files and ETags for nothing), so an empty topic
# says this fixed instant instead. It is after 1990 because feed validators flag older dates as
# implausible.
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)

# Atom ids are `urn:uuid:` URIs derived from Story.id (RFC 4287 4.2.6 wants an IRI; Story.id is
# opaque and may hold any character). UUIDv5 makes them stable and always valid, whatever
# base_url is configured: a tag: URI would need a domain we own, and a host:port is not one.
STORY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/feed-aggregator/feed-aggregator#story")
SOURCE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/feed-aggregator/feed-aggregator#source")


@dataclass(frozen=True)
class Format:
    """One per-topic output file."""

    name: str  # shown to people: "RSS"
    suffix: str  # file name is topic id + suffix
    media_type: str


RSS = Format("RSS", ".xml", "application/rss+xml")
ATOM = Format("Atom", ".atom", "application/atom+xml")
JSON_FEED = Format("JSON Feed", ".json", "application/feed+json")
FORMATS = (RSS, ATOM, JSON_FEED)


@dataclass(frozen=True)
class SourceRef:
    """A source that carried an entry."""

    id: str
    title: str
    feed_url: str | None  # absolute URL of the source's feed; None when it has no usable one
    link: str | None  # the article, as this source linked it
    atom_id: str  # feed_url, or a urn:uuid when there is no URL


@dataclass(frozen=True)
class PublishedEntry:
    id: str  # Story.id: RSS guid and JSON Feed id
    atom_id: str  # urn:uuid derived from id
    title: str
    link: str | None
    published: datetime  # UTC, whole seconds
    updated: datetime  # item.updated, else published
    modified: datetime | None  # item.updated only
    author: str | None
    categories: tuple[str, ...]
    content_html: str  # ready to publish: inline thumbnail + item HTML + other carriers
    thumbnail: str | None
    thumbnail_type: str | None  # image/png ... when the URL's extension says so
    source: SourceRef  # the source whose item this is
    sources: tuple[SourceRef, ...]  # every carrier, `source` first
    # Each format's rendering of this entry, by format name, filled by the format modules: made
    # once however many feeds list the entry. Not part of what the entry says (no compare/hash).
    rendered: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PublishedFeed:
    topic_id: str
    title: str
    description: str
    base_url: str  # where the output folder is served; index.html is its home page
    site_title: str
    updated: datetime  # newest entry date, or EMPTY_FEED_UPDATED
    entries: tuple[PublishedEntry, ...]
    hub: str | None = None  # the WebSub hub readers may subscribe at (https://www.w3.org/TR/websub/)

    def url(self, fmt: Format) -> str:
        """The public URL of this topic's file in `fmt` (its self link)."""
        return self.base_url + quote(self.topic_id + fmt.suffix)


def build_feed(
    topic: Topic,
    stories: list[Story],
    *,
    base_url: str,
    site_title: str,
    max_items: int,
    hub: str | None = None,
    built: dict[str, PublishedEntry] | None = None,
) -> PublishedFeed:
    """Prepare a topic for publishing.

    `stories` arrive newest first; the first `max_items` distinct stories are kept in that order.
    `hub` is the WebSub hub the feed advertises, beside its self URL.
    `built` (story id -> entry) shares entries between the feeds of one publish, which must pass
    one version of each story: an entry is built once, the first time a feed lists its story.
    """
    built = {} if built is None else built
    entries: list[PublishedEntry] = []
    seen: set[str] = set()
    for story in stories:
        if len(entries) >= max_items:
            break
        if story.id in seen:
            continue
        seen.add(story.id)
        entry = built.get(story.id)
        if entry is None:
            entry = built[story.id] = _entry(story)
        entries.append(entry)
    updated = max((entry.updated for entry in entries), default=EMPTY_FEED_UPDATED)
    title = _xml_text(topic.title) or topic.id
    site_title = _xml_text(site_title)
    description = (
        _xml_text(topic.description) or f"{title}: stories collected from several sources by {site_title}"
    )
    return PublishedFeed(
        topic_id=topic.id,
        title=title,
        description=description,
        base_url=base_url,
        site_title=site_title,
        updated=updated,
        entries=tuple(entries),
        hub=hub,
    )


def fingerprint(feed: PublishedFeed) -> str:
    """A digest of everything `feed` says and of the code that writes it (renderer()): equal
    fingerprints, equal files. Each entry's part is hashed once per publish."""
    digest = hashlib.sha256(f"{renderer()}\n{dataclasses.replace(feed, entries=())!r}".encode())
    for entry in feed.entries:
        part = entry.rendered.get("fingerprint")
        if part is None:
            part = entry.rendered["fingerprint"] = hashlib.sha256(repr(entry).encode()).digest()
        digest.update(part)  # type: ignore[arg-type]
    return digest.hexdigest()


@functools.cache
def renderer() -> str:
    """A version of the code that writes the files: the source of this package and the versions
    of the libraries it calls, so that after an upgrade every topic is rendered again."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    # The libraries' own version attributes: importlib.metadata would cost a publish 20 ms to load.
    for version in (feedgen.version.version_str, etree.__version__):
        digest.update(version.encode())
    return digest.hexdigest()


def _entry(story: Story) -> PublishedEntry:
    item = story.item
    sources = _sources(story)
    published = _utc(item.published)
    modified = _utc(item.updated) if item.updated else None
    thumbnail = _xml_text(item.thumbnail or "") or None
    return PublishedEntry(
        id=story.id,
        atom_id=f"urn:uuid:{uuid.uuid5(STORY_NAMESPACE, story.id)}",
        title=_xml_text(item.title) or "(untitled)",
        link=_xml_text(item.link or "") or sources[0].link,
        published=published,
        updated=max(published, modified) if modified else published,
        modified=modified,
        author=_xml_text(item.author or "") or None,
        categories=tuple(dict.fromkeys(c for c in map(_xml_text, item.categories) if c)),
        content_html=_content_html(_xml_text(item.content_html), thumbnail, sources[1:]),
        thumbnail=thumbnail,
        thumbnail_type=_image_type(thumbnail) if thumbnail else None,
        source=sources[0],
        sources=sources,
    )


def _sources(story: Story) -> tuple[SourceRef, ...]:
    """Every carrier once, the one whose item is published first."""
    carriers = sorted(story.carriers, key=lambda c: c.source_id != story.item.source_id)  # stable
    refs: dict[str, SourceRef] = {}
    for carrier in carriers:
        refs.setdefault(carrier.source_id, _source_ref(carrier))
    if story.item.source_id not in refs:
        own = Carrier(story.item.source_id, story.item.source_id, "", story.item.link)
        refs = {own.source_id: _source_ref(own), **refs}
    return tuple(refs.values())


def _source_ref(carrier: Carrier) -> SourceRef:
    feed_url = _public_url(_xml_text(carrier.source_url))
    return SourceRef(
        id=carrier.source_id,
        title=_xml_text(carrier.source_title) or carrier.source_id,
        feed_url=feed_url,
        link=_xml_text(carrier.link or "") or None,
        atom_id=feed_url or f"urn:uuid:{uuid.uuid5(SOURCE_NAMESPACE, carrier.source_id)}",
    )


def _content_html(content: str, thumbnail: str | None, others: tuple[SourceRef, ...]) -> str:
    """The item's (already sanitized) HTML with the thumbnail on top and the other carriers below.

    Several readers ignore media:thumbnail and enclosures, so the thumbnail is also inlined, unless
    the content already shows that image (as an attribute it may appear with & escaped).
    """
    parts = []
    if thumbnail and thumbnail not in content and html.escape(thumbnail) not in content:
        parts.append(f'<p><img src="{html.escape(thumbnail)}" alt="" referrerpolicy="no-referrer"></p>')
    if content:
        parts.append(content)
    if others:
        links = ", ".join(
            f'<a href="{html.escape(ref.link)}">{html.escape(ref.title)}</a>'
            if ref.link
            else html.escape(ref.title)
            for ref in others
        )
        parts.append(f"<p>Also reported by: {links}</p>")
    return "\n".join(parts)


# A fixed table rather than `mimetypes`, whose answers depend on the machine's mime.types files:
# the same input must give the same bytes everywhere.
_IMAGE_TYPES = {
    ".avif": "image/avif",
    ".gif": "image/gif",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}


def _image_type(url: str) -> str | None:
    return _IMAGE_TYPES.get(PurePosixPath(urlsplit(url).path).suffix.lower())


def _public_url(url: str) -> str | None:
    """A source URL fit to publish: http(s) only. A local sample file's path means nothing to a
    reader and would reveal the machine's folders, so such sources are named without a URL."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # models promise UTC; never let a naive date shift by the local zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


# Characters XML 1.0 forbids (lxml refuses them): C0 controls but tab/newline/CR, surrogates, U+FFFE/F.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text).strip() if text else ""
