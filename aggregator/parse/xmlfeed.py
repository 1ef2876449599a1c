"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0, read by feedparser and mapped onto RawItem.

Specs: RSS 2.0 https://www.rssboard.org/rss-specification, RSS 1.0 https://web.resource.org/rss/1.0/spec,
Atom RFC 4287, Media RSS https://www.rssboard.org/media-rss, Apple podcast tags
https://help.apple.com/itc/podcasts_connect/#/itcb54353390.

feedparser runs with sanitize_html=False and resolve_relative_uris=False: normalize sanitizes the
HTML once and resolves its URLs in the same pass (DESIGN.md, "Facts measured here": feedparser's
own sanitizer and URI rewriting are 60-70% of its cost). feedparser still resolves the link-type
elements (link, guid, Atom hrefs) against xml:base and the Content-Location we give it; media,
enclosure and iTunes URLs it leaves alone, so they are resolved here.

feedparser gets the text already decoded (charset.py), re-encoded as UTF-8 and labelled so: its
own charset rules follow RFC 3023 to the letter (text/xml without a charset is US-ASCII) and fall
back to Windows-1252 silently.
"""

from __future__ import annotations

import html
import io
import re
import time
import xml.sax
from datetime import UTC, datetime
from html.entities import html5
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from aggregator.errors import ParseError
from aggregator.models import ParsedFeed, RawItem
from aggregator.parse.plaintext import text_to_html

_HTML_TYPES = {"text/html", "application/xhtml+xml", "html", "xhtml"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp")  # untyped images, by name

_NAME = re.compile(r"[A-Za-z_][\w:.-]*")
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"}

# Entity repairs, made outside CDATA sections (whose text is literal) before feedparser sees the
# document: HTML named entities are undefined in XML, so expat rejects them without a DOCTYPE and
# silently drops them with one (RSS 0.91's Netscape DOCTYPE): "d&eacute;j&agrave;" would read "dj".
# They become numeric references. A bare "&" (a URL's "?a=1&b=2" pasted unescaped) makes the
# document ill-formed, and feedparser's lenient parser then reads "&lang=en" as the entity "〈=en";
# it becomes "&amp;".
_CDATA = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_HTML_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31};)")
_BARE_AMPERSAND = re.compile(r"&(?![A-Za-z][A-Za-z0-9]*;|#[0-9]+;|#[xX][0-9A-Fa-f]+;)")


def parse_xml_feed(text: str, headers: dict[str, str], url: str) -> ParsedFeed:
    """Read an RSS or Atom document; raise ParseError when the text is not a feed.

    `headers` are the response headers with lower-cased names; `url` is where the document came
    from, the base for its relative links.
    """
    root = _first_element(text)
    if root is not None and root.lower() in ("html", "head", "body"):
        raise ParseError(f"not a feed: {_html_page(text, url)}")
    text, bare_ampersands = _repair_entities(text)
    data = text.encode("utf-8")
    result = feedparser.parse(
        io.BytesIO(data),
        response_headers={
            **headers,
            "content-type": "application/xml; charset=utf-8",
            "content-location": url,
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    version = result.get("version") or ""
    entries = result.get("entries") or []
    if not version and not entries:
        raise ParseError(f"not a feed: {_why_not(text, root, result)}")

    feed = result.get("feed") or {}
    feed_author = _author(feed) if version.startswith("atom") else None  # RFC 4287 4.2.1
    return ParsedFeed(
        format=version or "unknown",
        title=feed.get("title") or "",
        link=feed.get("link") or None,
        ttl_minutes=_ttl(feed.get("ttl")),
        items=[_item(entry, url, feed_author) for entry in entries],
        recovered_error=_recovered_error(result, bare_ampersands),
    )


def _item(entry: Any, url: str, feed_author: str | None) -> RawItem:
    content, content_base = _richest_content(entry)
    summary_detail = entry.get("summary_detail") or {}
    title_detail = entry.get("title_detail") or {}
    base = content_base or summary_detail.get("base") or title_detail.get("base") or url
    title = title_detail.get("value", entry.get("title"))
    summary = _as_html(summary_detail) or None
    media_images = [m["url"] for m in entry.get("media_content") or [] if m.get("url") and _is_image(m)]
    enclosures = [
        (urljoin(base, link["href"].strip()), link.get("type") or "")
        for link in entry.get("links") or []
        if link.get("rel") == "enclosure" and link.get("href")
    ]
    return RawItem(
        guid=(entry.get("id") or "").strip() or None,
        link=_link(entry),
        title=title,
        title_is_html=title_detail.get("type") in _HTML_TYPES,
        content=content or summary,
        summary=summary,
        base=base,
        author=_author(entry) or feed_author,
        published=_utc(entry.get("published_parsed") or entry.get("created_parsed")),
        # dict.get: FeedParserDict answers a missing "updated_parsed" with "published_parsed".
        updated=_utc(dict.get(entry, "updated_parsed")),
        tags=[
            label
            for tag in entry.get("tags") or []
            if (label := (tag.get("term") or tag.get("label") or "").strip())
        ],
        media_thumbnails=[
            urljoin(base, m["url"].strip()) for m in entry.get("media_thumbnail") or [] if m.get("url")
        ],
        media_images=[urljoin(base, u.strip()) for u in media_images],
        enclosures=enclosures,
        itunes_image=_itunes_image(entry, base),
    )


def _richest_content(entry: Any) -> tuple[str | None, str | None]:
    """The HTML-typed, then longest, of the entry's content elements, and its base URL."""
    contents = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    if not contents:
        return None, None
    best = max(contents, key=lambda c: (c.get("type") in _HTML_TYPES, len(c["value"])))
    return _as_html(best), best.get("base")


def _as_html(detail: Any) -> str:
    """A feedparser text construct as HTML: plain text is escaped."""
    value = (detail or {}).get("value") or ""
    if not value.strip():
        return ""
    return value if detail.get("type", "text/html") in _HTML_TYPES else text_to_html(value)


def _link(entry: Any) -> str | None:
    """The entry's alternate link, an HTML one first; a guid that is not a web URL is no link."""
    alternates = [
        link
        for link in entry.get("links") or []
        if link.get("rel", "alternate") == "alternate" and link.get("href")
    ]
    for link in alternates:
        if link.get("type", "text/html") in ("text/html", "application/xhtml+xml"):
            return link["href"].strip()
    if alternates:
        return alternates[0]["href"].strip()
    link = (entry.get("link") or "").strip()  # feedparser's guess, e.g. a permalink guid
    return link if link and urlsplit(link).scheme.lower() in ("", "http", "https") else None


def _author(detail: Any) -> str | None:
    names = [
        name for a in detail.get("authors") or [] if (name := (a.get("name") or a.get("email") or "").strip())
    ]
    return ", ".join(names) or (detail.get("author") or "").strip() or None


def _itunes_image(entry: Any, base: str) -> str | None:
    # feedparser files an item-level <itunes:image href="..."/> as entry.image.href.
    href = ((entry.get("image") or {}).get("href") or "").strip()
    return urljoin(base, href) if href else None


def _is_image(media: Any) -> bool:
    """Whether a media:content element is an image: by medium or type, else by its file name."""
    medium = (media.get("medium") or "").lower()
    mime_type = (media.get("type") or "").lower()
    if medium == "image" or mime_type.startswith("image/"):
        return True
    return not medium and not mime_type and urlsplit(media["url"]).path.lower().endswith(IMAGE_EXTENSIONS)


def _utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times."""
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


def _repair_entities(text: str) -> tuple[str, int]:
    """The document with the entity repairs described above, and how many bare "&" it had."""
    if "&" not in text:
        return text, 0
    # Split only up to the last "]]>": past it no section closes, and an unclosed "<![CDATA[" would
    # make every later one scan to the end (quadratic on a hostile body).
    end = text.rfind("]]>") + 3 if "]]>" in text else 0
    pieces = _CDATA.split(text[:end])  # even indexes: outside CDATA; odd: CDATA sections
    pieces[-1] += text[end:]
    bare = 0
    for i in range(0, len(pieces), 2):
        if "&" in pieces[i]:
            pieces[i], count = _BARE_AMPERSAND.subn("&amp;", _HTML_ENTITY.sub(_numeric_entity, pieces[i]))
            bare += count
    return "".join(pieces), bare


def _numeric_entity(match: re.Match[str]) -> str:
    chars = html5.get(match.group(1))
    return "".join(f"&#{ord(c)};" for c in chars) if chars else match.group(0)


def _recovered_error(result: Any, bare_ampersands: int) -> str | None:
    if result.get("bozo"):
        return _describe(result.get("bozo_exception"))
    return "ill-formed XML: unescaped '&' read as '&amp;'" if bare_ampersands else None


def _describe(exc: BaseException | None) -> str:
    """A short reason for a bozo document, e.g. "ill-formed XML at line 3: not well-formed (invalid token)"."""
    if isinstance(exc, xml.sax.SAXParseException):
        return f"ill-formed XML at line {exc.getLineNumber()}: {exc.getMessage()}"
    return f"ill-formed document: {exc}" if exc else "ill-formed document"


def _first_element(text: str) -> str | None:
    """The name of the first element, after the XML declaration, comments and a DOCTYPE.

    A loop rather than one regular expression: a regex with repeated lazy groups backtracks
    exponentially on a hostile "<?a?><?a?>..." body.
    """
    position, end = 0, min(len(text), 65536)
    while position < end:
        while position < end and text[position].isspace():
            position += 1
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
            return match.group(0) if match else None
        else:
            return None
        if close < 0:  # an unterminated declaration or comment
            return None
        position = close + length
    return None


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
            return f"got an HTML page (it names a feed at {urljoin(url, attrs['href'].strip())})"
    return "got an HTML page"
