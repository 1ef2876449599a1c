"""The sources table, the store's half of polling: which sources the config names, which are due,
and each one's poll state (validators, errors, next check), saved only while the worker's claim
on the source holds (store/leases.py). A part of Store, which it is mixed into."""

from __future__ import annotations

from datetime import datetime

from ..errors import LeaseLost
from ..models import Source, SourceState
from .rows import _execute_in, _format_time, _in_chunks, _parse_time, _select_in


class SourceTable:
    """Store's source methods; they use the Store's `db` and `_transaction`."""

    db: object

    def sync_sources(self, sources: list[Source] | tuple[Source, ...], *, retire: bool = False) -> None:
        """Make the sources table know every configured source.

        Titles follow the config. When the config gives a source a new URL, that URL replaces any
        redirect target and lifts a 410 Gone, and the source is polled at once. With `retire`
        (the config that the daemon or the workers poll), the sources it no longer names are
        marked retired: kept with their items, claimed by no worker (store/leases.py). A one-shot
        command may be given another config, and retires nothing.

        Only what differs is written: workers starting together with a config of hundreds of
        thousands of sources each sync it, and the write lock is held meanwhile.
        """
        configured = {source.id for source in sources}
        with self._transaction():
            known = {
                source_id: (config_url, title, retired)
                for source_id, config_url, title, retired in self.db.execute(
                    "SELECT id, config_url, title, retired FROM sources"
                )
            }
            # executemany: one round trip for all on PostgreSQL.
            self.db.conn.executemany(
                "INSERT INTO sources (id, url, config_url, title) VALUES (?1, ?2, ?2, ?3) "
                "ON CONFLICT(id) DO UPDATE SET title = excluded.title, retired = 0",
                [
                    (source.id, source.url, source.title)
                    for source in sources
                    if known.get(source.id, (None, None, 1))[1:] != (source.title, 0)
                ],
            )
            self.db.conn.executemany(
                "UPDATE sources SET url = ?1, config_url = ?1, gone = 0, etag = NULL, last_modified = NULL, "
                "next_check_at = NULL WHERE id = ?2",
                [
                    (source.url, source.id)
                    for source in sources
                    if source.id in known and known[source.id][0] != source.url
                ],
            )
            if retire:
                dropped = [
                    source_id
                    for source_id, (_, _, retired) in known.items()
                    if not retired and source_id not in configured
                ]
                _execute_in(self.db, "UPDATE sources SET retired = 1 WHERE id IN ({marks})", dropped)

    def due_sources(self, now: datetime, source_ids: list[str], limit: int) -> list[str]:
        """Ids among `source_ids` whose next check has come, most overdue first (never polled
        before all); sources that answered 410 Gone are left out."""
        due = _select_in(
            self.db,
            "SELECT coalesce(next_check_at, ''), id FROM sources WHERE id IN ({marks}) AND gone = 0 "
            "AND (next_check_at IS NULL OR next_check_at <= ?)",
            source_ids,
            after=[_format_time(now)],
        )
        return [source_id for _, source_id in sorted(due)[:limit]]

    def source_state(self, source_id: str) -> SourceState:
        return self.source_states([source_id])[0]

    def source_states(self, source_ids: list[str]) -> list[SourceState]:
        """The stored state of each source, in the order given (a blank state for unknown ids)."""
        rows: dict[str, dict] = {}
        for sql, params in _in_chunks("SELECT * FROM sources WHERE id IN ({marks})", source_ids):
            rows.update((r["id"], r) for r in self.db.query(sql, params))
        return [_state(rows[sid]) if sid in rows else SourceState(sid) for sid in source_ids]

    def items_seen_since(self, since: datetime) -> dict[str, int]:
        """source id -> how many items it brought that were first seen since `since`."""
        rows = self.db.execute(
            "SELECT source_id, count(*) FROM item_sources WHERE first_seen >= ? GROUP BY source_id",
            [_format_time(since)],
        )
        return dict(rows.fetchall())

    def save_state(self, state: SourceState) -> None:
        """Save a source's poll state alone (a failed or not-modified poll); items are untouched."""
        with self._transaction():
            self._hold_lease(state)
            self._save_state(state)

    def _save_state(self, state: SourceState) -> None:
        fields = {
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "last_status": state.last_status,
            "last_error": state.last_error,
            "error_streak": state.error_streak,
            "failing_since": _format_time(state.failing_since),
            "gone": int(state.gone),
            "last_checked_at": _format_time(state.last_checked_at),
            "last_success_at": _format_time(state.last_success_at),
            "last_full_at": _format_time(state.last_full_at),
            "ttl": state.ttl,
            "next_check_at": _format_time(state.next_check_at),
            "body_hash": state.body_hash,
        }

        where, params = "id = ?", [state.source_id]
        if state.url is None:  # a state never loaded from the store keeps the stored URL
            del fields["url"]
        else:
            # A poll of a URL the row no longer names (sync_sources gave the source a new one
            # from the config, on a reload, while it ran) says nothing of the new URL: dropped.
            where += " AND url = ?"
            params.append(state.moved_from or state.url)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE sources SET {assignments} WHERE {where}", [*fields.values(), *params])
        if state.lease is not None:  # this save ends the worker's claim (_hold_lease checked it)
            self.db.execute(
                "UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_token = ?",
                [state.source_id, state.lease],
            )

    def _hold_lease(self, state: SourceState) -> None:
        """In a write transaction: raise LeaseLost unless the worker's claim on the source
        (`state.lease`, store/leases.py) still holds. The row stays locked to the end of the
        transaction, so no other worker can claim the source before this save has ended it."""
        if state.lease is None:
            return
        row = self.db.execute(
            "SELECT lease_token, lease_until > clock_timestamp() FROM sources WHERE id = ? FOR UPDATE",
            [state.source_id],
        ).fetchone()
        if row is None or row[0] != state.lease or not row[1]:
            raise LeaseLost(
                f"source {state.source_id}: this worker's claim ran out or another worker took the "
                "source over; this poll's results are dropped"
            )


def _state(data: dict) -> SourceState:
    return SourceState(
        source_id=data["id"],
        url=data["url"],
        etag=data["etag"],
        last_modified=data["last_modified"],
        last_status=data["last_status"],
        last_error=data["last_error"],
        error_streak=data["error_streak"] or 0,
        failing_since=_parse_time(data["failing_since"]),
        gone=bool(data["gone"]),
        last_checked_at=_parse_time(data["last_checked_at"]),
        last_success_at=_parse_time(data["last_success_at"]),
        last_full_at=_parse_time(data["last_full_at"]),
        ttl=data["ttl"],
        next_check_at=_parse_time(data["next_check_at"]),
        body_hash=data["body_hash"],
    )
