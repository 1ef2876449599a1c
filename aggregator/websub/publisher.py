"""WebSub, publisher side: tell our hub which topic feeds changed.

Spec: https://www.w3.org/TR/websub/#publishing leaves the ping to the hub's choice; the common
hubs take a form POST with hub.mode=publish and the changed URL: Google's
(pubsubhubbub.appspot.com) and Superfeedr read `hub.url` (Google's may repeat it), WordPress's
plugin and websub.rocks send `hub.topic`. Each ping names one feed under both keys, so every one
of them reads it, and a hub that takes only one URL per request is not left with the others.

A feed whose files publish rewrote is queued in the store (websub_pings) by the publish itself,
before it records the feed as written (publish/selection.py), so a ping survives a crash or a
publish that fails further on, and a failed one is retried with backoff, by whichever process
runs next: the daemon in the background, `aggregator poll` and `publish` once at their end.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from ..errors import FetchError
from ..fetch import Fetcher
from ..store import Store
from ..store import websub as table

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 30.0, 3600.0  # seconds before retrying a failed ping, doubling per failure
MAX_ATTEMPTS = 12  # about five hours of retries; the next change of the feed queues it afresh
BATCH = 100  # pings sent at once (the fetcher caps connections per host)


def pings_due(store: Store, now: datetime | None = None) -> bool:
    return bool(table.due_pings(store, now or datetime.now(UTC), 1))


async def send_pings(store: Store, fetcher: Fetcher, hub: str) -> tuple[int, int]:
    """Send the pings that are due to `hub`; return how many it accepted and how many failed.

    A failed one is tried again later (RETRY_FIRST doubling up to RETRY_MAX), at most
    MAX_ATTEMPTS times; failures are logged as one WARNING per batch.
    """
    pings = table.due_pings(store, datetime.now(UTC), BATCH)
    if not pings:
        return 0, 0
    errors = await asyncio.gather(*(_ping(fetcher, hub, ping.url) for ping in pings))
    now = datetime.now(UTC)
    failed: list[str] = []
    for ping, error in zip(pings, errors, strict=True):
        if error is None:
            table.ping_done(store, ping)
        elif ping.attempts + 1 >= MAX_ATTEMPTS:
            table.ping_done(store, ping)
            log.warning(
                "gave up telling hub %s that %s changed, after %d attempts: %s",
                hub,
                ping.url,
                MAX_ATTEMPTS,
                error,
                extra={"hub": hub, "url": ping.url},
            )
        else:
            delay = min(RETRY_MAX, RETRY_FIRST * 2**ping.attempts)
            table.ping_failed(store, ping, now + timedelta(seconds=delay), error)
            failed.append(error)
    sent = errors.count(None)
    if sent:
        log.info("told hub %s that %d feeds changed", hub, sent, extra={"hub": hub, "feeds": sent})
    if failed:
        log.warning(
            "could not tell hub %s that %d feeds changed; retrying with backoff: %s",
            hub,
            len(failed),
            failed[0],
            extra={"hub": hub, "feeds": len(failed)},
        )
    return sent, len(pings) - sent


async def _ping(fetcher: Fetcher, hub: str, url: str) -> str | None:
    """Tell `hub` that `url` changed; None when it accepted (any 2xx), else what went wrong."""
    fields = [("hub.mode", "publish"), ("hub.url", url), ("hub.topic", url)]
    try:
        await fetcher.post_form(hub, fields)
    except FetchError as e:
        return str(e)
    return None
