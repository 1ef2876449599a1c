"""A store of a million items: build it fast, and measure the changed-source cost as it grows.

History is stored through Store.save_poll itself (no SQL of ours, so the schema can change under
us), BATCH items of one source per call (one transaction), source after source, going further
back each round until the store holds the target count. Every
history item is a distinct article of the world (world.World.article with k < 0, older than
anything the server lists), normalised by aggregator.normalize from a RawItem, so full-text and
story lookups see realistic, distinct texts. A second process writes the articles while this one
stores them: storing, bound by the FTS5 trigram index, is the slower half.

At each checkpoint the "changed source" store cost is measured: a probe source saves 50 new
items, then saves the list again with the oldest dropped and one new item on top (the CPU of that
second save_poll is the store half of a steady poll: 49 items found again, one looked up and
inserted, with whatever story lookup the store does).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import world

from aggregator.models import Item, ParsedFeed, RawItem, Source
from aggregator.normalize import normalize
from aggregator.store import Store

PROBES = 5
PROBE_ITEMS = 50
PROBE_BASE = 1_000_000  # world source indices of probe articles, far from any served source
BATCH = 1000  # history items per save_poll call
PREFETCH = 2  # batches of history written ahead of the store


@dataclass(frozen=True)
class Checkpoint:
    items: int  # stored items when measured
    build_seconds: float  # wall time spent building history so far
    changed_store: float  # median CPU seconds of save_poll for a changed 50-item source


def articles(the_world: world.World, index: int, source: Source, ks: range) -> list[Item]:
    """Items k in `ks` of world source `index`, normalised as items of `source`, newest first."""
    raws = []
    for k in ks:
        a = the_world.article(index, k)
        raws.append(
            RawItem(
                guid=a.guid,
                link=a.link,
                title=a.title,
                content=a.html,
                author=a.author,
                published=datetime.fromtimestamp(a.published, UTC),
                tags=list(a.categories),
                media_thumbnails=[a.thumbnail] if a.thumbnail else [],
            )
        )
    feed = ParsedFeed(format="rss20", items=raws)
    return normalize(feed, source, now=datetime.now(UTC))


def changed_store_cost(store: Store, the_world: world.World, source: Source, probe_set: int) -> float:
    """Median CPU seconds of save_poll for a 50-item document with one new item (module docstring).

    Each `probe_set` number must be new to this store, so its probes' items are.
    """
    costs = []
    for probe in range(PROBES):
        index = PROBE_BASE + probe_set * PROBES + probe
        items = articles(the_world, index, source, range(PROBE_ITEMS, -1, -1))
        now = datetime.now(UTC)
        store.save_poll(store.source_state(source.id), items[1:], now)
        started = time.process_time()
        store.save_poll(store.source_state(source.id), items[:-1], now)
        costs.append(time.process_time() - started)
    return statistics.median(costs)


def _batches(sources: int) -> Iterator[tuple[int, range]]:
    """(world source index, ks): each source's history in turn, BATCH items further back each round."""
    for round_number in itertools.count():
        first = -1 - round_number * BATCH
        for index in range(sources):
            yield index, range(first, first - BATCH, -1)


def build(
    store: Store, the_world: world.World, sources: list[Source], target: int, checkpoints: list[int]
) -> list[Checkpoint]:
    """Store history items of `sources` (world indices 0..) until the store holds `target` items,
    measuring the changed-source cost whenever it passes one of `checkpoints`, and at the end."""
    store.sync_sources(sources)
    results: list[Checkpoint] = []
    pending_checkpoints = sorted(checkpoints)
    started = time.perf_counter()
    stored = store.count_items()
    jobs = _batches(len(sources))
    with ProcessPoolExecutor(max_workers=1) as writer:

        def submit() -> tuple[int, Future[list[Item]]]:
            index, ks = next(jobs)
            return index, writer.submit(articles, the_world, index, sources[index], ks)

        ahead = deque(submit() for _ in range(PREFETCH))
        # Bounded even if copies kept folding into stored items (shared story links do, ~5%).
        for _ in range(2 * target // BATCH + 1):
            if stored >= target:
                break
            index, future = ahead.popleft()
            ahead.append(submit())
            saved = store.save_poll(store.source_state(sources[index].id), future.result(), datetime.now(UTC))
            stored += len(saved.new)
            while pending_checkpoints and stored >= pending_checkpoints[0]:
                elapsed = time.perf_counter() - started
                cost = changed_store_cost(store, the_world, sources[0], len(results))
                results.append(Checkpoint(stored, elapsed, cost))
                pending_checkpoints.pop(0)
    cost = changed_store_cost(store, the_world, sources[0], len(results))
    results.append(Checkpoint(store.count_items(), time.perf_counter() - started, cost))
    return results


def scan(store: Store, budget: float, every: int = 10_000) -> list[tuple[int, float]]:
    """(stories read, seconds) at every `every`-th story of Store.stories(), newest first, until
    `budget` seconds have passed. A publish walks this far back when a topic does not fill up."""
    marks: list[tuple[int, float]] = []
    started = time.perf_counter()
    for count, _ in enumerate(store.stories(), 1):
        if count % every == 0:
            marks.append((count, time.perf_counter() - started))
            if marks[-1][1] > budget:
                break
    return marks
