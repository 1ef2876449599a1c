"""The full_texts table: what fetching each entry's article page gave (aggregator/fulltext.py).

Rows are keyed like item_sources, by (source id, entry key); a trigger deletes a row when
retention prunes its entry (schema.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..models import FullText, Item
from . import Store
from .rows import _format_time, _in_chunks, _parse_time, _select_in

_COLUMNS = ("key", "link", "status", "attempts", "tried_at", "content_html", "text", "error", "next_try_at")


def load(store: Store, source_id: str, keys: list[str]) -> dict[str, FullText]:
    """entry key -> its stored outcome, for the keys of `source_id` that have one."""
    found: dict[str, FullText] = {}
    for where, params in _in_chunks("source_id = ? AND key IN ({marks})", keys, before=[source_id]):
        found.update((r.key, r) for r in _select(store, where, params))
    return found


def retrying(store: Store, source_id: str) -> list[FullText]:
    """The outcomes of this source's entries whose article page is to be tried again."""
    return _select(store, "source_id = ? AND status = 'retry'", [source_id])


def _select(store: Store, where: str, params: list[str]) -> list[FullText]:
    records = []
    for row in store.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM full_texts WHERE {where}", params):
        record = FullText(**dict(zip(_COLUMNS, row, strict=True)))
        record.tried_at = _parse_time(row[4])
        record.next_try_at = _parse_time(row[8])
        records.append(record)
    return records


def save(store: Store, source_id: str, records: Iterable[FullText]) -> None:
    """Insert or replace these outcomes of `source_id`'s entries, in one transaction."""
    rows = []
    for record in records:
        values = {name: getattr(record, name) for name in _COLUMNS}
        values["tried_at"] = _format_time(record.tried_at)
        values["next_try_at"] = _format_time(record.next_try_at)
        rows.append([source_id, *values.values()])
    if not rows:
        return
    marks = ",".join("?" * (len(_COLUMNS) + 1))
    with store._transaction():
        store.db.conn.executemany(
            f"INSERT INTO full_texts (source_id, {', '.join(_COLUMNS)}) VALUES ({marks}) "
            f"ON CONFLICT (source_id, key) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS)}",
            rows,
        )


def stored(store: Store, source_id: str, items: list[Item]) -> set[str]:
    """Keys of `items` that are stored already, or were and have been pruned: carried by this
    source under their key, or stored (or pruned) under their canonical URL by any source."""
    keys = [item.key for item in items]
    by_url = {item.url_key: item.key for item in items if item.url_key}
    found = {
        row[0]
        for row in _select_in(
            store.db,
            "SELECT key FROM item_sources WHERE source_id = ? AND key IN ({marks}) "
            "UNION SELECT key FROM tombstones WHERE source_id = ? AND key IN ({marks})",
            keys,
            before=[source_id],
        )
    }
    found.update(
        by_url[row[0]]
        for row in _select_in(
            store.db,
            "SELECT url_key FROM items WHERE url_key IN ({marks}) "
            "UNION SELECT url_key FROM tombstones WHERE url_key IN ({marks})",
            by_url,
        )
    )
    return found


def retries_due(store: Store, source_id: str, now: datetime) -> list[str]:
    """Keys of this source's entries whose article page is due to be tried again."""
    rows = store.db.execute(
        "SELECT key FROM full_texts WHERE source_id = ? AND status = 'retry' AND next_try_at <= ?",
        [source_id, _format_time(now)],
    )
    return [row[0] for row in rows]
