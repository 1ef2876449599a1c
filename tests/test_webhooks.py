"""Webhooks per topic: a loopback receiver checks signatures and counts deliveries; the CLI and
the real daemon (killed outright mid-delivery) deliver each new story once, and the backlog never."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import signal
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_daemon import Daemon, daemons, wait_for  # noqa: F401 - the daemons fixture

from aggregator import config, webhooks
from aggregator.cli import main
from aggregator.errors import ConfigError
from aggregator.store import Store

ROOT = Path(__file__).parent.parent
SECRET = "s3cret-shared-with-the-receiver"


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST and answers as told."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []  # (path, headers, body)
        self.answers: list[int] = []  # statuses for the next POSTs, in order; then 200
        self.open = threading.Event()  # cleared: requests hang (a receiver that never answers)
        self.open.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.posts.append((self.path, dict(self.headers.items()), body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.open.wait(20)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def deliveries(self, path: str | None = None) -> list[dict]:
        """The bodies POSTed (to `path`), each checked against its signature and headers."""
        with self.lock:
            posts = [(h, b) for p, h, b in self.posts if path is None or p == path]
        found = []
        for headers, body in posts:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Aggregator-Signature"], expected)
            delivery = json.loads(body)
            assert headers["X-Aggregator-Delivery"] == delivery["delivery_id"]
            assert headers["X-Aggregator-Timestamp"] == str(delivery["timestamp"])
            assert headers["X-Aggregator-Topic"] == delivery["topic"]["id"]
            assert headers["Content-Type"] == "application/json"
            found.append(delivery)
        return found

    def titles(self, path: str | None = None) -> list[str]:
        return [delivery["story"]["title"] for delivery in self.deliveries(path)]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.open.set()
    receiver.httpd.shutdown()
    receiver.httpd.server_close()


def rss(*titles: str) -> str:
    links = [f"https://news.example.com/{title.replace(' ', '-')}" for title in titles]
    items = "".join(
        f"<item><guid>{link}</guid><title>{title}</title><link>{link}</link>"
        f"<description>{title} 正文</description></item>"
        for title, link in zip(titles, links, strict=True)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def write_config(tmp_path: Path, sources: dict[str, str], hooks: dict[str, str]) -> Path:
    """Topics ai (AI stories) and everything, each with a webhook when `hooks` names its URL."""
    lines = [
        f"database: {tmp_path / 'test.db'}",
        f"output: {{dir: {tmp_path / 'public'}, base_url: 'http://127.0.0.1:8080/'}}",
        "sources:",
        *[f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources.items()],
        "topics:",
    ]
    for topic, rules in (("ai", "any: [AI]"), ("everything", "")):
        lines += [f"  {topic}:", f"    title: {topic.upper()}", f"    {rules}"]
        if topic in hooks:
            lines += ["    webhook:", f"      url: '{hooks[topic]}'", f"      secret: '{SECRET}'"]
    path = tmp_path / "aggregator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(path: Path, command: str = "poll") -> int:
    return main(["-c", str(path), command, *(["--no-progress"] if command == "poll" else [])])


def test_each_new_story_is_posted_once_signed_and_the_backlog_never(tmp_path, feed_server, receiver, capsys):
    feed = feed_server.serve("/feed", rss("AI one", "Cooking"))
    hooks = {"ai": receiver.url("/ai"), "everything": receiver.url("/all")}
    path = write_config(tmp_path, {"news": feed}, hooks)
    assert run(path) == 0  # a fresh database: its first poll is the backlog
    assert receiver.posts == []

    feed_server.serve("/feed", rss("AI one", "Cooking", "AI two", "Gardening"))
    assert run(path) == 0
    assert "webhooks: 3 delivered, 0 to retry, 0 given up" in capsys.readouterr().out
    assert receiver.titles("/ai") == ["AI two"]
    assert sorted(receiver.titles("/all")) == ["AI two", "Gardening"]
    (delivery,) = receiver.deliveries("/ai")
    assert delivery["topic"] == {"id": "ai", "title": "AI", "feed_url": "http://127.0.0.1:8080/ai.json"}
    story = delivery["story"]  # as the topic's JSON Feed lists it
    published = json.loads((tmp_path / "public" / "ai.json").read_text(encoding="utf-8"))["items"]
    assert story == next(item for item in published if item["id"] == story["id"])
    assert story["_aggregator"]["sources"][0]["id"] == "news"

    for command in ("poll", "publish"):  # nothing new: nothing sent again
        assert run(path, command) == 0
    assert len(receiver.posts) == 3


def test_a_new_webhook_and_a_new_source_start_without_their_backlog(tmp_path, feed_server, receiver):
    feed = feed_server.serve("/feed", rss("AI one", "AI two"))
    assert run(write_config(tmp_path, {"news": feed}, {})) == 0
    assert run(write_config(tmp_path, {"news": feed}, {"ai": receiver.url("/ai")})) == 0
    assert receiver.posts == []  # configured on a database with stories: they are not news

    other = feed_server.serve("/other", rss("AI from elsewhere", "AI more"))
    feed_server.serve("/feed", rss("AI one", "AI two", "AI three"))
    path = write_config(tmp_path, {"news": feed, "other": other}, {"ai": receiver.url("/ai")})
    assert run(path) == 0
    assert receiver.titles() == ["AI three"]  # not the backlog of the source just added

    path = write_config(tmp_path, {"news": feed, "other": other}, {"ai": receiver.url("/elsewhere")})
    assert run(path) == 0  # another receiver starts from now, too
    feed_server.serve("/feed", rss("AI one", "AI two", "AI three", "AI four"))
    assert run(path) == 0
    assert receiver.titles("/elsewhere") == ["AI four"] and receiver.titles("/ai") == ["AI three"]


def test_a_failing_receiver_gets_the_retry_and_the_others_wait(
    tmp_path, feed_server, receiver, monkeypatch, capsys
):
    # The retry waits RETRY_FIRST (test_retries_back_off_until_they_give_up); here the next run.
    monkeypatch.setattr(webhooks, "RETRY_FIRST", timedelta(0))
    feed = feed_server.serve("/feed", rss("AI one"))
    path = write_config(tmp_path, {"news": feed}, {"ai": receiver.url("/ai")})
    assert run(path) == 0
    receiver.answers = [500]
    feed_server.serve("/feed", rss("AI one", "AI two", "AI three"))
    assert run(path) == 0
    assert "webhooks: 0 delivered, 1 to retry, 0 given up" in capsys.readouterr().out
    assert len(receiver.posts) == 1  # the other delivery waits behind the failed one
    database = sqlite3.connect(tmp_path / "test.db")
    query = "SELECT status, attempts FROM webhook_deliveries ORDER BY rowid"
    assert database.execute(query).fetchall() == [("pending", 1), ("pending", 0)]

    assert run(path, "publish") == 0
    assert "webhooks: 2 delivered" in capsys.readouterr().out
    failed, retried, other = receiver.deliveries()
    assert failed["delivery_id"] == retried["delivery_id"] != other["delivery_id"]  # the same delivery
    assert retried["timestamp"] >= failed["timestamp"]  # each attempt signed with its own timestamp
    assert sorted([retried["story"]["title"], other["story"]["title"]]) == ["AI three", "AI two"]
    assert database.execute(query).fetchall() == [("delivered", 2), ("delivered", 1)]


def test_retries_back_off_until_they_give_up(tmp_path, feed_server, receiver):
    feed = feed_server.serve("/feed", rss("AI one"))
    refused = receiver.url("/ai").replace(str(receiver.httpd.server_address[1]), "9")  # discard port: refused
    path = write_config(tmp_path, {"news": feed}, {"ai": refused})
    assert run(path) == 0
    feed_server.serve("/feed", rss("AI one", "AI two"))
    assert run(path) == 0
    topics = config.load(path).topics
    start = datetime.now(UTC).replace(microsecond=0)

    async def attempt(store: Store, at: datetime) -> webhooks.DeliveryReport:
        async with webhooks.session() as client:
            return await webhooks.deliver_due(store, topics, client, at)

    with Store(tmp_path / "test.db") as store:
        dues = []
        for _ in range(webhooks.MAX_ATTEMPTS - 1):  # the poll made the first attempt
            (due,) = store.db.execute("SELECT next_attempt_at FROM webhook_deliveries").fetchone()
            dues.append(datetime.strptime(due, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
            assert not asyncio.run(attempt(store, dues[-1] - timedelta(seconds=1)))  # not due yet
            report = asyncio.run(attempt(store, dues[-1]))
        assert report.failed == 1
        status, attempts, error = store.db.execute(
            "SELECT status, attempts, last_error FROM webhook_deliveries"
        ).fetchone()
    assert (status, attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert "ClientConnectorError" in error
    assert round((dues[0] - start).total_seconds()) in (29, 30, 31)  # RETRY_FIRST after the poll's try
    waits = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(dues)]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_killed_daemon_loses_no_pending_delivery(tmp_path, feed_server, receiver, daemons):  # noqa: F811
    class HookedDaemon(Daemon):
        def write_config(self, sources: dict[str, str]) -> None:
            super().write_config(sources)
            text = self.config.read_text(encoding="utf-8").replace(
                "  ai: {title: AI, any: [AI]}",
                f"  ai: {{title: AI, any: [AI], webhook: {{url: '{receiver.url('/ai')}', secret: '{SECRET}'}}}}",
            )
            self.config.write_text(text, encoding="utf-8")

    feed_server.serve("/feed", rss("AI one"))
    daemon = HookedDaemon(tmp_path, {"news": feed_server.url("/feed")}).start()
    daemons.append(daemon)
    database = sqlite3.connect(daemon.database)
    announced = "SELECT count(*) FROM webhook_announced"
    wait_for(lambda: database.execute(announced).fetchone()[0] == 1, what="the backlog passed over")

    receiver.open.clear()  # the receiver takes the POST and never answers
    feed_server.serve("/feed", rss("AI one", "AI two"))
    wait_for(lambda: receiver.posts, what="a delivery in flight")
    daemon.stop(signal.SIGKILL)
    receiver.open.set()

    daemon.start()
    wait_for(lambda: len(receiver.posts) == 2, what="the delivery sent again after restart")
    first, again = receiver.deliveries()
    assert first["delivery_id"] == again["delivery_id"] and again["story"]["title"] == "AI two"
    wait_for(
        lambda: database.execute("SELECT status FROM webhook_deliveries").fetchall() == [("delivered",)],
        what="the delivery recorded",
    )
    assert daemon.stop() == 0
    assert len(receiver.posts) == 2


def test_the_readme_verification_snippet_accepts_ours_and_refuses_forgeries(tmp_path, feed_server, receiver):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = next(block for block in readme.split("```python\n") if "def verify" in block).split("```")[0]
    namespace: dict = {}
    exec(snippet, namespace)
    feed = feed_server.serve("/feed", rss("AI one"))
    path = write_config(tmp_path, {"news": feed}, {"ai": receiver.url("/ai")})
    assert run(path) == 0
    feed_server.serve("/feed", rss("AI one", "AI two"))
    assert run(path) == 0
    ((_, headers, body),) = receiver.posts

    delivery = namespace["verify"](SECRET, body, headers)
    assert delivery["story"]["title"] == "AI two" and not delivery["repeat"]
    assert namespace["verify"](SECRET, body, headers)["repeat"]
    assert namespace["verify"]("another secret, 16+ chars", body, headers) is None
    assert namespace["verify"](SECRET, body.replace(b"AI two", b"AI 2wo"), headers) is None


@pytest.mark.parametrize(
    ("webhook", "key", "words"),
    [
        ("{url: 'ftp://x/', secret: '0123456789abcdefgh'}", "topics.ai.webhook.url", "not an http(s) URL"),
        ("{url: 'http://x/', secret: short}", "topics.ai.webhook.secret", "at least 16 characters"),
        ("{url: 'http://x/', secret: 12345678901234567}", "topics.ai.webhook.secret", "in quotes"),
        ("{url: 'http://x/'}", "topics.ai.webhook", "missing required key 'secret'"),
        (
            "{url: 'http://x/', secret: '0123456789abcdefgh', retries: 3}",
            "topics.ai.webhook.retries",
            "unknown",
        ),
        ("'http://x/'", "topics.ai.webhook", "expected a mapping"),
    ],
)
def test_webhook_config_errors_are_located(tmp_path, webhook, key, words):
    path = tmp_path / "aggregator.yaml"
    path.write_text(f"topics:\n  ai:\n    any: [AI]\n    webhook: {webhook}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert f"{path}:4: {key}: " in str(caught.value) and words in str(caught.value)


def test_what_is_announced_is_what_the_publish_listed(tmp_path):
    """Polls that end after a publish, before the Courier announces it, are not announced with
    it (no published feed lists them yet), and a source first seen after it keeps its backlog
    unannounced."""
    from aggregator.models import Item, Source, Topic, Webhook
    from aggregator.publish import PublishSettings
    from aggregator.publish.selection import publish
    from aggregator.topics import compile_topics

    topics = [Topic("ai", "AI", any=("AI",), webhook=Webhook("http://127.0.0.1:1/hook", SECRET))]
    compiled = compile_topics(topics)
    settings = PublishSettings(tmp_path / "public", "http://127.0.0.1:8080/")
    now = datetime.now(UTC)

    def poll(store: Store, source_id: str, title: str) -> list[str]:
        link = f"https://news.example.com/{title.replace(' ', '-')}"
        item = Item(source_id, link, link, link.removeprefix("https://"), title, None, now, None,
                    f"<p>{title}</p>", title, (), None, title)  # fmt: skip
        return store.save_poll(store.source_state(source_id), [item], now).changed

    def announced(store: Store) -> list[str]:
        return [row[0] for row in store.db.execute("SELECT i.title FROM webhook_deliveries d "
                "JOIN stories s ON s.id = d.story_id JOIN items i ON i.id = s.item_id ORDER BY i.title")]  # fmt: skip

    with Store(tmp_path / "test.db") as store:
        store.sync_sources([Source("a", "https://a.example/rss")])
        poll(store, "a", "AI one")  # a's backlog
        report = publish(store, compiled, settings)
        assert (
            webhooks.announce(store, topics, settings, now, webhooks.listed(store, topics, report.chosen))
            == 0
        )

        report = publish(store, compiled, settings, poll(store, "a", "AI two"))
        listed = webhooks.listed(store, topics, report.chosen)  # as the daemon hands it to the Courier
        poll(store, "a", "AI three")  # polls end before the Courier wakes
        store.sync_sources([Source("a", "https://a.example/rss"), Source("b", "https://b.example/rss")])
        poll(store, "b", "AI four")  # b's backlog
        assert webhooks.announce(store, topics, settings, now, listed) == 1
        assert announced(store) == ["AI two"]

        report = publish(store, compiled, settings)
        assert (
            webhooks.announce(store, topics, settings, now, webhooks.listed(store, topics, report.chosen))
            == 1
        )
        assert announced(store) == ["AI three", "AI two"]
