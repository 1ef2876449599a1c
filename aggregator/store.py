"""The SQLite store: the only module that speaks SQL.

Tables (created and migrated here; `PRAGMA user_version` records the schema version):

    sources        one row per configured source: URL, title, and the poll state (validators,
                   last status and error, error streak, next check)
    items          one row per distinct article, stored once: the normalised fields
    item_sources   one row per (source, entry key) that carried an item; a story's carriers
    items_fts      FTS5 trigram index over items' title and text (trigram splits Chinese,
                   unicode61 would not)

The interface is small on purpose (load source state, save a poll in one transaction, list
stories newest first) so that another engine can sit beside this one later.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from .dedup import item_id
from .errors import StoreError
from .models import Carrier, Item, Source, SourceState, Story

SCHEMA_VERSION = 1
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # one fixed format, so text order is time order


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


class Store:
    """An open SQLite database; use as a context manager or call close()."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            if str(path) != ":memory:":
                self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed data
            self._migrate()
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open database {path}: {e}") from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, rolls back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- schema --------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"database {self.path} has schema version {version}, newer than this program's")
        if version < 1:
            with self._transaction():
                self._create_v1()
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _create_v1(self) -> None:
        # Plain statements in one transaction: sqlite-utils' enable_fts() runs executescript(),
        # which commits on its own and would leave a half-made schema after a crash.
        for statement in _SCHEMA_V1:
            self.db.execute(statement)

    # -- sources ------------------------------------------------------------------------------------
    def sync_sources(self, sources: list[Source] | tuple[Source, ...]) -> None:
        """Make the sources table know every configured source (URL and title follow the config)."""
        with self._transaction():
            for source in sources:
                self.db.execute(
                    "INSERT INTO sources (id, url, title, error_streak) VALUES (?, ?, ?, 0) "
                    "ON CONFLICT(id) DO UPDATE SET url = excluded.url, title = excluded.title",
                    [source.id, source.url, source.title],
                )

    def source_state(self, source_id: str) -> SourceState:
        data = next(self.db.query("SELECT * FROM sources WHERE id = ?", [source_id]), None)
        if data is None:
            return SourceState(source_id)
        return SourceState(
            source_id=source_id,
            url=data["url"],
            etag=data["etag"],
            last_modified=data["last_modified"],
            last_status=data["last_status"],
            last_error=data["last_error"],
            error_streak=data["error_streak"] or 0,
            last_checked_at=_parse_time(data["last_checked_at"]),
            last_success_at=_parse_time(data["last_success_at"]),
            next_check_at=_parse_time(data["next_check_at"]),
        )

    def save_state(self, state: SourceState) -> None:
        """Save a source's poll state alone (a failed or not-modified poll); items are untouched."""
        with self._transaction():
            self._save_state(state)

    def _save_state(self, state: SourceState) -> None:
        self.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, last_status = ?, last_error = ?, error_streak = ?, "
            "last_checked_at = ?, last_success_at = ?, next_check_at = ? WHERE id = ?",
            [
                state.etag,
                state.last_modified,
                state.last_status,
                state.last_error,
                state.error_streak,
                _format_time(state.last_checked_at),
                _format_time(state.last_success_at),
                _format_time(state.next_check_at),
                state.source_id,
            ],
        )

    # -- items --------------------------------------------------------------------------------------
    def save_poll(self, state: SourceState, items: list[Item], now: datetime) -> SaveResult:
        """Store one poll's items and the source's new state in one transaction.

        An item is found again by its source and entry key (so an edited entry updates in place,
        the newer title and content winning), else by its canonical URL (so URL variants, in this
        source or another, stay one stored item with one more carrier). Unchanged rows are never
        rewritten: each rewrite also rewrites the full-text index.
        """
        result = SaveResult()
        seen = _format_time(now)
        new: set[str] = set()
        try:
            with self._transaction():
                known = self._known_keys(state.source_id, [item.key for item in items])
                by_url = self._known_urls(
                    [item.url_key for item in items if item.url_key and item.key not in known]
                )
                for item in items:
                    existing = known.get(item.key)
                    if existing is not None:
                        stored_id, stored_hash, owner = existing
                        # The owner's edits win; another carrier's copy of the same URL does not overwrite it.
                        if stored_hash != item.content_hash and owner == (state.source_id, item.key):
                            self._write_item(stored_id, item, first_seen=None)
                            result.updated.append(stored_id)
                        continue
                    stored_id = None
                    if item.url_key and item.url_key in by_url:
                        stored_id, rank = by_url[item.url_key]
                        # Several sources carry one URL: the earliest (then richest) version is kept,
                        # whatever order the polls ran in.
                        if _rank(item) < rank:
                            self._write_item(stored_id, item, first_seen=None)
                            by_url[item.url_key] = (stored_id, _rank(item))
                    if stored_id is None:
                        stored_id = item_id(item)
                        if not self._item_exists(stored_id):
                            self._write_item(stored_id, item, first_seen=seen)
                            result.new.append(stored_id)
                            new.add(stored_id)
                        if item.url_key:
                            by_url[item.url_key] = (stored_id, _rank(item))
                    if stored_id not in new and not self._carries(state.source_id, stored_id):
                        result.carried.append(stored_id)
                    self.db.execute(
                        "INSERT OR IGNORE INTO item_sources (source_id, key, item_id, link, first_seen) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [state.source_id, item.key, stored_id, item.link, seen],
                    )
                self._save_state(state)
        except sqlite3.Error as e:
            raise StoreError(f"cannot save poll of source {state.source_id!r} to {self.path}: {e}") from None
        return result

    def _known_keys(self, source_id: str, keys: list[str]) -> dict[str, tuple[str, str, tuple[str, str]]]:
        """entry key -> (item id, stored content hash, (owner source, owner key)) for keys already carried."""
        found: dict[str, tuple[str, str, tuple[str, str]]] = {}
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT s.key, i.id, i.content_hash, i.source_id, i.entry_key FROM item_sources s "
                f"JOIN items i ON i.id = s.item_id WHERE s.source_id = ? AND s.key IN ({marks})",
                [source_id, *chunk],
            )
            for key, stored_id, content_hash, owner_source, owner_key in rows:
                found[key] = (stored_id, content_hash, (owner_source, owner_key))
        return found

    def _known_urls(self, url_keys: list[str | None]) -> dict[str, tuple[str, tuple]]:
        """canonical URL -> (item id, rank of the stored version) for URLs already stored."""
        found: dict[str, tuple[str, tuple]] = {}
        for chunk in _chunks([u for u in url_keys if u], 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT url_key, id, published, length(content_html), source_id "
                f"FROM items WHERE url_key IN ({marks})",
                chunk,
            )
            for url_key, stored_id, published, length, source_id in rows:
                found.setdefault(url_key, (stored_id, (published, -length, source_id)))
        return found

    def _carries(self, source_id: str, stored_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM item_sources WHERE source_id = ? AND item_id = ?", [source_id, stored_id]
        ).fetchone()
        return row is not None

    def _item_exists(self, stored_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM items WHERE id = ?", [stored_id]).fetchone() is not None

    def _write_item(self, stored_id: str, item: Item, first_seen: str | None) -> None:
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
        }
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

    # -- stories -----------------------------------------------------------------------------------
    def stories(self, ids: list[str] | None = None, batch: int = 200) -> Iterator[Story]:
        """Stories newest first (by published date), each with every source that carried it.

        With `ids`, only those stories. Streams in batches, so callers may stop early.
        """
        if ids is not None:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = list(
                    self.db.query(
                        f"SELECT * FROM items WHERE id IN ({marks}) ORDER BY published DESC, id", chunk
                    )
                )
                yield from self._stories(rows)
            return
        offset = 0
        while True:
            rows = list(
                self.db.query(
                    "SELECT * FROM items ORDER BY published DESC, id LIMIT ? OFFSET ?", [batch, offset]
                )
            )
            if not rows:
                return
            yield from self._stories(rows)
            offset += batch

    def _stories(self, records: list[dict]) -> Iterator[Story]:
        carriers: dict[str, list[Carrier]] = {r["id"]: [] for r in records}
        marks = ",".join("?" * len(records))
        for stored_id, source_id, title, url, link in self.db.execute(
            "SELECT s.item_id, s.source_id, src.title, src.url, s.link FROM item_sources s "
            f"JOIN sources src ON src.id = s.source_id WHERE s.item_id IN ({marks}) "
            "ORDER BY s.first_seen, s.source_id",
            list(carriers),
        ):
            carrier = Carrier(source_id, title or source_id, url, link)
            if not any(c.source_id == source_id for c in carriers[stored_id]):
                carriers[stored_id].append(carrier)
        for r in records:
            item = Item(
                source_id=r["source_id"],
                key=r["entry_key"],
                link=r["link"],
                url_key=r["url_key"],
                title=r["title"],
                author=r["author"],
                published=_parse_time(r["published"]),
                updated=_parse_time(r["updated"]),
                content_html=r["content_html"],
                text=r["text"],
                categories=tuple(json.loads(r["categories"] or "[]")),
                thumbnail=r["thumbnail"],
                content_hash=r["content_hash"],
            )
            yield Story(
                id=r["id"], item=item, carriers=carriers[r["id"]], first_seen=_parse_time(r["first_seen"])
            )

    def count_items(self) -> int:
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def search(self, query: str, limit: int = 20) -> list[str]:
        """Item ids whose title or text contains `query`, newest first.

        The trigram index answers queries of three characters or more; shorter ones (common in
        Chinese: 开源, 芯片) fall back to a scan, since trigram cannot index them.
        """
        if len(query) >= 3:
            phrase = '"' + query.replace('"', '""') + '"'
            sql = (
                "SELECT items.id FROM items_fts JOIN items ON items.rowid = items_fts.rowid "
                "WHERE items_fts MATCH ? ORDER BY items.published DESC LIMIT ?"
            )
            params: list = [phrase, limit]
        else:
            pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql = (
                "SELECT id FROM items WHERE title LIKE ?1 ESCAPE '\\' OR text LIKE ?1 ESCAPE '\\' "
                "ORDER BY published DESC LIMIT ?2"
            )
            params = [pattern, limit]
        return [row[0] for row in self.db.execute(sql, params)]


def _rank(item: Item) -> tuple:
    """Order of preference among versions of one URL: earliest published, then longest content."""
    return (_format_time(item.published), -len(item.content_html), item.source_id)


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _format_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime(_TIME_FORMAT) if value else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC) if value else None


_SCHEMA_V1 = [
    """CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        last_status INTEGER,
        last_error TEXT,
        error_streak INTEGER NOT NULL DEFAULT 0,
        last_checked_at TEXT,
        last_success_at TEXT,
        next_check_at TEXT
    )""",
    """CREATE TABLE items (
        id TEXT PRIMARY KEY,
        url_key TEXT,
        link TEXT,
        title TEXT NOT NULL,
        author TEXT,
        published TEXT NOT NULL,
        updated TEXT,
        content_html TEXT NOT NULL,
        text TEXT NOT NULL,
        categories TEXT NOT NULL,      -- JSON list, order kept
        thumbnail TEXT,
        content_hash TEXT NOT NULL,
        source_id TEXT NOT NULL,       -- the source whose version is stored
        entry_key TEXT NOT NULL,       -- that source's key for it
        first_seen TEXT NOT NULL
    )""",
    "CREATE INDEX items_url_key ON items (url_key)",
    "CREATE INDEX items_published ON items (published)",
    """CREATE TABLE item_sources (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        item_id TEXT NOT NULL REFERENCES items (id),
        link TEXT,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (source_id, key)
    )""",
    "CREATE INDEX item_sources_item_id ON item_sources (item_id)",
    # Named as sqlite-utils names them, so `sqlite-utils search data/aggregator.db items ...` works.
    """CREATE VIRTUAL TABLE items_fts USING FTS5 (title, text, tokenize='trigram', content=items)""",
    """CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
        INSERT INTO items_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END""",
    """CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
    END""",
    # Only a change of the indexed columns touches the index.
    """CREATE TRIGGER items_au AFTER UPDATE OF title, text ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
        INSERT INTO items_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END""",
]
