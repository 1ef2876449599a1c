"""Per-document parse cost on the benchmark world's documents: lxml's raw parse (the floor),
parse() as it runs (fast.py first), and parse() with fast.py off (feedparser for everything).

All three in this process, on the same documents, interleaved document by document, so the
machine's noise falls on them alike; CPU seconds (time.process_time), medians over documents.

    python bench/parse_speed.py [--documents 20] [--items 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

import world
from lxml import etree

from aggregator.parse import fast, parse

_HEADERS = {"content-type": "application/xml; charset=utf-8"}


def cpu(function, *args) -> float:
    started = time.process_time()
    function(*args)
    return time.process_time() - started


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--documents", type=int, default=20, help="world sources to parse (default 20)")
    arguments.add_argument("--items", type=int, default=50, help="items per document (default 50)")
    options = arguments.parse_args()
    the_world = world.World(
        options.documents, options.items, world.starting_epoch(options.items, time.time())
    )
    rows = []
    for index in range(options.documents):
        body = the_world.document(index)
        url = f"http://127.0.0.1{world.feed_path(index)}"
        floor = cpu(etree.fromstring, body)
        quick = cpu(parse, body, _HEADERS, url)
        with mock.patch.object(fast, "read", return_value=None):
            slow = cpu(parse, body, _HEADERS, url)
        rows.append((len(body), floor, quick, slow))
    size, floor, quick, slow = (statistics.median(column) for column in zip(*rows, strict=True))
    print(
        f"{options.documents} documents, median {size / 1024:.0f} KB, {options.items} items; median CPU per document:"
    )
    print(f"  lxml.etree.fromstring     {floor * 1000:7.2f} ms")
    print(f"  parse(), fast path        {quick * 1000:7.2f} ms  ({quick / floor:.1f}x lxml)")
    print(f"  parse(), feedparser only  {slow * 1000:7.2f} ms  ({slow / floor:.1f}x lxml)")


if __name__ == "__main__":
    main()
