"""Search, the store's half: items and stories holding given strings, looked up through the
engine's full-text index (or LIKE), a coarse filter that aggregator/search.py checks exactly
afterwards. A part of Store, which it is mixed into."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .postgresql import PostgreSQL
    from .sqlite import SQLite


class ItemSearch:
    """Store's search methods; they use the Store's `db` and `engine`."""

    db: object
    engine: SQLite | PostgreSQL

    def search(self, query: str, limit: int = 20) -> list[str]:
        """Item ids whose title or text contains `query`, newest first (through the engine's
        full-text index for queries of three characters or more)."""
        sql, params = self.engine.search(query, limit)
        return [row[0] for row in self.db.execute(sql, params)]

    def candidates(self, condition: Condition) -> Iterator[str]:
        """Ids of the stories one of whose items meets `condition`, in the order of stories()
        (newest first), streamed: stop when you have enough.

        A coarse filter for search: callers check each story exactly afterwards. Strings of three
        characters or more in title and text are looked up in the full-text index; shorter ones,
        and the other fields, are scanned with LIKE (case-insensitive for ASCII only on SQLite).
        """
        where, params = _condition_sql(condition, self.engine)
        cursor = self.db.execute(
            "SELECT stories.id FROM stories WHERE stories.id IN "
            f"(SELECT items.story_id FROM items WHERE {where}) ORDER BY stories.published DESC, stories.id",
            params,
        )
        while rows := cursor.fetchmany(200):
            yield from (row[0] for row in rows)


@dataclass(frozen=True)
class Contains:
    """Items with one of `strings` in one of `fields`: title, text, categories, author, link (the
    item's or a carrier's)."""

    strings: tuple[str, ...]
    fields: tuple[str, ...] = ("title", "text", "categories")


@dataclass(frozen=True)
class CarriedBy:
    """Items that one of these sources carried."""

    source_ids: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


Condition = Contains | CarriedBy | AllOf | AnyOf


def _condition_sql(condition: Condition, engine: SQLite | PostgreSQL) -> tuple[str, list]:
    """A WHERE clause over `items` (and its parameters) for Store.candidates."""
    if isinstance(condition, AllOf | AnyOf):
        parts = [_condition_sql(c, engine) for c in condition.conditions]
        joiner = " AND " if isinstance(condition, AllOf) else " OR "
        return joiner.join(f"({sql})" for sql, _ in parts) or "1 = 1", [p for _, ps in parts for p in ps]
    if isinstance(condition, CarriedBy):
        marks = ",".join("?" * len(condition.source_ids))
        sql = f"items.id IN (SELECT item_id FROM item_sources WHERE source_id IN ({marks}))"
        return sql, list(condition.source_ids)
    clauses: list[str] = []
    params: list = []
    indexed = [f for f in ("title", "text") if f in condition.fields]
    long = [s for s in condition.strings if len(s) >= 3]
    if indexed and long:
        clause, found = engine.contains(indexed, long)
        clauses.append(clause)
        params += found
    like = engine.like
    for string in condition.strings:
        pattern = like_pattern(string)
        for column in condition.fields:
            if column in indexed and len(string) >= 3:
                continue
            clauses.append(f"items.{column} {like} ? ESCAPE '\\'")
            params.append(pattern)
            if column == "link":
                clauses.append(
                    f"items.id IN (SELECT item_id FROM item_sources WHERE link {like} ? ESCAPE '\\')"
                )
                params.append(pattern)
    return " OR ".join(clauses) or "1 = 0", params


def like_pattern(string: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching `string` anywhere."""
    return "%" + string.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
