"""Repairs made to an RSS or Atom document's text before feedparser reads it.

Each one turns a fault seen in real feeds, or in hostile ones, into what the publisher meant, so
that expat reads the document strictly instead of feedparser falling back to its lenient parser
(which mangles some of them, and has crashed on others), and so that no document costs more than
linear time. In order:

1. Blank lines before the XML declaration (a PHP template's) are dropped: XML allows nothing
   before it.
2. A DOCTYPE that declares an entity whose value names other entities, or an external or
   parameter entity, goes whole, with anything between it and the root element: nested entities
   expand to gigabytes ("billion laughs"). feedparser drops such declarations, but only those at
   the start of a line, and expat stops an expansion only past 8 MiB of it. The prolog looked at
   ends where feedparser's own ends (its first "<" and a letter) if that is later than the root
   element found here: junk before the root, or a DOCTYPE without its "]", must not hide a
   declaration feedparser reads. Plain declarations (<!ENTITY c "(C)">) stay, unless
   their references would expand past MAX_EXPANSION characters: a 50 KB value referenced 50,000
   times ("quadratic blowup") trips expat's amplification limit, and feedparser's lenient parser
   then expands it itself, in Python, to 2.5 GB (measured: 80 s and 7 GB of memory).
3. A start tag keeps its first MAX_ATTRIBUTES attributes: Python's SAX driver looks each one up by
   a linear search (AttributesNSImpl.getValueByQName), so 20,000 on one element take seconds.
4. Control characters, which XML forbids (XML 1.0 section 2.2, https://www.w3.org/TR/xml/#charsets),
   are removed (a vertical tab or form feed becomes a space): they are invisible. The same rule
   (characters.py) runs once more on what was parsed, for what references and base64 decode to.

Then, outside CDATA sections (whose text is literal):

5. HTML named entities become numeric references: they are undefined in XML, so expat rejects them
   without a DOCTYPE and silently drops them with one (RSS 0.91's Netscape DOCTYPE):
   "d&eacute;j&agrave;" would read "dj".
6. A bare "&" (a URL's "?a=1&b=2" pasted unescaped) becomes "&amp;": feedparser's lenient parser
   would read "&lang=en" as the entity "〈=en".
7. A reference to a character XML forbids (&#0;, a surrogate like &#xD800;, or past U+10FFFF)
   becomes U+FFFD: feedparser's lenient parser raises on it (chr() or UTF-8 encoding fail).
"""

from __future__ import annotations

import itertools
import re
from html.entities import html5

from aggregator.characters import REFUSED, space_or_nothing

MAX_ATTRIBUTES = 256
MAX_EXPANSION = 1_000_000  # characters all references to internal entities may expand to

_UNSAFE_ENTITY = re.compile(
    r"""<!ENTITY\s+(?:%|[^\s>]+\s+(?:SYSTEM|PUBLIC)\b|[^\s>]+\s+(?:"[^"]*[&%][^#]|'[^']*[&%][^#]))""", re.I
)
_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.I)
_FIRST_TAG = re.compile(r"<\w")  # where feedparser's replace_doctype() ends the prolog
_PLAIN_ENTITY = re.compile(r"""<!ENTITY\s+([^\s>%]+)\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_REFERENCE = re.compile(r"&([A-Za-z_][\w.:-]*);")
# Only tags long enough to hold MAX_ATTRIBUTES attributes (4 characters or more each, as in
# ' a=""') are looked at.
_LONG_TAG = re.compile(rf"<[A-Za-z_][^<>]{{{4 * MAX_ATTRIBUTES},}}>")
_XML_ATTRIBUTE = re.compile(r"""\s+[^\s=<>]+\s*=\s*(?:"[^"]*"|'[^']*')""")
_CDATA = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_HTML_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31};)")
_BARE_AMPERSAND = re.compile(r"&(?![A-Za-z][A-Za-z0-9]*;|#[0-9]+;|#[xX][0-9A-Fa-f]+;)")
_CHARACTER_REFERENCE = re.compile(r"&#(?:([0-9]+)|[xX]([0-9A-Fa-f]+));")


def repair(text: str, root_start: int) -> tuple[str, list[str]]:
    """The document with the repairs above, and those that mend ill-formed XML (for the log).

    `root_start` is where the root element starts: the prolog before it may hold a DOCTYPE.
    """
    repairs = []
    if text[:1].isspace() and text.lstrip().startswith("<?xml"):
        stripped = text.lstrip()
        root_start -= len(text) - len(stripped)
        text = stripped
    text = _defuse_entities(text, root_start)
    if _LONG_TAG.search(text):
        text = _LONG_TAG.sub(_trim_attributes, text)
    text, controls = REFUSED.subn(space_or_nothing, text)
    if controls:
        repairs.append("control characters removed")
    if "&" not in text:
        return text, repairs
    # Split only up to the last "]]>": past it no section closes, and an unclosed "<![CDATA[" would
    # make every later one scan to the end (quadratic on a hostile body).
    end = text.rfind("]]>") + 3 if "]]>" in text else 0
    pieces = _CDATA.split(text[:end])  # even indexes: outside CDATA; odd: CDATA sections
    pieces[-1] += text[end:]
    bare = forbidden = 0

    def valid_reference(match: re.Match[str]) -> str:
        nonlocal forbidden
        if _allowed_reference(match):
            return match.group(0)
        forbidden += 1
        return "&#xFFFD;"

    for i in range(0, len(pieces), 2):
        if "&" in pieces[i]:
            piece = _HTML_ENTITY.sub(_numeric_entity, pieces[i])
            piece, count = _BARE_AMPERSAND.subn("&amp;", piece)
            bare += count
            pieces[i] = _CHARACTER_REFERENCE.sub(valid_reference, piece)
    if bare:
        repairs.append("unescaped '&' read as '&amp;'")
    if forbidden:
        repairs.append("references to characters XML forbids read as U+FFFD")
    return "".join(pieces), repairs


def _defuse_entities(text: str, root_start: int) -> str:
    """`text` without its DOCTYPE (and what follows it up to the root) when that declares an
    entity that is unsafe or expands too much (point 2 of the module docstring)."""
    first_tag = _FIRST_TAG.search(text)
    end = max(root_start, first_tag.start() if first_tag else 0)
    if "<!" not in text[:end]:
        return text
    if not (_UNSAFE_ENTITY.search(text, 0, end) or _expansion(text, end) > MAX_EXPANSION):
        return text
    doctype = _DOCTYPE.search(text, 0, end)
    if doctype is None:  # entities without a DOCTYPE are an error to expat and ignored by feedparser
        return text
    return text[: doctype.start()] + text[end:]


def _expansion(text: str, end: int) -> int:
    """How many characters the references after `end` to the plain entities before it expand to."""
    sizes: dict[str, int] = {}
    for match in _PLAIN_ENTITY.finditer(text, 0, end):
        sizes.setdefault(match.group(1), len(match.group(2) or match.group(3) or ""))
    if not sizes:
        return 0
    total = 0
    for match in _REFERENCE.finditer(text, end):
        total += sizes.get(match.group(1), 0)
        if total > MAX_EXPANSION:
            break
    return total


def _trim_attributes(match: re.Match[str]) -> str:
    """A start tag with its first MAX_ATTRIBUTES attributes only."""
    tag = match.group(0)
    attributes = list(itertools.islice(_XML_ATTRIBUTE.finditer(tag), MAX_ATTRIBUTES + 1))
    if len(attributes) <= MAX_ATTRIBUTES:
        return tag
    return tag[: attributes[MAX_ATTRIBUTES - 1].end()] + ("/>" if tag.endswith("/>") else ">")


def _numeric_entity(match: re.Match[str]) -> str:
    chars = html5.get(match.group(1))
    return "".join(f"&#{ord(c)};" for c in chars) if chars else match.group(0)


def _allowed_reference(match: re.Match[str]) -> bool:
    """Whether a character reference names a character XML allows (XML 1.0 production [2])."""
    decimal, hexadecimal = match.groups()
    if len((decimal or hexadecimal).lstrip("0")) > 7:  # past U+10FFFF in either base; int() of
        return False  # thousands of digits is slow, and raises past 4,300 of them
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
