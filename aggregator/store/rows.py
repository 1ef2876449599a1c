"""Values as the store keeps them: one fixed time format, so text order is time order, and
the small helpers every table module uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _format_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime(_TIME_FORMAT) if value else None


def _parse_time(value: str | None) -> datetime | None:
    # fromisoformat reads _TIME_FORMAT ("Z" included) some twenty times faster than strptime.
    return datetime.fromisoformat(value) if value else None


def _epoch(value: datetime) -> int:
    """Whole seconds since 1970 (UTC): story_bands keeps times as integers, a compact index key."""
    return int(value.timestamp())
