"""How often a source is polled: its interval, what the server asks, and backoff after failures.

After a successful poll (200 or 304) the next check is, in this order:

1. the source's interval (`interval:` of the source, else `polling.interval`);
2. stretched to what the feed asks, never polled sooner: RSS `<ttl>`, `Cache-Control: max-age`
   (RFC 9111 §5.2.2.1) and `Expires` (§5.3), each believed up to one day, so a wrong header
   cannot silence a source for long;
3. plus up to 10% jitter, only ever later, so sources with the same interval drift apart
   instead of firing together.

After a failure: the interval doubled for each failure in a row (interval × 2^(streak-1)),
capped at `polling.max_backoff` (12 h by default); a `Retry-After` on 429 or 503 (RFC 9110
§10.2.3) is honoured when it asks for longer, up to one day. A source failing for longer than
`polling.dead_after` is reported dead but still retried at the cap: it is never given up.

Servers that answer 304 forever, with broken validators, would hide every change, so a source
is fetched without validators at least once a day.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from .models import SourceState

ASKED_CAP = 86400.0  # the longest wait a feed or server can ask for
FULL_FETCH_EVERY = timedelta(days=1)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Cadence:
    max_backoff: float = 12 * 3600.0
    dead_after: float = 7 * 86400.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)

    def after_success(
        self, interval: float, now: datetime, headers: dict[str, str], ttl: float | None = None
    ) -> datetime:
        """When to poll next after a 200 or 304: the interval, never sooner than asked."""
        asked = max([0.0, ttl or 0.0, *_cache_lifetimes(headers, now)])
        delay = max(interval, min(asked, ASKED_CAP))
        return now + timedelta(seconds=delay * (1 + self.rng.uniform(0, self.jitter)))

    def after_failure(
        self, interval: float, streak: int, now: datetime, retry_after: float | None = None
    ) -> datetime:
        """When to retry after the `streak`-th failure in a row (streak >= 1)."""
        backoff = min(self.max_backoff, interval * 2 ** min(streak - 1, 32))
        delay = max(backoff, min(retry_after or 0.0, ASKED_CAP))
        return now + timedelta(seconds=delay * (1 + self.rng.uniform(0, self.jitter)))

    def is_dead(self, state: SourceState, now: datetime) -> bool:
        """Failing for longer than `dead_after`: reported, still retried."""
        return (
            state.failing_since is not None and (now - state.failing_since).total_seconds() > self.dead_after
        )


def needs_full_fetch(state: SourceState, now: datetime) -> bool:
    """True when the source should be fetched without validators (once a day at least)."""
    return state.last_full_at is None or now - state.last_full_at >= FULL_FETCH_EVERY


def _cache_lifetimes(headers: dict[str, str], now: datetime) -> list[float]:
    """Freshness lifetimes the response grants, in seconds (max-age wins over Expires, §4.2.1)."""
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        return [float(match.group(1))]
    expires = headers.get("expires")
    if not expires:
        return []
    try:
        when = parsedate_to_datetime(expires)
    except (TypeError, ValueError, IndexError):
        return []  # "Expires: 0" and other invalid dates mean "already expired" (§5.3)
    if when.tzinfo is None:
        return []
    try:
        date = parsedate_to_datetime(headers["date"]) if "date" in headers else now
    except (TypeError, ValueError, IndexError):
        date = now
    return [max(0.0, (when - date).total_seconds())]
