"""Subscription lists: the feeds of an OPML file, ready to add as sources (`aggregator sources import`).

Spec: OPML 1.0 and 2.0 (http://opml.org/spec2.opml, "subscription lists"). What feed readers
export (Feedly, Inoreader, NetNewsWire, Miniflux, FreshRSS, ...) is <body> holding <outline>
elements: one with an xmlUrl attribute is a feed (type "rss", sometimes "atom" or none at all),
one without is a folder of further outlines.

Reading, in this order:

1. Safely. The file comes from elsewhere: no DTD is loaded, no entity expanded, nothing fetched,
   and a document declaring entities is refused outright (OPML never needs them; the "billion
   laughs" and external-entity attacks both do).
2. A feed's URL is its xmlUrl (attribute names compared case-insensitively: xmlURL occurs);
   `feed://` and `feed:https://` are http(s). Only http(s) URLs are taken: a `file:` URL (or any
   other) is reported and skipped, since only the config itself may name local files.
3. Its title is the title attribute, else text, else the URL's host; htmlUrl is kept as the
   source's `site` when it is http(s).
4. Its categories are the names of the folders above it, outermost first, then the entries of
   its `category` attribute (comma-separated; a "/Tech/AI" path gives Tech and AI), each once.
5. A feed listed twice (the same canonical URL, say in two folders) is one feed with the
   categories of both places.

Planning (`plan_import`): a feed whose canonical URL (aggregator.normalize.canonical_url: http and
https, host case, trailing slash and tracking parameters do not count) is already a configured
source is skipped. Every other feed gets an id: the slug of a Latin-script title ("Hacker News"
becomes hacker-news, "Café Tech" cafe-tech), else the host name ("IT之家" at www.ithome.com
becomes ithome.com), made unique with -2, -3, ... The same file and config always give the same
ids.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml import etree

from aggregator.errors import ParseError
from aggregator.models import Source
from aggregator.normalize.urls import canonical_url

MAX_ID_LENGTH = 48  # config ids may be 64 characters; leave room for a "-2" and readability
_HOST_PREFIXES = ("www.", "feeds.", "feed.", "rss.")
_NOT_ID = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Subscription:
    """One feed of a subscription list."""

    url: str  # http(s)
    title: str
    site: str | None = None  # htmlUrl
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A feed not imported, and why."""

    url: str  # as the file wrote it ("" when it had none)
    title: str
    reason: str


@dataclass
class SubscriptionList:
    feeds: list[Subscription] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class ImportPlan:
    sources: list[Source]  # to add, in the file's order
    skipped: list[Skipped]  # from reading the file, then the feeds already configured


def read_opml(data: bytes, *, name: str = "<opml>") -> SubscriptionList:
    """The feeds of an OPML document; raise ParseError (naming `name`) when it is not one."""
    parser = safe_parser()
    refused = ParseError(f"{name}: declares XML entities, which OPML never needs: refused for safety")
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as e:
        if b"<!ENTITY" in data:  # libxml2 refuses some (external ones in attributes, too many)
            raise refused from None
        raise ParseError(f"{name}: not a well-formed OPML file: {e.msg}") from None
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise refused
    root = tree.getroot()
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise ParseError(f"{name}: not an OPML file (its root element is <{etree.QName(root).localname}>)")
    listing = SubscriptionList()
    by_key: dict[str, int] = {}
    body = root.find("body")
    for outline, folders in _outlines(body if body is not None else root, ()):
        _add_feed(listing, by_key, outline, folders)
    return listing


def safe_parser() -> etree.XMLParser:
    """An lxml parser that loads no DTD, expands no entity and never touches the network or disk."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True
    )


def plan_import(listing: SubscriptionList, configured: Sequence[Source]) -> ImportPlan:
    """Which feeds of `listing` become new sources (with their ids), and which are skipped."""
    known = {canonical_url(s.url): s.id for s in configured if _is_web(s.url)}
    taken = {s.id.lower() for s in configured}
    plan = ImportPlan([], list(listing.skipped))
    for feed in listing.feeds:
        existing = known.get(canonical_url(feed.url))
        if existing is not None:
            plan.skipped.append(Skipped(feed.url, feed.title, f"already configured as {existing}"))
            continue
        source_id = make_id(feed.title, feed.url, taken)
        taken.add(source_id.lower())
        plan.sources.append(
            Source(id=source_id, url=feed.url, title=feed.title, categories=feed.categories, site=feed.site)
        )
    return plan


def make_id(title: str, url: str, taken: set[str]) -> str:
    """A source id for a feed: its title's slug when the title is in Latin script, else its host
    name; with -2, -3, ... when the lower-cased id is in `taken`."""
    base = _slug(title) or _host_id(url) or "feed"
    taken = {name.lower() for name in taken}
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    return candidate


# -- reading ------------------------------------------------------------------------------------


def _outlines(
    parent: etree._Element, folders: tuple[str, ...]
) -> Iterator[tuple[etree._Element, tuple[str, ...]]]:
    """Every feed outline under `parent` with the folder names above it, in document order."""
    for outline in parent:
        if not isinstance(outline.tag, str) or outline.tag.lower() != "outline":
            continue
        attributes = _attributes(outline)
        if "xmlurl" in attributes or attributes.get("type", "").lower() == "include":
            yield outline, folders
        else:
            name = _text(attributes.get("title") or attributes.get("text") or "")
            yield from _outlines(outline, (*folders, name) if name else folders)


def _add_feed(
    listing: SubscriptionList, by_key: dict[str, int], outline: etree._Element, folders: tuple[str, ...]
) -> None:
    attributes = _attributes(outline)
    written = attributes.get("xmlurl", attributes.get("url", "")).strip()
    title = _text(attributes.get("title") or attributes.get("text") or "")
    if attributes.get("type", "").lower() == "include":
        listing.skipped.append(
            Skipped(written, title, "an included OPML list (type=include) is not followed")
        )
        return
    url = _web_url(written)
    if url is None:
        reason = "no feed URL" if not written else "not an http(s) URL"
        listing.skipped.append(Skipped(written, title, reason))
        return
    title = title or (urlsplit(url).hostname or url)
    site = _web_url(attributes.get("htmlurl", ""))
    categories = tuple(dict.fromkeys([*folders, *_categories(attributes.get("category", ""))]))
    key = canonical_url(url)
    if key in by_key:  # listed again, in another folder: one feed, every folder a category
        index = by_key[key]
        first = listing.feeds[index]
        merged = tuple(dict.fromkeys([*first.categories, *categories]))
        listing.feeds[index] = Subscription(first.url, first.title, first.site or site, merged)
        return
    by_key[key] = len(listing.feeds)
    listing.feeds.append(Subscription(url, title, site, categories))


def _attributes(outline: etree._Element) -> dict[str, str]:
    """The outline's attributes by lower-cased name (exporters write xmlUrl, xmlURL, xmlurl)."""
    return {str(name).lower(): value for name, value in outline.attrib.items()}


def _categories(attribute: str) -> list[str]:
    names: list[str] = []
    for entry in attribute.split(","):
        names += [_text(part) for part in entry.split("/") if _text(part)]
    return names


def _web_url(written: str) -> str | None:
    """`written` as an http(s) URL, or None. feed://host/x is http://host/x; feed:https://... is https."""
    url = written.strip()
    if url[:5].lower() == "feed:":
        rest = url[5:]
        url = rest if rest[:7].lower() == "http://" or rest[:8].lower() == "https://" else "http:" + rest
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _is_web(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def _text(value: str) -> str:
    """Plain one-line text: entities some exporters escape twice decoded, whitespace collapsed."""
    return " ".join(html.unescape(value).split())


# -- ids ----------------------------------------------------------------------------------------


def _slug(title: str) -> str:
    """'Hacker News' -> 'hacker-news'; '' when the title has letters outside the Latin script."""
    decomposed = unicodedata.normalize("NFKD", title)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if any(ch.isalnum() and not ch.isascii() for ch in kept):
        return ""  # Chinese, Cyrillic, ...: the host name says more than a transliteration would
    return _shorten(_NOT_ID.sub("-", kept.lower()).strip("-"))


def _host_id(url: str) -> str:
    host = (urlsplit(url).hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and "." in host[len(prefix) :]:
            host = host[len(prefix) :]
            break
    return _shorten(re.sub(r"[^a-z0-9.-]+", "-", host).strip(".-"))


def _shorten(slug: str) -> str:
    if len(slug) <= MAX_ID_LENGTH:
        return slug
    cut = slug[:MAX_ID_LENGTH]
    return (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip(".-")
