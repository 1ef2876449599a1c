"""One poll of one source, top to bottom: fetch, parse, normalize, dedup, store.

Each failure returns early and is recorded on the source's row (with when to try again), so one
broken source never stops the others. Read `refresh()` to know the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from . import dedup, fulltext
from .cadence import Cadence, needs_full_fetch
from .errors import FetchError, ParseError
from .fetch import Fetcher
from .models import Source, SourceState
from .normalize import normalize
from .parse import parse
from .store import SaveResult, Store

log = logging.getLogger(__name__)

OK, NOT_MODIFIED, FAILED = "ok", "not_modified", "failed"
MAX_ITEMS_PER_POLL = 500  # the default of polling.max_items_per_poll


@dataclass
class PollOutcome:
    source_id: str
    status: str  # OK, NOT_MODIFIED or FAILED
    error: str | None = None
    saved: SaveResult | None = None
    seconds: float = 0.0


async def refresh(
    source: Source,
    fetcher: Fetcher,
    store: Store,
    *,
    cadence: Cadence | None = None,
    now: datetime | None = None,
    max_items: int | None = MAX_ITEMS_PER_POLL,
) -> PollOutcome:
    """Poll `source` once, now, and record the outcome and the next check on its row.

    Of a document with more than `max_items` items only the newest are taken (and a warning says so).
    """
    cadence = cadence or Cadence()
    now = now or datetime.now(UTC)
    started = time.monotonic()
    state = store.source_state(source.id)
    state.last_checked_at = now
    url = state.url or source.url
    full = needs_full_fetch(state, now)  # broken validators must not hide changes forever

    try:
        result = await fetcher.fetch(
            url,
            etag=None if full else state.etag,
            last_modified=None if full else state.last_modified,
        )
    except FetchError as e:
        return _failed(store, source, state, e, cadence, now, started)

    if result.permanent_redirect and result.permanent_redirect != url:
        log.warning(
            "source %s moved permanently to %s",
            source.id,
            result.permanent_redirect,
            extra={"source_id": source.id, "url": result.permanent_redirect},
        )
        state.url = result.permanent_redirect
    state.last_status = result.status
    if result.not_modified:
        _succeeded(source, state, cadence, now, result.headers)
        store.save_state(state)
        return PollOutcome(source.id, NOT_MODIFIED, seconds=time.monotonic() - started)

    try:
        feed = parse(result.body, result.headers, result.url, max_items=max_items)
    except ParseError as e:
        return _failed(store, source, state, e, cadence, now, started)
    if feed.items_dropped:
        log.warning(
            "source %s: %d items in one document, kept the newest %d (polling.max_items_per_poll)",
            source.id,
            len(feed.items) + feed.items_dropped,
            len(feed.items),
            extra={"source_id": source.id, "url": result.url, "items_dropped": feed.items_dropped},
        )
    if feed.recovered_error:
        log.warning(
            "source %s: ill-formed feed, items recovered: %s",
            source.id,
            feed.recovered_error,
            extra={"source_id": source.id, "url": result.url},
        )

    items = dedup.unique(normalize(feed, source, now=now))
    items = await fulltext.complete(source, items, fetcher, store, now)  # full_text: the article pages
    state.etag = result.headers.get("etag")
    state.last_modified = result.headers.get("last-modified")
    state.last_full_at = now
    state.ttl = feed.ttl_minutes * 60.0 if feed.ttl_minutes else None
    _succeeded(source, state, cadence, now, result.headers)
    saved = store.save_poll(state, items, now)
    log.debug(
        "polled %s: %d items, %d new, %d updated",
        source.id,
        len(items),
        len(saved.new),
        len(saved.updated),
        extra={"source_id": source.id, "items_new": len(saved.new), "items_updated": len(saved.updated)},
    )
    return PollOutcome(source.id, OK, saved=saved, seconds=time.monotonic() - started)


def _succeeded(
    source: Source, state: SourceState, cadence: Cadence, now: datetime, headers: dict[str, str]
) -> None:
    state.last_error = None
    state.error_streak = 0
    state.failing_since = None
    state.last_success_at = now
    state.next_check_at = cadence.after_success(source.interval, now, headers, state.ttl)


def _failed(
    store: Store,
    source: Source,
    state: SourceState,
    error: FetchError | ParseError,
    cadence: Cadence,
    now: datetime,
    started: float,
) -> PollOutcome:
    status = error.status if isinstance(error, FetchError) else state.last_status
    state.last_status = status
    state.last_error = str(error)
    state.error_streak += 1
    state.failing_since = state.failing_since or now
    if status == 410:
        # Gone (RFC 9110 §15.5.11): the publisher says the feed will not come back.
        state.gone = True
        state.next_check_at = None
        log.warning("source %s is gone (410); no longer polled", source.id, extra={"source_id": source.id})
    else:
        retry_after = error.retry_after if isinstance(error, FetchError) else None
        state.next_check_at = cadence.after_failure(source.interval, state.error_streak, now, retry_after)
        log.warning(
            "source %s failed: %s",
            source.id,
            error,
            extra={"source_id": source.id, "status": status, "error_streak": state.error_streak},
        )
    store.save_state(state)
    return PollOutcome(source.id, FAILED, error=str(error), seconds=time.monotonic() - started)


async def refresh_all(
    sources: Iterable[Source],
    store: Store,
    fetcher: Fetcher,
    *,
    cadence: Cadence | None = None,
    on_done: Callable[[PollOutcome], None] | None = None,
    max_items: int | None = MAX_ITEMS_PER_POLL,
) -> list[PollOutcome]:
    """Poll every source once, concurrently (the fetcher caps requests overall and per host)."""

    async def one(source: Source) -> PollOutcome:
        outcome = await refresh(source, fetcher, store, cadence=cadence, max_items=max_items)
        if on_done:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(source) for source in sources)))
