"""A story prepared for matching against many topics: its fields folded once (NFKC, casefold),
converted to simplified Chinese once, whatever number of topics look at it (topics/__init__.py,
"Speed")."""

from __future__ import annotations

import re
from bisect import bisect_right

from ..folding import fold, simplify
from ..models import Story
from . import literals

# Joins a story's fields before folding, so folding is one call and one string is searched. It is
# neither a Latin character nor whitespace, so no plain keyword matches across it. OpenCC passes
# it through unchanged.
SEP = "\x00"
FIELD_NAMES = ("title", "text")  # then one "category" per category

# Characters that join a Latin keyword end to the text around it: digits, ASCII letters, Latin-1
# letters (not × and ÷), Latin Extended-A/B, Latin Extended Additional, and combining accents.
LATIN = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u0300-\u036f"
IS_LATIN = re.compile(f"[{LATIN}]")
LATIN_RUN = re.compile(f"[{LATIN}]+")


def whole(folded: str) -> str:
    """A folded category or term compared whole: trimmed, inner whitespace runs as one space."""
    return " ".join(folded.split())


class FoldedStory:
    """A story's fields folded one way: title, text and categories joined by SEP (folded
    together, once), author and links folded when a query first asks for them."""

    __slots__ = (
        "_author",
        "_category_keys",
        "_fields",
        "_links",
        "_needle_test_valid",
        "_starts",
        "_words",
        "chinese",
        "joined",
        "story",
    )

    def __init__(self, story: Story, joined: str, chinese: bool) -> None:
        self.story = story
        self.joined = joined
        self.chinese = chinese
        self._fields: list[str] | None = None
        self._starts: list[int] | None = None
        self._category_keys: frozenset[str] | None = None
        self._author: str | None = None
        self._links: list[str] | None = None
        self._words: dict[str, int] | None = None
        self._needle_test_valid: bool | None = None

    def _fold(self, text: str) -> str:
        folded = fold(text)
        return simplify(folded) if self.chinese else folded

    @property
    def fields(self) -> list[str]:
        """The folded fields: title, text, then each category."""
        if self._fields is None:
            self._fields = self.joined.split(SEP)
        return self._fields

    @property
    def words(self) -> dict[str, int]:
        """Each whole run of Latin letters and digits in the fields -> the first field holding it."""
        if self._words is None:
            words: dict[str, int] = {}
            for index in range(len(self.fields) - 1, -1, -1):  # earlier fields overwrite later ones
                words.update(dict.fromkeys(LATIN_RUN.findall(self.fields[index]), index))
            self._words = words
        return self._words

    @property
    def needle_test_valid(self) -> bool:
        """Whether a regex keyword's needles (literals.py) tell when it cannot match this text:
        not when it holds a dotless i, the one character folding keeps that an ASCII letter
        ("i") matches under IGNORECASE."""
        if self._needle_test_valid is None:
            self._needle_test_valid = literals.UNSAFE not in self.joined
        return self._needle_test_valid

    @property
    def title(self) -> str:
        return self.fields[0]

    @property
    def text(self) -> str:
        return self.fields[1]

    @property
    def categories(self) -> list[str]:
        return self.fields[2:]

    @property
    def category_keys(self) -> frozenset[str]:
        """The folded categories as whole values (see whole)."""
        if self._category_keys is None:
            self._category_keys = frozenset(whole(c) for c in self.categories)
        return self._category_keys

    @property
    def author(self) -> str:
        if self._author is None:
            self._author = self._fold(self.story.item.author or "")
        return self._author

    @property
    def links(self) -> list[str]:
        """The item's link and every carrier's link, folded (case does not matter in a link term)."""
        if self._links is None:
            links = [self.story.item.link, *(c.link for c in self.story.carriers)]
            self._links = [fold(link) for link in dict.fromkeys(links) if link]
        return self._links

    def source_ids(self) -> list[str]:
        return [self.story.item.source_id, *(c.source_id for c in self.story.carriers)]

    def field_of(self, position: int) -> int:
        """The index in `fields` of the field holding `position` of `joined`."""
        if self._starts is None:
            starts, at = [], 0
            for field in self.fields:
                starts.append(at)
                at += len(field) + 1
            self._starts = starts
        return bisect_right(self._starts, position) - 1


class PreparedStory:
    """A story ready to be matched against many topics: folded once, converted to simplified
    Chinese once, whatever number of topics look at it. Pass it to CompiledTopic.match()."""

    __slots__ = ("_folded", "_simplified", "story")

    def __init__(self, story: Story) -> None:
        self.story = story
        self._folded: FoldedStory | None = None
        self._simplified: FoldedStory | None = None

    def folded(self, chinese: bool) -> FoldedStory:
        """The story folded (NFKC + casefold), and converted to simplified Chinese if `chinese`."""
        if self._folded is None:
            item = self.story.item
            raw = [item.title or "", item.text or "", *item.categories]
            joined = fold(SEP.join(part.replace(SEP, " ") for part in raw))
            self._folded = FoldedStory(self.story, joined, chinese=False)
        if not chinese:
            return self._folded
        if self._simplified is None:
            self._simplified = FoldedStory(self.story, simplify(self._folded.joined), chinese=True)
        return self._simplified


def prepare(story: Story | PreparedStory) -> PreparedStory:
    """The story prepared for matching (a PreparedStory is returned as it is)."""
    return story if isinstance(story, PreparedStory) else PreparedStory(story)


def field_name(index: int) -> str:
    return FIELD_NAMES[index] if index < len(FIELD_NAMES) else "category"
