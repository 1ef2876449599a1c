"""Folding: the one way text is made comparable for topic matching and search. Pure.

fold() is Unicode NFKC, then casefold: "ＡＩ" and "Ai" read "ai", "Straße" reads "strasse".
simplify() converts traditional Chinese characters to simplified with OpenCC's t2s conversion:
"機器學習" reads "机器学习". Topics fold keywords and text alike, then simplify both unless a topic
sets `fold_chinese: false` (see aggregator/topics/). spellings() goes the other way, for index
look-ups: every character that folds to a given one.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata

import opencc

_SEP = "\x00"  # joins characters for one conversion call; OpenCC passes it through unchanged

# The full-width forms of ASCII (U+FF01-FF5E), the ideographic space and the no-break space (text
# taken from HTML is full of &nbsp;), which NFKC maps to ASCII. Chinese text is full of them (，：！),
# so a plain NFKC pass does the full decompose-compose work on nearly every paragraph (about 100 ns
# a character: 200 µs for 5 KB); mapping them first lets most text pass NFKC's quick check instead
# (35 µs). Same result: these characters' compatibility decompositions are exactly the ASCII
# characters they become.
_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000\u00a0]")


def _halfwidth(found: re.Match[str]) -> str:
    char = found[0]
    return " " if char in "\u3000\u00a0" else chr(ord(char) - 0xFEE0)


def fold(text: str) -> str:
    """Fold text for comparison: Unicode NFKC, then casefold ("ＡＩ" -> "ai", "ß" -> "ss")."""
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = _FULLWIDTH.sub(_halfwidth, text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    return text.casefold()


# One OpenCC converter per thread and configuration: creating one reads its dictionaries (3 ms for
# t2s), and the library does not promise that one converter may serve several threads at once.
_converters = threading.local()


def _converter(config: str) -> opencc.OpenCC:
    converter = getattr(_converters, config, None)
    if converter is None:
        converter = opencc.OpenCC(f"{config}.json")
        setattr(_converters, config, converter)
    return converter


def simplify(text: str) -> str:
    """Traditional Chinese to simplified (OpenCC t2s): "機器學習" -> "机器学习". Other text is kept.

    The conversion keeps every character's position (each mapping is one character for one), so
    fields joined by a separator split the same way after it.
    """
    return text if text.isascii() else _converter("t2s").convert(text)


# Unicode blocks of CJK ideographs: Unified (and extension A, B-F), Compatibility, Compatibility Supplement.
_IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2EBEF), (0x2F800, 0x2FA1F))


@functools.cache
def _spellings() -> dict[str, str]:
    """Folded simplified character -> every other ideograph that folds to it ("发" -> "發髮").

    Built once (about 50 ms) by folding every ideograph, so it is the exact inverse of what
    fold() and simplify() do to single characters.
    """
    chars = [chr(code) for start, end in _IDEOGRAPHS for code in range(start, end + 1)]
    keys = simplify(fold(_SEP.join(chars))).split(_SEP)
    spellings: dict[str, str] = {}
    for char, key in zip(chars, keys, strict=True):
        if key != char:
            spellings[key] = spellings.get(key, "") + char
    return spellings


def spellings(char: str) -> str:
    """`char` (folded and simplified) and every character that folds to it: "发" -> "发發髮",
    "台" -> "台檯臺颱". For index look-ups that must find every text a keyword matches."""
    return char + _spellings().get(char, "")
