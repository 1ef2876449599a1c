"""feedparser's reading of a well-formed RSS or Atom document, at a fraction of its cost.

feedparser 6 reads a document with expat through xml.sax, one Python call per start tag, end tag
and piece of text (every "&lt;" of escaped HTML is a piece of its own), and then, for every element
it keeps, runs code we do not need (Windows-1252 translation of text that has no C1 character,
eager date parsing, FeedParserDict look-ups). On a 260 KB, 50-item document that is 20-30 ms
against 1 ms for expat or lxml alone (DESIGN.md, "Facts measured here").

This module gives the same result for the common case, cheaper: expatfeed.Reader drives
feedparser's own handler methods (RSS, Atom, RDF, Dublin Core, Media RSS, iTunes...) from
pyexpat directly and replaces only its hot generic methods with equivalents that skip work whose
result cannot differ. So the result is feedparser's, value for value, by construction: the same
bytes (what feedparser's api.parse() does to them first is done here too), the same parser
(expat, same flags), the same handlers, the same keys.

It answers None, and xmlfeed.py runs feedparser itself, when it is not sure: a document expat
rejects (feedparser then reads it with its lenient parser), a DOCTYPE feedparser would keep or
that declares entities, a BOM, a tag with more attributes than repair.py keeps, more items or
elements than limits.py lets through, MathML or SVG (feedparser special-cases them), an element
inside a text construct that feedparser would handle as a feed element, or any exception.

Safety is expat's, as in limits.py: no DOCTYPE reaches it (so no entity of any kind, internal or
external, is declared, and none is expanded or fetched), and no external entity handler is set.
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

from aggregator.parse.expatfeed import DateText, Reader, Unsure
from aggregator.parse.repair import _LONG_TAG, MAX_ATTRIBUTES

__all__ = ["DateText", "read"]

# What feedparser's api.parse() does to the bytes before expat sees them (encodings.py,
# sanitizer.replace_doctype): a new XML declaration, and DOCTYPEs at the start of a line dropped.
_DECLARATION = re.compile(rb"<\?xml[^>]*?>")
_NEW_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_FIRST_TAG = re.compile(rb"<\w")
_LONG_BYTES = re.compile(rb"<[A-Za-z_][^<>]{%d,}>" % (4 * MAX_ATTRIBUTES))
_DOCTYPE = re.compile(rb"^\s*<!DOCTYPE([^>]*?)>", re.MULTILINE)

_ROOTS = frozenset({"rss", "feed", "rdf:rdf"})


def read(data: bytes, max_items: int | None = None, *, mended: bool = False) -> dict[str, Any] | None:
    """feedparser's result for `data` (a UTF-8 document), or None when this module is not sure.

    The result has the keys xmlfeed.py reads: "version", "feed", "entries" and "bozo" (False).
    With `max_items`, a document holding more items is left to limits.py (None). `mended` says
    that repair.py has run on `data` already; otherwise a document it would change is left to it.
    """
    prepared = _prepare(data, mended)
    if prepared is None:
        return None
    data, doctype_version = prepared
    # Characters U+0080-U+00BF are what feedparser's two Latin-1 fixes in pop() act on; in UTF-8
    # they are C2 80-BF, or a character reference.
    reader = Reader(max_items, latin1=b"\xc2" in data or b"&#" in data)
    parser = expat.ParserCreate("utf-8", " ")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.ordered_attributes = True
    parser.StartNamespaceDeclHandler = reader.start_namespace
    parser.StartElementHandler = reader.start_element
    parser.EndElementHandler = reader.end_element
    parser.CharacterDataHandler = reader.handle_data
    if not mended:
        parser.CommentHandler = parser.ProcessingInstructionHandler = _ampersand_inside
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, Unsure):
        return None
    except Exception:  # feedparser may raise on it too; then it says so itself
        return None
    if reader.root not in _ROOTS:
        return None
    return {
        "version": doctype_version or reader.version,
        "feed": reader.feeddata,
        "entries": reader.entries,
        "bozo": False,
        # Every string as expat read it, so without a character XML 1.0 refuses; unless base64
        # text was decoded (Atom 0.3 mode="base64"), which may hold any.
        "checked_characters": not reader.decoded_base64,
    }


def _prepare(data: bytes, mended: bool) -> tuple[bytes, str | None] | None:
    """The bytes feedparser's expat would read, and the version a Netscape DOCTYPE names; None
    for what feedparser would read differently (a BOM, an entity declaration, a DOCTYPE it keeps)
    or what repair.py would change although expat accepts it (a tag with too many attributes)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    declaration = _DECLARATION.match(data)
    data = _NEW_DECLARATION + (data[declaration.end() :] if declaration else b"\n" + data)
    first_tag = _FIRST_TAG.search(data)
    head_end = first_tag.start() + 1 if first_tag else 0
    head = data[:head_end]
    version = None
    if b"<!" in head:
        if b"<!ENTITY" in head or (b"&" in head and not mended):
            return None
        doctypes = _DOCTYPE.findall(head)
        if doctypes:
            version = "rss091n" if b"netscape" in doctypes[0].lower() else None
            head = _DOCTYPE.sub(b"", head)
        if b"<!DOCTYPE" in head:
            return None
        data = head + data[head_end:]
    if mended:
        return data, version
    # A byte is at most a character: _LONG_BYTES finds every tag _LONG_TAG does, and then some.
    if data.count(b"=") > MAX_ATTRIBUTES and _LONG_BYTES.search(data) and _LONG_TAG.search(data.decode()):
        return None
    return data, version


def _ampersand_inside(*parts: str | None) -> None:
    """Comment and processing instruction handler (not for `mended` documents): "&" in them is
    nothing to expat, but repair.py mends and reports it (ParsedFeed.recovered_error)."""
    if any("&" in part for part in parts if part):
        raise Unsure
