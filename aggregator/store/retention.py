"""Retention, the store's half: pruning the items the config's `retention:` no longer keeps, and
the tombstones that keep a pruned entry from being stored again while its source still carries
it. A part of Store, which it is mixed into."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..errors import StoreError
from ..models import Item
from .rows import _execute_in, _format_time, _select_in

log = logging.getLogger(__package__)  # the store's logger, whose name operators know its lines by


class Retention:
    """Store's retention methods; they use the Store's `db`, `engine`, `path` and `_transaction`,
    and StoryIndex's `_unindex_stories` and `_refresh_story`."""

    db: object

    def _tombstoned(self, source_id: str, items: list[Item], now: datetime) -> set[str]:
        """Keys of items pruned before (by this source's key, or by URL from any source).

        Marks those tombstones as still carried; at most once a day, so a steady poll writes nothing.
        """
        keys = {item.key for item in items}
        by_url = {item.url_key: item.key for item in items if item.url_key}
        buried: set[str] = set()
        hits: list[tuple[str, str]] = []
        for key in _select_in(
            self.db,
            "SELECT key FROM tombstones WHERE source_id = ? AND key IN ({marks})",
            keys,
            before=[source_id],
        ):
            buried.add(key[0])
            hits.append((source_id, key[0]))
        for tomb_source, tomb_key, url_key in _select_in(
            self.db, "SELECT source_id, key, url_key FROM tombstones WHERE url_key IN ({marks})", by_url
        ):
            buried.add(by_url[url_key])
            hits.append((tomb_source, tomb_key))
        day_ago = _format_time(now - timedelta(days=1))
        for tomb_source, tomb_key in hits:
            self.db.execute(
                "UPDATE tombstones SET last_seen = ? WHERE source_id = ? AND key = ? AND last_seen < ?",
                [_format_time(now), tomb_source, tomb_key, day_ago],
            )
        return buried

    def prune(self, now: datetime, max_age: float, max_items_per_source: int | None = None) -> int:
        """Delete items first seen more than `max_age` seconds ago, and each source's items beyond
        its newest `max_items_per_source`; leave a tombstone for every (source, key) that carried
        them. Tombstones no source has carried for a long while are dropped. Returns items deleted.
        """
        cutoff = _format_time(now - timedelta(seconds=max_age))
        ids = [row[0] for row in self.db.execute("SELECT id FROM items WHERE first_seen < ?", [cutoff])]
        if max_items_per_source:
            ids += [
                row[0]
                for row in self.db.execute(
                    "SELECT id FROM (SELECT id, row_number() OVER "
                    "(PARTITION BY source_id ORDER BY published DESC, id) AS n FROM items) AS ranked WHERE n > ?",
                    [max_items_per_source],
                )
            ]
        ids = list(dict.fromkeys(ids))
        stamp = _format_time(now)
        forget_before = _format_time(now - timedelta(seconds=max(max_age, 30 * 86400)))
        try:
            with self._transaction():
                stories = self._unindex_stories(ids)  # they lose items: a new representative, or none left
                _execute_in(
                    self.db,
                    "INSERT INTO tombstones (source_id, key, url_key, pruned_at, last_seen) "
                    "SELECT s.source_id, s.key, i.url_key, ?, ? FROM item_sources s "
                    "JOIN items i ON i.id = s.item_id WHERE s.item_id IN ({marks}) "
                    "ON CONFLICT (source_id, key) DO UPDATE SET url_key = excluded.url_key, "
                    "pruned_at = excluded.pruned_at, last_seen = excluded.last_seen",
                    ids,
                    before=[stamp, stamp],
                )
                _execute_in(self.db, "DELETE FROM item_sources WHERE item_id IN ({marks})", ids)
                _execute_in(self.db, "DELETE FROM items WHERE id IN ({marks})", ids)
                for story_id in stories:
                    self._refresh_story(story_id)
                self.db.execute("DELETE FROM tombstones WHERE last_seen < ?", [forget_before])
        except self.engine.errors as e:
            raise StoreError(f"cannot prune {self.path}: {e}") from None
        if ids:
            log.info("pruned %d items", len(ids), extra={"items_pruned": len(ids)})
        return len(ids)
