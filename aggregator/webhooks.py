"""Webhooks: a signed POST to a topic's receiver for each new story entering the topic.

Announcing (`announce`, after each publish): the stories a topic's feed lists, as the publish
chose them (`Listed`: not chosen again later, when newer polls may have changed what the feeds
would list), that the topic has not announced yet enter the outbox, the webhook_deliveries
table, in the same transaction that marks them announced. Passed over silently, and never
announced:

- the stories a topic lists when its receiver is first seen (a webhook added to an existing
  topic, or given another URL, starts from there, without the backlog);
- the stories of the first items a source brings (a new source's backlog, or every source's on
  a fresh database), as the first pass after them finds them.

Delivering (`deliver_due`: the daemon's Courier task, and once after `aggregator poll` and
`publish`): each due delivery is leased, POSTed and marked delivered on a 2xx answer. Anything
else (another status, a timeout, a refused connection) is tried again after RETRY_FIRST,
doubling up to RETRY_MAX (or later, when the receiver's Retry-After asks), MAX_ATTEMPTS times in
all; the other deliveries due for the same receiver then wait as long, so a receiver that is
down gets one request per step. Deliveries to one receiver go one at a time, oldest first. A
sender killed mid-delivery leaves the lease to run out (or a restarted daemon ends it): the
delivery is sent again. Deliveries are at least once; receivers drop repeats by delivery id.

The request: `Content-Type: application/json`, the body

    {"delivery_id": "...", "timestamp": 1720223880,
     "topic": {"id": "ai", "title": "...", "feed_url": ".../ai.json"},
     "story": {...the story as an item of the topic's JSON Feed...}}

and the headers X-Aggregator-Delivery (the delivery id, the same on every attempt),
X-Aggregator-Timestamp (Unix seconds when this attempt was sent, as in the body), X-Aggregator-
Topic and X-Aggregator-Signature: `sha256=` and the hex HMAC-SHA256 of the exact body bytes under
the topic's shared secret. The body carries the id and the timestamp, so the signature covers
them: a receiver that checks the signature, refuses timestamps older than a few minutes and
remembers the ids it has seen can refuse replays (README, "Webhooks").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .errors import AggregatorError
from .models import Story, Topic, Webhook
from .publish import PublishSettings
from .publish.feed import JSON_FEED, build_feed
from .publish.jsonfeed import render
from .publish.selection import select
from .store import Store
from .store import webhooks as outbox
from .topics import compile_topics

# The HTTP client is imported where a delivery is sent: every publish announces, few deliver, and
# `aggregator publish` need not load aiohttp for that (see aggregator/cli).
if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for one POST, answer included
LEASE = timedelta(seconds=60)  # longer than TIMEOUT: a live sender always finishes first
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 10  # waits of 30 s, 1, 2, 4 ... 32 min, then 1 h twice: about three hours in all
BATCH = 50  # deliveries claimed at once
IDLE = 60.0  # seconds the Courier sleeps at most (another process may have queued deliveries)
ERROR_PAUSE = 30.0  # seconds before the Courier tries again after the store failed, or restarts
KEEP_FINISHED = timedelta(days=7)  # delivered and failed rows stay this long, for operators


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0  # failed attempts that will be tried again
    failed: int = 0  # given up
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Whether anything was attempted."""
        return bool(self.delivered or self.retrying or self.failed)

    def __str__(self) -> str:
        return f"webhooks: {self.delivered} delivered, {self.retrying} to retry, {self.failed} given up"


@dataclass
class Listed:
    """What one publish's feeds listed (topic id -> its stories), and the sources whose backlog
    was not seen yet at that moment with their stories (see the module docstring)."""

    chosen: dict[str, list[Story]]
    sources: list[str] = field(default_factory=list)
    backlog: set[str] = field(default_factory=set)


def listed(store: Store, topics: Sequence[Topic], chosen: dict[str, list[Story]]) -> Listed:
    """What a publish that chose `chosen` gives announce(), taken right after it: a source whose
    first items arrive later is part of a later publish's backlog, not announced as news."""
    if not any(topic.webhook for topic in topics):
        return Listed(chosen)
    return Listed(chosen, *outbox.new_backlogs(store))


def announce(
    store: Store, topics: Sequence[Topic], settings: PublishSettings, now: datetime, published: Listed
) -> int:
    """Queue a delivery for each story that entered a topic with a webhook, of those `published`
    lists (see the module docstring for what is passed over); return how many were queued."""
    receivers = {topic.id: topic.webhook.url for topic in topics if topic.webhook}
    baseline = outbox.new_receivers(store, receivers, now)
    # A publish from before a reload may not list a topic added since: the next one does.
    hooked = [topic for topic in topics if topic.webhook and topic.id in published.chosen]
    if not hooked:
        return 0
    announcements: list[outbox.Announcement] = []
    for topic in hooked:
        assert topic.webhook is not None
        stories = published.chosen[topic.id]
        fresh = outbox.unannounced(store, topic.id, [story.id for story in stories])
        for story in (story for story in stories if story.id in fresh):
            delivery = None
            if topic.id not in baseline and story.id not in published.backlog:
                payload = _payload(topic, story, settings)
                delivery = outbox.Delivery(uuid.uuid4().hex, topic.id, story.id, topic.webhook.url, payload)
            announcements.append(outbox.Announcement(topic.id, story.id, delivery))
    seen = {topic.id: receivers[topic.id] for topic in hooked if topic.id in baseline}
    outbox.record(store, seen, published.sources, announcements, now)
    outbox.forget_finished(store, now - KEEP_FINISHED)
    queued = sum(a.delivery is not None for a in announcements)
    if queued:
        log.debug("webhooks: %d deliveries queued", queued, extra={"deliveries": queued})
    return queued


def _payload(topic: Topic, story: Story, settings: PublishSettings) -> str:
    """The topic and the story as its JSON Feed item: what the topic's JSON Feed says of it."""
    feed = build_feed(topic, [story], base_url=settings.base_url, site_title=settings.title, max_items=1)
    (item,) = json.loads(render(feed))["items"]
    document = {
        "topic": {"id": topic.id, "title": feed.title, "feed_url": feed.url(JSON_FEED)},
        "story": item,
    }
    return json.dumps(document, ensure_ascii=False)


def sign(secret: str, body: bytes) -> str:
    """The X-Aggregator-Signature value of `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


async def deliver_due(
    store: Store, topics: Sequence[Topic], session: aiohttp.ClientSession, now: datetime
) -> DeliveryReport:
    """Send the deliveries due at `now` (one batch); receivers are the topics' current ones."""
    receivers = {topic.id: topic.webhook for topic in topics if topic.webhook}
    by_url: dict[str, list[outbox.Delivery]] = {}
    for delivery in outbox.claim(store, now, LEASE, BATCH):
        by_url.setdefault(delivery.url, []).append(delivery)
    report = DeliveryReport()
    await asyncio.gather(
        *(_deliver_to(store, receivers, session, queue, now, report) for queue in by_url.values())
    )
    return report


async def _deliver_to(
    store: Store,
    receivers: dict[str, Webhook],
    session: aiohttp.ClientSession,
    queue: list[outbox.Delivery],
    now: datetime,
    report: DeliveryReport,
) -> None:
    """Send one receiver's deliveries in order; after a failure the rest wait as long."""
    for index, delivery in enumerate(queue):
        receiver = receivers.get(delivery.topic_id)
        if receiver is None or receiver.url != delivery.url:  # removed from the config meanwhile
            outbox.finish(store, delivery, outbox.DROPPED, now, "the topic no longer has this webhook")
            continue
        delivery.attempts += 1
        error, retry_after = await _post(session, receiver, delivery)
        extra = {"topic_id": delivery.topic_id, "delivery_id": delivery.id, "url": delivery.url}
        if error is None:
            outbox.finish(store, delivery, outbox.DELIVERED, now)
            report.delivered += 1
            log.debug("webhook delivered %s to %s", delivery.id, delivery.url, extra=extra)
            continue
        report.errors.append(f"{delivery.topic_id}: {error}")
        if delivery.attempts >= MAX_ATTEMPTS:
            outbox.finish(store, delivery, outbox.FAILED, now, error)
            report.failed += 1
            log.warning(
                "webhook %s to %s given up after %d attempts: %s",
                delivery.id,
                delivery.url,
                delivery.attempts,
                error,
                extra=extra,
            )
            continue
        delay = min(RETRY_FIRST * 2 ** (delivery.attempts - 1), RETRY_MAX)
        until = now + max(delay, timedelta(seconds=min(retry_after or 0, 86400)))
        outbox.postpone(store, [delivery], until, error)
        outbox.postpone(store, queue[index + 1 :], until)
        report.retrying += 1
        log.warning(
            "webhook %s to %s failed (attempt %d), retrying at %s: %s",
            delivery.id,
            delivery.url,
            delivery.attempts,
            until.isoformat(),
            error,
            extra=extra,
        )
        return


async def _post(
    session: aiohttp.ClientSession, receiver: Webhook, delivery: outbox.Delivery
) -> tuple[str | None, float | None]:
    """POST one delivery; (None, None) on a 2xx answer, else (what went wrong, Retry-After seconds)."""
    import aiohttp

    from .fetch import _retry_after

    timestamp = int(time.time())
    body = json.dumps(
        {"delivery_id": delivery.id, "timestamp": timestamp, **json.loads(delivery.payload)},
        ensure_ascii=False,
    ).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "X-Aggregator-Delivery": delivery.id,
        "X-Aggregator-Timestamp": str(timestamp),
        "X-Aggregator-Topic": delivery.topic_id,
        "X-Aggregator-Signature": sign(receiver.secret, body),
    }
    try:
        async with (
            asyncio.timeout(TIMEOUT),
            session.post(receiver.url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            if 200 <= response.status < 300:
                return None, None
            return f"HTTP {response.status} {response.reason}", _retry_after(
                response.headers.get("Retry-After")
            )
    except TimeoutError:
        return f"no answer within {TIMEOUT:g}s", None
    except aiohttp.ClientError as error:
        return f"{type(error).__name__}: {error}", None


def session(user_agent: str | None = None) -> aiohttp.ClientSession:
    """An HTTP session for deliveries: no cookies, our User-Agent."""
    import aiohttp

    from .fetch import USER_AGENT

    return aiohttp.ClientSession(
        headers={"User-Agent": user_agent or USER_AGENT}, cookie_jar=aiohttp.DummyCookieJar()
    )


def after_publish(
    store: Store,
    topics: Sequence[Topic],
    settings: PublishSettings,
    chosen: dict[str, list[Story]] | None,
    user_agent: str | None = None,
) -> DeliveryReport | None:
    """For `aggregator poll` and `publish`: announce what the publish chose, then try each due
    delivery once (those that fail wait for the next run, or for the daemon). None when nothing
    is pending."""
    hooked = [topic for topic in topics if topic.webhook]
    if chosen is None and hooked:  # nothing changed, so the feeds list what select() gives now
        chosen = select(store, compile_topics(hooked), settings.max_items, processes=settings.processes)
    announce(store, topics, settings, datetime.now(UTC), listed(store, topics, chosen or {}))
    if outbox.next_due(store) is None:
        return None

    async def deliver() -> DeliveryReport:
        async with session(user_agent) as client:
            return await deliver_due(store, topics, client, datetime.now(UTC))

    return asyncio.run(deliver())


class Courier:
    """The daemon's deliverer: a task that announces after each publish and sends deliveries as
    they fall due, without holding up the event loop. A bug that ends the task is logged with
    its traceback and the task starts again after ERROR_PAUSE."""

    def __init__(self, user_agent: str | None = None, *, sole: bool = True) -> None:
        self.user_agent = user_agent
        # The only sender on its database (a daemon): what is leased at start, a killed sender
        # left. Workers share the outbox: their leases run out instead.
        self.sole = sole
        self.topics: Sequence[Topic] = ()
        self.settings: PublishSettings | None = None
        self._wake = asyncio.Event()
        self._listed: list[Listed] = []  # publishes not announced yet, oldest first
        self._task: asyncio.Task | None = None
        self._restart: asyncio.TimerHandle | None = None

    def configure(self, topics: Sequence[Topic], settings: PublishSettings) -> None:
        """The topics and publish settings in force (at start and after a reload)."""
        self.topics, self.settings = topics, settings

    def published(self, store: Store, chosen: dict[str, list[Story]]) -> None:
        """A publish chose these stories: announce what entered the topics, and deliver."""
        self._listed.append(listed(store, self.topics, chosen))
        self._wake.set()

    def start(self, store: Store) -> None:
        """Start delivering in the background, until stop()."""
        self._restart = None
        self._task = asyncio.get_running_loop().create_task(self.run(store), name="webhooks")
        self._task.add_done_callback(lambda task: self._crashed(store, task))

    async def stop(self) -> None:
        """Stop delivering; a delivery cut short is sent again after restart."""
        if self._restart is not None:
            self._restart.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _crashed(self, store: Store, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("webhooks crashed; starting again in %.0fs", ERROR_PAUSE, exc_info=task.exception())
        self._restart = asyncio.get_running_loop().call_later(ERROR_PAUSE, self.start, store)

    async def run(self, store: Store) -> None:
        """Deliver until cancelled. What a killed daemon was sending is due again at once."""
        released = not self.sole
        async with session(self.user_agent) as client:
            while True:
                self._wake.clear()
                now = datetime.now(UTC)
                pause = IDLE
                try:
                    if not released:
                        outbox.release(store)
                        released = True
                    while self._listed and self.settings is not None:
                        # Taken off only once announced: announcing twice queues nothing twice.
                        announce(store, self.topics, self.settings, now, self._listed[0])
                        self._listed.pop(0)
                    report = await deliver_due(store, self.topics, client, now)
                    if report:
                        log.info("%s", report, extra={"delivered": report.delivered})
                    due = outbox.next_due(store)
                    if due is not None:
                        pause = min(IDLE, max(0.0, (due - datetime.now(UTC)).total_seconds()))
                except AggregatorError as error:  # a locked or full database: try again later
                    log.error("webhooks paused for %.0fs: %s", ERROR_PAUSE, error)
                    pause = ERROR_PAUSE
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
                # that arrives as the event is set, and the daemon would never stop.
                with suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._wake.wait()
