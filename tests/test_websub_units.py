"""WebSub in parts: the hub and self links we publish and discover, signatures, the subscription
states, the callbacks (on an in-process aiohttp server) and the ping queue."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree
from multidict import CIMultiDict
from websub_hub import sign

from aggregator import config as config_module
from aggregator import network
from aggregator import refresh as refresh_module
from aggregator.errors import ConfigError
from aggregator.fetch import Fetcher
from aggregator.models import Source, Story, Topic
from aggregator.parse import parse
from aggregator.publish import PublishSettings, publish_topic
from aggregator.refresh import OK, PollOutcome
from aggregator.store import Store
from aggregator.store import websub as table
from aggregator.websub import publisher, subscriber

HUB = "https://hub.example.com/"
BASE = "https://feeds.example.org/"
ATOM = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def store(database: Path | str):
    """On each engine (conftest.database)."""
    with Store(database) as opened:
        opened.sync_sources([Source("news", "https://news.example.com/feed")])
        yield opened


# -- publishing: the links our feeds carry ---------------------------------------------------------


def published(tmp_path: Path, hub: str | None) -> dict[str, bytes]:
    settings = PublishSettings(tmp_path, BASE, websub_hub=hub)
    publish_topic(Topic("ai", "AI"), list[Story](), settings)
    return {suffix: (tmp_path / f"ai{suffix}").read_bytes() for suffix in (".xml", ".atom", ".json")}


def test_feeds_name_the_hub_and_themselves(tmp_path):
    files = published(tmp_path, HUB)
    channel = etree.fromstring(files[".xml"]).find("channel")
    links = {link.get("rel"): link.get("href") for link in channel.findall(f"{ATOM}link")}
    assert links == {"self": BASE + "ai.xml", "hub": HUB}
    atom = etree.fromstring(files[".atom"])
    links = {link.get("rel"): link.get("href") for link in atom.findall(f"{ATOM}link")}
    assert links == {"self": BASE + "ai.atom", "hub": HUB, "alternate": BASE}
    document = json.loads(files[".json"])
    assert document["hubs"] == [{"type": "WebSub", "url": HUB}] and document["feed_url"] == BASE + "ai.json"
    # Still well-formed feeds, and what a subscriber (ours) discovers in them is this hub and self.
    for suffix, data in files.items():
        if suffix != ".json":
            assert not feedparser.parse(data).bozo
        found = parse(data, {}, BASE + "ai" + suffix)
        assert (found.hubs, found.self_url) == ((HUB,), BASE + "ai" + suffix)


def test_without_a_hub_feeds_name_none(tmp_path):
    files = published(tmp_path, None)
    assert b'rel="hub"' not in files[".xml"] and b'rel="hub"' not in files[".atom"]
    assert "hubs" not in json.loads(files[".json"])


# -- discovery -------------------------------------------------------------------------------------

RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>t</title><link>https://news.example.com/</link>
<atom:link rel="hub" href="http://hub.example.com/"/><atom:link rel="hub" href="https://hub2.example.com/"/>
<atom:link rel="self" href="/feed"/>
<item><title>a</title><atom:link rel="hub" href="https://evil.example.com/"/></item></channel></rss>"""


@pytest.mark.parametrize(
    ("body", "headers", "hubs", "self_url"),
    [
        # Document links, resolved against the document's URL; an item's links are not the feed's.
        (RSS, {}, ("http://hub.example.com/", "https://hub2.example.com/"), "https://news.example.com/feed"),
        # Link headers come first (WebSub 4); one field value may carry both, or several lines do.
        (
            RSS,
            {"Link": '<https://h.example/>; rel="hub", </x.xml>; rel=self'},
            ("https://h.example/",),
            "https://news.example.com/x.xml",
        ),
        (
            RSS,
            {"link": '<https://h.example/>; rel="hub"'},
            ("https://h.example/",),
            "https://news.example.com/feed",
        ),
        (
            RSS,
            {"link": '<https://news.example.com/>; rel="alternate"'},
            ("http://hub.example.com/", "https://hub2.example.com/"),
            "https://news.example.com/feed",
        ),
        (
            RSS,
            {"link": '<https://h.example/a,b>; title="x; y, z"; rel="hub self"'},
            ("https://h.example/a,b",),
            "https://h.example/a,b",
        ),
        (
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": "t",
                    "feed_url": "https://j.example/feed.json",
                    "hubs": [
                        {"type": "rssCloud", "url": "https://cloud.example/"},
                        {"type": "WebSub", "url": "https://h.example/"},
                        "junk",
                    ],
                    "items": [],
                }
            ).encode(),
            {},
            ("https://h.example/",),
            "https://j.example/feed.json",
        ),
    ],
)
def test_discovery(body, headers, hubs, self_url):
    found = parse(body, headers, "https://news.example.com/feed")
    assert (found.hubs, found.self_url) == (hubs, self_url)


def test_link_header_lines_are_joined_by_the_fetcher():
    async def feed(request: web.Request) -> web.Response:
        headers = CIMultiDict(
            [("Link", '<https://h.example/>; rel="hub"'), ("Link", '<https://s.example/feed>; rel="self"')]
        )
        return web.Response(body=RSS, headers=headers, content_type="application/rss+xml")

    async def run() -> tuple[tuple[str, ...], str | None]:
        app = web.Application()
        app.router.add_get("/feed", feed)
        async with TestServer(app) as server, Fetcher() as fetcher:
            result = await fetcher.fetch(str(server.make_url("/feed")))
        found = parse(result.body, result.headers, result.url)
        return found.hubs, found.self_url

    assert asyncio.run(run()) == (("https://h.example/",), "https://s.example/feed")


# -- signatures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (sign("s3cret", b"body", "sha1"), True),
        (sign("s3cret", b"body", "sha256"), True),
        (sign("s3cret", b"body", "sha384"), True),
        (sign("s3cret", b"body", "sha512"), True),
        (sign("s3cret", b"body", "sha256").upper(), True),  # method and hex digits in any case
        (sign("other", b"body", "sha256"), False),
        (sign("s3cret", b"other body", "sha256"), False),
        (sign("s3cret", b"body", "md5"), False),  # not one of the algorithms 7.1.1 lists
        ("sha256=", False),
        ("sha256", False),
        ("", False),
        (None, False),
        ("sha256=ünïcödé", False),
    ],
)
def test_signature(header, valid):
    assert subscriber.signature_valid("s3cret", b"body", header) is valid


# -- subscription states ---------------------------------------------------------------------------


def outcome(
    hubs: tuple[str, ...] | None, self_url: str | None = "https://news.example.com/feed"
) -> PollOutcome:
    return PollOutcome("news", OK, hubs=hubs, self_url=self_url)


SOURCE = Source("news", "https://news.example.com/feed", interval=600)
PUBLIC = "https://agg.example.org/"


def rows(store: Store) -> list[tuple[str, str, str]]:
    return [(row.hub, row.topic, row.state) for row in table.subscriptions(store)]


def test_a_hub_is_subscribed_to_and_changes_are_followed(store):
    subscriber.discovered(store, SOURCE, outcome(("http://a.example/", "https://b.example/")), PUBLIC, NOW)
    [row] = table.subscriptions(store)
    assert (row.hub, row.state, row.next_attempt_at) == ("https://b.example/", "pending", NOW)  # https first
    assert row.callback == PUBLIC + "websub/" + row.token and len(row.token) >= 32 and len(row.secret) >= 32
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",)), PUBLIC, NOW)  # unchanged
    assert table.subscriptions(store) == [row]
    subscriber.discovered(store, SOURCE, outcome(None), PUBLIC, NOW)  # a 304: nothing was read
    assert table.subscriptions(store) == [row]

    row.requested_at = NOW  # the hub was asked: ending it means unsubscribing
    table.save_subscription(store, row)
    subscriber.discovered(store, SOURCE, outcome(("https://c.example/",)), PUBLIC, NOW)
    assert rows(store) == [
        ("https://b.example/", "https://news.example.com/feed", "unsubscribing"),
        ("https://c.example/", "https://news.example.com/feed", "pending"),
    ]
    subscriber.discovered(store, SOURCE, outcome(()), PUBLIC, NOW)  # the feed names no hub any more
    assert rows(store) == [("https://b.example/", "https://news.example.com/feed", "unsubscribing")]


def test_why_a_hub_is_not_subscribed_to(store):
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",), self_url=None), PUBLIC, NOW)
    assert "no self link" in subscriber.status(store, ["news"])["news"]["reason"]
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",)), None, NOW)
    state = subscriber.status(store, ["news"])["news"]
    assert state["state"] == "off" and "server.public_url is not set" in state["reason"]
    subscriber.discovered(
        store, Source("news", "/srv/feed.xml"), outcome(("https://x.example/",)), PUBLIC, NOW
    )
    assert rows(store) == [
        ("https://b.example/", "https://news.example.com/feed", "off")
    ]  # a local file: never


def test_sync_follows_the_config(store, tmp_path):
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",)), None, NOW)
    cfg = config_module.load(write_config(tmp_path, public_url=PUBLIC))
    subscriber.sync(store, cfg, NOW)  # a public URL now: the subscription is requested
    [row] = table.subscriptions(store)
    assert (row.state, row.callback, row.next_attempt_at) == ("pending", PUBLIC + "websub/" + row.token, NOW)
    row.requested_at = NOW
    table.save_subscription(store, row)
    subscriber.sync(store, config_module.load(write_config(tmp_path, public_url=PUBLIC, sources=False)), NOW)
    assert rows(store) == [("https://b.example/", "https://news.example.com/feed", "unsubscribing")]


def write_config(tmp_path: Path, public_url: str | None = None, sources: bool = True) -> Path:
    path = tmp_path / "aggregator.yaml"
    server = f"server: {{public_url: '{public_url}'}}\n" if public_url else ""
    listed = "sources:\n  - {id: news, url: 'https://news.example.com/feed'}\n" if sources else ""
    path.write_text(f"database: {tmp_path / 'db.sqlite'}\n{server}{listed}", encoding="utf-8")
    return path


def test_a_pushing_source_is_polled_seldom_until_the_lease_lapses(store):
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",)), PUBLIC, NOW)
    [row] = table.subscriptions(store)
    row.requested_at = NOW
    subscriber._activate(row, "3600", NOW)
    table.save_subscription(store, row)
    assert subscriber.polled_as(store, SOURCE, 6 * 3600, NOW).interval == 6 * 3600
    assert subscriber.polled_as(store, SOURCE, 60, NOW).interval == 600  # never more often than its own
    assert row.next_attempt_at == NOW + timedelta(seconds=3600 * subscriber.RENEW_AT)

    later = NOW + timedelta(hours=2)
    state = store.source_state("news")
    state.next_check_at = later + timedelta(hours=5)
    store.save_state(state)
    subscriber.end_lapsed(store, later)
    assert subscriber.polled_as(store, SOURCE, 6 * 3600, later).interval == 600
    assert store.source_state("news").next_check_at == later  # polled at once
    assert table.subscriptions(store)[0].state == "pending"


# -- callbacks -------------------------------------------------------------------------------------


def callback_client(store: Store, received: list[PollOutcome]) -> TestClient:
    # The fetcher is for full_text sources' article pages: SOURCE has none, so it is never opened.
    callbacks = subscriber.Callbacks(
        store, Fetcher(), {"news": SOURCE}.get, received.append, max_body=10_000, max_items=100
    )
    app = web.Application()
    app.router.add_routes(callbacks.routes())
    return TestClient(TestServer(app))


def asked(store: Store) -> table.Subscription:
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",)), PUBLIC, NOW)
    [row] = table.subscriptions(store)
    row.requested_at = NOW
    table.save_subscription(store, row)
    return row


def test_verification_of_intent(store):
    row = asked(store)
    topic = "https://news.example.com/feed"

    async def run() -> None:
        async with callback_client(store, []) as client:
            path = f"/websub/{row.token}"
            query = {
                "hub.mode": "subscribe",
                "hub.topic": topic,
                "hub.challenge": "c1",
                "hub.lease_seconds": "864000",
            }
            response = await client.get(path, params={**query, "hub.topic": topic + "?other"})
            assert response.status == 404
            response = await client.get(path, params=query)
            assert (response.status, await response.text()) == (200, "c1")
            [active] = table.subscriptions(store)
            assert active.state == "active" and active.lease_seconds == 864000
            response = await client.post(path, data=b"x", headers={"X-Hub-Signature": "sha1=00"})
            assert response.status == 202  # ignored, and answered like a valid one

            # The hub denies it later: recorded with its reason (less a NUL, which PostgreSQL
            # refuses), and not requested again.
            response = await client.get(
                path, params={"hub.mode": "denied", "hub.topic": topic, "hub.reason": "quo\x00ta"}
            )
            assert response.status == 200
            [denied] = table.subscriptions(store)
            assert (denied.state, denied.reason, denied.next_attempt_at) == ("denied", "quota", None)
            response = await client.get(path, params=query)
            assert response.status == 404
            response = await client.post(path, data=b"x", headers={"X-Hub-Signature": sign(row.secret, b"x")})
            assert response.status == 410

    asyncio.run(run())


def test_an_unreadable_or_huge_lease_is_taken_in_bounds(store):
    row = asked(store)

    async def run() -> None:
        async with callback_client(store, []) as client:
            query = {"hub.mode": "subscribe", "hub.topic": row.topic, "hub.challenge": "c"}
            for lease, granted in (("²", subscriber.LEASE_SECONDS), ("9" * 40, subscriber.MAX_LEASE_SECONDS)):
                response = await client.get(
                    f"/websub/{row.token}", params={**query, "hub.lease_seconds": lease}
                )
                assert (response.status, await response.text()) == (200, "c")
                [active] = table.subscriptions(store)
                assert active.lease_seconds == granted
                assert active.expires_at - active.verified_at == timedelta(seconds=granted)

    asyncio.run(run())


def test_a_hub_inside_our_network_is_asked_only_for_a_source_there_too(tmp_path, monkeypatch):
    # 127.0.0.2 plays a host on the internet; 127.0.0.1 is inside our network.
    internal = network.internal
    monkeypatch.setattr(
        network, "internal", lambda address: str(address) != "127.0.0.2" and internal(address)
    )
    asked: list[str] = []

    async def hub(request: web.Request) -> web.Response:
        asked.append((await request.post())["hub.topic"])
        return web.Response(status=202)

    async def run() -> dict[str, table.Subscription]:
        inside_app, outside_app = web.Application(), web.Application()
        inside_app.router.add_post("/", hub)
        async with TestServer(inside_app, host="127.0.0.1") as inside:

            async def moved(request: web.Request) -> web.Response:
                return web.Response(status=307, headers={"Location": str(inside.make_url("/"))})

            outside_app.router.add_post("/", moved)
            async with TestServer(outside_app, host="127.0.0.2") as outside:
                hubs = {  # source id -> (its URL, the hub its feed names)
                    "public": ("http://127.0.0.2:9/feed", str(inside.make_url("/"))),
                    "moved": ("http://127.0.0.2:9/feed", str(outside.make_url("/"))),
                    "lan": ("http://127.0.0.1:9/feed", str(inside.make_url("/"))),
                }
                with Store(tmp_path / "db.sqlite") as store:
                    store.sync_sources([Source(sid, url) for sid, (url, _) in hubs.items()])
                    for sid, (url, hub_url) in hubs.items():
                        found = PollOutcome(
                            sid, OK, hubs=(hub_url,), self_url=f"https://news.example.com/{sid}"
                        )
                        subscriber.discovered(store, Source(sid, url), found, PUBLIC, NOW)
                    async with Fetcher(timeout=5) as fetcher:
                        await subscriber.send_requests(store, fetcher)
                    return {row.source_id: row for row in table.subscriptions(store)}

    rows = asyncio.run(run())
    assert asked == ["https://news.example.com/lan"]  # a source on our network may use a hub there
    for sid in ("public", "moved"):  # a public source's feed may not, directly or by a redirect
        assert rows[sid].state == "off" and rows[sid].next_attempt_at is None
        assert "inside our network" in rows[sid].reason
    assert rows["lan"].state == "pending" and rows["lan"].requested_at is not None


def test_a_subscription_never_requested_is_not_verified(store):
    subscriber.discovered(store, SOURCE, outcome(("https://b.example/",)), PUBLIC, NOW)
    [row] = table.subscriptions(store)  # due, but not sent yet: someone else is guessing

    async def run() -> int:
        async with callback_client(store, []) as client:
            params = {"hub.mode": "subscribe", "hub.topic": row.topic, "hub.challenge": "c"}
            return (await client.get(f"/websub/{row.token}", params=params)).status

    assert asyncio.run(run()) == 404


def test_unsubscription_is_verified_then_forgotten(store):
    row = asked(store)
    subscriber.discovered(store, SOURCE, outcome(()), PUBLIC, NOW)  # the feed dropped its hub

    async def run() -> None:
        async with callback_client(store, []) as client:
            params = {"hub.mode": "unsubscribe", "hub.topic": row.topic, "hub.challenge": "bye"}
            response = await client.get(f"/websub/{row.token}", params=params)
            assert (response.status, await response.text()) == (200, "bye")

    asyncio.run(run())
    assert table.subscriptions(store) == []


def test_pushed_content_is_stored_like_a_poll(store):
    row = asked(store)
    received: list[PollOutcome] = []
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://news.example.com/</link>'
        b"<item><guid>g1</guid><title>Pushed</title><link>https://news.example.com/1</link></item></channel></rss>"
    )

    async def run() -> list[int]:
        async with callback_client(store, received) as client:
            path = f"/websub/{row.token}"
            statuses = [
                (
                    await client.post(path, data=body, headers={"X-Hub-Signature": sign(row.secret, body)})
                ).status
            ]
            statuses.append(
                (await client.post(path, data=b"x" * 10_001, headers={"X-Hub-Signature": "sha1=0"})).status
            )
            return statuses

    assert asyncio.run(run()) == [202, 413]
    [pushed] = received
    assert pushed.saved is not None and len(pushed.saved.new) == 1
    assert [story.item.title for story in store.stories()] == ["Pushed"]
    assert store.source_state("news").last_checked_at is None  # a push is not a poll


def test_a_push_does_not_overwrite_the_state_a_poll_saved_meanwhile(store, monkeypatch):
    """receive() awaits article pages (full_text); a poll that ends meanwhile saves the source's
    state, and the push must not write back the state it read before."""
    body = b'<rss version="2.0"><channel><title>t</title><item><guid>g1</guid><title>P</title></item></channel></rss>'
    polled = store.source_state("news")

    async def a_poll_ends_meanwhile(source, prepared, fetcher, store_, now):
        polled.etag, polled.error_streak, polled.next_check_at = '"e"', 0, NOW + timedelta(hours=1)
        store.save_state(polled)
        return prepared

    monkeypatch.setattr(refresh_module, "_with_full_text", a_poll_ends_meanwhile)
    source = Source("news", "https://news.example.com/feed")
    outcome = asyncio.run(refresh_module.receive(source, body, {}, store, None, now=NOW))
    assert outcome.status == OK and len(outcome.saved.new) == 1
    assert store.source_state("news") == polled


# -- pings -----------------------------------------------------------------------------------------


def test_failed_pings_are_retried_with_backoff_then_sent(store):
    # Which feeds a publish queues: tests/test_publish_incremental.py.
    table.queue_pings(store, [BASE + "ai.xml"], datetime.now(UTC))

    async def send(hub: str) -> tuple[int, int]:
        async with Fetcher(timeout=5) as fetcher:
            return await publisher.send_pings(store, fetcher, hub)

    assert asyncio.run(send("http://127.0.0.1:1/")) == (0, 1)  # nothing listens on port 1
    [ping] = store.db.execute("SELECT attempts, next_attempt_at, last_error FROM websub_pings").fetchall()
    assert ping[0] == 1 and "refused" in ping[2]
    assert not publisher.pings_due(store)  # not before its retry time
    assert publisher.pings_due(store, datetime.now(UTC) + timedelta(seconds=publisher.RETRY_FIRST + 1))

    received: list[dict[str, str]] = []

    async def hub(request: web.Request) -> web.Response:
        received.append(dict(await request.post()))
        return web.Response(status=204)

    async def accepted() -> tuple[int, int]:
        app = web.Application()
        app.router.add_post("/", hub)
        async with TestServer(app) as server:
            store.db.execute("UPDATE websub_pings SET next_attempt_at = '2000-01-01T00:00:00Z'")
            return await send(str(server.make_url("/")))

    assert asyncio.run(accepted()) == (1, 0)
    assert received == [{"hub.mode": "publish", "hub.url": BASE + "ai.xml", "hub.topic": BASE + "ai.xml"}]
    assert store.db.execute("SELECT count(*) FROM websub_pings").fetchone()[0] == 0


# -- config ----------------------------------------------------------------------------------------


def test_websub_config_keys(tmp_path):
    path = tmp_path / "aggregator.yaml"
    path.write_text(
        "output: {websub_hub: 'https://hub.example.com/'}\n"
        "server: {public_url: 'https://agg.example.org/feeds'}\n"
        "polling: {push_interval: 12h}\n",
        encoding="utf-8",
    )
    cfg = config_module.load(path)
    assert cfg.output.websub_hub == "https://hub.example.com/"
    assert cfg.server.public_url == "https://agg.example.org/feeds/"
    assert cfg.polling.push_interval == 12 * 3600
    path.write_text(
        "output:\n  websub_hub: ftp://hub.example.com/\nserver:\n  public_url: /relative\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        config_module.load(path)
    assert [(p.line, p.key) for p in error.value.problems] == [
        (2, "output.websub_hub"),
        (4, "server.public_url"),
    ]
    assert "is not an http(s) URL" in str(error.value)
