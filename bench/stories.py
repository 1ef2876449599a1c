"""Benchmark: the cost of finding a new item's story as the store grows (issue 5, "flat cost").

    python bench/stories.py                      # 10k, 100k and 1M items (about 15 minutes, 3 GB)
    python bench/stories.py --sizes 10000 100000 # quicker

A synthetic store is filled in steps (10k, then 100k, then 1M items) and, at each size, probe
items are looked up with Store.find_story, the function save_poll calls for every new item: its
fingerprint, the LSH lookup in story_bands (a range scan of the time window inside each bucket)
and the comparison with each look-alike found. Half the probes are reposts of a stored item
(tagged title, full-width punctuation, a copyright line, a paragraph dropped), half are new.

Items arrive at a fixed rate (--per-day, 5000 by default: a thousand busy sources), so the store
spans 2 days at 10k items and 200 days at 1M, and the time window always holds the same number
of items: what must not grow with the store is the cost per lookup, and it does not. The text is
synthetic (a character-bigram chain trained on the evaluation articles, so unrelated items share
common words and phrases as real news does), and 2% of items are templated digests that share
their header and footer, which crowds some buckets. Filler rows are written straight into the
tables; the FTS trigger is dropped first, since full-text indexing is not what is measured.

Prints one line per size: items, database size, index rows, items inside the window, lookup
latency (median and p95), the index query alone, look-alikes compared per lookup, and the share
of reposts found.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import statistics
import struct
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from story_articles import ARTICLES, NEAR_MISSES

from aggregator.dedup import fingerprint
from aggregator.models import Item, Source
from aggregator.store import Store
from aggregator.store.rows import _epoch, _format_time

START = datetime(2021, 1, 1, tzinfo=UTC)
SERIES = 40  # templated digests, one issue a day each


class Chain:
    """A first-order Markov chain over characters, trained on the evaluation articles."""

    def __init__(self, texts: list[str], seed: int) -> None:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for text in texts:
            for a, b in itertools.pairwise(text):
                counts[a][b] += 1
        self.next: dict[str, tuple[list[str], list[int]]] = {}
        for a, following in counts.items():
            chars = list(following)
            total, cumulative = 0, []
            for char in chars:
                total += following[char]
                cumulative.append(total)
            self.next[a] = (chars, cumulative)
        self.starts = [text[0] for text in texts if text]
        self.rng = random.Random(seed)

    def text(self, length: int) -> str:
        rng = self.rng
        char = rng.choice(self.starts)
        out = [char]
        for _ in range(length - 1):
            chars, cumulative = self.next.get(char) or ([rng.choice(self.starts)], [1])
            char = chars[bisect.bisect_right(cumulative, rng.randrange(cumulative[-1]))]
            out.append(char)
        return "".join(out)


def corpus() -> list[str]:
    texts = [p for article in ARTICLES for p in [article["title"], *article["paras"]]]
    texts += [p for series in NEAR_MISSES for member in series["members"] for p in member["paras"]]
    return texts


def generate(args: tuple[int, int, int]) -> list[tuple]:
    """Rows for items start..stop-1: (id, title, text, published, buckets)."""
    start, stop, per_day = args
    chain = Chain(corpus(), seed=start)
    rng = random.Random(start)
    header = "欢迎阅读本期开源周刊，我们每周为你精选开源世界的新闻、项目与文章。"
    footer = "以上就是本期的全部内容，欢迎投稿，我们下期再见。"
    rows = []
    for n in range(start, stop):
        published = START + timedelta(days=n / per_day, seconds=rng.randrange(600))
        if n % 50 == 0:  # a templated digest
            issue = n // (per_day // SERIES or 1)
            title = f"{chain.text(6)}周刊第 {issue} 期"
            text = "\n".join([header, chain.text(120), chain.text(120), footer])
        else:
            title = chain.text(rng.randrange(12, 28))
            text = "\n".join(chain.text(rng.randrange(80, 220)) for _ in range(rng.randrange(2, 6)))
        found = fingerprint(title, text)
        rows.append((f"{n:020x}", title, text, published, found.buckets))
    return rows


def fill(store: Store, start: int, stop: int, per_day: int, workers: int) -> None:
    step = 5000
    chunks = [(i, min(i + step, stop), per_day) for i in range(start, stop, step)]
    db = store.db.conn
    with Pool(workers) as pool:
        for rows in pool.imap(generate, chunks):
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO items (id, url_key, link, title, author, published, updated, content_html, text, "
                "categories, thumbnail, content_hash, source_id, entry_key, first_seen, story_id, story_buckets) "
                "VALUES (?, NULL, NULL, ?, NULL, ?, NULL, '', ?, '[]', NULL, ?, 'synthetic', ?, ?, ?, ?)",
                [
                    (
                        i,
                        title,
                        _format_time(p),
                        text,
                        i,
                        i,
                        _format_time(p),
                        i,
                        struct.pack(f"<{len(b)}q", *b),
                    )
                    for i, title, text, p, b in rows
                ],
            )
            db.executemany(
                "INSERT INTO stories (id, item_id, published, last_published, first_seen, members, sources) "
                "VALUES (?, ?, ?, ?, ?, 1, 1)",
                [(i, i, _format_time(p), _format_time(p), _format_time(p)) for i, _, _, p, _ in rows],
            )
            db.executemany(
                "INSERT OR IGNORE INTO story_bands (bucket, published, item_id) VALUES (?, ?, ?)",
                [(bucket, _epoch(p), i) for i, _, _, p, b in rows for bucket in b],
            )
            db.execute("COMMIT")


def probes(store: Store, size: int, per_day: int, count: int) -> list[tuple[Item, str | None]]:
    """(item, id of the item it reposts or None) published at the end of the stored timeline."""
    rng = random.Random(size)
    chain = Chain(corpus(), seed=-size)
    now = START + timedelta(days=size / per_day)
    recent = [
        row
        for row in store.db.execute(
            "SELECT id, title, text FROM items WHERE published >= ? ORDER BY random() LIMIT ?",
            [_format_time(now - timedelta(days=1)), count],
        )
    ]
    out = []
    for n in range(count):
        if n % 2 == 0 and recent:
            stored_id, title, text = recent[n % len(recent)]
            paras = text.split("\n")
            if len(paras) > 2:
                del paras[-1]
            text = "\n".join(p.replace(",", "，") for p in paras) + "\n本文转载自开源中国，版权归原作者所有。"
            out.append((_item(f"【转载】{title} | 开源中国", text, now), stored_id))
        else:
            text = "\n".join(chain.text(rng.randrange(80, 220)) for _ in range(3))
            out.append((_item(chain.text(20), text, now), None))
    return out


def _item(title: str, text: str, published: datetime) -> Item:
    return Item(
        source_id="probe",
        key=title,
        link=None,
        url_key=None,
        title=title,
        author=None,
        published=published,
        updated=None,
        content_html=text,
        text=text,
        categories=(),
        thumbnail=None,
        content_hash="",
    )


def measure(store: Store, size: int, per_day: int, count: int) -> dict:
    lookups, queries, compared, found = [], [], [], 0
    reposts = 0
    for item, original in probes(store, size, per_day, count):
        started = time.perf_counter()
        story = store.find_story(item)
        lookups.append(time.perf_counter() - started)
        started = time.perf_counter()
        alikes = store._look_alikes(fingerprint(item.title, item.text), item.published)
        queries.append(time.perf_counter() - started)
        compared.append(len(alikes))
        if original:
            reposts += 1
            found += story is not None and story[0] == original
    now = START + timedelta(days=size / per_day)
    window = store.story_rules.window
    in_window = store.db.execute(
        "SELECT count(*) FROM items WHERE published >= ?", [_format_time(now - timedelta(seconds=window))]
    ).fetchone()[0]
    return {
        "items": store.count_items(),
        "mb": os.path.getsize(store.path) / 1e6,
        "bands": store.db.execute("SELECT count(*) FROM story_bands").fetchone()[0],
        "window": in_window,
        "median": statistics.median(lookups) * 1000,
        "p95": sorted(lookups)[int(len(lookups) * 0.95)] * 1000,
        "query": statistics.median(queries) * 1000,
        "compared": statistics.mean(compared),
        "found": found / max(1, reposts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--per-day", type=int, default=5000, help="items arriving per day (default 5000)")
    parser.add_argument("--probes", type=int, default=400, help="lookups measured at each size")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one, deleted)")
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory(prefix="stories-bench-")
    path = args.db or Path(folder.name) / "bench.db"
    with Store(path) as store:
        store.sync_sources([Source("synthetic", "https://synthetic.example/rss")])
        store.db.execute("DROP TRIGGER IF EXISTS items_ai")  # full-text indexing is not measured here
        print(
            f"{'items':>9} {'db MB':>7} {'index rows':>11} {'in window':>9} "
            f"{'lookup ms':>9} {'p95 ms':>7} {'query ms':>8} {'compared':>8} {'reposts found':>13}"
        )
        stored = 0
        for size in sorted(args.sizes):
            fill(store, stored, size, args.per_day, args.workers)
            stored = size
            store.db.execute("ANALYZE")
            r = measure(store, size, args.per_day, args.probes)
            print(
                f"{r['items']:>9} {r['mb']:>7.0f} {r['bands']:>11} {r['window']:>9} {r['median']:>9.2f} "
                f"{r['p95']:>7.2f} {r['query']:>8.3f} {r['compared']:>8.2f} {r['found']:>13.1%}",
                flush=True,
            )
    folder.cleanup()


if __name__ == "__main__":
    main()
