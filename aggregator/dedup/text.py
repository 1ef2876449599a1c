"""What two copies of one story still share once the reposter's edits are undone.

Reposts change the wrapping, not the news: a 【转载】 tag or " | 开源中国" on the title, a copyright
line or "原文链接" at the end, full-width punctuation, other line breaks. This module removes that
wrapping and cuts the rest into tokens, in this order:

1. fold: Unicode NFKC (full-width ＡＩ，１．５４ become AI,1.54), then casefold.
2. title affixes: leading tags in brackets without digits (【转载】, [转], (原创)), leading
   "转载：" / "原创 |" words, a short leading "column |", and trailing " | site", " - site" and
   "_site" parts of at most MAX_SUFFIX characters that hold no number outside a Latin word
   (" | 51CTO" goes; " - 性能提升 30%" stays, and so does " | 36氪", which costs little: a title
   that only adds a number does not conflict, see near.numbers_conflict).
3. body boilerplate: short lines naming a copyright, a source or a "read the original" link.
4. tokens: every CJK character is a token (Chinese has no spaces; characters and their
   neighbours carry the meaning), every run of other letters and digits is one (dots inside
   kept, so "1.54" and "node.js" are one token); punctuation and spaces are dropped.

`title_numbers` is the precision guard: the numbers a title names ("Rust 1.54", "第 100 期",
"5.14-rc2"), which templated near-misses differ in and true copies never do.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SUFFIX = 25  # longest " | site name" stripped from a title, in characters
MAX_PREFIX = 12  # longest "column | " stripped from the front of a title
MAX_BOILERPLATE_LINE = 160  # longer lines are content even when they name a source

_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(f"[{_CJK_RANGES}]|[^\\W_{_CJK_RANGES}]+(?:[.'][^\\W_{_CJK_RANGES}]+)*")

# Leading tags: a short bracketed word without digits, or a repost word before a colon or bar.
_LEADING_TAG = re.compile(
    r"^\s*(?:[【\[(〔]\s*[^\]】)〕\d]{1,8}\s*[\]】)〕]"
    r"|(?:转载|转|原创|转发|独家|快讯|重磅|译|repost(?:ed)?|reprint(?:ed)?|breaking)\s*[:|丨])\s*"
)
# A leading "column | " or "site | ": up to MAX_PREFIX characters before a bar.
_PREFIX = re.compile(rf"^([^|丨]{{1,{MAX_PREFIX}}})\s*[|丨]\s*")
# A trailing " | site": bars need no spaces around them, dashes and underscores do (or a CJK name).
_SUFFIX = re.compile(r"(?:\s*[|丨]\s*|\s+[-_]\s+|\s*--\s*|_(?=[^_]*[\u4e00-\u9fff]))([^|丨]+)$")
# A number standing alone, not glued to Latin letters: "51cto" is a name, "30%" is a figure.
_LONE_NUMBER = re.compile(r"(?<![a-z0-9.])\d+(?:\.\d+)*(?![a-z0-9.])")

_BOILERPLATE = re.compile(
    "|".join(
        [
            r"版权(?:所有|声明|归)",
            r"著作权归",
            r"转载请",
            r"(?:未经|没有)(?:授权|许可)",
            r"禁止转载",
            r"本文(?:转载|转自|来源|来自|系|为|首发)",
            r"原文(?:链接|地址|出处|标题)",
            r"(?:文章|内容|消息)?来源\s*[:|]",
            r"出处\s*[:|]",
            r"(?:责任)?编辑\s*[:|]",
            r"免责声明",
            r"(?:关注|订阅)(?:我们|公众号|微信)",
            r"扫码|二维码|阅读原文|点击(?:查看|阅读)",
            r"(?:推荐|相关|延伸)阅读",
            r"copyright|©|all rights reserved",
            r"originally (?:published|appeared|posted)",
            r"(?:re)?(?:printed|published|posted) (?:with permission|from|by permission)",
            r"^\s*(?:source|via|from)\s*:",
            r"read (?:the )?(?:original|full|more)",
            r"(?:follow|subscribe to) (?:us|our)",
        ]
    )
)

# Typographers' quotes and dashes that reposting sites swap for ASCII ones, and back.
_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})

_CHINESE_DIGITS = {
    char: value
    for value, chars in enumerate(["零〇", "一", "二两", "三", "四", "五", "六", "七", "八", "九"])
    for char in chars
}
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
_CHINESE_ORDINAL = re.compile("第([零〇一二两三四五六七八九十百千]+)[期版届章回季集篇号]")
# A version or issue number: digits with dots, and a pre-release word glued to the digits after it
# ("rc2", "rc 2" and "-rc2" all read "rc2"), so rc1 and rc2 of one version differ.
_NUMBER = re.compile(r"(?:(?<![^\W\d_])(rc|beta|alpha|preview|pre)\s*[-._]?\s*)?(\d+(?:\.\d+)*)")


def fold(text: str) -> str:
    """Unicode NFKC, then casefold; curly quotes and long dashes as ASCII: "ＡＩ’ｓ" -> "ai's"."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    return text.casefold()


def clean_title(title: str) -> str:
    """The folded title without repost tags and site-name suffixes."""
    title = fold(title).strip()
    while True:
        stripped = _LEADING_TAG.sub("", title, count=1)
        if stripped == title or not stripped:
            break
        title = stripped
    found = _PREFIX.match(title)
    if found and not _LONE_NUMBER.search(found[1]) and len(title) - found.end() >= 4:
        title = title[found.end() :]
    while True:
        found = _SUFFIX.search(title)
        if not found:
            break
        suffix, kept = found[1].strip(), title[: found.start()].strip()
        if len(suffix) > MAX_SUFFIX or _LONE_NUMBER.search(suffix) or len(kept) < 4:
            break
        title = kept
    return title


def clean_body(text: str) -> str:
    """The folded text without its short copyright, source and "read more" lines."""
    lines = fold(text).split("\n")
    return "\n".join(
        line for line in lines if len(line) > MAX_BOILERPLATE_LINE or not _BOILERPLATE.search(line)
    )


def tokens(text: str, limit: int | None = None) -> list[str]:
    """CJK characters one by one, runs of other letters and digits as words; no punctuation.

    With `limit`, the first `limit` tokens only. Callers bound the text's length, so finding
    all of them (in C) and cutting costs less than stopping early from Python.
    """
    found = _TOKEN.findall(text)
    return found if limit is None else found[:limit]


def title_numbers(cleaned_title: str) -> frozenset[str]:
    """The numbers a cleaned title names, written one way: "1.54.0" is "1.54", "第一百期" is "100"."""
    text = _CHINESE_ORDINAL.sub(lambda m: f" {_chinese_number(m[1])} ", cleaned_title)
    numbers = set()
    for prefix, number in _NUMBER.findall(text):
        parts = [str(int(part)) for part in number.split(".")]
        while len(parts) > 1 and parts[-1] == "0":
            parts.pop()
        numbers.add((prefix or "") + ".".join(parts))
    return frozenset(numbers)


def _chinese_number(numeral: str) -> int:
    """一百零一 -> 101, 十二 -> 12 (numbers below ten thousand, as issues and seasons go)."""
    total, digit = 0, 0
    for char in numeral:
        if char in _CHINESE_UNITS:
            total += (digit or 1) * _CHINESE_UNITS[char]
            digit = 0
        else:
            digit = _CHINESE_DIGITS[char]
    return total + digit
