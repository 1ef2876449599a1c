"""Precision and recall of story grouping on the evaluation set (tests/fixtures/stories/pairs.jsonl).

Each pair is stored the way a poll stores it, in a fresh database (two sources, the second item
published two hours after the first), and counts as grouped when the store makes it one story:
LSH lookup, similarity and threshold together, with the default rules. The set and the script
that writes it are described in bench/make_story_pairs.py. Run with -s to see the figures.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES

from aggregator.models import Item, Source
from aggregator.store import Store

NOW = datetime(2021, 8, 1, tzinfo=UTC)
NEAR_MISS_KINDS = {"version", "rc", "digest", "same-title", "same-subject"}


@pytest.fixture(scope="module")
def pairs() -> list[dict]:
    path = FIXTURES / "stories" / "pairs.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def grouped(a: dict, b: dict) -> bool:
    """Whether the store puts these two items, from two sources, into one story."""
    with Store(":memory:") as store:
        store.sync_sources([Source("a", "https://a.example/rss"), Source("b", "https://b.example/rss")])
        for source_id, fields, published in (("a", a, NOW), ("b", b, NOW + timedelta(hours=2))):
            store.save_poll(store.source_state(source_id), [_item(source_id, fields, published)], NOW)
        return len(list(store.stories())) == 1


def _item(source_id: str, fields: dict, published: datetime) -> Item:
    return Item(
        source_id=source_id,
        key="1",
        link=f"https://{source_id}.example/1",
        url_key=f"{source_id}.example/1",
        title=fields["title"],
        author=None,
        published=published,
        updated=None,
        content_html="".join(f"<p>{line}</p>" for line in fields["text"].split("\n")),
        text=fields["text"],
        categories=(),
        thumbnail=None,
        content_hash=source_id,
    )


def test_the_set_covers_both_languages_and_every_near_miss_kind(pairs):
    assert len(pairs) >= 150
    assert len({pair["id"] for pair in pairs}) == len(pairs)
    kinds = Counter((pair["lang"], pair["same"]) for pair in pairs)
    assert all(kinds[(lang, same)] >= 20 for lang in ("zh", "en") for same in (True, False)), kinds
    near_misses = {pair["kind"].split("+")[0] for pair in pairs if not pair["same"]}
    assert near_misses >= NEAR_MISS_KINDS


def test_precision_and_recall(pairs):
    outcome = Counter()
    missed, merged = [], []
    for pair in pairs:
        found = grouped(pair["a"], pair["b"])
        outcome[(pair["same"], found)] += 1
        if pair["same"] and not found:
            missed.append(pair["id"])
        if found and not pair["same"]:
            merged.append(pair["id"])
    true_positive = outcome[(True, True)]
    precision = true_positive / max(1, true_positive + outcome[(False, True)])
    recall = true_positive / max(1, true_positive + outcome[(True, False)])
    report = (
        f"story grouping on {len(pairs)} pairs: precision {precision:.3f}, recall {recall:.3f} "
        f"(grouped {true_positive} of {true_positive + outcome[(True, False)]} same-story pairs, "
        f"{outcome[(False, True)]} of {outcome[(False, False)] + outcome[(False, True)]} others)"
    )
    print(f"\n{report}\nmissed: {', '.join(missed) or 'none'}\nwrongly merged: {', '.join(merged) or 'none'}")
    assert precision >= 0.98, f"{report}; wrongly merged: {merged}"
    assert recall >= 0.9, f"{report}; missed: {missed}"
