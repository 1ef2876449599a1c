"""Topics: which stories belong to which topic. Rules are compiled once; matching is pure.

    prepared.py   a story's fields folded once for every topic (PreparedStory)
    keywords.py   keyword lists compiled (plain keywords and /regexes/)
    queries.py    query trees compiled (aggregator/query.py parses them)
    here          CompiledTopic: the rules in order, match() and explain(), and the rules digest

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
then searched with its boundary regex; a `/.../` keyword runs only on a text holding one of the
strings every match of it contains (topics/literals.py). Measured on 5 KB of Chinese text and 10 keywords, one
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
from collections.abc import Iterable
from datetime import datetime, timedelta

from .. import query as query_language
from ..errors import ConfigError
from ..folding import fold
from ..models import Story, Topic
from .keywords import compile_keywords, first_found, fold_keyword
from .prepared import PreparedStory, field_name, prepare, whole
from .queries import QueryNode, compile_query

__all__ = [
    "CompiledTopic",
    "PreparedStory",
    "compile_rules",
    "compile_topic",
    "compile_topics",
    "fold",
    "prepare",
]

# Part of every rules digest: bump it when a change to matching (folding, boundaries, the query
# language) changes which stories some rules take, so stored memberships are rebuilt with it.
MATCHING_VERSION = 1
# The fields of a Topic that decide whether a story matches it (not max_age and max_items: they
# limit a feed, not a match).
RULE_FIELDS = ("sources", "categories", "min_length", "all", "any", "none", "query", "fold_chinese")


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
        self._categories = {whole(fold_keyword(c, chinese)): c for c in topic.categories if c.strip()}
        self._all = compile_keywords(topic.id, "all", topic.all, chinese)
        self._any = compile_keywords(topic.id, "any", topic.any, chinese)
        self._none = compile_keywords(topic.id, "none", topic.none, chinese)
        self._query: QueryNode | None = None
        if topic.query and topic.query.strip():
            try:
                self._query = compile_query(query_language.parse(topic.query), chinese)
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
            listed = next((self._categories[k] for c in keys if (k := whole(c)) in self._categories), None)
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
                found.append(f"{keyword.keyword} ({field_name(index)})")
            note(f"all: {', '.join(found)}")

        if self._any:
            hit = first_found(self._any, text)
            if hit is None:
                note("any: no keyword matched")
                return False
            note(f"any: {hit}")

        if self._none:
            hit = first_found(self._none, text)
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
