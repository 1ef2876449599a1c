"""Compare the fast parser (aggregator/parse/fast.py) with feedparser on a folder of feed documents.

Every file under the given folders (or each file given) is parsed twice by aggregator.parse.parse():
once as it runs, where fast.py reads what it is sure of, and once with fast.py switched off, so
that feedparser reads everything. The two ParsedFeeds (or the two ParseErrors) must be equal.
Prints the counts: documents, read by the fast path (on the text as it came, or after repair.py),
left to feedparser, and mismatches, with the first differences of each mismatch.

    python bench/parse_corpus.py /path/to/feedparser/tests [more folders or files] [--show 20]

Not used by the tests (tests/test_parse_fast.py compares the repo's own fixtures); a corpus is
fetched by hand and never committed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from aggregator.errors import ParseError
from aggregator.parse import fast, parse

URL = "http://example.com/feeds/feed.xml"
SKIPPED_SUFFIXES = {".py", ".pyc"}


def outcome(body: bytes, max_items: int | None) -> object:
    """What parse() makes of `body`: a ParsedFeed, or the ParseError's message."""
    try:
        return parse(body, {}, URL, max_items=max_items)
    except ParseError as error:
        return f"ParseError: {error}"


@contextmanager
def fast_path_off():
    with mock.patch.object(fast, "read", return_value=None):
        yield


def differences(a: object, b: object) -> list[str]:
    """Field by field, where two outcomes differ."""
    if type(a) is not type(b) or not dataclasses.is_dataclass(a):
        return [f"fast: {a!r:.300}", f"feedparser: {b!r:.300}"]
    found = []
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "items" and len(x) == len(y):
            for index, (p, q) in enumerate(zip(x, y, strict=True)):
                found += [f"items[{index}].{d}" for d in differences_of_item(p, q)]
        elif x != y:
            found.append(f"{field.name}: fast {x!r:.200} / feedparser {y!r:.200}")
    return found


def differences_of_item(a: object, b: object) -> list[str]:
    return [
        f"{f.name}: fast {getattr(a, f.name)!r:.200} / feedparser {getattr(b, f.name)!r:.200}"
        for f in dataclasses.fields(a)
        if getattr(a, f.name) != getattr(b, f.name)
    ]


def documents(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() not in SKIPPED_SUFFIXES
            )
        else:
            found.append(path)
    return found


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("paths", nargs="+", type=Path, help="folders of feed documents, or files")
    arguments.add_argument("--max-items", type=int, default=500, help="parse()'s max_items (default 500)")
    arguments.add_argument("--show", type=int, default=20, help="mismatches to print in full (default 20)")
    options = arguments.parse_args()

    calls: list[bool] = []
    real_read = fast.read

    def counting_read(*args, **kwargs):
        result = real_read(*args, **kwargs)
        calls.append(result is not None)
        return result

    counts = {
        "documents": 0,
        "fast, as it came": 0,
        "fast, after repair": 0,
        "feedparser": 0,
        "mismatches": 0,
    }
    shown = 0
    started = time.monotonic()
    for path in documents(options.paths):
        body = path.read_bytes()
        calls.clear()
        with mock.patch.object(fast, "read", counting_read):
            quick = outcome(body, options.max_items)
        taken = list(calls)
        with fast_path_off():
            slow = outcome(body, options.max_items)
        counts["documents"] += 1
        if taken[:1] == [True]:
            counts["fast, as it came"] += 1
        elif True in taken:
            counts["fast, after repair"] += 1
        else:
            counts["feedparser"] += 1
        if quick != slow:
            counts["mismatches"] += 1
            if shown < options.show:
                shown += 1
                print(f"MISMATCH {path}")
                for line in differences(quick, slow)[:8]:
                    print(f"    {line}")
    for name, count in counts.items():
        print(f"{name:>20}: {count}")
    print(f"{'seconds':>20}: {time.monotonic() - started:.1f}")
    return 1 if counts["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
