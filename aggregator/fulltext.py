"""Full text for summary-only sources: each new item's article page, its main content extracted.

For a source with `full_text: true`, each item that is not stored yet (not carried by the
source, nor stored or pruned under its URL) has its link fetched with the poll's Fetcher, so the
same overall and per-host caps, deadline, body cap and User-Agent apply, and the page's main
content is extracted with readability-lxml. The outcome is kept per entry in the full_texts table
(store/fulltext.py), with one of these statuses:

- ok: the extracted HTML replaces the feed's content, on this poll and on every later one (an
  entry the feed edits keeps its full text); the page is never fetched again.
- kept: the feed's content stays, for good: the page answered 4xx, is no HTML page (its type, or
  binary bytes), is larger than MAX_PAGE, took longer than EXTRACT_TIMEOUT to extract, or gave
  no more text than the feed already has.
- retry: a transient failure (timeout, connection, DNS, TLS, HTTP 408/425/429/5xx): tried
  again by the first poll after RETRY_FIRST, then after four times as long (at least what a
  Retry-After asked), MAX_ATTEMPTS tries in all.
- failed: the last try failed too; never tried again.

Only http(s) links are fetched, and a page on an internal address (network.py: loopback,
private, link-local and the like, checked on the address connected to, redirects included) only
when the source's own host is on one too, so that a feed cannot make the aggregator fetch and
publish pages of the network it runs in. Pages are asked for as HTML (PAGE_ACCEPT), not with the
feed fetches' Accept.

A retry is made by a poll that reads the entry again; an entry that has left the feed will not be
read again, so its retry is given up then (`give_up_absent`).

The extracted HTML is sanitized exactly like feed content (normalize.sanitize_html, nh3 with
our allowlist), relative URLs resolving against the page's final URL (a <base href> first).
The thumbnail rule still applies: the feed's own thumbnail (media elements, enclosures, the
summary's image) wins, else the article's first real image. The content hash covers both the
feed's version and the full text, so an unchanged entry is never rewritten.

readability-lxml (Arc90's Readability over lxml) rather than trafilatura: on Chinese page
layouts (article, comments, rankings, <br>-separated paragraphs) it kept the article alone where
trafilatura's fallback (jusText, which has no Chinese stop words) let comments, rankings and
navigation in; its time grows linearly with the page (trafilatura took two minutes on a 1 MB page
of small divs); and it needs only lxml, lxml-html-clean, cssselect and chardet.

Extraction is CPU work: it runs in one worker thread, one page at a time, off the event loop. A
page that takes longer than EXTRACT_TIMEOUT is given up (the thread finishes it in the
background and the next page waits for that); pages larger than MAX_PAGE are never parsed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from readability import Document
from readability.readability import Unparseable

from . import network
from .characters import xml_safe
from .errors import FetchError
from .fetch import Fetcher
from .models import FetchResult, FullText, Item, Source
from .normalize import MAX_CONTENT, html_to_text, sanitize_html
from .normalize.identity import short_hash
from .normalize.thumbnail import first_content_image
from .normalize.urls import is_web_url
from .parse.charset import charset_of, decode, media_type
from .store import Store
from .store import fulltext as full_texts

log = logging.getLogger(__name__)
# Readability logs every page it cannot read as an ERROR with a traceback; here that is an
# outcome, recorded on the entry's row and logged at DEBUG below.
logging.getLogger("readability.readability").setLevel(logging.CRITICAL)

OK, KEPT, RETRY, FAILED = "ok", "kept", "retry", "failed"
MAX_PAGE = 2_000_000  # bytes; real article pages are 50-500 KB, and extraction time grows with size
EXTRACT_TIMEOUT = 10.0  # seconds for one page (readability takes ~5 s on a hostile 2 MB page)
RETRY_FIRST = timedelta(hours=1)
MAX_ATTEMPTS = 3
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
_TRANSIENT = frozenset({"timeout", "connection", "refused", "dns", "tls"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BINARY = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\ufffd]")

_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fulltext")
_gates: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


class _Refused(Exception):
    """The page is not one to extract from (the message says why); the feed's content stays."""


async def complete(
    source: Source, items: list[Item], fetcher: Fetcher, store: Store, now: datetime
) -> list[Item]:
    """`items` of one poll of `source`, each with its article's full text where it is known or
    can be had now (see the module docstring); the others as they are."""
    if not source.full_text or not items:
        return items
    records = full_texts.load(store, source.id, [item.key for item in items])
    new = [item for item in items if item.key not in records]
    stored = full_texts.stored(store, source.id, new) if new else set()
    due = [
        item
        for item in items
        if _due(item, records.get(item.key), stored, now) and item.link and is_web_url(item.link)
    ]
    if due:
        # A source on our network may link to pages on it; any other is held to public addresses.
        public_only = not await network.on_internal_network(store.source_state(source.id).url or source.url)
        tried = await asyncio.gather(
            *(_attempt(item, records.get(item.key), fetcher, now, public_only) for item in due)
        )
        full_texts.save(store, source.id, tried)
        records.update((record.key, record) for record in tried)
        log.debug(
            "full text of %s: %d pages, %d ok",
            source.id,
            len(tried),
            sum(record.status == OK for record in tried),
            extra={"source_id": source.id},
        )
    return [_with_full_text(item, records.get(item.key)) for item in items]


def retries_due(store: Store, source: Source, now: datetime) -> set[str]:
    """Keys of the source's stored entries whose article page is due to be tried again: a poll
    reads and normalizes them again, though the feed did not change them, to give them the page."""
    return set(full_texts.retries_due(store, source.id, now)) if source.full_text else set()


def give_up_absent(store: Store, source: Source, keys: list[str]) -> None:
    """Give up (FAILED) the retries of the source's entries not among `keys`, those of the
    document a poll just read: no later poll reads them to retry them, and a due retry would keep
    every poll of the source from skipping an unchanged document until retention pruned the entry."""
    if not source.full_text:
        return
    present = set(keys)
    left = [record for record in full_texts.retrying(store, source.id) if record.key not in present]
    for record in left:
        record.status, record.next_try_at = FAILED, None
        record.error = f"{record.error}; not tried again: the entry left the feed"
    full_texts.save(store, source.id, left)


def _due(item: Item, record: FullText | None, stored: set[str], now: datetime) -> bool:
    """Whether to fetch the item's page now: never tried and not stored yet, or due for a retry."""
    if record is None:
        return item.key not in stored
    return record.status == RETRY and record.next_try_at is not None and record.next_try_at <= now


def _with_full_text(item: Item, record: FullText | None) -> Item:
    """`item` with the extracted content of `record`, when that has more text than the feed's."""
    if record is None or record.status != OK or not record.content_html or not record.text:
        return item
    if len(record.text) <= len(item.text):  # the feed now carries as much (it may have changed)
        return item
    thumbnail = item.thumbnail or first_content_image(record.content_html)
    return replace(
        item,
        content_html=record.content_html,
        text=record.text,
        thumbnail=thumbnail,
        content_hash=short_hash(item.content_hash, record.content_html, thumbnail or ""),
    )


async def _attempt(
    item: Item, previous: FullText | None, fetcher: Fetcher, now: datetime, public_only: bool
) -> FullText:
    """Fetch and extract one item's page; the outcome as a record to store."""
    assert item.link is not None  # complete() picks items with a link
    attempts = (previous.attempts if previous else 0) + 1
    record = FullText(key=item.key, link=item.link, status=KEPT, attempts=attempts, tried_at=now)
    try:
        result = await fetcher.fetch(item.link, accept=PAGE_ACCEPT, public_only=public_only)
        content, text = await _extract(_page(result), result.url)
    except FetchError as error:
        record.error = str(error)
        if _transient(error):
            if attempts >= MAX_ATTEMPTS:
                record.status = FAILED
            else:
                delay = max(RETRY_FIRST * 4 ** (attempts - 1), timedelta(seconds=error.retry_after or 0))
                record.status, record.next_try_at = RETRY, now + delay
    except _Refused as refused:
        record.error = str(refused)
    else:
        if len(text) > len(item.text):
            record.status, record.content_html, record.text = OK, content, text
        else:
            record.error = f"the page gives no more text than the feed ({len(text)} characters, the feed {len(item.text)})"
    log.debug("full text %s: %s %s", item.link, record.status, record.error or "", extra={"url": item.link})
    return record


def _transient(error: FetchError) -> bool:
    if error.reason == "http":
        return error.status in (408, 425, 429) or (error.status or 0) >= 500
    return error.reason in _TRANSIENT


def _page(result: FetchResult) -> str:
    """The text of an HTML page; raises _Refused for anything else."""
    content_type = result.headers.get("content-type", "")
    kind = media_type(content_type)
    if kind and kind not in HTML_TYPES:
        raise _Refused(f"not an HTML page: {kind}")
    if len(result.body) > MAX_PAGE:
        raise _Refused(f"the page is larger than {MAX_PAGE} bytes")
    if not charset_of(content_type):
        declared = _META_CHARSET.search(result.body[:4096])
        if declared:
            content_type = "text/html; charset=" + declared.group(1).decode("ascii")
    text = decode(result.body, content_type)
    start = text[:65536]
    if not kind and not start.lstrip().startswith("<"):
        raise _Refused("not an HTML page")
    if len(_BINARY.findall(start)) > len(start) // 100:
        raise _Refused("not an HTML page: binary bytes")
    return xml_safe(text)  # lxml refuses what XML 1.0 refuses; a browser ignores them


async def _extract(html: str, base: str) -> tuple[str, str]:
    """(sanitized HTML, its text) of the page's main content, computed in the extraction thread.

    One page at a time: the gate is held until the thread is done with a page, even one given
    up after EXTRACT_TIMEOUT, so that the next page's deadline counts its own work only.
    """
    loop = asyncio.get_running_loop()
    gate = _gates.setdefault(loop, asyncio.Semaphore(1))
    await gate.acquire()

    def release(_: Future) -> None:
        with suppress(RuntimeError):  # the loop has closed: nobody waits for the gate any more
            loop.call_soon_threadsafe(gate.release)

    try:
        job = _pool.submit(_readable, html, base)
    except BaseException:
        gate.release()
        raise
    job.add_done_callback(release)
    try:
        async with asyncio.timeout(EXTRACT_TIMEOUT):  # not wait_for: it can swallow a cancel (3.11)
            return await asyncio.wrap_future(job)
    except TimeoutError:
        raise _Refused(f"extraction took longer than {EXTRACT_TIMEOUT:g}s") from None
    except Unparseable as error:
        raise _Refused(f"no content found: {error}") from None


def _readable(html: str, base: str) -> tuple[str, str]:
    """Readability's main content of `html`, sanitized; runs in the extraction thread."""
    summary = Document(html).summary(html_partial=True)
    content = sanitize_html(summary[:MAX_CONTENT], base)
    return content, html_to_text(content)
