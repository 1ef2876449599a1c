"""How `aggregator worker` processes sharing one PostgreSQL database split the work (worker.py).

Claims: a worker claims due sources (`claim`). Each claimed row gets the worker's name, a
fencing token one higher than the last claim's, and an end `lease` seconds ahead on the
server's clock, the one clock all workers share. Rows another transaction holds are skipped
(FOR UPDATE SKIP LOCKED), so workers claiming at once never wait on each other nor take one
source twice. A poll's results are saved only while its claim holds (Store.save_poll checks the
token and the end with the row locked, in the save's own transaction) and the save ends the
claim. A worker renews the claims of its polls still running (`renew`); the claims of a worker
that died run out, and its sources are due again for the others.

Host slots (`SharedHostSlots`): the per-host cap across workers, as session advisory locks, one
key per (host, slot). The server frees them when a worker's connection drops, dead or alive.

`alone`: work that one worker at a time should do (publishing, pruning) takes a session advisory
lock, without waiting: whoever holds it is doing that work already.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import datetime
from hashlib import blake2b

from ..errors import StoreError
from . import Store
from .rows import _format_time

# Keys of the session advisory locks for work done by one worker at a time ("aggP", "aggX",
# "aggW": WebSub hub pings).
PUBLISH_LOCK = 0x61676750
PRUNE_LOCK = 0x61676758
PING_LOCK = 0x61676757
SLOT_WAIT_FIRST, SLOT_WAIT_MAX = 0.01, 0.25  # seconds between tries for a busy host's slot


def claim(
    store: Store, owner: str, lease: float, now: datetime, limit: int, busy: list[str] | None = None
) -> dict[str, int]:
    """Claim up to `limit` due sources for `owner` for `lease` seconds, most overdue first
    (never polled before all), none of `busy` (the owner's polls still running, whose claim may
    have run out); source id -> the claim's fencing token."""
    rows = _execute(
        store,
        "claim sources",
        "UPDATE sources SET lease_owner = ?1, lease_token = lease_token + 1, "
        "lease_until = clock_timestamp() + make_interval(secs => ?2) "
        "WHERE id IN (SELECT id FROM sources WHERE gone = 0 AND retired = 0 "
        "AND coalesce(next_check_at, '') <= ?3 "
        "AND (lease_until IS NULL OR lease_until < clock_timestamp()) AND NOT id = ANY(?5) "
        "ORDER BY coalesce(next_check_at, '') LIMIT ?4 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, lease_token",
        [owner, lease, _format_time(now), limit, busy or []],
    )
    return dict(rows)


def renew(store: Store, owner: str, source_ids: list[str], lease: float) -> set[str]:
    """Extend `owner`'s claims on these sources by `lease` seconds from now; the ids whose claim
    it still held (a claim that ran out and went to another worker is not taken back)."""
    if not source_ids:
        return set()
    rows = _execute(
        store,
        "renew claims",
        "UPDATE sources SET lease_until = clock_timestamp() + make_interval(secs => ?1) "
        "WHERE id = ANY(?2) AND lease_owner = ?3 RETURNING id",
        [lease, source_ids, owner],
    )
    return {source_id for (source_id,) in rows}


def release(store: Store, owner: str, source_ids: list[str]) -> None:
    """End `owner`'s claims on these sources now (polls abandoned at shutdown): they are due for
    the other workers at once instead of when the claims run out."""
    if not source_ids:
        return
    _execute(
        store,
        "hand back claims",
        "UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE id = ANY(?1) AND lease_owner = ?2 "
        "RETURNING id",
        [source_ids, owner],
    )


def claims(store: Store) -> dict[str, str]:
    """Source id -> the worker whose claim on it holds now (none on SQLite: no workers)."""
    if not store.engine.shared:
        return {}
    return dict(
        store.db.execute(
            "SELECT id, lease_owner FROM sources WHERE lease_owner IS NOT NULL AND lease_until > clock_timestamp()"
        ).fetchall()
    )


@contextmanager
def alone(store: Store, key: int) -> Iterator[bool]:
    """Yield whether this process got the lock `key` (held until the `with` ends); False when
    another process holds it."""
    ((got,),) = _execute(store, "take a lock", "SELECT pg_try_advisory_lock(?)", [key])
    try:
        yield got
    finally:
        if got:
            # A connection lost meanwhile took the lock with it.
            with suppress(*store.engine.errors):
                store.db.execute("SELECT pg_advisory_unlock(?)", [key])


def _execute(store: Store, doing: str, sql: str, params: list) -> list[tuple]:
    """The rows of `sql`; a database error is a StoreError saying what we were doing."""
    try:
        return store.db.execute(sql, params).fetchall()
    except store.engine.errors as e:
        raise StoreError(f"cannot {doing} in {store.path}: {e}") from None


class SharedHostSlots:
    """fetch.HostSlots across processes: at most `per_host` requests in flight to one host among
    all the workers, counted by advisory locks on a connection of this object's own (so a lock
    is never tied to a store transaction). A fetch waiting for a slot tries again after a short
    pause, doubling to SLOT_WAIT_MAX; this process's own requests queue in order before that."""

    def __init__(self, store: Store, per_host: int) -> None:
        self.per_host = per_host
        self.path = store.path
        self._errors = store.engine.errors
        self._db = store.engine.connect()
        self._local: dict[str, asyncio.Semaphore] = {}
        # Slots this process holds, by host key: a session takes an advisory lock it already
        # holds again (they stack), so it must only try the others.
        self._held: dict[int, set[int]] = {}

    def close(self) -> None:
        self._db.close()

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        async with self._local.setdefault(host, asyncio.Semaphore(self.per_host)):
            key = _host_key(host)
            wait = SLOT_WAIT_FIRST
            while (slot := self._take(key)) is None:
                await asyncio.sleep(wait)
                wait = min(wait * 2, SLOT_WAIT_MAX)
            try:
                yield
            finally:
                self._held[key].discard(slot)
                # A connection lost meanwhile took the lock with it; a cancelled fetch must end
                # as cancelled, not as a store failure.
                with suppress(StoreError):
                    self._run("SELECT pg_advisory_unlock(?, ?)", [key, slot])

    def _take(self, key: int) -> int | None:
        """Take a free slot of the host `key`: its number, or None when all are taken."""
        held = self._held.setdefault(key, set())
        # Row by row, and LIMIT 1 stops at the first slot taken: never more than one lock taken.
        row = self._run(
            "SELECT slot FROM unnest(?::integer[]) AS slot WHERE pg_try_advisory_lock(?, slot) LIMIT 1",
            [[slot for slot in range(self.per_host) if slot not in held], key],
        )
        if row is None:
            return None
        held.add(row[0])
        return row[0]

    def _run(self, sql: str, params: list) -> tuple | None:
        try:
            return self._db.execute(sql, params).fetchone()
        except self._errors as e:  # the database went away: the poll fails as when saving fails
            raise StoreError(f"cannot count host slots in {self.path}: {e}") from None


def _host_key(host: str) -> int:
    """A host's name as the first key of its slots' advisory locks (a signed 32-bit integer)."""
    return int.from_bytes(blake2b(host.encode(), digest_size=4).digest(), "big", signed=True)
