"""YAML front matter that Hexo (js-yaml) and Hugo (Go YAML) read back exactly as written.

The layout follows a real OSChina article published as a Hexo post: keys in a fixed order, one
`key: value` per line, lists as ` - value` lines, titles and URLs in single quotes, names
plain when that is safe. Values come from feeds, so none may escape its line: a value is
written plain only when no YAML reader (1.1 or 1.2) could take it for anything but that string,
in single quotes when every character can stand there as it is (YAML 1.2 section 7.3.2: `'`
doubled), and otherwise in double quotes with escapes (section 5.7), so a newline, a control
character or a line separator never reaches the file raw and no value can end the front matter
(`---`) or start another key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DELIMITER = "---"

# What may stand raw inside single quotes: YAML's printable set (section 5.1) without the line
# breaks of YAML 1.1 (NEL, LS, PS), tab and the byte order mark. Everything else is escaped.
_NOT_SINGLE_QUOTABLE = re.compile(
    "[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")  # cannot be written as UTF-8 at all
# Plain scalars: no indicator anywhere (a conservative reading of section 7.3.3), no leading or
# trailing space, and the first character a letter, so no number, date or null can be read.
_PLAIN_FORBIDDEN = frozenset(":#,[]{}&*!|>'\"%@`\\")
# Words YAML 1.1 (Go YAML v2, PyYAML) reads as booleans or null, in any case.
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def quoted(text: str) -> str:
    """`text` in single quotes, or in double quotes with escapes when single quotes cannot hold it."""
    text = _SURROGATE.sub("\ufffd", text)
    if not _NOT_SINGLE_QUOTABLE.search(text):
        return "'" + text.replace("'", "''") + "'"
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def scalar(text: str) -> str:
    """`text` plain (unquoted) when that is safe in every YAML reader, else quoted()."""
    plain = (
        text[:1].isalpha()
        and text == text.strip()
        and text.lower() not in _YAML11_WORDS
        and all(ch.isprintable() and ch not in _PLAIN_FORBIDDEN for ch in text)
    )
    return text if plain else quoted(text)


def sequence(key: str, values: Iterable[str]) -> list[str]:
    """A list of strings as `key: ` and ` - value` lines (`key: []` when empty)."""
    items = [f" - {scalar(value)}" for value in values]
    return [f"{key}: ", *items] if items else [f"{key}: []"]


def records(key: str, rows: Iterable[dict[str, str]]) -> list[str]:
    """A list of mappings of strings, each key in quoted() form (links and titles alike)."""
    lines = [f"{key}: "]
    for row in rows:
        for n, (name, value) in enumerate(row.items()):
            lines.append(f"{' - ' if n == 0 else '   '}{name}: {quoted(value)}")
    return lines if len(lines) > 1 else [f"{key}: []"]


def document(lines: list[str], body: str) -> bytes:
    """Front matter between `---` lines, a blank line, then the body, as UTF-8."""
    return "\n".join([DELIMITER, *lines, DELIMITER, "", body]).encode("utf-8")


def _escape(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    if not _NOT_SINGLE_QUOTABLE.match(ch):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
