"""Topic membership tables: which stories each set of topic rules takes, kept in the database so
that a topic's newest stories are one index range instead of a scan of every story.

    topic_rules    the rules sets kept (topics.CompiledTopic.digest and .rules), `built` once
                   every story has been evaluated against them
    topic_stories  (rules, published, story) for each story a rules set takes; the primary key
                   orders a rules set's stories as Store.stories() orders stories
    topic_stale    stories changed since they were last evaluated, queued by triggers (schema.py)

This module only reads and writes those tables; publish/selection.py decides what matches (it
owns the rules) and calls these methods inside `transaction()`, so what it reads and what it
writes are one consistent view.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from . import Store
from .rows import _execute_in, _format_time


@dataclass(frozen=True)
class Rules:
    """One kept rules set."""

    id: int
    digest: str
    rules: dict
    built: bool


class Membership:
    """The membership tables of an open Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, as the Store's own."""
        with self.store._transaction():
            yield

    def rules(self) -> list[Rules]:
        return [
            Rules(rules_id, digest, json.loads(rules), bool(built))
            for rules_id, digest, rules, built in self.db.execute(
                "SELECT id, digest, rules, built FROM topic_rules ORDER BY id"
            )
        ]

    def keep(self, digest: str, rules: dict) -> int:
        """Start keeping the membership of these rules (not built yet); return their id."""
        self.db.execute(
            "INSERT INTO topic_rules (digest, rules) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [digest, json.dumps(rules, ensure_ascii=False, sort_keys=True)],
        )
        return self.db.execute("SELECT id FROM topic_rules WHERE digest = ?", [digest]).fetchone()[0]

    def built(self, rules_id: int) -> None:
        """Every story has been evaluated against these rules."""
        self.db.execute("UPDATE topic_rules SET built = 1 WHERE id = ?", [rules_id])

    def used(self, digests: list[str], now: datetime) -> None:
        """A publish uses these rules sets now; rules kept before their use was recorded count
        as used now too, so they get the same grace."""
        stamp = _format_time(now)
        self.db.execute("UPDATE topic_rules SET used_at = ? WHERE used_at IS NULL", [stamp])
        self.db.conn.executemany(
            "UPDATE topic_rules SET used_at = ? WHERE digest = ?", [(stamp, digest) for digest in digests]
        )

    def unused_since(self, since: datetime) -> list[int]:
        """Ids of the rules sets no publish has used since `since`."""
        return [
            row[0]
            for row in self.db.execute("SELECT id FROM topic_rules WHERE used_at < ?", [_format_time(since)])
        ]

    def forget(self, rules_ids: list[int]) -> None:
        """Drop these rules sets and their rows."""
        for rules_id in rules_ids:
            self.db.execute("DELETE FROM topic_stories WHERE rules_id = ?", [rules_id])
            self.db.execute("DELETE FROM topic_rules WHERE id = ?", [rules_id])

    def add(self, rows: list[tuple[int, str]]) -> None:
        """Record that rules set `rules_id` takes story `story_id`, for each (rules_id, story_id);
        the story's published date is taken from its row, in this same transaction."""
        self.db.conn.executemany(
            "INSERT INTO topic_stories (rules_id, published, story_id) "
            "SELECT ?, published, id FROM stories WHERE id = ? ON CONFLICT DO NOTHING",
            rows,
        )

    def stale(self, limit: int) -> list[str]:
        """Up to `limit` ids of stories queued for re-evaluation."""
        return [row[0] for row in self.db.execute("SELECT story_id FROM topic_stale LIMIT ?", [limit])]

    def queue(self, story_ids: list[str]) -> None:
        """Queue these stories for re-evaluation."""
        self.db.conn.executemany(
            "INSERT INTO topic_stale (story_id) VALUES (?) ON CONFLICT DO NOTHING", [(i,) for i in story_ids]
        )

    def decide(self, story_ids: list[str], rows: list[tuple[int, str]]) -> None:
        """Replace every rules set's rows for these stories by `rows` (see add()), and take the
        stories off the queue."""
        _execute_in(self.db, "DELETE FROM topic_stories WHERE story_id IN ({marks})", story_ids)
        _execute_in(self.db, "DELETE FROM topic_stale WHERE story_id IN ({marks})", story_ids)
        self.add(rows)

    def newest(self, rules_id: int, since: datetime | None, limit: int) -> list[str]:
        """Ids of the newest `limit` stories the rules set takes, published at or after `since`
        (to the second, rounded down), newest first, in the order of Store.stories()."""
        floor = _format_time(since.replace(microsecond=0)) if since else ""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT story_id FROM topic_stories WHERE rules_id = ? AND published >= ? "
                "ORDER BY published DESC, story_id LIMIT ?",
                [rules_id, floor, limit],
            )
        ]
