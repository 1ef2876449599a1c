"""Bounds on what one RSS or Atom document may cost, applied before feedparser reads it.

feedparser builds Python objects for every element through Python callbacks: about 100 µs per
minimal item and 20 µs per element, twice that when the document is ill-formed (its lenient
parser then reads the whole text again, at 1-6 s per MB), and several times the document's size
in memory. Within the 10 MB a fetch allows, a hostile document (100,000 items, a flood of
elements, five million "<") would hold the poller for minutes. So expat (C; Python handlers only
for element starts and ends, and for the text of item dates) reads the UTF-8 bytes first:

1. Items. A document holding more than `max_items` items (RSS <item>, Atom <entry>, any prefix)
   keeps its newest `max_items`: by published date (pubDate, published, issued, dc:date, created),
   else updated date (updated, modified); undated items after dated ones, each group in document
   order. The other items are cut out of the bytes; everything else stays.
2. Elements. At most MAX_ELEMENTS elements reach feedparser: items are kept newest first while
   they fit, and a document with more than that outside its items is refused.
3. Ill-formed documents. One small enough for feedparser's lenient parser (LENIENT_BYTES, and
   LENIENT_TAGS "<" characters) is passed on whole, as before: that parser recovers items after
   the error too. A larger one is cut after the last item complete before the error, and the
   elements still open there are closed, so every item before the error is kept and the rest is
   never read; one with no complete item before its error is refused.

The scan resolves no external entity and fetches nothing: expat gets no ExternalEntityRefHandler
and parameter entities are not parsed, so a SYSTEM DTD or entity is neither fetched nor read
(tests/test_hostile_documents.py proves both against a loopback server and a local file).
Internal entities were defused by repair.py before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from xml.parsers import expat

from aggregator.errors import ParseError
from aggregator.parse.dates import parse_date

MAX_ELEMENTS = 100_000  # ~2 s of feedparser; a 500-item feed has a few thousand
SCAN_ELEMENTS = 1_000_000  # the scan itself stops here (about a second of handler calls)
LENIENT_BYTES = 1024 * 1024  # feedparser's lenient parser reads ~1 MB of real feed per second
LENIENT_TAGS = 50_000  # ...and ~20k tags per second (twice: its strict attempt came first)

_ITEMS = frozenset({"item", "entry"})
_PUBLISHED = frozenset({"pubDate", "published", "issued", "date", "created"})
_UPDATED = frozenset({"updated", "modified"})
_DATE_CHARACTERS = 200
_EMPTY_TAG_END = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")


@dataclass
class Bounded:
    """The document to hand to feedparser, and what was cut from it."""

    data: bytes
    items_dropped: int = 0
    problem: str | None = None  # an ill-formed document cut at its error, for recovered_error


@dataclass
class _Item:
    start: int  # byte offsets of the element, end exclusive
    end: int = 0
    elements: int = 1
    published: str = ""
    updated: str = ""
    index: int = 0


@dataclass
class _Scan:
    items: list[_Item] = field(default_factory=list)
    elements: int = 0
    error: str | None = None  # "line N: message", when the bytes are not well-formed
    too_many: bool = False  # stopped at SCAN_ELEMENTS
    cut: int = 0  # with an error: the end of the last complete item, and what is open there
    open_at_cut: list[str] = field(default_factory=list)


class _Stop(Exception):
    pass


def bound(data: bytes, max_items: int | None) -> Bounded:
    """`data` (a UTF-8 XML document) within the bounds the module docstring lists.

    Raises ParseError when nothing within them is left to read.
    """
    scan = _scan(data)
    over_items = max_items is not None and len(scan.items) > max_items
    if scan.error is None and not scan.too_many and not over_items and scan.elements <= MAX_ELEMENTS:
        return Bounded(data)
    if scan.error is not None and len(data) <= LENIENT_BYTES and data.count(b"<") <= LENIENT_TAGS:
        return Bounded(data)  # feedparser's lenient parser; parse() caps its items afterwards
    items = scan.items
    if scan.error is not None or scan.too_many:
        items = [item for item in items if item.end and item.end <= scan.cut]
        if not items:
            why = (
                f"not well-formed XML at {scan.error}"
                if scan.error
                else f"more than {SCAN_ELEMENTS:,} elements"
            )
            raise ParseError(
                f"not a feed: {why}, with no complete item before it "
                f"({len(data):,} bytes, too large to read leniently)"
            )
    outside = scan.elements - sum(item.elements for item in scan.items)
    if outside > MAX_ELEMENTS:
        raise ParseError(f"not a feed: more than {MAX_ELEMENTS:,} elements outside its items")
    kept = _newest(items, max_items, MAX_ELEMENTS - outside)
    end = scan.cut if (scan.error is not None or scan.too_many) else len(data)
    pieces, position = [], 0
    for item in scan.items:
        if item.end == 0 or item.start >= end:
            break
        pieces.append(data[position : item.start])
        if item.index in kept:
            pieces.append(data[item.start : item.end])
        position = item.end
    pieces.append(data[position:end])
    problem = None
    if scan.error is not None or scan.too_many:
        pieces.append("".join(f"</{name}>" for name in reversed(scan.open_at_cut)).encode("utf-8"))
        why = f"ill-formed XML at {scan.error}" if scan.error else f"more than {SCAN_ELEMENTS:,} elements"
        problem = f"{why}; read up to the last complete item before it"
    return Bounded(b"".join(pieces), len(items) - len(kept), problem)


def _newest(items: list[_Item], max_items: int | None, element_budget: int) -> set[int]:
    """Indexes of the items to keep: newest first, at most `max_items`, within the element budget."""
    dated = [(_timestamp(item.published) or _timestamp(item.updated), item) for item in items]
    ordered = sorted(dated, key=lambda pair: (pair[0] is None, -(pair[0] or 0.0), pair[1].index))
    kept: set[int] = set()
    for _, item in ordered:
        if (max_items is not None and len(kept) >= max_items) or item.elements > element_budget:
            break
        element_budget -= item.elements
        kept.add(item.index)
    return kept


def _timestamp(text: str) -> float | None:
    """Seconds since the epoch of a feed date in any common form, for ordering only."""
    text = text.strip()
    if not text:
        return None
    moment = parse_date(text)
    if moment is None:
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError:
            try:
                moment = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):  # year 1 in a far zone
        return None


def _scan(data: bytes) -> _Scan:
    """Read `data` with expat once: items with their spans, element counts and dates; the error."""
    scan = _Scan()
    # The bytes are UTF-8 whatever the XML declaration says (parse() decoded and re-encoded them),
    # and without namespace processing names stay as written ("dc:date").
    parser = expat.ParserCreate("utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[str] = []
    current: _Item | None = None
    item_depth = 0
    date_text: list[str] = []
    date_kind = ""

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal current, item_depth, date_kind
        scan.elements += 1
        if scan.elements > SCAN_ELEMENTS:
            scan.too_many = True
            raise _Stop
        stack.append(name)
        local = name.rpartition(":")[2]
        if current is None:
            if local in _ITEMS:
                current = _Item(start=parser.CurrentByteIndex, index=len(scan.items))
                item_depth = len(stack)
                scan.items.append(current)
            return
        current.elements += 1
        if not date_kind and local in _PUBLISHED | _UPDATED:
            kind = "published" if local in _PUBLISHED else "updated"
            if not getattr(current, kind):
                date_kind = kind
                date_text.clear()
                parser.CharacterDataHandler = text

    def text(data: str) -> None:
        if sum(map(len, date_text)) < _DATE_CHARACTERS:
            date_text.append(data)

    def end(name: str) -> None:
        nonlocal current, date_kind
        if date_kind:
            setattr(current, date_kind, "".join(date_text)[:_DATE_CHARACTERS])
            date_kind = ""
            parser.CharacterDataHandler = None
        if current is not None and len(stack) == item_depth:
            current.end = _tag_end(data, parser.CurrentByteIndex)
            scan.cut = current.end
            scan.open_at_cut = stack[:-1]
            current = None
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        scan.error = f"line {error.lineno}: {expat.ErrorString(error.code)}"
    except _Stop:
        pass
    except (RecursionError, MemoryError) as error:  # defensive: expat keeps its own stack
        scan.error = f"unreadable ({type(error).__name__})"
    return scan


def _tag_end(data: bytes, position: int) -> int:
    """The offset just past the tag starting at `position`: an end tag, or an empty-element tag
    (expat reports the end of <item/> at its start tag)."""
    if data.startswith(b"</", position):
        return data.index(b">", position) + 1
    match = _EMPTY_TAG_END.match(data, position + 1)
    return match.end() if match else len(data)
