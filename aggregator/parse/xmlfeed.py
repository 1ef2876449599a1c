"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0, read by feedparser and mapped onto RawItem.

Specs: RSS 2.0 https://www.rssboard.org/rss-specification, RSS 1.0 https://web.resource.org/rss/1.0/spec,
Atom RFC 4287, Media RSS https://www.rssboard.org/media-rss, Apple podcast tags
https://help.apple.com/itc/podcasts_connect/#/itcb54353390.

feedparser runs with sanitize_html=False and resolve_relative_uris=False: normalize sanitizes the
HTML once and resolves its URLs in the same pass (DESIGN.md, "Facts measured here": feedparser's
own sanitizer and URI rewriting are 60-70% of its cost). feedparser resolves the link-type
elements (link, permalink guid, Atom hrefs) against xml:base only: it is given no document URL,
because it would resolve guids against it too ("148720" would become
"https://example.com/148720"), and a guid is an identifier, not a link: the keys of every item
would change when the feed moves. Links, bases, media, enclosure and iTunes URLs are resolved
against the document URL here.

feedparser files a value under the entry's key from the first, least nested element, but fills
the key's *_detail from the last element of that name, however nested: Google's Cloud blog puts
`<author><title>Product Manager</title></author>` and an Open Graph `<og><title>` in its items.
So the values are taken from the entry's keys, and a detail only describes a value it holds.

fast.py reads the common case first (a document expat accepts as it came, or once repaired and
bounded) and gives feedparser's own result at a quarter of its cost; feedparser reads the rest.
Both results go through the same mapping below.

feedparser gets the text already decoded (charset.py), re-encoded as UTF-8 and labelled so: its
own charset rules follow RFC 3023 to the letter (text/xml without a charset is US-ASCII) and fall
back to Windows-1252 silently. It also gets it repaired (repair.py) and within bounds of items,
elements and ill-formed size (limits.py), so no document costs it more than a second or two.
"""

from __future__ import annotations

import html
import io
import re
import time
import xml.sax
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
from feedparser.datetimes import _parse_date

from aggregator.characters import make_xml_safe
from aggregator.errors import ParseError
from aggregator.models import ParsedFeed, RawItem
from aggregator.parse import fast
from aggregator.parse.dates import parse_date
from aggregator.parse.limits import Bounded, bound
from aggregator.parse.plaintext import text_to_html
from aggregator.parse.repair import repair
from aggregator.parse.urls import resolve_url, url_path

_HTML_TYPES = {"text/html", "application/xhtml+xml", "html", "xhtml"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp")  # untyped images, by name

_NAME = re.compile(r"[A-Za-z_][\w:.-]*")
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"}
_SPACE = re.compile(r"\s*")
# Root elements of the feed formats feedparser reads, found inside an XHTML page that wraps one.
_FEED_ROOT = re.compile(r"<(?:feed|rss|rdf:RDF)[\s>]")


def parse_xml_feed(text: str, headers: dict[str, str], url: str, max_items: int | None = None) -> ParsedFeed:
    """Read an RSS or Atom document; raise ParseError when the text is not a feed.

    `headers` are the response headers with lower-cased names; `url` is where the document came
    from, the base for its relative links. Of a document with more than `max_items` items only
    the newest are read (limits.py).
    """
    root, root_start = _first_element(text)
    html_page = root is not None and root.lower() in ("html", "head", "body")
    # An XHTML page that wraps a feed (a blog template gone wrong) is read as feedparser reads it.
    if html_page and not _FEED_ROOT.search(text):
        raise ParseError(f"not a feed: {_html_page(text, url)}")
    # fast.py first, on the text as it came: a document expat accepts needs none of repair()'s
    # mending, and one within limits.py's bounds none of its cuts. Else both, and fast.py again.
    repairs: list[str] = []
    bounded = Bounded(b"")
    result = fast.read(text.encode("utf-8"), max_items)
    if result is None:
        text, repairs = repair(text, root_start)
        bounded = bound(text.encode("utf-8"), max_items)
        result = fast.read(bounded.data, mended=True) or _feedparser(bounded.data)
    # expat refuses every character XML 1.0 refuses, raw or as a reference, so only what fast.py
    # did not read, or base64 text it decoded, may hold one (characters.py).
    checked = result.get("checked_characters", False)
    version = result.get("version") or ""
    entries = result.get("entries") or []
    if html_page and not entries:
        raise ParseError(f"not a feed: {_html_page(text, url)}")
    if not version and not entries:
        raise ParseError(f"not a feed: {_why_not(text, root, result)}")

    feed = result.get("feed") or {}
    feed_author = _author(feed) if version.startswith("atom") else None  # RFC 4287 4.2.1
    parsed = ParsedFeed(
        format=version or "unknown",
        title=feed.get("title") or "",
        link=resolve_url(url, feed.get("link")),
        ttl_minutes=_ttl(feed.get("ttl")),
        items=[_item(entry, url, feed_author) for entry in entries],
        recovered_error="; ".join(filter(None, [bounded.problem, _recovered_error(result, repairs)])) or None,
        items_dropped=bounded.items_dropped,
        hubs=_feed_links(feed, url, "hub"),
        self_url=next(iter(_feed_links(feed, url, "self")), None),
    )
    return parsed if checked else make_xml_safe(parsed)


def _feedparser(data: bytes) -> Any:
    try:
        return feedparser.parse(
            io.BytesIO(data),
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:
        # feedparser's lenient parser has crashed on hostile documents in ways repair() does not
        # foresee; that is this document's problem, recorded on its source, not the poll's.
        raise ParseError(f"not a feed: feedparser failed: {type(exc).__name__}: {exc}") from exc


def _feed_links(feed: Any, url: str, rel: str) -> tuple[str, ...]:
    """The feed-level links with this rel, in document order: Atom <link>, RSS <atom:link>.

    feedparser files only the channel's (the feed's) own links here, never an entry's, so an item
    cannot name a hub for its feed.
    """
    found = (
        resolve_url(url, link.get("href"))
        for link in feed.get("links") or []
        if (link.get("rel") or "").lower() == rel
    )
    return tuple(dict.fromkeys(href for href in found if href))


def _item(entry: Any, url: str, feed_author: str | None) -> RawItem:
    summary_detail = _detail(entry, "summary")
    title_detail = _detail(entry, "title")
    content, content_base = _richest_content(entry, summary_detail)
    base = resolve_url(url, content_base or summary_detail.get("base") or title_detail.get("base")) or url
    summary = _as_html(summary_detail) or None
    media_images = [
        image
        for media in entry.get("media_content") or []
        if (image := resolve_url(base, media.get("url"))) and _is_image(media, image)
    ]
    enclosures = [
        (href, link.get("type") or "")
        for link in entry.get("links") or []
        if link.get("rel") == "enclosure" and (href := resolve_url(base, link.get("href")))
    ]
    return RawItem(
        guid=(entry.get("id") or "").strip() or None,
        link=_link(entry, url),
        title=title_detail.get("value"),
        title_is_html=title_detail.get("type") in _HTML_TYPES,
        content=content,
        summary=summary,
        base=base,
        author=_author(entry) or feed_author,
        published=_date(entry, "published") or _date(entry, "created"),
        updated=_date(entry, "updated"),
        tags=[
            label
            for tag in entry.get("tags") or []
            if (label := (tag.get("term") or tag.get("label") or "").strip())
        ],
        media_thumbnails=[
            thumbnail
            for media in entry.get("media_thumbnail") or []
            if (thumbnail := resolve_url(base, media.get("url")))
        ],
        media_images=media_images,
        enclosures=enclosures,
        itunes_image=_itunes_image(entry, base),
    )


def _detail(entry: Any, key: str) -> dict[str, Any]:
    """The entry's value for `key` with the type and base of its *_detail, when that detail
    describes this value (see the module docstring); otherwise typed as feedparser types the
    element by default: HTML for a summary, plain text for a title."""
    value = dict.get(entry, key)
    if value is None:
        return {}
    detail = dict.get(entry, f"{key}_detail") or {}
    if detail.get("value") == value:
        return detail
    return {"value": value, "type": "text/html" if key == "summary" else "text/plain", "base": ""}


def _richest_content(entry: Any, summary_detail: dict[str, Any]) -> tuple[str | None, str | None]:
    """The body of the entry as HTML, and its base URL: the HTML-typed, then longest, of its
    content elements and its summary, a content element winning a tie.

    The summary takes part because a plain-text content element is no better body than an HTML
    summary: feedparser files an item's second description (an Open Graph one, say) as content.
    """
    candidates = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    if (summary_detail.get("value") or "").strip():
        candidates.append(summary_detail)
    if not candidates:
        return None, None
    # max() keeps the first of equals, so content comes before the summary.
    best = max(candidates, key=lambda c: (c.get("type") in _HTML_TYPES, len(c["value"])))
    return _as_html(best), best.get("base")


def _as_html(detail: Any) -> str:
    """A feedparser text construct as HTML: plain text is escaped."""
    value = (detail or {}).get("value") or ""
    if not value.strip():
        return ""
    return value if detail.get("type", "text/html") in _HTML_TYPES else text_to_html(value)


def _link(entry: Any, url: str) -> str | None:
    """The entry's alternate link, an HTML one first, resolved against the document URL; a guid
    that is not a web URL is no link."""
    alternates = [
        link
        for link in entry.get("links") or []
        if link.get("rel", "alternate") == "alternate" and (link.get("href") or "").strip()
    ]
    html_alternates = [
        link for link in alternates if link.get("type", "text/html") in ("text/html", "application/xhtml+xml")
    ]
    if html_alternates or alternates:
        return resolve_url(url, (html_alternates or alternates)[0]["href"])
    link = resolve_url(url, entry.get("link"))  # feedparser's guess, e.g. a permalink guid
    return link if link and urlsplit(link).scheme.lower() in ("", "http", "https") else None


def _author(detail: Any) -> str | None:
    """The names (else e-mail addresses) of the authors, each once, joined with commas."""
    names = [" ".join((a.get("name") or a.get("email") or "").split()) for a in detail.get("authors") or []]
    unique = ", ".join(dict.fromkeys(name for name in names if name))
    return unique or " ".join((detail.get("author") or "").split()) or None


def _itunes_image(entry: Any, base: str) -> str | None:
    # feedparser files an item-level <itunes:image href="..."/> as entry.image.href.
    return resolve_url(base, (entry.get("image") or {}).get("href"))


def _is_image(media: Any, url: str) -> bool:
    """Whether a media:content element (at `url`) is an image: by medium or type, else by its file name."""
    medium = (media.get("medium") or "").lower()
    mime_type = (media.get("type") or "").lower()
    if medium == "image" or mime_type.startswith("image/"):
        return True
    return not medium and not mime_type and url_path(url).lower().endswith(IMAGE_EXTENSIONS)


def _date(entry: Any, key: str) -> datetime | None:
    """The entry's date under `key` ("published", "updated", ...): read by dates.parse_date when it
    knows the form (feedparser misreads some), else feedparser's reading.

    dict.get: FeedParserDict answers a missing "updated" with "published".
    """
    raw = dict.get(entry, key)
    return (parse_date(raw) if isinstance(raw, str) else None) or _utc(dict.get(entry, f"{key}_parsed"))


def _utc(parsed: time.struct_time | fast.DateText | None) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times; fast.py leaves the text to parse."""
    if isinstance(parsed, fast.DateText):
        parsed = _parse_date(parsed)
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _ttl(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if minutes > 0 else None


def _recovered_error(result: Any, repairs: list[str]) -> str | None:
    if result.get("bozo"):
        return _describe(result.get("bozo_exception"))
    return "ill-formed XML: " + "; ".join(repairs) if repairs else None


def _describe(exc: BaseException | None) -> str:
    """A short reason for a bozo document, e.g. "ill-formed XML at line 3: not well-formed (invalid token)"."""
    if isinstance(exc, xml.sax.SAXParseException):
        return f"ill-formed XML at line {exc.getLineNumber()}: {exc.getMessage()}"
    return f"ill-formed document: {exc}" if exc else "ill-formed document"


def _first_element(text: str) -> tuple[str | None, int]:
    """The name of the first element, after the XML declaration, comments and a DOCTYPE, and where
    it starts (0 when there is none).

    A loop rather than one regular expression: a regex with repeated lazy groups backtracks
    exponentially on a hostile "<?a?><?a?>..." body.
    """
    position, end = 0, len(text)
    while position < end:
        position = _SPACE.match(text, position).end()
        if text.startswith("<?", position):
            close, length = text.find("?>", position + 2), 2
        elif text.startswith("<!--", position):
            close, length = text.find("-->", position + 4), 3
        elif text.startswith("<!", position):
            close, length = text.find(">", position), 1
            bracket = text.find("[", position)
            if 0 <= bracket < close:  # an internal subset may hold ">" characters
                subset_end = text.find("]", bracket)
                close = text.find(">", subset_end) if subset_end >= 0 else -1
        elif text.startswith("<", position):
            match = _NAME.match(text, position + 1)
            return (match.group(0), position) if match else (None, 0)
        else:
            return None, 0
        if close < 0:  # an unterminated declaration or comment
            return None, 0
        position = close + length
    return None, 0


def _why_not(text: str, root: str | None, result: Any) -> str:
    if root is None:
        start = text.lstrip()[:40]
        if not start.startswith("<"):
            return f"neither XML nor JSON (starts with {start!r})"
    if result.get("bozo"):
        return _describe(result.get("bozo_exception")).replace("ill-formed XML", "not well-formed XML", 1)
    if root is None:
        return "no root element"
    return f"the root element <{root}> is not RSS, Atom or RDF"


def _html_page(text: str, url: str) -> str:
    """Say that the body is an HTML page, and where its advertised feed is if it names one."""
    head = text[:65536]
    head = head[: head.rfind(">") + 1]  # every "<link" left has a ">" after it: a linear scan
    for tag in _LINK_TAG.findall(head):
        attrs = {
            m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _ATTRIBUTE.finditer(tag)
        }
        rel = attrs.get("rel", "").lower().split()
        if "alternate" in rel and attrs.get("type", "").lower() in _FEED_TYPES and attrs.get("href"):
            feed_url = resolve_url(url, attrs["href"]) or attrs["href"].strip()
            return f"got an HTML page (it names a feed at {feed_url})"
    return "got an HTML page"
