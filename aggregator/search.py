"""Run a query or a topic over the stored stories: `aggregator search` and `aggregator topics test`.

Both give exactly the verdict publishing would give, because both ask a CompiledTopic (topics/).
search() only uses the store's full-text index to narrow the stories it checks:

1. From the query's tree, a necessary condition is built from its positive terms: every story the
   query matches must contain, in the field the term looks at, each word of the term in one of
   the spellings that fold to it: each Chinese character in any form that folds to the same
   simplified character (发布 is also 發布, 發佈 ...), ASCII also in full-width (ＡＩ). A word
   with more than 64 spellings is looked up as three-character pieces. Terms under NOT and
   regexes give no condition; an OR gives one only when each of its branches does.
2. The store streams the stories meeting that condition, newest first: strings of three
   characters or more through the FTS5 trigram index, shorter ones with LIKE.
3. Each candidate is matched with the topic rules; the first `limit` matches are the result.

A query with no usable positive term (only NOT, only regexes) is checked against the newest
`scan_limit` stories instead, and the result says so. The index sees the text as stored, so the
rare word whose Latin letters are half in full-width, or whose folding is not one character for
one (ligatures such as "ﬁ", "ß" against "ss"), is taken by topics but may be missed by search.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from . import query as query_language
from .folding import fold, simplify, spellings
from .models import Story, Topic
from .store import AllOf, AnyOf, CarriedBy, Condition, Contains, Store
from .topics import CompiledTopic, PreparedStory

SCAN_LIMIT = 5000  # stories checked one by one when the index cannot help
_DB_FIELDS = {None: ("title", "text", "categories"), "category": ("categories",)}


@dataclass
class SearchResult:
    stories: list[Story] = field(default_factory=list)
    checked: int = 0  # stories matched against the query
    scanned: bool = False  # True when the index could not help and only the newest stories were checked


def search(
    store: Store, text: str, limit: int = 20, scan_limit: int = SCAN_LIMIT, fold_chinese: bool = True
) -> SearchResult:
    """The newest `limit` stories that the query `text` matches, as a topic with that query would.

    Raises query.QuerySyntaxError for a query that does not parse.
    """
    tree = query_language.parse(text)
    compiled = CompiledTopic(Topic(id="search", title="search", query=text, fold_chinese=fold_chinese))
    condition = candidate_condition(tree)
    result = SearchResult(scanned=condition is None)
    if condition is None:
        batches: Iterator[list[Story]] = _batched(islice(store.stories(), scan_limit))
    else:
        batches = (list(store.stories(ids)) for ids in _batched(store.candidates(condition)))
    for batch in batches:
        for story in batch:
            result.checked += 1
            if compiled.match(PreparedStory(story)):
                result.stories.append(story)
                if len(result.stories) >= limit:
                    return result
    return result


def candidate_condition(node: query_language.Node, negated: bool = False) -> Condition | None:
    """What every story matching `node` must contain, for the store's index; None when nothing
    useful can be said (see the module docstring)."""
    if isinstance(node, query_language.Term):
        return None if negated else _term_condition(node)
    if isinstance(node, query_language.Not):
        return candidate_condition(node.operand, not negated)
    conditions = [candidate_condition(operand, negated) for operand in node.operands]
    # NOT (a AND b) is NOT a OR NOT b, and NOT (a OR b) is NOT a AND NOT b.
    every = isinstance(node, query_language.And) != negated
    if every:  # the terms that give a condition are enough: the others only narrow further
        return _all(tuple(c for c in conditions if c is not None))
    if any(c is None for c in conditions):
        return None
    return AnyOf(tuple(c for c in conditions if c is not None))


def _term_condition(term: query_language.Term) -> Condition | None:
    if term.kind == "regex":
        return None
    if term.field == "source":
        return CarriedBy((term.value.strip(),))
    fields = _DB_FIELDS.get(term.field, (term.field,))
    conditions = tuple(c for part in term.value.split() if (c := _contains(part, fields)) is not None)
    return _all(conditions)


def _contains(word: str, fields: tuple[str, ...]) -> Condition | None:
    """What a stored field holding `word` in any spelling that folds like it must contain."""
    key = simplify(fold(word))
    forms = _spellings_of(key)
    if forms is not None:
        return Contains(tuple(dict.fromkeys((word, *forms))), fields)
    # Too many spellings of the whole word: each three-character piece must be there, spelt somehow.
    pieces = dict.fromkeys([key[at : at + 3] for at in range(0, len(key) - 2, 3)] + [key[-3:]])
    return _all(tuple(Contains(forms, fields) for piece in pieces if (forms := _spellings_of(piece))))


def _spellings_of(key: str) -> tuple[str, ...] | None:
    """Every spelling of the folded, simplified `key`: each character in each form that folds to it
    (folding.spellings: 发布 is also 發布, 發佈, 髮布 ...), plus the full-width forms of its ASCII
    (Chinese text often writes ＡＩ for AI). None when there are more than _MAX_SPELLINGS."""
    choices = [spellings(char) for char in key]
    if math.prod(len(choice) for choice in choices) > _MAX_SPELLINGS:
        return None
    forms = ["".join(chars) for chars in itertools.product(*choices)]
    if any("!" <= char <= "~" for char in key):
        forms += [key.translate(_FULLWIDTH), key.upper().translate(_FULLWIDTH)]
    return tuple(forms)


def _all(conditions: tuple[Condition, ...]) -> Condition | None:
    return None if not conditions else conditions[0] if len(conditions) == 1 else AllOf(conditions)


_MAX_SPELLINGS = 64
_FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}


def _batched(values: Iterator, size: int = 200) -> Iterator[list]:
    while batch := list(islice(values, size)):
        yield batch


@dataclass
class Verdict:
    """One story of a dry run: whether the topic takes it, and the lines that say why."""

    story: Story
    matched: bool
    reasons: list[str]


def dry_run(
    store: Store, compiled: CompiledTopic, now: datetime | None, limit: int | None = None
) -> Iterator[Verdict]:
    """The newest `limit` stored stories (all with None), each with the topic's verdict and
    explain() lines; max_age counts from `now` (None: max_age is not checked)."""
    for story in islice(store.stories(), limit):
        prepared = PreparedStory(story)
        matched = (now is None or compiled.fresh(story, now)) and compiled.match(prepared)
        yield Verdict(story, matched, compiled.explain(prepared, now))
