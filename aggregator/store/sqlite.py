"""The SQLite engine of the store: an embedded file through the standard sqlite3 (WAL, one writer).

What differs from PostgreSQL lives here and in postgresql.py, which has the same shape: opening
the connection, starting a write transaction, where the schema version is kept, the migrations,
explaining errors, and full-text search (FTS5 trigram). Store runs every other query as written,
in the SQL both engines accept.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from . import like_pattern, schema

# Items indexed at once for search (index_pending): the first poll of a thousand sources
# costs a third of its full-text indexing in batches of this size, and search reads no more
# than this many items with LIKE.
SEARCH_BATCH = 1000
CHECKPOINT_PAGES = 10_000  # WAL pages that trigger a checkpoint (connect)
CACHE_KIB = 32 * 1024  # page cache of each connection (connect)


class SQLite:
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    shared = False  # one process writes it: the daemon, or a one-shot command (no workers)
    like = "LIKE"  # case-insensitive for ASCII only; callers check matches exactly afterwards
    row_order = "rowid"  # insertion order (INSERT OR REPLACE moves a row to the end)
    migrations = schema.MIGRATIONS

    def __init__(self, path: Path, busy_timeout: float):
        self.path = path
        self.name = str(path)
        self.busy_timeout = busy_timeout

    def connect(self) -> Connection:
        memory = str(self.path) == ":memory:"
        if not memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None)
        db = Connection(conn)
        if not memory and db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")  # kept in the file: set once, by its first opener
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed data
        # A poll's save dirties some thousand scattered pages (the LSH index): checkpointing every
        # 1000 pages (the default) copied and fsynced them after nearly every save. At 10,000
        # (40 MB of WAL), a page saved again meanwhile is copied once. The page cache (2 MB by
        # default) holds the index's hot pages: 32 MB, used only as the database grows.
        db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        # A checkpoint cuts the WAL file back to that size: a large transaction (a migration
        # rebuilding an index) would otherwise leave a WAL file of its size on disk for good.
        db.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_PAGES * 4096}")
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return db

    def lock_daemon(self, db: Connection) -> None:
        """Nothing to do: scheduler.DaemonLock holds a lock file beside the database."""

    def begin(self, db: Connection) -> None:
        """Take the write lock up front, so a transaction never fails half-way for want of it."""
        db.execute("BEGIN IMMEDIATE")

    def version(self, db: Connection) -> int:
        return db.execute("PRAGMA user_version").fetchone()[0]

    def set_version(self, db: Connection, number: int) -> None:
        db.execute(f"PRAGMA user_version = {int(number)}")

    def opening_error(self, error: Exception) -> str:
        return _disk_reason(error, self.path)

    def explain(self, error: Exception) -> str:
        """Why a write failed, saying what the operator can do."""
        name = getattr(error, "sqlite_errorname", "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return (
                f"database {self.path} is locked by another process (waited {self.busy_timeout:g}s "
                f"for its write lock): {error}"
            )
        if name.startswith("SQLITE_READONLY"):
            return f"cannot write database {self.path}: it is read-only ({error})"
        return f"cannot write database {self.path}: {_disk_reason(error, self.path)}"

    # -- full-text search: the FTS5 trigram index items_fts (schema.py) -----------------------------
    def index_pending(self, db: Connection) -> None:
        """Index the items waiting in items_fts_pending once SEARCH_BATCH of them do (schema.py,
        migration 11); runs inside the caller's write transaction."""
        if db.execute("SELECT count(*) FROM items_fts_pending").fetchone()[0] < SEARCH_BATCH:
            return
        db.execute(
            "INSERT INTO items_fts (rowid, title, text) SELECT i.rowid, i.title, i.text "
            "FROM items_fts_pending p JOIN items i ON i.rowid = p.item_rowid"
        )
        db.execute("DELETE FROM items_fts_pending")

    def search(self, query: str, limit: int) -> tuple[str, list]:
        """SQL and parameters for Store.search (ids of items containing `query`, newest first).

        Queries of three characters or more are narrowed with the trigram index (contains) and
        then checked with LIKE, since the index only says where the query may be; shorter ones
        (common in Chinese: 开源, 芯片) are a scan, since trigram cannot index them.
        """
        exact = "(title LIKE ? ESCAPE '\\' OR text LIKE ? ESCAPE '\\')"
        pattern = like_pattern(query)
        if len(query) < 3:
            sql = f"SELECT id FROM items WHERE {exact} ORDER BY published DESC LIMIT ?"
            return sql, [pattern, pattern, limit]
        found, params = self.contains(["title", "text"], [query])
        sql = f"SELECT id FROM items WHERE {found} AND {exact} ORDER BY published DESC LIMIT ?"
        return sql, [*params, pattern, pattern, limit]

    def contains(self, fields: list[str], strings: list[str]) -> tuple[str, list]:
        """A condition on `items` (and its parameters) that every item holding one of `strings`
        (three characters or more each) in one of `fields` (title, text) meets, and some others:
        callers check the items exactly (search.py the candidates of Store.candidates; search
        with LIKE).

        Indexed items qualify when they hold each trigram of a string, in any order and in
        either field: the index keeps neither positions nor columns (detail=none, schema.py
        migration 12). The few items waiting to be indexed (index_pending) are read with LIKE.
        """
        waiting = " OR ".join(f"i.{field} LIKE ? ESCAPE '\\'" for _ in strings for field in fields)
        sql = (
            "items.rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ? "
            "UNION ALL SELECT p.item_rowid FROM items_fts_pending p CROSS JOIN items i ON i.rowid = p.item_rowid "
            f"WHERE {waiting})"
        )
        return sql, [_trigram_query(strings)] + [like_pattern(s) for s in strings for _ in fields]


class Connection:
    """An sqlite3 connection in autocommit mode (the store says BEGIN and COMMIT itself), with the
    calls the store makes of postgresql.Connection too. The standard module, not a library over
    it: every command opens the store, and sqlite-utils cost a publish some 0.1 s to import (it
    loads numpy) and a savepoint around every query."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn  # executemany, in_transaction: the store calls them on the connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """Rows as dicts of column name -> value; the statement runs now, the rows are read as
        they are iterated."""
        cursor = self.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row, strict=True)) for row in cursor)

    def close(self) -> None:
        self.conn.close()


def _trigram_query(strings: list[str]) -> str:
    """An FTS5 query for the rows holding every trigram of one of `strings`.

    Without positions (detail=none) FTS5 refuses phrases, and to the trigram tokenizer a string
    of four characters or more is a phrase of its trigrams (https://sqlite.org/fts5.html, "The
    Trigram Tokenizer": with detail=none "full-text queries may not contain any tokens longer
    than 3 unicode characters"). So each trigram is a string of its own, quoted ("" for a
    quote), so that spaces, operators (AND, NOT, NEAR), and * ^ : ( ) { } - + are its text.
    """
    return " OR ".join(
        "(" + " AND ".join(dict.fromkeys(_quoted(s[at : at + 3]) for at in range(len(s) - 2))) + ")"
        for s in strings
    )


def _quoted(string: str) -> str:
    return '"' + string.replace('"', '""') + '"'


def _disk_reason(error: Exception, path: Path) -> str:
    """`error`, saying "the disk is full" when it is: SQLite reports a full disk as SQLITE_FULL
    on a write, but as a "disk I/O error" (SQLITE_IOERR_SHMSIZE) when WAL's shared-memory file
    cannot be created on opening, which names no cause an operator can act on."""
    full = (
        getattr(error, "sqlite_errorname", "") == "SQLITE_FULL"
        or getattr(error, "errno", None) == errno.ENOSPC
    )
    if not full and str(path) != ":memory:":
        with suppress(OSError):
            full = shutil.disk_usage(path.parent).free < 64 * 1024
    return f"the disk is full ({error})" if full else str(error)
