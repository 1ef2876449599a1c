"""The characters no text read from the network may keep: those XML 1.0 refuses.

XML 1.0 allows tab, LF, CR and U+0020 and above, less the surrogates and U+FFFE/U+FFFF
(https://www.w3.org/TR/xml/#charsets). The rest cannot go into a published feed, and two of
them cannot be stored either: PostgreSQL's text refuses NUL, and a lone surrogate (what aiohttp
makes of a header's invalid UTF-8 bytes, or a hostile document of a half pair) has no UTF-8 form,
so neither psycopg nor SQLite's driver takes it. DEL goes too: no text means it.

Vertical tab and form feed are whitespace (HTML reads a form feed as a space between words and
attributes), so a run of refused characters holding one becomes one space, as repair.py mends a
document; any other run goes.

Like models, any stage may import this: fetch applies it to response headers, parse to every
field of a parsed document (ParsedFeed and its RawItems), errors to their messages (which quote
servers), normalize to HTML and URLs it gets from elsewhere too (article pages), and
store/transfer to rows an SQLite file stored before.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from typing import Any

_CHARACTERS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]"
REFUSED = re.compile(_CHARACTERS + "+")  # runs, each to replace at once
_REFUSED_ONE = re.compile(_CHARACTERS)  # to look for one: twice as fast as REFUSED on 250 KB


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 refuses (see the module docstring)."""
    if _REFUSED_ONE.search(text) is None:  # the common case: a search costs less than a sub
        return text
    return REFUSED.sub(space_or_nothing, text)


def space_or_nothing(run: re.Match[str]) -> str:
    """What a run of refused characters becomes: a space if it holds whitespace, else nothing."""
    return " " if "\x0b" in run.group(0) or "\x0c" in run.group(0) else ""


def make_xml_safe(record: Any) -> Any:
    """`record` with every string in it made xml_safe: the strings of a dataclass's fields (changed
    in place) and of the lists, tuples and dataclasses inside them, however nested."""
    return _made_xml_safe(record, {})


def _made_xml_safe(value: Any, done: dict[int, str]) -> Any:
    """make_xml_safe, with `done` the strings already looked at, by id: a parser often gives one
    string twice (an RSS item's description is both its summary and its content), and looking
    through one item's 100 KB costs 0.5 ms."""
    if isinstance(value, str):
        if id(value) not in done:
            done[id(value)] = xml_safe(value)
        return done[id(value)]
    if isinstance(value, list | tuple):
        cleaned = [_made_xml_safe(member, done) for member in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else type(value)(cleaned)
    if is_dataclass(value) and not isinstance(value, type):
        for field in fields(value):
            member = getattr(value, field.name)
            cleaned = _made_xml_safe(member, done)
            if cleaned is not member:
                setattr(value, field.name, cleaned)
    return value
