"""Topic keywords compiled: plain ones (a substring test, then the Latin-boundary regex) and
`/.../` regexes (topics/__init__.py, "Keywords")."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ConfigError
from ..folding import fold, simplify
from ..models import regex_keyword
from . import literals
from .prepared import IS_LATIN, LATIN, LATIN_RUN, SEP, FoldedStory, field_name


class Plain:
    """A plain keyword: a substring test first (cheap, and most stories fail it), then the regex
    that adds the Latin boundary, compiled when a text first holds the needle: compiling every
    keyword was most of compiling the topics, which every publish does and which then matches
    only the stories that changed."""

    __slots__ = ("_literal", "_pattern", "_source", "_word", "keyword", "needle")

    def __init__(self, keyword: str, folded: str) -> None:
        parts = folded.split()
        body = r"\s+".join(re.escape(part) for part in parts)
        if IS_LATIN.match(folded[0]):
            if len(parts) == 1:
                # Placed after the keyword, the lookbehind leaves a literal first, which the regex
                # engine scans for quickly.
                body += f"(?<![{LATIN}]{body})"
            else:
                body = f"(?<![{LATIN}])" + body
        if IS_LATIN.match(folded[-1]):
            body += f"(?![{LATIN}])"
        self.keyword = keyword
        self.needle = max(parts, key=len)  # in the text wherever the keyword is
        # Most keywords need no regex: one Latin word is found exactly when it is a whole Latin
        # run of the text (FoldedStory.words, a dict look-up), and a keyword with no Latin end
        # needs no boundary, so finding it is a substring search.
        self._word = len(parts) == 1 and LATIN_RUN.fullmatch(folded) is not None
        self._literal = len(parts) == 1 and not IS_LATIN.match(folded[0]) and not IS_LATIN.match(folded[-1])
        self._source = body
        self._pattern: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile(self._source)
        return self._pattern

    def found_in(self, text: str) -> bool:
        return self.needle in text and self.pattern.search(text) is not None

    def field_found(self, text: FoldedStory) -> int | None:
        """The index of the field the keyword is found in, or None."""
        if self._word:
            return text.words.get(self.needle)
        if self._literal:
            found_at = text.joined.find(self.needle)
            return None if found_at < 0 else text.field_of(found_at)
        if self.needle not in text.joined:
            return None
        found = self.pattern.search(text.joined)
        return None if found is None else text.field_of(found.start())


class Regex:
    """A `/.../` keyword, searched field by field so it cannot match across two; only in texts
    holding one of its needles (literals.py), when it has some."""

    __slots__ = ("keyword", "needles", "pattern")

    def __init__(self, keyword: str, pattern: re.Pattern[str]) -> None:
        self.keyword = keyword
        self.pattern = pattern
        self.needles = literals.needles(pattern)

    def field_found(self, text: FoldedStory) -> int | None:
        if (
            self.needles
            and not any(needle in text.joined for needle in self.needles)
            and text.needle_test_valid
        ):
            return None
        for index, field in enumerate(text.fields):
            if self.pattern.search(field):
                return index
        return None


def fold_keyword(keyword: str, chinese: bool) -> str:
    folded = fold(keyword.replace(SEP, " ")).strip()
    return simplify(folded) if chinese else folded


def compile_regex(source: str, chinese: bool) -> re.Pattern[str]:
    """Compile a `/.../` pattern; with Chinese folding its Chinese characters become simplified,
    like the text it is searched in. Raises re.error."""
    return re.compile(simplify(source) if chinese else source, re.IGNORECASE)


def compile_keywords(
    topic_id: str, rule: str, keywords: Iterable[str], chinese: bool = True
) -> tuple[Plain | Regex, ...]:
    """Compile one keyword list: plain keywords first (cheaper), each folded keyword once."""
    plain: dict[str, Plain] = {}
    regexes: list[Regex] = []
    for keyword in keywords:
        keyword = keyword.strip()
        source = regex_keyword(keyword)
        if source is None:
            folded = fold_keyword(keyword, chinese)
            if folded and folded not in plain:
                plain[folded] = Plain(keyword, folded)
        elif source.strip():
            try:
                regexes.append(Regex(keyword, compile_regex(source, chinese)))
            except re.error as error:
                raise ConfigError(
                    f"topic {topic_id!r}: {rule} keyword {keyword!r} is not a valid regular expression: {error}",
                    key=f"topics.{topic_id}.{rule}",
                ) from error
    return (*plain.values(), *regexes)


def first_found(keywords: tuple[Plain | Regex, ...], text: FoldedStory) -> str | None:
    """The first keyword of the list found in `text`, as "keyword (field)", or None."""
    for keyword in keywords:
        index = keyword.field_found(text)
        if index is not None:
            return f"{keyword.keyword} ({field_name(index)})"
    return None
