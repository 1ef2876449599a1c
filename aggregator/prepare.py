"""What a poll does to a fetched document without the database, in worker processes.

Reading a document (parse, then the entries' keys and raw hashes) and preparing its new entries
(normalize, then the fingerprint the store's story lookup needs) are pure functions of picklable
values, and they are most of a poll's CPU: a few milliseconds to parse a 250 KB document, about
a millisecond per new item to sanitize and fingerprint. refresh runs them in worker processes
(pool.Workers), so that on a machine with several cores they proceed while the event loop
fetches and the store writes.

Between the two steps refresh asks the store which entries it holds unchanged, and only the
others are prepared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .dedup import Fingerprint, fingerprint
from .models import Item, ParsedFeed, Source
from .normalize import Entry, entries, normalize_entries
from .parse import parse


@dataclass
class Document:
    """A parsed document: the feed's own fields (its `items` left empty) and its entries."""

    feed: ParsedFeed
    entries: list[Entry]


def read(body: bytes, headers: dict[str, str], url: str, source: Source, max_items: int | None) -> Document:
    """Parse a document of `source` into its entries. Raises ParseError."""
    feed = parse(body, headers, url, max_items=max_items)
    found = entries(feed, source)
    feed.items = []  # they travel once, inside the entries
    return Document(feed, found)


def prepare(found: list[Entry], source: Source, now: datetime) -> list[tuple[Item, Fingerprint]]:
    """The Items of these entries, each with its fingerprint (dedup.near)."""
    return [(item, fingerprint(item.title, item.text)) for item in normalize_entries(found, source, now=now)]
