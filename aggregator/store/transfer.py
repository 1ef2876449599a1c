"""Copying an SQLite database into an empty PostgreSQL one (`aggregator migrate --to URL`).

Both stores are open, so both schemas are at this program's version (Store migrates on open),
and the tables to copy are the PostgreSQL schema's: the same tables and columns as SQLite's
(tests/test_store_engines.py), less FTS5's, whose work pg_trgm's indexes do there. They are
copied row for row, each table after the tables its foreign keys refer to, with COPY.

- As they are: the copy's own inserts must not add anything, so each table's triggers are
  disabled while it is loaded (the topic_stale queue, say, is copied, not made again).
- In their order: where SQLite orders a table by rowid, PostgreSQL has a `seq` identity in its
  place (schema_postgresql.py); it takes the rowid. Identities then continue after the largest
  copied value, so the next row inserted gets a new id.
- Once: everything is one transaction on each side. SQLite's write lock is held throughout, so
  nothing is stored there that the copy misses; PostgreSQL's write lock and the tables' locks
  keep everyone else out of the target until it is complete, and a failure leaves it as empty
  as it was. A target that holds any row is refused: a copy never merges into other data.
- Checked: each table's row count is compared on both sides before the commit.
- Clean: a string that holds characters XML 1.0 refuses loses them (characters.py), as what a
  poll reads from the network does now. Before that rule, a hostile feed could store NUL in
  SQLite (a guid, a title, an ETag...), which PostgreSQL's text refuses: the copy would stop at
  it. Copied.cleaned counts the rows so changed. A row that then equals another in a key (two
  entry keys that differed only by such characters) stops the copy, naming the table and key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import TopologicalSorter

import sqlite_utils

from ..characters import xml_safe
from ..errors import StoreError
from . import Store
from .postgresql import PostgreSQL
from .sqlite import SQLite

BATCH = 5000  # rows read from SQLite at a time: memory stays bounded whatever a table's size


@dataclass(frozen=True)
class Copied:
    """One table copied, how many rows it holds, and how many of them lost refused characters."""

    table: str
    rows: int
    cleaned: int = 0


def copy_database(source: Store, target: Store) -> list[Copied]:
    """Copy every table of the SQLite store `source` into the PostgreSQL store `target`, which
    must hold no row; return the tables in the order they were copied. StoreError when the
    target is not empty (a row, or a table the store does not make) or a row cannot be copied
    (nothing is then written)."""
    if not (isinstance(source.engine, SQLite) and isinstance(target.engine, PostgreSQL)):
        raise StoreError("a copy goes from an SQLite database to a PostgreSQL one")
    columns = _columns(target)
    copied: list[Copied] = []
    tables = sqlite_utils.Database(source.db.conn)  # the SQLite side, table by table
    with source._transaction(), target._transaction():
        known = set(tables.table_names())
        filled = [table for table in columns if table not in known or _has_rows(target, table)]
        if filled:
            raise StoreError(
                f"database {target.path} is not empty (rows or tables: {', '.join(filled)}); migrate copies into "
                "an empty database only: give it a new one (createdb -O USER NAME)"
            )
        for table in _dependency_order(target, list(columns)):
            copied.append(_copy_table(tables[table], source, target, columns[table]))
        _continue_identities(target)
    for table in columns:  # the planner's statistics, which a bulk load leaves empty
        target.db.execute(f"ANALYZE {table}")
    return copied


def _columns(target: Store) -> dict[str, list[str]]:
    """table -> its columns in order, for every table of the store's schema on PostgreSQL."""
    columns: dict[str, list[str]] = {}
    for table, column in target.db.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name != 'schema_version' "
        "ORDER BY table_name, ordinal_position"
    ):
        columns.setdefault(table, []).append(column)
    return columns


def _has_rows(store: Store, table: str) -> bool:
    return store.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None


def _dependency_order(target: Store, tables: list[str]) -> list[str]:
    """`tables`, each after the tables its foreign keys refer to (their rows must exist first)."""
    refers: dict[str, set[str]] = {table: set() for table in tables}
    for table, referred in target.db.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    ):
        refers[table].add(referred)
    return list(TopologicalSorter(refers).static_order())


def _copy_table(
    sqlite_table: sqlite_utils.db.Table, source: Store, target: Store, columns: list[str]
) -> Copied:
    table = sqlite_table.name
    have = set(sqlite_table.columns_dict)
    missing = [c for c in columns if c not in have and c != "seq"]
    if missing:  # cannot happen while both schemas are at one version
        raise StoreError(f"table {table} of {source.path} lacks {', '.join(missing)}")
    selected = ", ".join(c if c in have else "rowid" for c in columns)  # seq: SQLite's rowid
    rows = source.db.execute(f"SELECT {selected} FROM {table}")
    target.db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    cleaned = _Cleaned()
    try:
        target.db.copy(table, columns, map(cleaned, _batches(rows)))
    except target.engine.errors as error:
        detail = getattr(getattr(error, "diag", None), "message_detail", None)  # psycopg: the key
        raise StoreError(
            f"cannot copy table {table} into {target.path}: {error}".rstrip()
            + (f" ({detail})" if detail else "")
        ) from error
    target.db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    count = sqlite_table.count
    copied = target.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if copied != count:
        raise StoreError(f"table {table}: {count} rows in {source.path} but {copied} copied")
    return Copied(table, count, cleaned.rows)


def _batches(cursor) -> Iterator[tuple]:
    while rows := cursor.fetchmany(BATCH):
        yield from rows


class _Cleaned:
    """Passes rows on with their strings made xml_safe, counting the rows it changed."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, row: tuple) -> tuple:
        cleaned = tuple(xml_safe(value) if isinstance(value, str) else value for value in row)
        if all(a is b for a, b in zip(cleaned, row, strict=True)):
            return row
        self.rows += 1
        return cleaned


def _continue_identities(target: Store) -> None:
    """Start each identity after the largest value copied into its column."""
    for table, column in target.db.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall():
        target.db.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), max({column})) FROM {table} "
            f"HAVING max({column}) IS NOT NULL",
            [table, column],
        )
