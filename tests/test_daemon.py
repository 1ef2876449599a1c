"""The real daemon as a subprocess, against a loopback HTTP server whose feeds change during the test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest
from conftest import FeedServer, Response, wait_for

INTERVAL = "2s"


def rss(*titles: str, ttl: int | None = None) -> bytes:
    items = "".join(
        f"<item><guid>https://news.example.com/{t.replace(' ', '-')}</guid><title>{t}</title>"
        f"<link>https://news.example.com/{t.replace(' ', '-')}</link><description>AI 新闻 {t}</description></item>"
        for t in titles
    )
    ttl_element = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://news.example.com/</link>'
        f"{ttl_element}{items}</channel></rss>"
    ).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """`aggregator run` in a subprocess, with its config in tmp_path."""

    def __init__(self, tmp_path: Path, sources: dict[str, str], database: Path | None = None):
        tmp_path.mkdir(exist_ok=True)
        self.tmp_path = tmp_path
        self.database = database or tmp_path / "db.sqlite"
        self.port = free_port()
        self.config = tmp_path / "aggregator.yaml"
        self.write_config(sources)
        self.process: subprocess.Popen | None = None
        self.log = tmp_path / "daemon.log"

    def write_config(self, sources: dict[str, str]) -> None:
        lines = [
            f"database: {self.database}",
            f"output: {{dir: {self.tmp_path / 'public'}, base_url: 'http://127.0.0.1:{self.port}/'}}",
            f"server: {{host: 127.0.0.1, port: {self.port}}}",
            f"polling: {{interval: {INTERVAL}, timeout: 5s}}",
            "sources:",
            *[f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources.items()],
            "topics:",
            "  ai: {title: AI, any: [AI]}",
            "  everything: {title: Everything}",
        ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> Daemon:
        self.process = self.spawn()
        wait_for(self.healthy, what="daemon /healthz")
        return self

    def spawn(self) -> subprocess.Popen:
        log = open(self.log, "ab")  # noqa: SIM115 - the child owns it
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", "-c", str(self.config), "run", "--log-format", "json"],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def healthy(self) -> bool:
        assert self.process is None or self.process.poll() is None, self.log.read_text()
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def get(self, path: str, **headers: str) -> tuple[int, Message, bytes]:
        """(status, headers (case-insensitive), body)"""
        request = urllib.request.Request(self.url(path), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=10)
        self.process = None
        return code

    def sources(self) -> dict[str, dict]:
        run = subprocess.run(
            [sys.executable, "-m", "aggregator", "-c", str(self.config), "sources", "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return {row["id"]: row for row in json.loads(run.stdout)}


@pytest.fixture
def daemons():
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def served_titles(daemon: Daemon, topic: str) -> list[str]:
    status, _, body = daemon.get(f"/{topic}.json")
    return [item["title"] for item in json.loads(body)["items"]] if status == 200 else []


def test_new_items_reach_the_served_feed_and_requests_are_conditional(
    tmp_path, feed_server: FeedServer, daemons
):
    state = {"body": rss("AI one"), "etag": '"v1"'}

    def feed(request):
        if request.headers.get("if-none-match") == state["etag"]:
            return Response(304, b"", {"ETag": state["etag"]})
        return Response(200, state["body"], {"ETag": state["etag"], "Content-Type": "application/rss+xml"})

    feed_server.routes["/feed"] = feed
    daemon = Daemon(tmp_path, {"news": feed_server.url("/feed")}).start()
    daemons.append(daemon)

    wait_for(lambda: served_titles(daemon, "ai") == ["AI one"], what="first item served")
    # Unchanged source: the next polls are conditional and answered 304.
    wait_for(lambda: len(feed_server.requests_to("/feed")) >= 2, what="second poll")
    assert feed_server.requests_to("/feed")[1].headers.get("if-none-match") == '"v1"'

    # Readers get 304 from us, too.
    status, headers, _ = daemon.get("/ai.json")
    assert status == 200 and headers["Content-Type"].startswith("application/feed+json")
    status, _, body = daemon.get("/ai.json", **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""

    state.update(body=rss("AI two", "AI one"), etag='"v2"')
    wait_for(lambda: served_titles(daemon, "ai") == ["AI two", "AI one"], what="changed feed served")
    assert daemon.stop() == 0


def test_retry_after_gone_and_moved_are_honoured(tmp_path, feed_server: FeedServer, daemons):
    feed_server.routes["/busy"] = Response(429, b"", {"Retry-After": "3600"})
    feed_server.routes["/gone"] = Response(410, b"")
    feed_server.routes["/old"] = Response(301, b"", {"Location": "/new"})
    feed_server.serve("/new", rss("AI moved"))
    feed_server.serve("/steady", rss("steady"))
    sources = {name: feed_server.url(f"/{name}") for name in ("busy", "gone", "old", "steady")}
    daemon = Daemon(tmp_path, sources).start()
    daemons.append(daemon)

    # Over several intervals of the steady source...
    wait_for(lambda: len(feed_server.requests_to("/steady")) >= 3, what="three polls of the steady source")
    assert len(feed_server.requests_to("/busy")) == 1  # Retry-After: an hour
    assert len(feed_server.requests_to("/gone")) == 1  # 410: never again
    assert len(feed_server.requests_to("/old")) == 1  # 301: the new URL from then on
    assert len(feed_server.requests_to("/new")) >= 2
    assert daemon.stop() == 0

    rows = daemon.sources()
    assert rows["gone"]["gone"] is True and rows["gone"]["next_check_at"] is None
    assert rows["old"]["url"] == feed_server.url("/new")
    assert rows["busy"]["error_streak"] == 1 and rows["busy"]["last_status"] == 429


def test_restart_resumes_the_schedule_and_a_second_daemon_is_refused(
    tmp_path, feed_server: FeedServer, daemons
):
    feed_server.serve("/slow", rss("AI slow", ttl=60))  # asks for an hour between polls
    feed_server.serve("/steady", rss("steady"))
    sources = {"slow": feed_server.url("/slow"), "steady": feed_server.url("/steady")}
    daemon = Daemon(tmp_path, sources).start()
    daemons.append(daemon)
    wait_for(lambda: len(served_titles(daemon, "everything")) == 2, what="first polls published")

    second = Daemon(tmp_path / "second", sources, database=daemon.database)
    refused = second.spawn()
    assert refused.wait(timeout=30) != 0
    assert "already running" in second.log.read_text()

    assert daemon.stop(signal.SIGINT) == 0
    steady_before = len(feed_server.requests_to("/steady"))
    daemon.start()
    # Once the steady source has been polled again, the restarted scheduler has looked at both.
    wait_for(lambda: len(feed_server.requests_to("/steady")) > steady_before, what="a poll after restart")
    assert len(feed_server.requests_to("/slow")) == 1  # not due for an hour, restart or not
    assert daemon.stop() == 0


def test_sighup_reloads_sources_and_topics(tmp_path, feed_server: FeedServer, daemons):
    first = feed_server.serve("/first", rss("AI first"))
    daemon = Daemon(tmp_path, {"first": first}).start()
    daemons.append(daemon)
    wait_for(lambda: served_titles(daemon, "everything") == ["AI first"], what="first source")

    second = feed_server.serve("/second", rss("AI second"))
    daemon.write_config({"second": second})
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: feed_server.requests_to("/second"), what="the added source polled")
    count = len(feed_server.requests_to("/first"))
    wait_for(lambda: len(feed_server.requests_to("/second")) >= 3, what="more polls of the new source")
    assert len(feed_server.requests_to("/first")) == count  # the removed source is no longer polled

    # A broken config is refused and the daemon goes on with the old one.
    daemon.config.write_text("sources: [oops\n", encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.log.read_text(), what="reload refused")
    assert daemon.healthy()
    assert daemon.stop() == 0


def test_metrics_and_health(tmp_path, feed_server: FeedServer, daemons):
    daemon = Daemon(tmp_path, {"news": feed_server.serve("/feed", rss("AI one"))}).start()
    daemons.append(daemon)
    wait_for(lambda: b'outcome="ok"' in daemon.get("/metrics")[2], what="a poll counted")
    # The counts behind /healthz are refreshed every few seconds by the tick.
    health = wait_for(lambda: (h := json.loads(daemon.get("/healthz")[2]))["items"] == 1 and h, what="counts")
    assert health["ok"] and health["sources"] == {"total": 1, "failing": 0, "dead": 0, "gone": 0}
    assert health["last_poll_at"]
    assert daemon.stop() == 0
    lines = [json.loads(line) for line in daemon.log.read_text().splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("polled 1 sources") for line in lines)
