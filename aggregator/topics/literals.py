"""The strings a `/.../` keyword's every match must contain: a quick test that lets most stories
skip the regex.

A case-insensitive regex is slow to fail: `/postgresql|mysql|redis/` tries every branch at every
position of a 5 KB text (some 130 µs), while looking for "postgresql", "mysql" and "redis" with
`in` takes a few microseconds. So each regex keyword gets the necessary strings its parsed form
names, and a text holding none of them cannot match.

Soundness rests on what the regex searches: folded text (NFKC, then casefold: folding.fold), in
which every cased character is already lowercase. Under IGNORECASE a pattern character matches
text characters that are not itself; the needles keep only pattern characters whose partners
cannot appear in folded text, so that "the regex matched here" implies "the needle is here":
- ASCII characters, lowercased: their partners are the uppercase letter, K (KELVIN SIGN), ſ
  (LONG S) and İ (I WITH DOT ABOVE), which folding turns into the lowercase letter (İ into "i"
  and a combining dot); except ı (DOTLESS I), which folding keeps and which matches "i". A text
  holding ı is searched without the quick test.
- characters without case (CJK, digits, punctuation), which only match themselves.
Any other character (é, Σ ...) ends a needle there.
"""

from __future__ import annotations

import re
from typing import Any

MAX_NEEDLES = 16  # more alternatives than this and the `in` tests stop being cheap
UNSAFE = "\u0131"  # DOTLESS I: kept by folding, matched by "i" under IGNORECASE


def needles(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings such that every match of `pattern` in folded text contains one of them, or None
    when the pattern names none (or parsing it here fails: the regex then simply always runs)."""
    try:
        # The standard library's own regex parser (private, hence the guards).
        from re import _constants as sre
        from re import _parser
    except ImportError:  # pragma: no cover - a Python without it: no quick test
        return None
    try:
        found = _necessary(_parser.parse(pattern.pattern, pattern.flags), sre)
    except Exception:  # any surprise in a private parser means: no quick test
        return None
    if not found or len(found) > MAX_NEEDLES:
        return None
    return tuple(sorted(found))


def _necessary(sequence: Any, sre: Any) -> frozenset[str] | None:
    """Alternatives one of which every match of this parsed sequence contains; the best found
    among its parts (the longest shortest alternative), or None."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []  # consecutive literal characters: matched as one string
    for op, value in sequence:
        if op is sre.LITERAL:
            char = _needle_char(chr(value))
            if char is not None:
                run.append(char)
                continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        part: frozenset[str] | None = None
        if op is sre.BRANCH:
            branches = [_necessary(branch, sre) for branch in value[1]]
            if all(branches):
                part = frozenset().union(*branches)
        elif op is sre.SUBPATTERN:
            part = _necessary(value[-1], sre)
        elif op is sre.ATOMIC_GROUP:
            part = _necessary(value, sre)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1:
            part = _necessary(value[2], sre)
        if part:
            candidates.append(part)
    if run:
        candidates.append(frozenset(["".join(run)]))
    if not candidates:
        return None
    return max(candidates, key=lambda strings: (min(map(len, strings)), -len(strings)))


def _needle_char(char: str) -> str | None:
    """The character a needle holds for this pattern character, or None if it cannot hold one."""
    if char.isascii():
        return char.lower()
    if char.lower() == char == char.upper():  # no case: matches only itself
        return char
    return None
