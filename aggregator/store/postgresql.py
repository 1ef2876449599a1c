"""The PostgreSQL engine of the store (`database: postgresql://user:password@host:port/name`),
for several processes or machines sharing one database. Same shape as sqlite.py.

The store's queries are written once, with SQLite's `?` and `?NNN` placeholders; Connection
turns them into psycopg's `%s` (reordering parameters for numbered ones) and offers the few
calls the store makes of sqlite.Connection (execute, query, conn.executemany,
conn.in_transaction, close).

Writes are serialised as SQLite serialises them: each write transaction first takes one
transaction-level advisory lock (released at COMMIT or ROLLBACK), so that what a transaction
reads before it writes (is this URL stored? which story is this item in?) cannot change under it.
Reads take no lock.

psycopg 3 (libpq underneath): its server-side parameters and prepared statements suit a
store that runs the same few queries over and over, and executemany is pipelined.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from ..errors import LockLost, StoreError
from . import like_pattern, redact
from .schema_postgresql import MIGRATIONS

# The key of the advisory lock that serialises writes (pg_advisory_xact_lock): "aggr" in ASCII.
WRITE_LOCK = 0x61676772
# The key of the session advisory lock one `aggregator run` holds on its database, and every
# `aggregator worker` shares: a daemon and workers never poll one database together. "aggd".
DAEMON_LOCK = 0x61676764
CONNECT_TIMEOUT = 10  # seconds to reach the server before giving up
# A peer silent this long (seconds: idle, then probes at this interval, this many) is gone.
KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}

# A quoted literal or identifier (kept as it is), a placeholder ?NNN or ?, or a literal % sign.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?(\d*)|%")


class PostgreSQL:
    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    shared = True  # several processes may write it (aggregator worker, store/leases.py)
    like = "ILIKE"  # case-insensitive beyond ASCII where the database's locale knows the script
    row_order = "seq"  # the identity column that stands for SQLite's rowid (schema_postgresql.py)
    migrations = MIGRATIONS

    def __init__(self, url: str, busy_timeout: float):
        self.url = url
        self.name = redact(url)
        self.path = self.name  # what error messages name
        self.busy_timeout = busy_timeout

    def connect(self) -> Connection:
        return Connection(self._open, self.name)

    def _open(self) -> psycopg.Connection:
        # lock_timeout bounds the wait for the write lock, as SQLite's busy timeout does. TCP
        # keepalives on both ends: the server frees the session locks of a worker whose machine
        # vanished (its claims' host slots, the publish lock) within a minute or so, where the
        # system's defaults take over two hours; and we notice a server that vanished.
        server = f"-c lock_timeout={max(1, round(self.busy_timeout * 1000))} " + " ".join(
            f"-c {name}={value}" for name, value in KEEPALIVE.items()
        )
        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="aggregator",
            options=server,
            keepalives=1,
            keepalives_idle=KEEPALIVE["tcp_keepalives_idle"],
            keepalives_interval=KEEPALIVE["tcp_keepalives_interval"],
            keepalives_count=KEEPALIVE["tcp_keepalives_count"],
        )

    def lock_daemon(self, db: Connection) -> None:
        """Take the database for this process alone while it runs (a session advisory lock), or
        raise StoreError when another daemon holds it."""
        if not db.hold("SELECT pg_try_advisory_lock(?)", [DAEMON_LOCK]):
            raise StoreError(
                f"another aggregator daemon is already running on database {self.name} (or "
                "aggregator workers are); stop it first, or give this one another database"
            )

    def lock_worker(self, db: Connection) -> None:
        """Share the database with other workers while the connection lasts, or raise StoreError
        when a daemon (`aggregator run`) has it."""
        if not db.hold("SELECT pg_try_advisory_lock_shared(?)", [DAEMON_LOCK]):
            raise StoreError(
                f"an aggregator daemon (aggregator run) is running on database {self.name}: "
                "workers cannot share a database with it; stop it first"
            )

    def begin(self, db: Connection) -> None:
        db.execute("BEGIN")
        try:
            db.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK])
        except psycopg.Error:  # lock_timeout: leave no aborted transaction behind
            with suppress(psycopg.Error):
                db.execute("ROLLBACK")
            raise

    def version(self, db: Connection) -> int:
        # pg_tables, read with the statement's snapshot: to_regclass() may answer from this
        # session's catalog cache, which a table another session just made is not yet in.
        found = db.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version'"
        ).fetchone()[0]
        if not found:
            return 0
        return db.execute("SELECT version FROM schema_version").fetchone()[0]

    def set_version(self, db: Connection, number: int) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version (version) VALUES (?)", [number])

    def opening_error(self, error: Exception) -> str:
        return str(error).strip()

    def explain(self, error: Exception) -> str:
        """Why a write failed, saying what the operator can do."""
        if isinstance(error, psycopg.errors.LockNotAvailable):
            return (
                f"database {self.name} is locked by another process (waited {self.busy_timeout:g}s "
                f"for its write lock): {error}"
            )
        if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
            return f"cannot write database {self.name}: it is read-only ({error})"
        if isinstance(error, psycopg.errors.DiskFull):
            return f"cannot write database {self.name}: the server's disk is full ({error})"
        if isinstance(error, psycopg.OperationalError):
            return f"lost the connection to database {self.name}: {error}"
        return f"cannot write database {self.name}: {error}"

    # -- full-text search: pg_trgm GIN indexes on items' title and text -----------------------------
    def index_pending(self, db: Connection) -> None:
        """Nothing waits to be indexed here: the GIN indexes take each row as it is written."""

    def search(self, query: str, limit: int) -> tuple[str, list]:
        """SQL and parameters for Store.search. The trigram indexes answer queries of three
        characters or more; shorter ones are a scan, as on SQLite."""
        sql = (
            "SELECT id FROM items WHERE title ILIKE ?1 ESCAPE '\\' OR text ILIKE ?1 ESCAPE '\\' "
            "ORDER BY published DESC LIMIT ?2"
        )
        return sql, [like_pattern(query), limit]

    def contains(self, fields: list[str], strings: list[str]) -> tuple[str, list]:
        """A condition on `items`: one of `strings` is in one of `fields` (title, text)."""
        clauses = [f"items.{field} ILIKE ? ESCAPE '\\'" for string in strings for field in fields]
        params = [like_pattern(string) for string in strings for _ in fields]
        return "(" + " OR ".join(clauses) + ")", params


class Connection:
    """A psycopg connection (autocommit: the store says BEGIN and COMMIT itself) that takes the
    store's SQL with `?` placeholders.

    A connection the server dropped (a restart, a failover, an administrator ending it) is
    replaced at the next statement: the statement it cut short has failed, and the store said so
    (StoreError); a long-running daemon or worker then goes on. The session locks taken with
    `hold` are taken again on the new connection.
    """

    def __init__(self, open: Callable[[], psycopg.Connection], name: str):
        self._open = open
        self.name = name
        self._conn = open()
        self.conn = self  # as sqlite.Connection.conn: the store calls conn.executemany on it
        self._sql: dict[str, tuple[str, tuple[int, ...] | None]] = {}
        self._held: list[tuple[str, Sequence[Any]]] = []

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != TransactionStatus.IDLE

    def hold(self, sql: str, params: Sequence[Any]) -> bool:
        """Take a session lock with `sql` (a pg_try_advisory_lock... call); whether it was got.
        A lock got is taken again whenever the connection is replaced."""
        got = self.execute(sql, params).fetchone()[0]
        if got:
            self._held.append((sql, params))
        return got

    def _live(self) -> psycopg.Connection:
        if self._conn.broken:
            conn = self._open()
            for sql, params in self._held:
                query, order = self._translate(sql)
                if not conn.execute(query, _ordered(params, order)).fetchone()[0]:
                    conn.close()
                    raise LockLost(
                        f"reconnected to database {self.name}, but another process took the lock this "
                        "one held while the connection was lost (another daemon started meanwhile?)"
                    )
            self._conn = conn
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        query, order = self._translate(sql)
        return self._live().execute(query, _ordered(params, order))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        query, order = self._translate(sql)
        with self._live().cursor() as cursor:
            cursor.executemany(query, [_ordered(row, order) for row in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """Rows as dicts, as sqlite.Connection.query gives them."""
        query, order = self._translate(sql)
        with self._live().cursor(row_factory=dict_row) as cursor:
            cursor.execute(query, _ordered(params, order))
            yield from cursor

    def copy(self, table: str, columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
        """Load rows into `table` with COPY ... FROM STDIN: streamed, where an INSERT per row
        would cost a round trip each (store/transfer.py copies whole databases)."""
        statement = SQL("COPY {} ({}) FROM STDIN").format(
            Identifier(table), SQL(", ").join(map(Identifier, columns))
        )
        with self._live().cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def close(self) -> None:
        self._conn.close()

    def _translate(self, sql: str) -> tuple[str, tuple[int, ...] | None]:
        """`sql` with psycopg's placeholders, and for numbered ones (?1, ?2) the index of the
        parameter each %s takes. Cached: the store runs a few distinct statements many times."""
        found = self._sql.get(sql)
        if found is None:
            order: list[int] = []
            numbered = False

            def replace(match: re.Match) -> str:
                nonlocal numbered
                token = match.group(0)
                if token == "%":
                    return "%%"
                if not token.startswith("?"):
                    return token
                if match.group(1):
                    numbered = True
                    order.append(int(match.group(1)) - 1)
                else:
                    order.append(len(order))
                return "%s"

            found = (_TOKEN.sub(replace, sql), tuple(order) if numbered else None)
            if len(self._sql) < 4096:
                self._sql[sql] = found
        return found


def _ordered(params: Sequence[Any], order: tuple[int, ...] | None) -> Sequence[Any]:
    return params if order is None else [params[i] for i in order]
