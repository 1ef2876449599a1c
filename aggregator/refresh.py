"""One poll of one source, top to bottom: fetch, parse, normalize, dedup, store.

Each failure returns early and is recorded on the source's row (with when to try again), so one
broken source never stops the others. Read `refresh()` to know the pipeline. `receive()` takes a
document a WebSub hub pushed for a source through the same parse, normalize, dedup and store steps.

Unchanged work is skipped at two levels: a document whose bytes hash as the last one parsed is
not parsed again (servers without validators answer 200 with the same body), and of a document
that did change only the entries the store does not hold as they are (a new or edited entry, its
raw hash unknown) are normalized and stored: a 50-item feed with one new item costs one item.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import blake2b

from . import fulltext, network, prepare
from .cadence import Cadence, needs_full_fetch
from .config import PollingConfig
from .dedup import Fingerprint
from .errors import FetchError, ParseError
from .fetch import USER_AGENT, Fetcher, HostSlots
from .models import Item, Source, SourceState
from .normalize import Entry, source_context
from .pool import Workers, default_workers
from .store import SaveResult, Store

log = logging.getLogger(__name__)

Prepared = tuple[Item, Fingerprint | None]  # an item to store, with its fingerprint when known

OK, NOT_MODIFIED, FAILED = "ok", "not_modified", "failed"
MAX_ITEMS_PER_POLL = 500  # the default of polling.max_items_per_poll


@dataclass
class PollOutcome:
    source_id: str
    status: str  # OK, NOT_MODIFIED or FAILED
    error: str | None = None
    saved: SaveResult | None = None
    seconds: float = 0.0
    # WebSub discovery from the document (ParsedFeed.hubs, self_url); None: no document was read.
    hubs: tuple[str, ...] | None = None
    self_url: str | None = None


async def refresh(
    source: Source,
    fetcher: Fetcher,
    store: Store,
    *,
    cadence: Cadence | None = None,
    now: datetime | None = None,
    max_items: int | None = MAX_ITEMS_PER_POLL,
    workers: Workers | None = None,
    lease: int | None = None,
) -> PollOutcome:
    """Poll `source` once, now, and record the outcome and the next check on its row.

    Of a document with more than `max_items` items only the newest are taken (and a warning says so).
    The CPU-bound steps run on `workers` (inline without). `lease`: the fencing token of an
    `aggregator worker`'s claim on the source; the outcome is saved only while the claim holds
    (LeaseLost otherwise, nothing saved).
    """
    cadence = cadence or Cadence()
    workers = workers or Workers(0)
    now = now or datetime.now(UTC)
    started = time.monotonic()
    state = store.source_state(source.id)
    state.lease = lease
    state.last_checked_at = now
    url = state.url or source.url
    full = needs_full_fetch(state, now)  # broken validators must not hide changes forever

    try:
        result = await fetcher.fetch(
            url,
            etag=None if full else state.etag,
            last_modified=None if full else state.last_modified,
            # A source on the public internet cannot redirect us into our own network.
            public_only=not await network.on_internal_network(url),
            documents=workers.documents,
        )
    except FetchError as e:
        return _failed(store, source, state, e, cadence, now, started)
    try:
        if result.permanent_redirect and result.permanent_redirect != url:
            log.warning(
                "source %s moved permanently to %s",
                source.id,
                result.permanent_redirect,
                extra={"source_id": source.id, "url": result.permanent_redirect},
            )
            state.moved_from, state.url = url, result.permanent_redirect
        state.last_status = result.status
        body_hash = None if result.not_modified else document_hash(result.body, source, max_items)
        retrying = fulltext.retries_due(store, source, now)  # entries to read again for their pages
        same_bytes = body_hash == state.body_hash and not full and not retrying
        if result.not_modified or same_bytes:
            if not result.not_modified:  # the same bytes again: keep the validators the server sent now
                state.etag = result.headers.get("etag")
                state.last_modified = result.headers.get("last-modified")
            _succeeded(source, state, cadence, now, result.headers)
            store.save_state(state)
            return PollOutcome(source.id, NOT_MODIFIED, seconds=time.monotonic() - started)

        try:
            document = await workers.run(
                prepare.read, result.body, result.headers, result.url, source, max_items
            )
        except ParseError as e:
            return _failed(store, source, state, e, cadence, now, started)
        _warn(source, document, result.url)
        fulltext.give_up_absent(store, source, [entry.key for entry in document.entries])
        fresh = _fresh(store, source, document, retrying)
        try:
            prepared = await workers.run(prepare.prepare, fresh, source, now) if fresh else []
        except ParseError as e:
            return _failed(store, source, state, e, cadence, now, started)
    finally:
        if result.holds_document:  # the body is read: another document may be fetched
            workers.documents.release()
    prepared = await _with_full_text(source, prepared, fetcher, store, now)
    feed = document.feed
    state.etag = result.headers.get("etag")
    state.last_modified = result.headers.get("last-modified")
    state.last_full_at = now
    state.ttl = feed.ttl_minutes * 60.0 if feed.ttl_minutes else None
    state.body_hash = body_hash
    _succeeded(source, state, cadence, now, result.headers)
    saved = _save(source, state, document, prepared, store, now)
    return PollOutcome(
        source.id,
        OK,
        saved=saved,
        seconds=time.monotonic() - started,
        hubs=feed.hubs,
        self_url=feed.self_url,
    )


async def receive(
    source: Source,
    body: bytes,
    headers: dict[str, str],
    store: Store,
    fetcher: Fetcher,
    *,
    now: datetime | None = None,
    max_items: int | None = MAX_ITEMS_PER_POLL,
) -> PollOutcome:
    """Store a feed document a WebSub hub pushed for `source`, as a poll would store it.

    Nothing is fetched, and the source's poll state (validators, schedule, errors) stays as it
    is: a push says nothing about the feed's server. A document that is no feed is FAILED and
    logged. `headers` are the push request's, lower-cased (its Content-Type gives the charset).
    Pushes are single documents, read in this process; `fetcher` fetches article pages for a
    `full_text` source.
    """
    now = now or datetime.now(UTC)
    started = time.monotonic()
    url = store.source_state(source.id).url or source.url
    try:
        document = prepare.read(body, headers, url, source, max_items)
    except ParseError as e:
        log.warning("source %s: pushed document refused: %s", source.id, e, extra={"source_id": source.id})
        return PollOutcome(source.id, FAILED, error=str(e), seconds=time.monotonic() - started)
    _warn(source, document, url)
    retrying = fulltext.retries_due(store, source, now)
    prepared = prepare.prepare(_fresh(store, source, document, retrying), source, now)
    prepared = await _with_full_text(source, prepared, fetcher, store, now)
    # A poll may have saved the source's state while the article pages were fetched: a push
    # writes none (its state would be the one read before).
    saved = _save(source, SourceState(source.id), document, prepared, store, now, poll_state=False)
    return PollOutcome(source.id, OK, saved=saved, seconds=time.monotonic() - started)


def _warn(source: Source, document: prepare.Document, url: str) -> None:
    """Say what reading a document of `source` had to leave out or mend."""
    feed = document.feed
    if feed.items_dropped:
        log.warning(
            "source %s: %d items in one document, kept the newest %d (polling.max_items_per_poll)",
            source.id,
            len(document.entries) + feed.items_dropped,
            len(document.entries),
            extra={"source_id": source.id, "url": url, "items_dropped": feed.items_dropped},
        )
    if feed.recovered_error:
        log.warning(
            "source %s: ill-formed feed, items recovered: %s",
            source.id,
            feed.recovered_error,
            extra={"source_id": source.id, "url": url},
        )


def _fresh(store: Store, source: Source, document: prepare.Document, retrying: set[str]) -> list[Entry]:
    """The entries of `document` the store does not hold as they are for `source`, and those
    whose article page is due to be tried again (`retrying`, full_text)."""
    unchanged = store.unchanged(source.id, [(entry.key, entry.raw_hash) for entry in document.entries])
    unchanged -= retrying
    return [entry for entry in document.entries if entry.key not in unchanged]


async def _with_full_text(
    source: Source, prepared: list[Prepared], fetcher: Fetcher, store: Store, now: datetime
) -> list[Prepared]:
    """For a `full_text` source, the items with their article's content where it is known or can
    be had now (fulltext.py); an item whose content that replaced has no fingerprint yet."""
    if not source.full_text or not prepared:
        return prepared
    completed = await fulltext.complete(source, [item for item, _ in prepared], fetcher, store, now)
    return [
        (item, found if item is old else None) for (old, found), item in zip(prepared, completed, strict=True)
    ]


def _save(
    source: Source,
    state: SourceState,
    document: prepare.Document,
    prepared: list[Prepared],
    store: Store,
    now: datetime,
    *,
    poll_state: bool = True,
) -> SaveResult:
    """Save the prepared items and the source's state (unless not `poll_state`: Store.save_poll),
    in one transaction."""
    items = [item for item, _ in prepared]
    fingerprints = {item.key: found for item, found in prepared if found is not None}
    saved = store.save_poll(state, items, now, fingerprints, poll_state=poll_state)
    log.debug(
        "stored %s: %d items (%d new or changed), %d new, %d updated",
        source.id,
        len(document.entries),
        len(items),
        len(saved.new),
        len(saved.updated),
        extra={"source_id": source.id, "items_new": len(saved.new), "items_updated": len(saved.updated)},
    )
    return saved


def fetcher_for(
    polling: PollingConfig, timeout: float | None = None, host_slots: HostSlots | None = None
) -> Fetcher:
    """The fetcher the polling settings describe, with another `timeout` and per-host cap
    (`host_slots`: shared by workers) if given (open it with `async with`)."""
    return Fetcher(
        timeout=timeout or polling.timeout,
        max_body=polling.max_body,
        user_agent=polling.user_agent or USER_AGENT,
        concurrency=polling.concurrency,
        per_host=polling.per_host,
        host_slots=host_slots,
    )


def workers_for(polling: PollingConfig) -> Workers:
    """The worker pool the polling settings describe (close it when done)."""
    return Workers(default_workers() if polling.workers is None else polling.workers)


def document_hash(body: bytes, source: Source, max_items: int | None) -> str:
    """Names a document's bytes as this source reads them: a change of the source's settings, of
    the per-poll item cap or of normalize makes an equal body count as changed."""
    digest = blake2b(f"{source_context(source)}\x1f{max_items}\x1e".encode(), digest_size=16)
    digest.update(body)
    return digest.hexdigest()


def _succeeded(
    source: Source, state: SourceState, cadence: Cadence, now: datetime, headers: dict[str, str]
) -> None:
    state.last_error = None
    state.error_streak = 0
    state.failing_since = None
    state.last_success_at = now
    state.next_check_at = cadence.after_success(source.interval, now, headers, state.ttl)


def record_crash(
    store: Store, source: Source, error: Exception, cadence: Cadence, now: datetime, lease: int | None = None
) -> PollOutcome:
    """Record a poll that ended in an unexpected error (a bug) on the source's row as a failure,
    with its back-off, so that the source is not polled again at once, over and over."""
    state = store.source_state(source.id)
    state.lease = lease
    return _failed(store, source, state, error, cadence, now, time.monotonic())


def _failed(
    store: Store,
    source: Source,
    state: SourceState,
    error: Exception,
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
    workers: Workers | None = None,
) -> list[PollOutcome]:
    """Poll every source once, concurrently (the fetcher caps requests overall and per host)."""

    async def one(source: Source) -> PollOutcome:
        outcome = await refresh(source, fetcher, store, cadence=cadence, max_items=max_items, workers=workers)
        if on_done:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(source) for source in sources)))
