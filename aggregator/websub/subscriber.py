"""WebSub, subscriber side: have hubs push the updates of sources whose feeds name one.

Spec: https://www.w3.org/TR/websub/ (W3C Recommendation, 23 January 2018). In order:

1. Discovery (4): a poll's document names its hubs and its self URL, the topic (parse/links.py).
   `discovered` keeps one subscription per source in line with them: a new hub or topic means a
   new subscription and the old one ended; a feed that stops naming a hub is unsubscribed. An
   https hub is preferred (8.2); one hub is enough. The feed names the hub, so a hub on an
   internal address (network.py) is asked only for a source on one too; for any other source
   the request is refused before connecting, redirects included, and the subscription is off.
2. Subscription (5.1): the daemon POSTs hub.mode=subscribe, hub.topic, hub.callback (our
   server.public_url + "websub/" + a random token: an unguessable capability URL, one per
   subscription), hub.secret (random, per subscription) and hub.lease_seconds to the hub.
   Without server.public_url hubs cannot reach us: nothing is requested and `status` says why.
3. Verification of intent (5.3): the hub GETs the callback with hub.mode, hub.topic and
   hub.challenge; we echo the challenge only when mode and topic are those of a request we
   sent for that callback (pending, or the renewal of an active subscription), else 404. The
   lease the hub grants is recorded and the subscription renewed at RENEW_AT of it. A hub's
   `denied` (5.2) is recorded, and the source is polled as before.
4. Content distribution (7): a POST to the callback, at most polling.max_body bytes, is taken
   only with a valid X-Hub-Signature (HMAC with the subscription's secret, sha1/sha256/sha384/
   sha512, 7.1.1); it then goes through refresh.receive, the parse, normalize and store steps of
   a poll. A missing or wrong signature is ignored and logged, and answered 202 like a valid
   one, as 7.1.2 allows, so that the answer teaches a forger nothing.

Two SHOULDs are not followed, on purpose. A renewal keeps the callback and the secret: 5.1.1
suggests a new callback per renewal, but at the hub that is a second subscription, which would
deliver everything twice until the first one's lease ended. And hub.secret is sent to http hubs
too (it SHOULD go over https only): without it no push could be told from a forgery.

Polling stays the fallback: a source whose hub pushes is polled every polling.push_interval
(`polled_as`); when a lease lapses or a request fails, it is polled on its own schedule again at
once. Requests that fail are retried with backoff; an unsubscription is given up after a few.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from .. import network
from ..characters import xml_safe
from ..config import Config
from ..errors import AggregatorError, FetchError
from ..fetch import Fetcher
from ..models import Source
from ..refresh import PollOutcome, receive
from ..store import Store
from ..store import websub as table
from ..store.websub import ACTIVE, DENIED, OFF, PENDING, UNSUBSCRIBING, Subscription

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "websub/"  # callback URL: server.public_url + CALLBACK_PREFIX + token
LEASE_SECONDS = 10 * 86400  # asked for; what 8.2 calls a good default ("10 days")
MAX_LEASE_SECONDS = 365 * 86400  # a longer lease granted is taken as this (renewed within a year)
RENEW_AT = 0.85  # of the granted lease
VERIFY_WAIT = timedelta(minutes=10)  # a hub that took a request but never verified it is asked again
RETRY_FIRST, RETRY_MAX = 60.0, 6 * 3600.0  # seconds before retrying a failed request, doubling
MAX_UNSUBSCRIBE_ATTEMPTS = 5
_SIGNATURES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_CHUNK = 64 * 1024


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether an X-Hub-Signature value ("method=hex", 7.1) signs `body` with `secret`."""
    method, _, signature = (header or "").strip().partition("=")
    digest = _SIGNATURES.get(method.strip().lower())
    if digest is None or not signature:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace"))


def discovered(
    store: Store, source: Source, outcome: PollOutcome, public_url: str | None, now: datetime
) -> None:
    """Bring the source's subscription in line with the hubs and self URL its feed names."""
    if outcome.hubs is None or not _web(source.url):  # no document read, or a local sample file
        return
    hub = next((h for h in outcome.hubs if urlsplit(h).scheme == "https"), None)
    hub = hub or next((h for h in outcome.hubs if _web(h)), None)
    topic = outcome.self_url if outcome.self_url and _web(outcome.self_url) else ""
    kept = None
    for row in table.subscriptions(store, [source.id]):
        if row.state == UNSUBSCRIBING:
            continue
        if kept is None and row.hub == hub and row.topic == topic:
            kept = row
        else:
            _end(store, row, now)
    if hub is None or kept is not None:
        return
    token = secrets.token_urlsafe(24)
    row = Subscription(token, source.id, hub, topic, callback="", secret=secrets.token_hex(24), state=OFF)
    if not topic:
        row.reason = f"the feed names hub {hub} but no self link (rel=self), the topic to subscribe to"
    else:
        _ready(row, public_url, now)
    table.save_subscription(store, row)
    log.info(
        "source %s names WebSub hub %s for %s: %s",
        source.id,
        hub,
        topic or "(no self link)",
        row.reason or "subscribing",
        extra={"source_id": source.id, "hub": hub, "topic": topic},
    )


def sync(store: Store, config: Config, now: datetime) -> None:
    """At start and reload: end the subscriptions of sources no longer configured, and move the
    others to the callback that server.public_url now gives (requesting those that were off)."""
    configured = {source.id for source in config.sources}
    public_url = config.server.public_url
    for row in table.subscriptions(store):
        if row.state == UNSUBSCRIBING:
            continue
        if row.source_id not in configured:
            _end(store, row, now)
        elif row.topic and row.state != DENIED and row.callback != _callback(public_url, row.token):
            if row.callback:  # the hub holds (or was asked for) the old callback: end it, start anew
                _end(store, row, now)
                row = replace(row, token=secrets.token_urlsafe(24), secret=secrets.token_hex(24))
                row.attempts, row.requested_at, row.verified_at, row.expires_at = 0, None, None, None
            _ready(row, public_url, now)
            table.save_subscription(store, row)


def polled_as(store: Store, source: Source, push_interval: float, now: datetime) -> Source:
    """`source` as the scheduler should poll it: every `push_interval` (never more often than its
    own interval) while a hub pushes its updates."""
    if source.interval >= push_interval or source.id not in table.pushed_sources(store, [source.id], now):
        return source
    return replace(source, interval=push_interval)


def end_lapsed(store: Store, now: datetime) -> None:
    """Active subscriptions whose lease ended without a verified renewal: their sources are
    polled on their own schedule again, and the renewal goes on being tried."""
    for row in table.lapsed_subscriptions(store, now):
        row.state = PENDING
        row.reason = row.reason or "the lease ended before the hub verified a renewal"
        if row.next_attempt_at is None or row.next_attempt_at > now:
            row.next_attempt_at = now
        table.save_subscription(store, row)
        table.poll_soon(store, row.source_id, now)
        log.warning(
            "source %s: the WebSub lease at %s ended; polling resumes",
            row.source_id,
            row.hub,
            extra={"source_id": row.source_id, "hub": row.hub},
        )


async def send_requests(store: Store, fetcher: Fetcher, limit: int = 20) -> None:
    """Send the (un)subscribe requests that are due: new subscriptions, renewals and retries."""
    due = table.due_subscriptions(store, datetime.now(UTC), limit)
    await asyncio.gather(*(_request(store, fetcher, row) for row in due))  # the fetcher caps each host


async def _request(store: Store, fetcher: Fetcher, row: Subscription) -> None:
    mode = "unsubscribe" if row.state == UNSUBSCRIBING else "subscribe"
    sent_at = datetime.now(UTC).replace(microsecond=0)  # stored times have whole seconds
    if row.state not in (PENDING, ACTIVE, UNSUBSCRIBING):  # denied or off: nothing to ask
        row.next_attempt_at = None
        table.save_subscription(store, row)
        return
    if mode == "unsubscribe" and (
        row.attempts >= MAX_UNSUBSCRIBE_ATTEMPTS or (row.expires_at is not None and row.expires_at <= sent_at)
    ):
        table.delete_subscription(store, row.token)  # the hub forgets it when its lease ends anyway
        return
    if row.attempts and row.reason is None:
        row.reason = f"the hub did not verify the last request within {VERIFY_WAIT.seconds // 60} minutes"
    row.attempts += 1
    row.requested_at = sent_at
    row.next_attempt_at = sent_at + VERIFY_WAIT  # unless the hub verifies it by then
    table.save_subscription(store, row)
    fields = [("hub.callback", row.callback), ("hub.mode", mode), ("hub.topic", row.topic)]
    if mode == "subscribe":
        fields += [("hub.secret", row.secret), ("hub.lease_seconds", str(LEASE_SECONDS))]
    # The hub's URL came from the feed: it may be inside our network only if the source is too.
    public_only = not await network.on_internal_network(store.source_state(row.source_id).url or "")
    try:
        await fetcher.post_form(row.hub, fields, public_only=public_only)
    except FetchError as e:
        if e.reason == "internal":
            _refused(store, row, mode, str(e))
        else:
            _failed(store, row, mode, str(e), sent_at)
    else:
        log.info(
            "source %s: asked %s to %s %s",
            row.source_id,
            row.hub,
            mode,
            row.topic,
            extra={"source_id": row.source_id, "hub": row.hub, "mode": mode},
        )


def _failed(store: Store, row: Subscription, mode: str, error: str, sent_at: datetime) -> None:
    """A request sent at `sent_at` got no 2xx: try again with backoff, and poll meanwhile."""
    current = table.subscription(store, row.token)
    if current is None or (current.verified_at is not None and current.verified_at >= sent_at):
        return  # verified (or ended) while the answer was on its way: the answer no longer matters
    current.reason = error
    current.next_attempt_at = datetime.now(UTC) + timedelta(
        seconds=min(RETRY_MAX, RETRY_FIRST * 2 ** (current.attempts - 1))
    )
    table.save_subscription(store, current)
    if mode == "subscribe":
        table.poll_soon(store, row.source_id, datetime.now(UTC))
    log.warning(
        "source %s: %s request to WebSub hub %s failed; retrying with backoff: %s",
        row.source_id,
        mode,
        row.hub,
        error,
        extra={"source_id": row.source_id, "hub": row.hub, "mode": mode},
    )


def _refused(store: Store, row: Subscription, mode: str, error: str) -> None:
    """The hub is on an internal address and the source is not: nothing was sent, and nothing
    will be; the subscription is off (forgotten, if it was ending) until the feed names another hub."""
    if mode == "unsubscribe":
        table.delete_subscription(store, row.token)
    else:
        row.state, row.next_attempt_at, row.reason = OFF, None, f"the hub is refused: {error}"
        table.save_subscription(store, row)
    log.warning(
        "source %s: WebSub hub %s is refused: %s",
        row.source_id,
        row.hub,
        error,
        extra={"source_id": row.source_id, "hub": row.hub, "mode": mode},
    )


class Callbacks:
    """The callback routes on the daemon's HTTP server: GET verifies intent, POST delivers content.

    `source` finds a configured source by id (None once removed); `received` is told of every
    stored push, as a poll's outcome.
    """

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        source: Callable[[str], Source | None],
        received: Callable[[PollOutcome], None],
        *,
        max_body: int,
        max_items: int | None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher  # for the article pages of full_text sources
        self.source = source
        self.received = received
        self.max_body = max_body
        self.max_items = max_items

    def routes(self) -> list[web.RouteDef]:
        path = f"/{CALLBACK_PREFIX}{{token}}"
        return [web.get(path, self.verify, allow_head=False), web.post(path, self.deliver)]

    async def verify(self, request: web.Request) -> web.Response:
        query = request.query
        mode, topic, challenge = query.get("hub.mode"), query.get("hub.topic"), query.get("hub.challenge")
        try:
            row = table.subscription(self.store, request.match_info["token"])
            if row is None:
                raise web.HTTPNotFound()
            now = datetime.now(UTC)
            if mode == "denied" and topic == row.topic and row.state in (PENDING, ACTIVE):
                row.state, row.next_attempt_at = DENIED, None
                row.reason = xml_safe(query.get("hub.reason") or "") or "the hub gave no reason"
                table.save_subscription(self.store, row)
                table.poll_soon(self.store, row.source_id, now)
                log.warning(
                    "source %s: WebSub hub %s denied the subscription: %s",
                    row.source_id,
                    row.hub,
                    row.reason,
                    extra={"source_id": row.source_id, "hub": row.hub},
                )
                return web.Response(text="")
            expected = "unsubscribe" if row.state == UNSUBSCRIBING else "subscribe"
            asked = row.requested_at is not None and row.state in (PENDING, ACTIVE, UNSUBSCRIBING)
            if not (asked and challenge and mode == expected and topic == row.topic):
                log.warning(
                    "source %s: refused a WebSub verification (mode %s, topic %s) that matches no request",
                    row.source_id,
                    mode,
                    topic,
                    extra={"source_id": row.source_id, "hub": row.hub, "mode": mode, "topic": topic},
                )
                raise web.HTTPNotFound()
            if mode == "unsubscribe":
                table.delete_subscription(self.store, row.token)
            else:
                _activate(row, query.get("hub.lease_seconds"), now)
                table.save_subscription(self.store, row)
            log.info(
                "source %s: WebSub hub %s verified our %s%s",
                row.source_id,
                row.hub,
                mode,
                f" (lease {row.lease_seconds}s)" if mode == "subscribe" else "",
                extra={"source_id": row.source_id, "hub": row.hub, "mode": mode},
            )
        except AggregatorError as e:  # the database is locked or full: the hub will try again
            log.error("WebSub verification could not be recorded: %s", e)
            raise web.HTTPServiceUnavailable() from None
        return web.Response(text=challenge, content_type="text/plain")

    async def deliver(self, request: web.Request) -> web.Response:
        try:
            row = table.subscription(self.store, request.match_info["token"])
            source = self.source(row.source_id) if row else None
            if row is None or source is None or row.state not in (PENDING, ACTIVE):
                # 410: this subscription is gone, and the hub may drop it (section 7).
                raise web.HTTPGone()
            body = await self._body(request)
            if not signature_valid(row.secret, body, request.headers.get("X-Hub-Signature")):
                log.warning(
                    "source %s: ignored content pushed to its WebSub callback with a %s signature",
                    source.id,
                    "wrong" if request.headers.get("X-Hub-Signature") else "missing",
                    extra={"source_id": source.id, "hub": row.hub, "remote": request.remote},
                )
                return web.Response(status=202)
            headers = {name.lower(): value for name, value in request.headers.items()}
            outcome = await receive(source, body, headers, self.store, self.fetcher, max_items=self.max_items)
        except AggregatorError as e:  # not stored: a 503 has the hub deliver it again later
            log.error("content pushed to a WebSub callback could not be stored: %s", e)
            raise web.HTTPServiceUnavailable() from None
        self.received(outcome)
        return web.Response(status=202)

    async def _body(self, request: web.Request) -> bytes:
        """The request body, decoded; 413 past max_body (counted after any content coding)."""
        if request.content_length is not None and request.content_length > self.max_body:
            raise web.HTTPRequestEntityTooLarge(self.max_body, request.content_length)
        body = bytearray()
        async for chunk in request.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self.max_body:
                raise web.HTTPRequestEntityTooLarge(self.max_body, len(body))
        return bytes(body)


def status(store: Store, source_ids: list[str]) -> dict[str, dict]:
    """source id -> its WebSub state for `aggregator sources`: state, hub, topic, lease end and
    reason (why it is off, denied or failing). Sources with no hub in their feed are left out."""
    now = datetime.now(UTC)
    found: dict[str, dict] = {}
    for row in table.subscriptions(store, source_ids):
        if row.state == UNSUBSCRIBING:
            continue
        state = row.state
        if state == PENDING and row.requested_at is None:
            state = "due"  # the daemon has not sent the request yet
        elif state == ACTIVE and not row.pushes(now):
            state = "failing"
        found[row.source_id] = {
            "state": state,
            "hub": row.hub,
            "topic": row.topic or None,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "reason": row.reason,
        }
    return found


def _activate(row: Subscription, lease: str | None, now: datetime) -> None:
    """The hub verified our subscribe request with this hub.lease_seconds (required of it; an
    absent or unreadable value is taken as the lease we asked for, one past MAX_LEASE_SECONDS as that)."""
    # isascii: str.isdigit() also holds for digits such as '²' that int() refuses.
    readable = bool(lease) and lease.isascii() and lease.isdigit() and int(lease) > 0
    seconds = min(int(lease), MAX_LEASE_SECONDS) if readable else LEASE_SECONDS
    row.state, row.reason, row.attempts = ACTIVE, None, 0
    row.lease_seconds, row.verified_at = seconds, now
    row.expires_at = now + timedelta(seconds=seconds)
    row.next_attempt_at = now + timedelta(seconds=seconds * RENEW_AT)


def _ready(row: Subscription, public_url: str | None, now: datetime) -> None:
    """Make a subscription due for requesting, or off when hubs could not reach us."""
    if public_url is None:
        row.state, row.callback, row.next_attempt_at = OFF, "", None
        row.reason = "server.public_url is not set, so hubs cannot reach this server: polled only"
    else:
        row.state, row.callback, row.next_attempt_at, row.reason = (
            PENDING,
            _callback(public_url, row.token),
            now,
            None,
        )


def _end(store: Store, row: Subscription, now: datetime) -> None:
    """Unsubscribe a subscription the hub may hold; forget one it cannot."""
    held = row.requested_at is not None and row.state in (PENDING, ACTIVE)
    if held and (row.expires_at is None or row.expires_at > now):
        row.state, row.attempts, row.next_attempt_at, row.reason = UNSUBSCRIBING, 0, now, None
        table.save_subscription(store, row)
    else:
        table.delete_subscription(store, row.token)


def _callback(public_url: str | None, token: str) -> str:
    return f"{public_url}{CALLBACK_PREFIX}{token}" if public_url else ""


def _web(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")
