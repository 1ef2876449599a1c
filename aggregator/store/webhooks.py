"""The webhook tables (schema.py, migration 3): which stories each topic announced, and the
outbox of deliveries (aggregator/webhooks.py decides what goes in and sends it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import Store
from .rows import _format_time, _parse_time, _select_in

PENDING, DELIVERED, FAILED, DROPPED = "pending", "delivered", "failed", "dropped"


@dataclass
class Delivery:
    """One POST to make: a story announced to a topic's receiver."""

    id: str
    topic_id: str
    story_id: str
    url: str
    payload: str  # JSON
    attempts: int = 0


@dataclass
class Announcement:
    """A story that entered a topic: delivered to its receiver, or passed over (delivery None)."""

    topic_id: str
    story_id: str
    delivery: Delivery | None


def new_receivers(store: Store, receivers: dict[str, str], now: datetime) -> set[str]:
    """Of the topics with a receiver (topic id -> its URL), those seen with it for the first time.

    A topic that no longer has a receiver, or has another URL, is forgotten here, and its
    pending deliveries are dropped; `record` remembers the new ones.
    """
    known = dict(store.db.execute("SELECT topic_id, url FROM webhook_topics").fetchall())
    gone = [topic_id for topic_id, url in known.items() if receivers.get(topic_id) != url]
    if gone:
        with store._transaction():
            for topic_id in gone:
                store.db.execute("DELETE FROM webhook_topics WHERE topic_id = ?", [topic_id])
                store.db.execute(
                    "UPDATE webhook_deliveries SET status = ?, finished_at = ? WHERE topic_id = ? AND status = ?",
                    [DROPPED, _format_time(now), topic_id, PENDING],
                )
    return {topic_id for topic_id, url in receivers.items() if known.get(topic_id) != url}


def new_backlogs(store: Store) -> tuple[list[str], set[str]]:
    """(the sources that have items and whose backlog was never seen, the stories of their
    items): a source's first items are not news, on a fresh database or for a new source."""
    sources: list[str] = []
    stories: set[str] = set()
    for (source_id,) in store.db.execute(
        "SELECT id FROM sources WHERE id NOT IN (SELECT source_id FROM webhook_sources)"
    ).fetchall():
        found = store.db.execute(
            "SELECT DISTINCT i.story_id FROM item_sources s JOIN items i ON i.id = s.item_id WHERE s.source_id = ?",
            [source_id],
        ).fetchall()
        if found:
            sources.append(source_id)
            stories.update(row[0] for row in found)
    return sources, stories


def unannounced(store: Store, topic_id: str, story_ids: list[str]) -> set[str]:
    """Those of `story_ids` that were neither announced to `topic_id` nor passed over."""
    done = {
        row[0]
        for row in _select_in(
            store.db,
            "SELECT story_id FROM webhook_announced WHERE topic_id = ? AND story_id IN ({marks})",
            story_ids,
            before=[topic_id],
        )
    }
    return set(story_ids) - done


def record(
    store: Store,
    receivers: dict[str, str],
    sources: list[str],
    announcements: list[Announcement],
    now: datetime,
) -> None:
    """In one transaction: remember the new receivers (topic id -> URL) and the sources whose
    backlog was seen, mark the stories announced, and queue their deliveries. A pass cut short
    leaves nothing half-done; the next one does it all again."""
    stamp = _format_time(now)
    with store._transaction():
        store.db.conn.executemany(
            "INSERT INTO webhook_topics (topic_id, url, since) VALUES (?, ?, ?) "
            "ON CONFLICT (topic_id) DO UPDATE SET url = excluded.url, since = excluded.since",
            [(topic_id, url, stamp) for topic_id, url in receivers.items()],
        )
        store.db.conn.executemany(
            "INSERT INTO webhook_sources (source_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(source_id, stamp) for source_id in sources],
        )
        for announcement in announcements:
            delivery = announcement.delivery
            store.db.execute(
                "INSERT INTO webhook_announced (topic_id, story_id, announced_at, delivery_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [announcement.topic_id, announcement.story_id, stamp, delivery.id if delivery else None],
            )
            if delivery is not None:
                store.db.execute(
                    "INSERT INTO webhook_deliveries (id, topic_id, story_id, url, payload, status, created_at, "
                    "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        *(delivery.id, delivery.topic_id, delivery.story_id, delivery.url, delivery.payload),
                        *(PENDING, stamp, stamp),
                    ],
                )


def claim(store: Store, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
    """The pending deliveries due at `now` (oldest first, at most `limit`), leased for `lease`:
    no other sender takes them meanwhile, and a sender killed while sending leaves them to be
    sent again when the lease ends."""
    stamp = _format_time(now)
    with store._transaction():
        rows = store.db.execute(
            "SELECT id, topic_id, story_id, url, payload, attempts FROM webhook_deliveries "
            "WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) "
            f"ORDER BY next_attempt_at, created_at, {store.engine.row_order} LIMIT ?",
            [PENDING, stamp, stamp, limit],
        ).fetchall()
        store.db.conn.executemany(
            "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?",
            [(_format_time(now + lease), row[0]) for row in rows],
        )
    return [Delivery(*row) for row in rows]


def finish(store: Store, delivery: Delivery, status: str, now: datetime, error: str | None = None) -> None:
    """Record the end of a delivery: delivered, failed (given up) or dropped."""
    with store._transaction():
        store.db.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?, finished_at = ?, "
            "lease_until = NULL WHERE id = ?",
            [status, delivery.attempts, error, _format_time(now), delivery.id],
        )


def postpone(store: Store, deliveries: list[Delivery], until: datetime, error: str | None = None) -> None:
    """Try these deliveries again at `until`; with `error`, after a failed attempt (counted in
    each delivery's `attempts`)."""
    with store._transaction():
        store.db.conn.executemany(
            "UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, lease_until = NULL, "
            "last_error = coalesce(?, last_error) WHERE id = ?",
            [(d.attempts, _format_time(until), error, d.id) for d in deliveries],
        )


def release(store: Store) -> None:
    """End every lease: the one sender starting now takes over what a killed one was sending."""
    with store._transaction():
        store.db.execute("UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")


def next_due(store: Store) -> datetime | None:
    """When the next pending delivery falls due (its lease's end, when it is being sent)."""
    row = store.db.execute(
        "SELECT min(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) "
        "FROM webhook_deliveries WHERE status = ?",
        [PENDING],
    ).fetchone()
    return _parse_time(row[0])


def forget_finished(store: Store, before: datetime) -> None:
    """Delete the deliveries that ended before `before` (kept until then for operators)."""
    with store._transaction():
        store.db.execute(
            "DELETE FROM webhook_deliveries WHERE status != ? AND finished_at < ?",
            [PENDING, _format_time(before)],
        )
