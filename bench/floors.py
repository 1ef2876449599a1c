"""In-process measurements on the world's own bytes: the floors, and what each stage costs.

Floors are what the same work costs with nothing of ours in the way: lxml's raw parse of a feed
document (`lxml.etree.fromstring`), and plain open/write of the bytes a publish writes. Stage
costs run the aggregator's own stages (parse, normalize + dedup, store) on the same documents,
in this process, so a figure and its floor are measured in the same second on the same core.
All times are CPU seconds (time.process_time), medians over documents.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import world
from lxml import etree

from aggregator import prepare
from aggregator.models import Source
from aggregator.store import Store

_HEADERS = {
    False: {"content-type": "application/rss+xml; charset=utf-8"},
    True: {"content-type": "application/atom+xml; charset=utf-8"},
}


class _Clock:
    """CPU-time laps of this process."""

    def __init__(self) -> None:
        self.last = time.process_time()

    def lap(self) -> float:
        now = time.process_time()
        lap, self.last = now - self.last, now
        return lap


def lxml_seconds(documents: list[bytes], repeats: int = 3) -> float:
    """CPU seconds lxml.etree.fromstring takes to parse all of `documents` (median of `repeats`)."""
    totals = []
    for _ in range(repeats):
        started = time.process_time()
        for body in documents:
            etree.fromstring(body)
        totals.append(time.process_time() - started)
    return statistics.median(totals)


@dataclass(frozen=True)
class DocumentCosts:
    """Median CPU seconds per document for lxml's parse and for each of our stages."""

    documents: int
    size: int  # median document bytes
    lxml: float
    parse: float
    normalize: float  # which entries changed, then normalize + fingerprint them
    store: float  # Store.save_poll, one transaction

    @property
    def pipeline(self) -> float:
        return self.parse + self.normalize + self.store


def document_costs(the_world: world.World, sources: list[Source], store: Store) -> DocumentCosts:
    """Poll each of `sources` (indices 0.. of the world) through our stages, without HTTP.

    The store keeps what it saved, so calling this again after the world changed those sources
    measures a changed document: one new item, the rest known.
    """
    rows = []
    now = datetime.now(UTC)
    for index, source in enumerate(sources):
        body = the_world.document(index)
        url = f"http://127.0.0.1{world.feed_path(index)}"
        clock = _Clock()
        etree.fromstring(body)
        lxml_cpu = clock.lap()
        document = prepare.read(body, _HEADERS[world.is_atom(index)], url, source, None)
        parse_cpu = clock.lap()
        unchanged = store.unchanged(source.id, [(e.key, e.raw_hash) for e in document.entries])
        prepared = prepare.prepare([e for e in document.entries if e.key not in unchanged], source, now)
        normalize_cpu = clock.lap()
        items = [item for item, _ in prepared]
        store.save_poll(store.source_state(source.id), items, now, {i.key: f for i, f in prepared})
        rows.append((len(body), lxml_cpu, parse_cpu, normalize_cpu, clock.lap()))
    size, lxml_cpu, parse_cpu, normalize_cpu, store_cpu = (
        statistics.median(column) for column in zip(*rows, strict=True)
    )
    return DocumentCosts(len(rows), int(size), lxml_cpu, parse_cpu, normalize_cpu, store_cpu)


def write_seconds(directory: Path, repeats: int = 3) -> float:
    """Wall seconds to write every file of `directory` again with plain open/write (median)."""
    files = {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}
    totals = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as target:
            started = time.perf_counter()
            for name, data in files.items():
                with open(Path(target) / name, "wb") as file:
                    file.write(data)
            totals.append(time.perf_counter() - started)
    return statistics.median(totals)
