"""WebSub end to end: the real daemon (`aggregator run`) against a loopback hub (websub_hub.py)
and a loopback feed server, as publisher (it pings its hub) and as subscriber (a hub pushes)."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_daemon
from conftest import FeedServer
from test_daemon import Daemon, served_titles, wait_for
from websub_hub import Hub, push, sign, verify

daemons = test_daemon.daemons  # the fixture that kills daemons a failed test left running

FEEDS = ("ai.atom", "ai.json", "ai.xml", "everything.atom", "everything.json", "everything.xml")


def items(*titles: str) -> str:
    return "".join(
        f"<item><guid>https://news.example.com/{t.replace(' ', '-')}</guid><title>{t}</title>"
        f"<link>https://news.example.com/{t.replace(' ', '-')}</link><description>新闻 {t}</description></item>"
        for t in titles
    )


def rss(*titles: str, hub: str | None = None, self_url: str | None = None) -> bytes:
    links = f'<atom:link rel="hub" href="{hub}"/>' if hub else ""
    links += f'<atom:link rel="self" href="{self_url}"/>' if self_url else ""
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>t</title><link>https://news.example.com/</link>{links}{items(*titles)}</channel></rss>"
    ).encode()


class WebSubDaemon(Daemon):
    """The test daemon with the WebSub keys: our hub, the public URL hubs call back, push_interval."""

    def __init__(
        self, tmp_path: Path, sources: dict[str, str], *, hub: str | None = None, public: bool = False
    ):
        self.hub = hub
        self.public = public
        super().__init__(tmp_path, sources)

    def write_config(self, sources: dict[str, str]) -> None:
        hub = f", websub_hub: '{self.hub}'" if self.hub else ""
        public = f", public_url: 'http://127.0.0.1:{self.port}/'" if self.public else ""
        lines = [
            f"database: {self.database}",
            f"output: {{dir: {self.tmp_path / 'public'}, base_url: 'http://127.0.0.1:{self.port}/'{hub}}}",
            f"server: {{host: 127.0.0.1, port: {self.port}{public}}}",
            "polling: {interval: 2s, timeout: 5s, push_interval: 1h, max_body: 64KB}",
            "sources:",
            *[f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources.items()],
            "topics:",
            "  ai: {title: AI, any: [AI]}",
            "  everything: {title: Everything}",
        ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.database, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def next_check(self, source_id: str) -> datetime:
        [(value,)] = self.query("SELECT next_check_at FROM sources WHERE id = ?", source_id)
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Hub]:
    started = Hub()
    yield started
    started.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


# -- publisher ---------------------------------------------------------------------------------------


def test_the_hub_is_pinged_after_a_topic_changes_and_only_then(
    tmp_path, feed_server: FeedServer, hub: Hub, daemons
):
    feed_server.serve("/feed", rss("AI one"))
    daemon = WebSubDaemon(tmp_path, {"news": feed_server.url("/feed")}, hub=hub.url).start()
    daemons.append(daemon)
    urls = {daemon.url(f"/{name}") for name in FEEDS}

    # Each feed is pinged once its file holds the first item (the hub fetched it on receipt, as
    # real hubs do, so the ping came after the file changed).
    wait_for(lambda: {url for url, body in hub.pinged() if "AI one" in body} == urls, what="pings")
    for ping in hub.posts("publish"):
        assert ping["hub.url"] == ping["hub.topic"] and ping["hub.url"] in urls

    # Every feed names the hub and itself.
    assert f'<atom:link rel="hub" href="{hub.url}"/>' in daemon.get("/ai.xml")[2].decode()
    assert f'<link href="{hub.url}" rel="hub"/>' in daemon.get("/ai.atom")[2].decode()
    assert json.loads(daemon.get("/ai.json")[2])["hubs"] == [{"type": "WebSub", "url": hub.url}]

    # Polls that change nothing publish nothing, so the hub hears nothing.
    pings = len(hub.pinged())
    polls = len(feed_server.requests_to("/feed"))
    wait_for(lambda: len(feed_server.requests_to("/feed")) >= polls + 2, what="two unchanged polls")
    assert len(hub.pinged()) == pings

    # A new item changes both topics: their six feeds are pinged, once the new files are in place.
    feed_server.serve("/feed", rss("AI two", "AI one"))
    wait_for(lambda: len(hub.pinged()) >= pings + len(FEEDS), what="pings after the change")
    later = hub.pinged()[pings:]
    assert {url for url, _ in later} == urls
    assert all("AI two" in body for _, body in later)
    assert daemon.stop() == 0
    # And never a ping without a change: each one found its feed different from the last.
    for url in urls:
        bodies = [body for pinged, body in hub.pinged() if pinged == url]
        assert all(a != b for a, b in itertools.pairwise(bodies)), url


def test_an_unreachable_hub_does_not_break_publishing(tmp_path, feed_server: FeedServer, daemons):
    dead_hub = f"http://127.0.0.1:{closed_port()}/"
    feed_server.serve("/feed", rss("AI one"))
    daemon = WebSubDaemon(tmp_path, {"news": feed_server.url("/feed")}, hub=dead_hub).start()
    daemons.append(daemon)
    wait_for(lambda: served_titles(daemon, "ai") == ["AI one"], what="the feed published")
    wait_for(lambda: "could not tell hub" in daemon.log.read_text(), what="the failed ping logged")
    # Owed, with a retry time: each feed's ping is tried again later.
    feeds = {daemon.url(f"/{name}") for name in FEEDS}
    rows = wait_for(
        lambda: (
            (r := daemon.query("SELECT url, next_attempt_at FROM websub_pings WHERE attempts > 0"))
            and {url for url, _ in r} == feeds
            and r
        ),
        what="every ping owed",
    )
    assert all(datetime.fromisoformat(at.replace("Z", "+00:00")) > datetime.now(UTC) for _, at in rows)
    feed_server.serve("/feed", rss("AI two", "AI one"))
    wait_for(lambda: served_titles(daemon, "ai") == ["AI two", "AI one"], what="later changes published")
    assert daemon.healthy()
    assert daemon.stop() == 0

    # A one-shot poll publishes the change, says the hub was not told, and succeeds.
    feed_server.serve("/feed", rss("AI three", "AI two", "AI one"))
    run = subprocess.run(
        [sys.executable, "-m", "aggregator", "-c", str(daemon.config), "poll"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "published 2 topics" in run.stdout and "could not tell WebSub hub" in run.stdout


# -- subscriber --------------------------------------------------------------------------------------


def test_a_hub_verifies_and_pushes_to_the_daemon(tmp_path, feed_server: FeedServer, hub: Hub, daemons):
    topic = feed_server.url("/feed")
    feed_server.serve("/feed", rss("AI one", hub=hub.url, self_url=topic))
    feed_server.serve("/other", rss("other"))
    daemon = WebSubDaemon(tmp_path, {"news": topic, "other": feed_server.url("/other")}, public=True).start()
    daemons.append(daemon)

    # The first poll finds the hub; the daemon subscribes with a callback of its own server.
    wait_for(lambda: hub.posts("subscribe"), what="a subscription request")
    [request] = hub.posts("subscribe")
    callback, secret = request["hub.callback"], request["hub.secret"]
    assert callback.startswith(daemon.url("/websub/")) and len(callback) > len(daemon.url("/websub/")) + 20
    assert request["hub.topic"] == topic and int(request["hub.lease_seconds"]) > 0 and len(secret) >= 32
    [verification] = wait_for(lambda: hub.verified("subscribe"), what="verification of intent")
    assert verification.status == 200 and verification.body == verification.params["hub.challenge"]

    # Verifications that match no request of ours are refused with 404.
    assert (
        verify(
            callback, mode="subscribe", topic="http://127.0.0.1:1/other", challenge="x", lease_seconds="60"
        )[0]
        == 404
    )
    assert verify(callback, mode="unsubscribe", topic=topic, challenge="x")[0] == 404
    assert verify(callback, mode="subscribe", topic=topic)[0] == 404  # no challenge
    assert verify(daemon.url("/websub/not-a-token"), mode="subscribe", topic=topic, challenge="x")[0] == 404

    # While the hub pushes, the source is polled once per push_interval (an hour) only.
    wait_for(
        lambda: daemon.next_check("news") > datetime.now(UTC) + timedelta(minutes=30), what="a slow poll"
    )
    polls = len(feed_server.requests_to("/feed"))

    forged = rss("AI forged", "AI one", hub=hub.url, self_url=topic)
    assert push(callback, forged, sign("not the secret", forged)) == 202  # ignored, as 7.1.2 allows
    assert push(callback, forged, None) == 202
    assert push(callback, forged, sign(secret, forged) + "00") == 202
    assert push(callback, b"<rss>" + b"x" * 70_000, sign(secret, b"")) == 413  # past polling.max_body
    pushed = rss("AI pushed", "AI one", hub=hub.url, self_url=topic)
    for method in ("sha1", "sha512"):
        assert push(callback, pushed, sign(secret, pushed, method)) == 202
    wait_for(lambda: served_titles(daemon, "ai") == ["AI pushed", "AI one"], what="pushed item published")
    assert "AI forged" not in served_titles(daemon, "everything")
    assert len(feed_server.requests_to("/feed")) == polls  # it came by push, not by a poll
    assert daemon.log.read_text().count("ignored content pushed") == 3

    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "aggregator", "-c", str(daemon.config), "sources", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    push_state = {row["id"]: row["push"] for row in rows}
    assert push_state["news"]["state"] == "active" and push_state["news"]["topic"] == topic
    assert push_state["other"] is None

    # A source removed from the config is unsubscribed; the hub then finds the callback gone.
    daemon.write_config({"other": feed_server.url("/other")})
    daemon.process.send_signal(signal.SIGHUP)
    [unsubscribed] = wait_for(lambda: hub.verified("unsubscribe"), what="unsubscription verified")
    assert unsubscribed.status == 200 and unsubscribed.body == unsubscribed.params["hub.challenge"]
    assert hub.posts("unsubscribe")[0]["hub.callback"] == callback
    assert push(callback, pushed, sign(secret, pushed)) == 410
    assert daemon.stop() == 0


def test_the_lease_is_renewed_and_polling_resumes_when_it_lapses(tmp_path, feed_server: FeedServer, daemons):
    hub = Hub(lease_seconds=10)  # renewed at 85%: after 8.5 seconds
    try:
        topic = feed_server.url("/feed")
        feed_server.serve("/feed", rss("AI one", hub=hub.url, self_url=topic))
        daemon = WebSubDaemon(tmp_path, {"news": topic}, public=True).start()
        daemons.append(daemon)

        # Renewal: the same callback and topic asked again before the lease ends, and verified.
        wait_for(lambda: len(hub.verified("subscribe")) >= 2, timeout=30, what="a renewal verified")
        first, second = hub.posts("subscribe")[:2]
        assert (first["hub.callback"], first["hub.topic"]) == (second["hub.callback"], second["hub.topic"])
        assert all(v.status == 200 for v in hub.verified("subscribe"))
        assert "lease at" not in daemon.log.read_text()  # renewed in time: it never lapsed

        # The hub stops verifying renewals: when the lease ends, the source is polled again.
        wait_for(
            lambda: daemon.next_check("news") > datetime.now(UTC) + timedelta(minutes=30), what="a slow poll"
        )
        hub.verifies = False
        polls = len(feed_server.requests_to("/feed"))
        wait_for(lambda: len(feed_server.requests_to("/feed")) > polls, what="polling resumed")
        assert "lease at" in daemon.log.read_text()
        assert daemon.stop() == 0
    finally:
        hub.close()


def test_without_a_public_url_nothing_is_subscribed_and_sources_says_why(
    tmp_path, feed_server: FeedServer, hub: Hub
):
    topic = feed_server.url("/feed")
    feed_server.serve("/feed", rss("AI one", hub=hub.url, self_url=topic))
    daemon = WebSubDaemon(tmp_path, {"news": topic})
    command = [sys.executable, "-m", "aggregator", "-c", str(daemon.config)]
    subprocess.run([*command, "poll"], capture_output=True, text=True, timeout=60, check=True)
    run = subprocess.run([*command, "sources"], capture_output=True, text=True, timeout=60, check=True)
    assert "push off" in run.stdout and "server.public_url is not set" in run.stdout
    assert hub.posts("subscribe") == []
