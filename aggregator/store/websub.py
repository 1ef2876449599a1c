"""The WebSub tables (schema.py, migration 2): subscriptions to hubs, and pings owed to our hub.

Each function takes an open Store; a write is one transaction (Store._transaction: SQLite
errors leave as StoreError). aggregator/websub/ decides what to write; this module only reads and writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from . import Store
from .rows import _format_time, _in_chunks, _parse_time

# Subscription states, in the order a subscription usually goes through them.
PENDING = "pending"  # a subscribe request is due, or sent and not yet verified by the hub
ACTIVE = "active"  # the hub verified our intent; the lease runs until expires_at
DENIED = "denied"  # the hub refused it (its hub.reason in `reason`); not asked again
OFF = "off"  # not asked for: `reason` says why (no server.public_url, no self link)
UNSUBSCRIBING = "unsubscribing"  # being ended (source removed, hub or topic changed)

_TIMES = ("expires_at", "next_attempt_at", "requested_at", "verified_at")


@dataclass
class Subscription:
    """One row of websub_subscriptions (see schema.py for the columns)."""

    token: str
    source_id: str
    hub: str
    topic: str
    callback: str
    secret: str
    state: str
    reason: str | None = None
    lease_seconds: int | None = None
    expires_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts: int = 0
    requested_at: datetime | None = None
    verified_at: datetime | None = None

    def pushes(self, now: datetime) -> bool:
        """Whether the hub pushes this source's updates now: verified, within its lease, and no
        request has failed since (a failing renewal is a hub that may not deliver either)."""
        return (
            self.state == ACTIVE
            and self.reason is None
            and self.expires_at is not None
            and self.expires_at > now
        )


def subscription(store: Store, token: str) -> Subscription | None:
    rows = _select(store, "WHERE token = ?", [token])
    return rows[0] if rows else None


def subscriptions(store: Store, source_ids: list[str] | None = None) -> list[Subscription]:
    """Every subscription (of these sources), oldest request first."""
    if source_ids is None:
        return _select(store, f"ORDER BY {store.engine.row_order}", [])
    found: list[Subscription] = []
    for where, params in _in_chunks(
        f"WHERE source_id IN ({{marks}}) ORDER BY {store.engine.row_order}", source_ids
    ):
        found += _select(store, where, params)
    return found


def due_subscriptions(store: Store, now: datetime, limit: int) -> list[Subscription]:
    """Subscriptions with a request to send by `now`, the longest waiting first."""
    return _select(
        store, "WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?", [_format_time(now), limit]
    )


def lapsed_subscriptions(store: Store, now: datetime) -> list[Subscription]:
    """Active subscriptions whose lease has ended."""
    return _select(store, "WHERE state = ? AND expires_at <= ?", [ACTIVE, _format_time(now)])


def pushed_sources(store: Store, source_ids: list[str], now: datetime) -> set[str]:
    """The sources among `source_ids` whose updates a hub pushes now (Subscription.pushes)."""
    return {s.source_id for s in subscriptions(store, source_ids) if s.pushes(now)}


def save_subscription(store: Store, row: Subscription) -> None:
    """Insert or replace the row with this token (a replaced row comes last in subscriptions())."""
    values = asdict(row)
    for name in _TIMES:
        values[name] = _format_time(values[name])
    columns = list(values)
    with store._transaction():
        store.db.execute("DELETE FROM websub_subscriptions WHERE token = ?", [row.token])
        store.db.execute(
            f"INSERT INTO websub_subscriptions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            list(values.values()),
        )


def delete_subscription(store: Store, token: str) -> None:
    with store._transaction():
        store.db.execute("DELETE FROM websub_subscriptions WHERE token = ?", [token])


def poll_soon(store: Store, source_id: str, now: datetime) -> None:
    """Make a source due now, unless it already is: it was polled seldom while a hub pushed
    its updates, and the pushes stopped."""
    moment = _format_time(now)
    with store._transaction():
        store.db.execute(
            "UPDATE sources SET next_check_at = ? WHERE id = ? AND next_check_at > ?",
            [moment, source_id, moment],
        )


# -- pings (publisher side) ---------------------------------------------------------------------------


@dataclass
class Ping:
    url: str
    queued_at: datetime
    attempts: int
    last_error: str | None


def queue_pings(store: Store, urls: list[str], now: datetime) -> None:
    """Owe the hub a ping for each of these feed URLs, due now; a URL already owed is due now
    again with its attempts reset, since it changed once more."""
    moment = _format_time(now)
    with store._transaction():
        store.db.conn.executemany(
            "INSERT INTO websub_pings (url, queued_at, next_attempt_at) VALUES (?1, ?2, ?2) "
            "ON CONFLICT(url) DO UPDATE SET queued_at = ?2, next_attempt_at = ?2, attempts = 0, "
            "last_error = NULL",
            [(url, moment) for url in urls],
        )


def due_pings(store: Store, now: datetime, limit: int) -> list[Ping]:
    rows = store.db.execute(
        "SELECT url, queued_at, attempts, last_error FROM websub_pings WHERE next_attempt_at <= ? "
        "ORDER BY next_attempt_at, url LIMIT ?",
        [_format_time(now), limit],
    ).fetchall()
    return [Ping(url, _parse_time(queued), attempts, error) for url, queued, attempts, error in rows]


def ping_done(store: Store, ping: Ping) -> None:
    """Forget a ping that was sent or given up, unless its feed changed again meanwhile."""
    with store._transaction():
        store.db.execute(
            "DELETE FROM websub_pings WHERE url = ? AND queued_at = ?",
            [ping.url, _format_time(ping.queued_at)],
        )


def ping_failed(store: Store, ping: Ping, retry_at: datetime, error: str) -> None:
    """Record a failed ping and when to try again (unless its feed changed again meanwhile)."""
    with store._transaction():
        store.db.execute(
            "UPDATE websub_pings SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
            "WHERE url = ? AND queued_at = ?",
            [_format_time(retry_at), error, ping.url, _format_time(ping.queued_at)],
        )


_COLUMNS = ", ".join(field.name for field in fields(Subscription))


def _select(store: Store, where: str, params: list) -> list[Subscription]:
    rows = []
    for record in store.db.query(f"SELECT {_COLUMNS} FROM websub_subscriptions {where}", params):
        for name in _TIMES:
            record[name] = _parse_time(record[name])
        rows.append(Subscription(**record))
    return rows
