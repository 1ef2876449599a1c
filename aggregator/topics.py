"""Topics: which stories belong to which topic. Rules are compiled once; matching is pure.

A story matches a topic when every rule the topic sets holds. Rules are checked in this order,
cheapest first (like Miniflux's reader/filter/filter.go), and the first that fails decides:

1. sources     if set, a source that carried the story (any carrier, or the item's own source)
               is listed. Source ids compare exactly.
2. categories  if set, one of the item's categories equals one listed, after folding. Whole
               categories only: "AI" does not take the category "AI 芯片".
3. min_length  if set, the item's plain text (item.text, whitespace runs counted as one character)
               is at least this many characters long.
4. all         every keyword matches.
5. any         when non-empty, at least one keyword matches.
6. none        no keyword matches.
7. query       the boolean query (grammar in aggregator/query.py) holds.

A topic with no rules takes every story. `max_age` and `max_items` are not rules of a story but
of a feed: publish.selection applies them (see CompiledTopic.fresh).

Keywords (DESIGN.md, "Keyword semantics"):

- Keywords and text are folded alike: Unicode NFKC, then casefold. "ＡＩ", "Ai" and "AI" are one
  keyword; "STRASSE" matches "Straße".
- Chinese folding (on unless a topic sets `fold_chinese: false`): after that, keywords and text
  are both converted to simplified Chinese with OpenCC's t2s conversion, so "機器學習" and
  "机器学习" match each other, and "開源" matches "开源". Regex patterns are converted too. The
  conversion is OpenCC's standard one, character by character with a phrase table for the
  characters whose simplified form depends on the word (乾隆 stays, 乾淨 becomes 干净); it does not
  swap regional vocabulary (軟體 becomes 软体, not 软件).
- A keyword looks at the title, the plain text (item.text) and each category on its own, so it never
  matches across two fields or across two categories.
- Latin boundary: at an end of a keyword whose character is a Latin letter or digit, the text must
  not continue with another one there. Latin letters are ASCII letters, Latin-1 and Latin Extended
  letters (é, ß, ă, ạ ...); digits are 0-9 (after NFKC, full-width digits are 0-9 too); a combining
  accent counts as part of the letter before it. So "AI" matches "AI芯片", "AI-powered", "(AI)",
  "AI." but not "maintain", "Thailand", "AIX" or "Said"; "Rust" matches "Rust 1.54" but not "Trust";
  "Go" matches "Go 1.22" and "Go语言" but not "Google" or "golang". Consequences, on purpose:
  "LLM" does not match "LLMs" (write ``/llms?/`` for plurals), and "5G" does not match "15G" (the
  digit 1 is joined to the 5). An end that is not a Latin letter or digit adds no check: "C++" checks
  only its left end, ".NET" and "AI芯片" only one end, and CJK keywords match as plain substrings
  ("大模型" in "开源大模型发布").
- Whitespace inside a keyword matches any run of whitespace ("open source" matches "open\\nsource").
- ``/.../`` is a regular expression (models.regex_keyword), searched case-insensitively in each folded
  field, with no boundary added. The pattern itself is not folded, so write it in half-width
  characters and remember the text it sees is folded (NFKC, casefolded: "ß" reads as "ss").
- Empty and whitespace-only keywords, and the empty regex ``//``, are ignored.

Query terms (aggregator/query.py) follow the same semantics. With no field, a term looks where a
keyword looks; `title:`, `text:` and `author:` look at that field alone; `category:` must equal a
whole category after folding (like the categories rule); `source:` must equal the id of a source
that carried the story, exactly; `link:` is a case-insensitive substring of the item's link or of
a carrier's link.

Speed: publishing matches every story against every topic, so a story is prepared once
(PreparedStory): its title, text and categories are folded once (one fold() of the fields joined),
and converted to simplified Chinese once, however many topics look at it. Each plain keyword is
first looked for as a plain substring, which rejects most stories in about a microsecond, and only
then searched with its boundary regex. Measured on 5 KB of Chinese text and 10 keywords, one
alternation regex of all the keywords took 300 µs to find nothing (Python's regex engine tries
every branch at every character), the substring-then-regex loop 15 µs. Folding 5 KB of Chinese
takes about 40 µs, converting it to simplified Chinese 17 µs (50 µs when it is traditional); ASCII
text skips the conversion. Preparing a story once instead of once per topic made matching a 5 KB
story against the sample's six topics and three queries 4x faster (160 µs instead of 600 µs).

Publishing does not match every stored story each time: which stories a topic's rules take is
kept in the database (publish/membership.py). A topic's `rules` (what decides a match, without
the feed limits max_age and max_items) and their `digest` name that membership; topics with the
same rules share it, and changed rules get a new digest, so their membership is built afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta

from . import query as query_language
from .errors import ConfigError
from .folding import fold, simplify
from .models import Story, Topic, regex_keyword

# Part of every rules digest: bump it when a change to matching (folding, boundaries, the query
# language) changes which stories some rules take, so stored memberships are rebuilt with it.
MATCHING_VERSION = 1
# The fields of a Topic that decide whether a story matches it (not max_age and max_items: they
# limit a feed, not a match).
RULE_FIELDS = ("sources", "categories", "min_length", "all", "any", "none", "query", "fold_chinese")

# Characters that join a Latin keyword end to the text around it: digits, ASCII letters, Latin-1
# letters (not × and ÷), Latin Extended-A/B, Latin Extended Additional, and combining accents.
_LATIN = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u0300-\u036f"
_IS_LATIN = re.compile(f"[{_LATIN}]")

# Joins a story's fields before folding, so folding is one call and one string is searched. It is
# neither a Latin character nor whitespace, so no plain keyword matches across it. OpenCC passes
# it through unchanged.
_SEP = "\x00"
_FIELD_NAMES = ("title", "text")  # then one "category" per category


def _whole(folded: str) -> str:
    """A folded category or term compared whole: trimmed, inner whitespace runs as one space."""
    return " ".join(folded.split())


class _FoldedStory:
    """A story's fields folded one way: title, text and categories joined by _SEP (folded
    together, once), author and links folded when a query first asks for them."""

    __slots__ = ("_author", "_category_keys", "_fields", "_links", "_starts", "chinese", "joined", "story")

    def __init__(self, story: Story, joined: str, chinese: bool) -> None:
        self.story = story
        self.joined = joined
        self.chinese = chinese
        self._fields: list[str] | None = None
        self._starts: list[int] | None = None
        self._category_keys: frozenset[str] | None = None
        self._author: str | None = None
        self._links: list[str] | None = None

    def _fold(self, text: str) -> str:
        folded = fold(text)
        return simplify(folded) if self.chinese else folded

    @property
    def fields(self) -> list[str]:
        """The folded fields: title, text, then each category."""
        if self._fields is None:
            self._fields = self.joined.split(_SEP)
        return self._fields

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
        """The folded categories as whole values (see _whole)."""
        if self._category_keys is None:
            self._category_keys = frozenset(_whole(c) for c in self.categories)
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
        self._folded: _FoldedStory | None = None
        self._simplified: _FoldedStory | None = None

    def folded(self, chinese: bool) -> _FoldedStory:
        """The story folded (NFKC + casefold), and converted to simplified Chinese if `chinese`."""
        if self._folded is None:
            item = self.story.item
            raw = [item.title or "", item.text or "", *item.categories]
            joined = fold(_SEP.join(part.replace(_SEP, " ") for part in raw))
            self._folded = _FoldedStory(self.story, joined, chinese=False)
        if not chinese:
            return self._folded
        if self._simplified is None:
            self._simplified = _FoldedStory(self.story, simplify(self._folded.joined), chinese=True)
        return self._simplified


def prepare(story: Story | PreparedStory) -> PreparedStory:
    """The story prepared for matching (a PreparedStory is returned as it is)."""
    return story if isinstance(story, PreparedStory) else PreparedStory(story)


def _field_name(index: int) -> str:
    return _FIELD_NAMES[index] if index < len(_FIELD_NAMES) else "category"


class _Plain:
    """A plain keyword: a substring test first (cheap, and most stories fail it), then the regex
    that adds the Latin boundary, compiled when a text first holds the needle: compiling every
    keyword was most of compiling the topics, which every publish does and which then matches
    only the stories that changed."""

    __slots__ = ("_pattern", "_source", "keyword", "needle")

    def __init__(self, keyword: str, folded: str) -> None:
        parts = folded.split()
        body = r"\s+".join(re.escape(part) for part in parts)
        if _IS_LATIN.match(folded[0]):
            if len(parts) == 1:
                # Placed after the keyword, the lookbehind leaves a literal first, which the regex
                # engine scans for quickly.
                body += f"(?<![{_LATIN}]{body})"
            else:
                body = f"(?<![{_LATIN}])" + body
        if _IS_LATIN.match(folded[-1]):
            body += f"(?![{_LATIN}])"
        self.keyword = keyword
        self.needle = max(parts, key=len)  # in the text wherever the keyword is
        self._source = body
        self._pattern: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile(self._source)
        return self._pattern

    def found_in(self, text: str) -> bool:
        return self.needle in text and self.pattern.search(text) is not None

    def field_found(self, text: _FoldedStory) -> int | None:
        """The index of the field the keyword is found in, or None."""
        if self.needle not in text.joined:
            return None
        found = self.pattern.search(text.joined)
        return None if found is None else text.field_of(found.start())


class _Regex:
    """A `/.../` keyword, searched field by field so it cannot match across two."""

    __slots__ = ("keyword", "pattern")

    def __init__(self, keyword: str, pattern: re.Pattern[str]) -> None:
        self.keyword = keyword
        self.pattern = pattern

    def field_found(self, text: _FoldedStory) -> int | None:
        for index, field in enumerate(text.fields):
            if self.pattern.search(field):
                return index
        return None


def _fold_keyword(keyword: str, chinese: bool) -> str:
    folded = fold(keyword.replace(_SEP, " ")).strip()
    return simplify(folded) if chinese else folded


def _compile_regex(source: str, chinese: bool) -> re.Pattern[str]:
    """Compile a `/.../` pattern; with Chinese folding its Chinese characters become simplified,
    like the text it is searched in. Raises re.error."""
    return re.compile(simplify(source) if chinese else source, re.IGNORECASE)


def _compile_keywords(
    topic_id: str, rule: str, keywords: Iterable[str], chinese: bool = True
) -> tuple[_Plain | _Regex, ...]:
    """Compile one keyword list: plain keywords first (cheaper), each folded keyword once."""
    plain: dict[str, _Plain] = {}
    regexes: list[_Regex] = []
    for keyword in keywords:
        keyword = keyword.strip()
        source = regex_keyword(keyword)
        if source is None:
            folded = _fold_keyword(keyword, chinese)
            if folded and folded not in plain:
                plain[folded] = _Plain(keyword, folded)
        elif source.strip():
            try:
                regexes.append(_Regex(keyword, _compile_regex(source, chinese)))
            except re.error as error:
                raise ConfigError(
                    f"topic {topic_id!r}: {rule} keyword {keyword!r} is not a valid regular expression: {error}",
                    key=f"topics.{topic_id}.{rule}",
                ) from error
    return (*plain.values(), *regexes)


def _first(keywords: tuple[_Plain | _Regex, ...], text: _FoldedStory) -> str | None:
    """The first keyword of the list found in `text`, as "keyword (field)", or None."""
    for keyword in keywords:
        index = keyword.field_found(text)
        if index is not None:
            return f"{keyword.keyword} ({_field_name(index)})"
    return None


# -- queries: the tree from query.parse(), compiled ----------------------------------------------


class _QueryTerm:
    """One query term, compiled for its field; find() names the field it is found in."""

    __slots__ = ("find", "term")

    def __init__(self, term: query_language.Term, chinese: bool) -> None:
        self.term = term
        field = term.field
        if term.kind == "regex":
            pattern = _compile_regex(term.value, chinese)
            search = pattern.search
            if field is None:
                regex = _Regex(str(term), pattern)
                self.find = lambda view: _found_field(regex.field_found(view))
            elif field in ("title", "text", "author"):
                self.find = lambda view: field if search(getattr(view, field)) else None
            elif field == "category":
                self.find = lambda view: field if any(search(c) for c in view.categories) else None
            elif field == "source":
                self.find = lambda view: field if any(search(s) for s in view.source_ids()) else None
            else:  # link
                self.find = lambda view: field if any(search(link) for link in view.links) else None
            return
        if field == "source":  # ids compare exactly, as in the sources rule
            wanted = term.value.strip()
            self.find = lambda view: field if wanted in view.source_ids() else None
            return
        folded = _fold_keyword(term.value, chinese)
        if field == "category":
            key = _whole(folded)
            self.find = lambda view: field if key in view.category_keys else None
        elif field == "link":
            needle = fold(term.value.strip())
            self.find = lambda view: field if any(needle in link for link in view.links) else None
        elif not folded.strip():
            # Only characters that folding removes (zero-width, controls): nothing to look for,
            # and matching everything would be a worse surprise than matching nothing.
            self.find = lambda view: None
        else:
            keyword = _Plain(str(term), folded)
            if field is None:
                self.find = lambda view: _found_field(keyword.field_found(view))
            else:  # title, text, author
                self.find = lambda view: field if keyword.found_in(getattr(view, field)) else None

    def holds(self, view: _FoldedStory) -> bool:
        return self.find(view) is not None

    def decide(self, view: _FoldedStory, negated: bool, reasons: list[str]) -> bool:
        field = self.find(view)
        shown = f"NOT {self.term}: " if negated else f"{self.term} "
        reasons.append(f"{shown}matched in {field}" if field else f"{shown}not found")
        return field is not None


def _found_field(index: int | None) -> str | None:
    return None if index is None else _field_name(index)


class _QueryNot:
    __slots__ = ("operand",)

    def __init__(self, operand: _QueryNode) -> None:
        self.operand = operand

    def holds(self, view: _FoldedStory) -> bool:
        return not self.operand.holds(view)

    def decide(self, view: _FoldedStory, negated: bool, reasons: list[str]) -> bool:
        return not self.operand.decide(view, not negated, reasons)


class _QueryAnd:
    """All operands hold. decide() reports every operand when it holds, else the first that fails."""

    __slots__ = ("operands",)

    def __init__(self, operands: list[_QueryNode]) -> None:
        self.operands = operands

    def holds(self, view: _FoldedStory) -> bool:
        return all(operand.holds(view) for operand in self.operands)

    def decide(self, view: _FoldedStory, negated: bool, reasons: list[str]) -> bool:
        collected: list[str] = []
        for operand in self.operands:
            mine: list[str] = []
            if not operand.decide(view, negated, mine):
                reasons.extend(mine)
                return False
            collected.extend(mine)
        reasons.extend(collected)
        return True


class _QueryOr:
    """One operand holds. decide() reports the first that holds, else every operand."""

    __slots__ = ("operands",)

    def __init__(self, operands: list[_QueryNode]) -> None:
        self.operands = operands

    def holds(self, view: _FoldedStory) -> bool:
        return any(operand.holds(view) for operand in self.operands)

    def decide(self, view: _FoldedStory, negated: bool, reasons: list[str]) -> bool:
        collected: list[str] = []
        for operand in self.operands:
            mine: list[str] = []
            if operand.decide(view, negated, mine):
                reasons.extend(mine)
                return True
            collected.extend(mine)
        reasons.extend(collected)
        return False


_QueryNode = _QueryTerm | _QueryNot | _QueryAnd | _QueryOr


def _compile_query(node: query_language.Node, chinese: bool) -> _QueryNode:
    if isinstance(node, query_language.Term):
        return _QueryTerm(node, chinese)
    if isinstance(node, query_language.Not):
        return _QueryNot(_compile_query(node.operand, chinese))
    operands = [_compile_query(operand, chinese) for operand in node.operands]
    return _QueryAnd(operands) if isinstance(node, query_language.And) else _QueryOr(operands)


def _text_length(text: str) -> int:
    """Characters of plain text, a whitespace run counted as one (markup spacing does not count)."""
    return len(" ".join(text.split()))


def format_duration(seconds: float) -> str:
    """3600 -> '1h', 604800 -> '7d' (the largest unit that divides it), 90 -> '90s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:g}s"


class CompiledTopic:
    """A topic with its rules compiled; match() and explain() are pure and thread-safe."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        # What decides a match, as JSON-ready values, and its digest: the name of this topic's
        # membership in the store (see the module docstring).
        self.rules: dict = {
            name: list(value) if isinstance(value, tuple) else value
            for name in RULE_FIELDS
            for value in [getattr(topic, name)]
        }
        canonical = json.dumps([MATCHING_VERSION, self.rules], ensure_ascii=False, sort_keys=True)
        self.digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
        chinese = topic.fold_chinese
        self._chinese = chinese
        self._sources = frozenset(topic.sources)
        self._categories = {_whole(_fold_keyword(c, chinese)): c for c in topic.categories if c.strip()}
        self._all = _compile_keywords(topic.id, "all", topic.all, chinese)
        self._any = _compile_keywords(topic.id, "any", topic.any, chinese)
        self._none = _compile_keywords(topic.id, "none", topic.none, chinese)
        self._query: _QueryNode | None = None
        if topic.query and topic.query.strip():
            try:
                self._query = _compile_query(query_language.parse(topic.query), chinese)
            except query_language.QuerySyntaxError as error:
                raise ConfigError(
                    f"topic {topic.id!r}: invalid query: {error}", key=f"topics.{topic.id}.query"
                ) from error

    def match(self, story: Story | PreparedStory) -> bool:
        """True when `story` belongs to this topic (see the module docstring for the rule order).

        Pass a PreparedStory when several topics look at the same story: it is folded only once.
        """
        return self._evaluate(prepare(story), None)

    def fresh(self, story: Story, now: datetime) -> bool:
        """False when the topic sets max_age and the story was published longer ago than that."""
        max_age = self.topic.max_age
        return max_age is None or story.item.published >= now - timedelta(seconds=max_age)

    def explain(self, story: Story | PreparedStory, now: datetime | None = None) -> list[str]:
        """Why `story` matches or not: one line per rule the topic sets, in rule order.

        The lines stop at the first rule that fails, so that one is the last line, e.g.
        ["any: AI (title)", "none: —"] or ["any: AI (title)", "none: vetoed by 招聘 (text)"], or
        ['query: title:"开源 大会" matched in title']. With `now`, a topic's max_age is checked
        first (see fresh()). match() gives the verdict.
        """
        prepared = prepare(story)
        reasons: list[str] = []
        max_age = self.topic.max_age
        if now is not None and max_age is not None:
            published = prepared.story.item.published
            line = f"max_age: published {published:%Y-%m-%d %H:%M}"
            if not self.fresh(prepared.story, now):
                return [f"{line}, more than {format_duration(max_age)} ago"]
            reasons.append(line)
        self._evaluate(prepared, reasons)
        return reasons

    def _evaluate(self, prepared: PreparedStory, reasons: list[str] | None) -> bool:
        note = reasons.append if reasons is not None else _ignore
        story = prepared.story

        if self._sources:
            carried = [story.item.source_id, *(c.source_id for c in story.carriers)]
            listed = next((s for s in carried if s in self._sources), None)
            if listed is None:
                note(f"sources: no listed source carried it ({', '.join(dict.fromkeys(carried))})")
                return False
            note(f"sources: {listed}")

        if self._categories:
            categories = story.item.categories
            keys = prepared.folded(self._chinese).categories if categories else []
            listed = next((self._categories[k] for c in keys if (k := _whole(c)) in self._categories), None)
            if listed is None:
                note(f"categories: no listed category ({', '.join(categories) or 'the item has none'})")
                return False
            note(f"categories: {listed}")

        if self.topic.min_length:
            length = _text_length(story.item.text or "")
            if length < self.topic.min_length:
                note(f"min_length: {length} characters, fewer than {self.topic.min_length}")
                return False
            note(f"min_length: {length} characters")

        if not (self._all or self._any or self._none or self._query):
            if not (self._sources or self._categories or self.topic.min_length):
                note("no rules: takes every story")
            return True
        text = prepared.folded(self._chinese)

        if self._all:
            found = []
            for keyword in self._all:
                index = keyword.field_found(text)
                if index is None:
                    note(f"all: missing {keyword.keyword}")
                    return False
                found.append(f"{keyword.keyword} ({_field_name(index)})")
            note(f"all: {', '.join(found)}")

        if self._any:
            hit = _first(self._any, text)
            if hit is None:
                note("any: no keyword matched")
                return False
            note(f"any: {hit}")

        if self._none:
            hit = _first(self._none, text)
            if hit is not None:
                note(f"none: vetoed by {hit}")
                return False
            note("none: —")

        if self._query is not None:
            if reasons is None:
                return self._query.holds(text)
            why: list[str] = []
            holds = self._query.decide(text, False, why)
            note(f"query: {'; '.join(why)}")
            return holds
        return True


def _ignore(line: str) -> None:
    """Stands in for reasons.append when match() wants no reasons."""


def compile_topic(topic: Topic) -> CompiledTopic:
    """Compile one topic's rules. Raises ConfigError for a `/.../` keyword that is not a regex,
    or a query that does not parse."""
    return CompiledTopic(topic)


def compile_topics(topics: Iterable[Topic]) -> list[CompiledTopic]:
    """Compile every topic, in order (see compile_topic)."""
    return [CompiledTopic(topic) for topic in topics]


def compile_rules(rules: dict) -> CompiledTopic:
    """Compile rules saved from CompiledTopic.rules (by this or another process). Raises
    ConfigError when they no longer compile, or TypeError when they name unknown fields."""
    values = {name: tuple(value) if isinstance(value, list) else value for name, value in rules.items()}
    return CompiledTopic(Topic(id="rules", title="rules", **values))
