"""parse: one fetched body in, one ParsedFeed out. No network, no database.

1. charset.decode() picks the text encoding (BOM, valid UTF-8, Content-Type charset, XML
   declaration; GB2312/GBK read as GB18030).
2. A body whose first character is "{", or one served as JSON that does not start with "<", is a
   JSON Feed (jsonfeed.py). Anything else is RSS or Atom (xmlfeed.py): read by fast.py when it
   is sure to read it as feedparser does, else by feedparser, once repair.py has mended what real
   and hostile feeds get wrong. Both read dates feedparser misreads with dates.py and resolve
   URLs with urls.py.
3. A body that is no feed raises ParseError("not a feed: <why>"); an ill-formed feed yields what
   can be recovered, with ParsedFeed.recovered_error saying what was wrong.
4. A document with more than `max_items` items yields its newest `max_items` (by published date,
   else updated; undated ones last, in document order), and ParsedFeed.items_dropped counts the
   others. RSS and Atom are cut down before feedparser reads them (limits.py: 100,000 items
   would take feedparser minutes), JSON Feed items before they are mapped; the same rule runs
   once more on the result, for the ill-formed documents feedparser reads leniently.
5. ParsedFeed.hubs and self_url say where to subscribe for pushed updates (WebSub): the
   response's Link header when it names a hub, else the document's own links (links.py).
6. No string of the result holds a character XML 1.0 refuses (characters.py): not NUL, which
   PostgreSQL's text refuses, nor a lone surrogate, which has no UTF-8 form. JSON can escape
   any of them and feedparser decodes base64 text constructs to any of them, in any field,
   guids and URLs included; a guid that differs only by them names the same entry.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from aggregator.characters import make_xml_safe, xml_safe
from aggregator.errors import ParseError
from aggregator.models import ParsedFeed, RawItem
from aggregator.parse.charset import decode, media_type
from aggregator.parse.jsonfeed import parse_json_feed
from aggregator.parse.links import websub_links
from aggregator.parse.xmlfeed import parse_xml_feed

__all__ = ["parse"]

_JSON_TYPES = {"application/feed+json", "application/json", "text/json"}
_FIRST_CHARACTER = re.compile(r"\s*(\S)")


def parse(body: bytes, headers: dict[str, str], url: str, *, max_items: int | None = None) -> ParsedFeed:
    """Parse one feed document.

    `headers` are the response headers (any case; Content-Type's charset is honoured); `url` is the
    document's URL, against which relative links resolve; `max_items` caps the items (point 4 above).
    """
    headers = {name.lower(): value for name, value in headers.items()}
    content_type = headers.get("content-type", "")
    text = decode(body, content_type)
    first = _FIRST_CHARACTER.match(text)
    if first is None:
        raise ParseError("not a feed: empty body")
    if first.group(1) == "{" or (first.group(1) != "<" and media_type(content_type) in _JSON_TYPES):
        feed = make_xml_safe(parse_json_feed(text, url, max_items))  # JSON escapes any character
    else:
        feed = parse_xml_feed(text, headers, url, max_items)  # made xml_safe there
    hubs, self_url = websub_links(headers.get("link"), url, feed.hubs, feed.self_url)
    feed = replace(feed, hubs=tuple(map(xml_safe, hubs)), self_url=self_url and xml_safe(self_url))
    if max_items is not None and len(feed.items) > max_items:
        kept = newest(feed.items, max_items)
        feed = replace(feed, items=kept, items_dropped=feed.items_dropped + len(feed.items) - len(kept))
    return feed


def newest(items: list[RawItem], count: int) -> list[RawItem]:
    """The newest `count` of `items` (published, else updated; undated last), in their order."""

    def age(pair: tuple[int, RawItem]) -> tuple[bool, float, int]:
        index, item = pair
        moment: datetime | None = item.published or item.updated
        return (moment is None, -moment.timestamp() if moment else 0.0, index)

    chosen = sorted(sorted(enumerate(items), key=age)[:count], key=lambda pair: pair[0])
    return [item for _, item in chosen]
