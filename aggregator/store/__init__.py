"""The store: the only package that speaks SQL.

One Store and one set of queries, in the SQL that both engines accept: SQLite (a file, the
embedded default; sqlite.py) and PostgreSQL (`database: postgresql://...`, for several processes
sharing one database; postgresql.py). Each engine module holds what differs: connecting,
starting a write transaction, the schema's migrations (schema.py, schema_postgresql.py) and
where their count is kept, explaining errors, and full-text search.

The interface is small on purpose (load source state, save a poll in one transaction, list
stories newest first). Store holds the items and the schema; its other parts are mixed into it,
one module each: sources.py (the sources table), stories.py (story grouping), search.py
(lookups by string), retention.py (pruning, tombstones).
"""

from __future__ import annotations

import json
import logging
import struct
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ..dedup import Fingerprint, item_id
from ..errors import StoreError
from ..models import Item, SourceState, StoryRules
from .retention import Retention
from .rows import _format_time, _select_in
from .search import AllOf, AnyOf, CarriedBy, Condition, Contains, ItemSearch, like_pattern
from .sources import SourceTable
from .stories import StoryIndex, pack_numbers

if TYPE_CHECKING:
    from .postgresql import PostgreSQL
    from .sqlite import SQLite

__all__ = [
    "BUSY_TIMEOUT",
    "AllOf",
    "AnyOf",
    "CarriedBy",
    "Condition",
    "Contains",
    "SaveResult",
    "Store",
    "like_pattern",
    "redact",
]

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0  # seconds a write waits while another process holds the database's write lock


@dataclass
class SaveResult:
    """What saving one poll changed."""

    new: list[str] = field(default_factory=list)  # item ids stored for the first time
    updated: list[str] = field(default_factory=list)  # item ids whose content changed in place
    # Known items newly carried by this source; its version replaces the stored one when earlier.
    carried: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return self.new + self.updated + self.carried


@dataclass(frozen=True)
class _Known:
    """What is stored of an entry a source carries already."""

    item_id: str
    content_hash: str
    owner: tuple[str, str]  # (source, key) whose version is stored
    raw_hash: str | None  # of this carrier's entry as last stored (normalize.Entry)


class Store(SourceTable, StoryIndex, ItemSearch, Retention):
    """An open database; use as a context manager or call close().

    `path` is an SQLite file (or ":memory:"), or a postgresql:// URL. `stories` says when a new
    item joins the story of an earlier one (the config's `stories:`).
    """

    def __init__(
        self, path: Path | str, stories: StoryRules | None = None, *, busy_timeout: float = BUSY_TIMEOUT
    ):
        self.engine = _engine(path, busy_timeout)
        self.path = self.engine.path  # the file, or the URL without its password: for messages
        self.story_rules = stories or StoryRules()
        self.busy_timeout = busy_timeout  # seconds a write waits for another process's lock
        self._fingerprints: OrderedDict[tuple[str, str], Fingerprint] = OrderedDict()
        try:
            self.db = self.engine.connect()
            self._migrate()
        except (*self.engine.errors, OSError) as e:
            raise StoreError(f"cannot open database {self.path}: {self.engine.opening_error(e)}") from None

    def lock_daemon(self) -> None:
        """Take the database for this daemon alone while the store is open; StoreError when
        another daemon has it. (On SQLite the daemon's lock file beside the database does it.)"""
        self.engine.lock_daemon(self.db)

    def lock_worker(self) -> None:
        """Share the database with other workers (PostgreSQL only) while the store is open;
        StoreError when a daemon has it."""
        self.engine.lock_worker(self.db)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, taking the write lock up front (the engine's begin()); rolls back
        on any error.

        A failed COMMIT is rolled back too (a full disk can fail it, and SQLite then leaves the
        transaction open: every later BEGIN would fail), so the caller can simply retry later.
        Database errors leave as StoreError saying what the operator can do (engine.explain).
        """
        try:
            self.engine.begin(self.db)
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.conn.in_transaction:
                    with suppress(*self.engine.errors):  # the error that got us here is the one to report
                        self.db.execute("ROLLBACK")
                raise
        except self.engine.errors as error:
            raise StoreError(self.engine.explain(error)) from error

    # -- schema --------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Apply each migration the database has not had, each in its own transaction.

        The version is read again inside each transaction: another process opening the same
        database at the same time may have applied the migration meanwhile.
        """
        migrations = self.engine.migrations
        version = self.engine.version(self.db)
        if version and version < len(migrations):
            # Some rebuild an index (12: the search index, some 2 s per 10,000 items): say why
            # opening takes long, and why other processes wait for the write lock meanwhile.
            log.warning(
                "upgrading database %s from schema version %d to %d", self.path, version, len(migrations)
            )
        while version != len(migrations):
            if version > len(migrations):
                raise StoreError(
                    f"database {self.path} has schema version {version}, newer than this program's"
                )
            # Plain statements: sqlite-utils' enable_fts() runs executescript(), which commits on
            # its own and would leave a half-made schema after a crash.
            with self._transaction():
                version = self.engine.version(self.db)
                if version < len(migrations):
                    for statement in migrations[version]:
                        self.db.execute(statement)
                    version += 1
                    self.engine.set_version(self.db, version)

    # -- items --------------------------------------------------------------------------------------
    def save_poll(
        self,
        state: SourceState,
        items: list[Item],
        now: datetime,
        fingerprints: dict[str, Fingerprint] | None = None,
        *,
        poll_state: bool = True,
    ) -> SaveResult:
        """Store one poll's items and the source's new state in one transaction; with
        `poll_state` False (a WebSub push: it says nothing of the feed's server) the source's row
        is left as it is, and `state` only names the source.

        `fingerprints` (entry key -> dedup fingerprint) spares computing them again here when
        the caller has them (prepare.prepare computes them in a worker process).

        An item is found again by its source and entry key (so an edited entry updates in place,
        the newer title and content winning), else by its canonical URL (so URL variants, in this
        source or another, stay one stored item with one more carrier). Unchanged rows are never
        rewritten: each rewrite also rewrites the full-text index.

        A new item joins the story of the most similar stored item within the time window
        (`_join_story`), else begins a story of its own; every story an item of this poll entered,
        changed or newly carried is brought up to date in the same transaction.
        """
        result = SaveResult()
        seen = _format_time(now)
        fingerprints = fingerprints or {}
        new: set[str] = set()
        restory: set[str] = set()  # items whose story's representative, dates or counts may change
        carriers: list[tuple] = []  # item_sources rows to add, one statement for all
        try:
            with self._transaction():
                self._hold_lease(state)
                buried = self._tombstoned(state.source_id, items, now)
                items = [item for item in items if item.key not in buried]
                known = self._known_keys(state.source_id, [item.key for item in items])
                by_url = self._known_urls(
                    [item.url_key for item in items if item.url_key and item.key not in known]
                )
                # Asked once for the whole poll, not once an item: which ids are stored, and
                # which of those this source carries already.
                fresh_ids = {item.key: item_id(item) for item in items if item.key not in known}
                stored = self._items_stored(list(set(fresh_ids.values())))
                carrying = self._carried(
                    state.source_id, list(stored | {stored_id for stored_id, _ in by_url.values()})
                )
                for item in items:
                    existing = known.get(item.key)
                    if existing is not None:
                        stored_id = existing.item_id
                        # The owner's edits win; another carrier's copy of the same URL does not overwrite it.
                        if existing.content_hash != item.content_hash and existing.owner == (
                            state.source_id,
                            item.key,
                        ):
                            self._rewrite_item(stored_id, item, fingerprints.get(item.key))
                            restory.add(stored_id)
                            result.updated.append(stored_id)
                        if existing.raw_hash != item.raw_hash:
                            self.db.execute(
                                "UPDATE item_sources SET raw_hash = ? WHERE source_id = ? AND key = ?",
                                [item.raw_hash, state.source_id, item.key],
                            )
                        continue
                    stored_id = None
                    if item.url_key and item.url_key in by_url:
                        stored_id, rank = by_url[item.url_key]
                        # Several sources carry one URL: the earliest (then richest) version is kept,
                        # whatever order the polls ran in.
                        if _rank(item) < rank:
                            self._rewrite_item(stored_id, item, fingerprints.get(item.key))
                            restory.add(stored_id)
                            by_url[item.url_key] = (stored_id, _rank(item))
                    if stored_id is None:
                        stored_id = fresh_ids[item.key]
                        if stored_id not in stored:
                            joined = self._join_story(stored_id, item, fingerprints.get(item.key), seen)
                            if joined is not None:  # its sources are counted once the carriers are in
                                restory.add(stored_id)
                            stored.add(stored_id)
                            result.new.append(stored_id)
                            new.add(stored_id)
                        if item.url_key:
                            by_url[item.url_key] = (stored_id, _rank(item))
                    if stored_id not in new and stored_id not in carrying:
                        result.carried.append(stored_id)
                        restory.add(stored_id)
                    carrying.add(stored_id)
                    carriers.append((state.source_id, item.key, stored_id, item.link, seen, item.raw_hash))
                self.db.conn.executemany(
                    "INSERT INTO item_sources (source_id, key, item_id, link, first_seen, raw_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    carriers,
                )
                self._refresh_stories(restory)
                self.engine.index_pending(self.db)
                # Remembered with the items themselves, so a process killed before it publishes
                # leaves the work to the next one instead of losing it.
                self.db.conn.executemany(
                    "INSERT INTO unpublished (item_id) VALUES (?) "
                    "ON CONFLICT (item_id) DO UPDATE SET changes = unpublished.changes + 1",
                    [(i,) for i in result.changed],
                )
                if poll_state:
                    self._save_state(state)
        except self.engine.errors as e:
            raise StoreError(f"cannot save poll of source {state.source_id!r} to {self.path}: {e}") from None
        return result

    def unchanged(self, source_id: str, entries: list[tuple[str, str]]) -> set[str]:
        """The keys of those (key, raw hash) pairs that this source's stored carriers hold as they are."""
        wanted = dict(entries)
        same: set[str] = set()
        for key, raw_hash in _select_in(
            self.db,
            "SELECT key, raw_hash FROM item_sources WHERE source_id = ? AND key IN ({marks})",
            wanted,
            before=[source_id],
        ):
            if raw_hash == wanted[key]:
                same.add(key)
        return same

    def unpublished(self, limit: int | None = None) -> dict[str, int]:
        """The items stored or changed since their topics were last published (at most `limit`
        of them): item id -> how many saves changed it since (what mark_published takes back)."""
        sql, params = "SELECT item_id, changes FROM unpublished", []
        if limit is not None:
            sql, params = sql + " LIMIT ?", [limit]
        try:
            return dict(self.db.execute(sql, params).fetchall())
        except self.engine.errors as e:
            raise StoreError(f"cannot read {self.path}: {e}") from None

    def mark_published(self, seen: dict[str, int]) -> None:
        """Forget the changes `seen` (as unpublished() listed them before a publish) once that
        publish has succeeded. An item saved again meanwhile, by another process or worker,
        stays listed for the next publish."""
        try:
            with self._transaction():
                self.db.conn.executemany(
                    "DELETE FROM unpublished WHERE item_id = ? AND changes = ?", list(seen.items())
                )
        except self.engine.errors as e:
            raise StoreError(f"cannot update {self.path}: {e}") from None

    def _known_keys(self, source_id: str, keys: list[str]) -> dict[str, _Known]:
        """entry key -> what is stored of it, for the keys this source already carries."""
        found: dict[str, _Known] = {}
        rows = _select_in(
            self.db,
            "SELECT s.key, i.id, i.content_hash, i.source_id, i.entry_key, s.raw_hash FROM item_sources s "
            "JOIN items i ON i.id = s.item_id WHERE s.source_id = ? AND s.key IN ({marks})",
            keys,
            before=[source_id],
        )
        for key, stored_id, content_hash, owner_source, owner_key, raw_hash in rows:
            found[key] = _Known(stored_id, content_hash, (owner_source, owner_key), raw_hash)
        return found

    def _known_urls(self, url_keys: list[str | None]) -> dict[str, tuple[str, tuple]]:
        """canonical URL -> (item id, rank of the stored version) for URLs already stored."""
        found: dict[str, tuple[str, tuple]] = {}
        rows = _select_in(
            self.db,
            "SELECT url_key, id, published, length(content_html), source_id FROM items WHERE url_key IN ({marks})",
            [u for u in url_keys if u],
        )
        for url_key, stored_id, published, length, source_id in rows:
            found.setdefault(url_key, (stored_id, (published, -length, source_id)))
        return found

    def _items_stored(self, ids: list[str]) -> set[str]:
        """Those of `ids` that are stored items."""
        return {row[0] for row in _select_in(self.db, "SELECT id FROM items WHERE id IN ({marks})", ids)}

    def _carried(self, source_id: str, ids: list[str]) -> set[str]:
        """Those of the item `ids` that this source carries already."""
        return {
            row[0]
            for row in _select_in(
                self.db,
                "SELECT item_id FROM item_sources WHERE source_id = ? AND item_id IN ({marks})",
                ids,
                before=[source_id],
            )
        }

    def _rewrite_item(self, stored_id: str, item: Item, found: Fingerprint | None) -> None:
        """Write a stored item's newer version over it; it stays in its story, re-indexed."""
        found = self._index_story(stored_id, item, found)
        self._write_item(stored_id, item, first_seen=None, found=found)

    def _write_item(
        self,
        stored_id: str,
        item: Item,
        first_seen: str | None,
        found: Fingerprint,
        story: tuple[str, float | None] | None = None,
    ) -> None:
        """Insert a new item (with `first_seen`, in `story`: its id and the similarity it joined
        with) or update a stored one (first_seen None); `found` is its fingerprint, whose
        buckets and shingles are kept with it: written in the same statement, since every
        statement that touches a row rewrites all of it, a long article's text included."""
        row = {
            "id": stored_id,
            "url_key": item.url_key,
            "link": item.link,
            "title": item.title,
            "author": item.author,
            "published": _format_time(item.published),
            "updated": _format_time(item.updated),
            "content_html": item.content_html,
            "text": item.text,
            "categories": json.dumps(list(item.categories), ensure_ascii=False),
            "thumbnail": item.thumbnail,
            "content_hash": item.content_hash,
            "source_id": item.source_id,
            "entry_key": item.key,
            "story_buckets": struct.pack(f"<{len(found.buckets)}q", *found.buckets),
            "story_shingles": found.body,
            "story_numbers": pack_numbers(found.numbers),
        }
        if story is not None:
            row["story_id"], row["story_similarity"] = story
        if first_seen is None:
            columns = [c for c in row if c != "id"]
            assignments = ", ".join(f"{c} = ?" for c in columns)
            self.db.execute(
                f"UPDATE items SET {assignments} WHERE id = ?", [row[c] for c in columns] + [stored_id]
            )
        else:
            row["first_seen"] = first_seen
            columns = list(row)
            self.db.execute(
                f"INSERT INTO items ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns],
            )

    def count_items(self) -> int:
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def count_stories(self) -> int:
        return self.db.execute("SELECT count(*) FROM stories").fetchone()[0]


def redact(database: Path | str) -> str:
    """How to name a database in messages: a URL loses its password."""
    parts = urlsplit(str(database))
    if parts.password is None:
        return str(database)
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}@{parts.netloc.rsplit('@', 1)[1]}"))


def _engine(database: Path | str, busy_timeout: float) -> SQLite | PostgreSQL:
    """The engine of `database`: a postgresql:// URL, else an SQLite file."""
    if isinstance(database, str) and "://" in database:
        if database.split("://", 1)[0].lower() not in ("postgresql", "postgres"):
            raise StoreError(
                f"cannot open database {redact(database)}: only postgresql:// URLs are supported"
            )
        from .postgresql import PostgreSQL

        return PostgreSQL(database, busy_timeout)
    from .sqlite import SQLite

    return SQLite(Path(database), busy_timeout)


def _rank(item: Item) -> tuple:
    """Order of preference among versions of one URL: earliest published, then longest content."""
    return (_format_time(item.published), -len(item.content_html), item.source_id)
