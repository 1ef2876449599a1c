"""One poll of one source, top to bottom: fetch, parse, normalize, dedup, store.

Each failure returns early and is recorded on the source's row, so one broken source never stops
the others. Read `refresh()` to know the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import dedup
from .errors import FetchError, ParseError
from .fetch import Fetcher
from .models import Source, SourceState
from .normalize import normalize
from .parse import parse
from .store import SaveResult, Store

log = logging.getLogger(__name__)

OK, NOT_MODIFIED, FAILED = "ok", "not_modified", "failed"


@dataclass
class PollOutcome:
    source_id: str
    status: str  # OK, NOT_MODIFIED or FAILED
    error: str | None = None
    saved: SaveResult | None = None


async def refresh(
    source: Source, fetcher: Fetcher, store: Store, *, now: datetime | None = None
) -> PollOutcome:
    """Poll `source` once, now, and record the outcome on its row."""
    now = now or datetime.now(UTC)
    state = store.source_state(source.id)
    state.last_checked_at = now
    state.next_check_at = now + timedelta(seconds=source.interval)

    try:
        result = await fetcher.fetch(source.url, etag=state.etag, last_modified=state.last_modified)
    except FetchError as e:
        return _failed(store, state, e, status=e.status)

    state.last_status = result.status
    if result.not_modified:
        _succeeded(state, now)
        store.save_state(state)
        log.debug("not modified", extra={"source_id": source.id})
        return PollOutcome(source.id, NOT_MODIFIED)

    try:
        feed = parse(result.body, result.headers, result.url)
    except ParseError as e:
        return _failed(store, state, e, status=result.status)
    if feed.recovered_error:
        log.warning(
            "source %s: ill-formed feed, items recovered: %s",
            source.id,
            feed.recovered_error,
            extra={"source_id": source.id, "url": result.url},
        )

    items = dedup.unique(normalize(feed, source, now=now))
    state.etag = result.headers.get("etag")
    state.last_modified = result.headers.get("last-modified")
    _succeeded(state, now)
    saved = store.save_poll(state, items, now)
    log.debug(
        "polled %s: %d items, %d new, %d updated",
        source.id,
        len(items),
        len(saved.new),
        len(saved.updated),
        extra={"source_id": source.id, "items_new": len(saved.new), "items_updated": len(saved.updated)},
    )
    return PollOutcome(source.id, OK, saved=saved)


def _succeeded(state: SourceState, now: datetime) -> None:
    state.last_error = None
    state.error_streak = 0
    state.last_success_at = now


def _failed(store: Store, state: SourceState, error: Exception, status: int | None) -> PollOutcome:
    state.last_status = status
    state.last_error = str(error)
    state.error_streak += 1
    store.save_state(state)
    log.warning(
        "source %s failed: %s", state.source_id, error, extra={"source_id": state.source_id, "status": status}
    )
    return PollOutcome(state.source_id, FAILED, error=str(error))


async def refresh_all(
    sources: Iterable[Source],
    store: Store,
    fetcher: Fetcher,
    *,
    on_done: Callable[[PollOutcome], None] | None = None,
) -> list[PollOutcome]:
    """Poll every source once, concurrently (the fetcher caps requests overall and per host)."""

    async def one(source: Source) -> PollOutcome:
        outcome = await refresh(source, fetcher, store)
        if on_done:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(source) for source in sources)))
