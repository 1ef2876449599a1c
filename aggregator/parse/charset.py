"""Pick the character encoding of a fetched body and decode it.

Order (the first that applies wins):

1. A byte-order mark (UTF-8, UTF-16, UTF-32), or UTF-16 and UTF-32 sniffed without one from the
   NUL bytes around the first ``<`` (XML 1.0 appendix F, https://www.w3.org/TR/xml/#sec-guessing).
   Such a body is otherwise valid UTF-8 (NUL is a valid character there), and would reach the
   XML parser as "<\x00r\x00s\x00s...". A BOM wins over a declared encoding, as in browsers,
   but only if the bytes after it decode strictly and start like a document ("<" or "{"): a
   UTF-8 BOM pasted on GBK bytes, or a UTF-16 one on UTF-8 text, is a lie, and the bytes after
   it are then read by the rules below (the BOM's encoding with U+FFFD stays the last resort).
2. UTF-8, when the body is valid UTF-8. Text in a legacy encoding is practically
   never valid UTF-8, while servers often announce a wrong default charset (ISO-8859-1, GBK) for
   UTF-8 documents; trusting the bytes here costs one decode, which is also the result.
3. The Content-Type charset, then the XML declaration's encoding, each tried strictly.
4. For a body declared UTF-8 (and nothing else) that is mostly GB2312 double-byte text, not
   UTF-8 with a stray byte: GB18030 with U+FFFD for the bad bytes. A GBK feed served with a
   server-wide "charset=utf-8" is a classic of Chinese sites; stray Windows-1252 quotes in a
   UTF-8 document never form GB2312 pairs, so they keep the next rule.
5. UTF-8 with U+FFFD for the bad bytes, when UTF-8 was declared or nothing was and the body is
   mostly valid UTF-8: one stray byte must not turn a whole Chinese feed into Windows-1252.
6. For undeclared bodies: GB18030, then Windows-1252 (a best effort: XML says an undeclared
   document is UTF-8, so such a body is broken anyway). GB18030 first because Latin text almost
   always has an accented letter before a space or punctuation, which GB18030 rejects, while GBK
   text often has no byte that Windows-1252 rejects.
7. The first declared encoding with U+FFFD replacement, so one corrupt byte in a GBK feed costs
   one character, not the whole document.

Labels map to the codec that decodes what documents labelled so really contain, as browsers do
(WHATWG Encoding Standard, https://encoding.spec.whatwg.org/#names-and-labels): GB2312 and GBK are
read as GB18030, their superset (GB2312-labelled feeds routinely contain GBK-only characters such
as 镕 and GB18030-only ones such as 𠮷); Big5 as CP950 (Big5 with Microsoft's additions, e.g. €),
then Big5-HKSCS; ISO-8859-1 and ASCII as Windows-1252, then Latin-1.
"""

from __future__ import annotations

import codecs
import re

_GB = ("gb18030",)
_BIG5 = ("cp950", "big5hkscs")
_LATIN = ("cp1252", "latin-1")

# Labels whose best codec is not the one Python's codec registry gives them.
_CODECS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "gb2312",
            "gbk",
            "cp936",
            "x-gbk",
            "gb_2312",
            "gb_2312-80",
            "csgb2312",
            "euc-cn",
            "chinese",
            "gb18030",
        ),
        _GB,
    ),
    **dict.fromkeys(("big5", "big5-tw", "cn-big5", "csbig5", "x-x-big5", "cp950"), _BIG5),
    **dict.fromkeys(("big5-hkscs", "big5hkscs"), ("big5hkscs", "cp950")),
    **dict.fromkeys(
        (
            "iso-8859-1",
            "iso8859-1",
            "iso_8859-1",
            "latin1",
            "latin-1",
            "l1",
            "us-ascii",
            "ascii",
            "windows-1252",
            "cp1252",
        ),
        _LATIN,
    ),
}

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';,\s]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def decode(body: bytes, content_type: str = "") -> str:
    """Return `body` as text, choosing the encoding as the module docstring says."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            rest = body[len(bom) :]
            try:
                text = rest.decode(encoding)
            except UnicodeDecodeError:
                text = None
            if text is not None and text.lstrip()[:1] in ("<", "{", ""):
                return text
            fallback = decode(rest, content_type)  # at most one call per BOM it starts with
            return fallback if fallback.lstrip()[:1] in ("<", "{") else rest.decode(encoding, "replace")
    sniffed = _sniff_wide(body[:4])
    if sniffed:
        return body.decode(sniffed, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    labels = [label for label in (charset_of(content_type), xml_encoding_of(body)) if label]
    declared = [codec for label in labels for codec in codecs_for(label)]
    for codec in declared:
        if codec != "utf-8":  # UTF-8 already failed strictly
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    text = body.decode("utf-8", "replace")
    if set(declared) == {"utf-8"} and _mostly_valid(body.decode("gb2312", "replace")):
        return body.decode("gb18030", "replace")
    if "utf-8" in declared or (not declared and _mostly_valid(text)):
        return text
    if not declared:
        for codec in ("gb18030", "cp1252"):
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    return body.decode(declared[0], "replace") if declared else text


def _sniff_wide(start: bytes) -> str | None:
    """UTF-32 or UTF-16 without a BOM, from where the NUL bytes sit around an ASCII first character."""
    if len(start) < 4 or b"\x00" not in start:
        return None
    if start[:3] == b"\x00\x00\x00" and start[3]:
        return "utf-32-be"
    if start[1:] == b"\x00\x00\x00" and start[0]:
        return "utf-32-le"
    if start[0] == 0 and start[2] == 0 and start[1] and start[3]:
        return "utf-16-be"
    if start[1] == 0 and start[3] == 0 and start[0] and start[2]:
        return "utf-16-le"
    return None


def _mostly_valid(text: str) -> bool:
    """Whether text decoded with U+FFFD replacement holds far more valid multi-byte characters
    than U+FFFD: a document in that encoding with a stray byte, not one in another encoding. A
    legacy-encoded body almost never forms valid UTF-8 sequences, and UTF-8 text pairs up as GB2312
    about as often as not."""
    bad = text.count("\ufffd")
    multibyte_extra = len(text.encode("utf-8")) - len(text) - 2 * bad  # U+FFFD is 3 bytes
    return multibyte_extra > 10 * bad


def codecs_for(label: str) -> tuple[str, ...]:
    """Python codecs to try, best first, for an encoding label; () when the label is unknown."""
    label = label.strip().lower()
    if label in _CODECS:
        return _CODECS[label]
    try:
        return (codecs.lookup(label).name,)
    except LookupError:
        return ()


def charset_of(content_type: str) -> str | None:
    """The charset parameter of a Content-Type value."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def xml_encoding_of(body: bytes) -> str | None:
    """The encoding named in an XML declaration at the start of `body`."""
    match = _XML_ENCODING.match(body[:512])
    return match.group(1).decode("ascii") if match else None


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lower-cased, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()
