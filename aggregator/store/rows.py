"""Values as the store keeps them: one fixed time format, so text order is time order, and
the small helpers every table module uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .postgresql import Connection as PostgreSQLConnection
    from .sqlite import Connection as SQLiteConnection

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# At most this many values go into one `IN (...)` list, so that a statement binds a thousand or so
# parameters (one naming its list twice, 1,002): SQLite refuses more than
# SQLITE_MAX_VARIABLE_NUMBER, 32766 since version 3.32.0 (https://sqlite.org/limits.html; the
# trigram search index needs 3.34 anyway); PostgreSQL's protocol takes 65535.
CHUNK = 500


def _in_chunks(
    sql: str, values: Iterable, before: Sequence[Any] = (), after: Sequence[Any] = ()
) -> Iterator[tuple[str, list]]:
    """`sql` and its parameters for each run of at most CHUNK of `values`, in their order:
    `{marks}` in `sql` becomes one `?` per value, and the parameters are `before`, the values,
    then `after`. A statement that names the list more than once (a UNION of like parts, each
    `... WHERE source_id = ? AND key IN ({marks})`) takes those parameters once per `{marks}`.

    For callers that do more with a chunk than run one statement on `Connection.execute`;
    _select_in and _execute_in serve the others. Both engines take these `?` placeholders
    (postgresql.Connection turns them into psycopg's `%s`), so one statement serves both.
    """
    values = list(values)
    repeat = sql.count("{marks}")
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        yield sql.replace("{marks}", ",".join("?" * len(chunk))), [*before, *chunk, *after] * repeat


def _select_in(
    db: SQLiteConnection | PostgreSQLConnection,
    sql: str,
    values: Iterable,
    before: Sequence[Any] = (),
    after: Sequence[Any] = (),
) -> Iterator[tuple]:
    """The rows of `sql` (a SELECT with `... IN ({marks})`) run once for each chunk of `values`
    (see _in_chunks), chunk after chunk: the next chunk's statement runs once the rows of the one
    before have been read."""
    for statement, params in _in_chunks(sql, values, before, after):
        yield from db.execute(statement, params)


def _execute_in(
    db: SQLiteConnection | PostgreSQLConnection,
    sql: str,
    values: Iterable,
    before: Sequence[Any] = (),
    after: Sequence[Any] = (),
) -> int:
    """Run a write (`DELETE ... WHERE id IN ({marks})`) once for each chunk of `values` (see
    _in_chunks); return how many rows it changed in all."""
    return sum(
        db.execute(statement, params).rowcount for statement, params in _in_chunks(sql, values, before, after)
    )


def _format_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime(_TIME_FORMAT) if value else None


def _parse_time(value: str | None) -> datetime | None:
    # fromisoformat reads _TIME_FORMAT ("Z" included) some twenty times faster than strptime.
    return datetime.fromisoformat(value) if value else None


def _epoch(value: datetime) -> int:
    """Whole seconds since 1970 (UTC): story_bands keeps times as integers, a compact index key."""
    return int(value.timestamp())
