"""A loopback world of sources whose feeds change, and a kill loop over the real program.

Used by tests/test_sudden_death.py (a short loop in CI) and bench/kill_loop.py (the long one):

    world = World(tmp_path, sources=100, seed=6).start()
    reader = Reader(world.output, world.database).start()
    for n in range(rounds):
        outcome = world.kill_round(kind, rng)      # advance the feeds, start, SIGKILL at random
        ...check outcome...
    reader.stop()

Each round advances the world (new items in some sources, edited titles in others), starts
`aggregator poll`, `aggregator run` or `aggregator publish` as a subprocess and SIGKILLs it at a
random moment, unless it finished first. After each round the database must pass
`PRAGMA integrity_check` and hold every (source, entry key) that any reader ever saw committed.
Meanwhile the Reader thread reads and fully parses every published file, again and again, and
records any file that is missing its end, empty, or not valid XML/JSON/HTML, and it reads the
committed keys of the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import lxml.etree
import lxml.html
from conftest import FeedServer, Request, Response

WORDS = [
    "kernel",
    "compiler",
    "release",
    "paddle",
    "model",
    "cloud",
    "rust",
    "python",
    "summit",
    "database",
    "browser",
    "chip",
    "open",
    "source",
    "framework",
    "benchmark",
    "security",
    "patch",
    "vulnerability",
    "community",
    "foundation",
    "license",
    "agent",
    "vector",
    "search",
]
START = datetime(2024, 1, 1, tzinfo=UTC)
_XML = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class Feed:
    index: int
    items: list[tuple[int, str, str]] = field(default_factory=list)  # (number, title, text)

    def body(self) -> bytes:
        entries = "".join(
            f"<item><guid>https://s{self.index}.example/{n}</guid><title>{title}</title>"
            f"<link>https://s{self.index}.example/{n}</link><description>{text}</description>"
            f"<pubDate>{format_datetime(START + timedelta(minutes=self.index * 10_000 + n))}</pubDate></item>"
            for n, title, text in reversed(self.items)
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Source {self.index}</title>'
            f"<link>https://s{self.index}.example/</link>{entries}</channel></rss>"
        ).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Outcome:
    kind: str  # poll, run or publish
    killed: bool  # False: it finished before its kill time
    seconds: float
    returncode: int | None


class World:
    """`sources` feeds on a loopback server, a config polling them, and the program's files in `folder`."""

    def __init__(self, folder: Path, sources: int = 100, seed: int = 6) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.feeds = [Feed(i) for i in range(sources)]
        self.next_number = 0
        for feed in self.feeds:
            for _ in range(3):
                self._add(feed)
        self.server = FeedServer()
        # A killed client resets its connections: expected here, not worth a traceback each.
        self.server.httpd.handle_error = lambda request, address: None
        self.database = folder / "db.sqlite"
        self.output = folder / "public"
        self.port = free_port()
        self.config = folder / "aggregator.yaml"
        self.log = folder / "program.log"
        self._bodies: dict[int, bytes] = {}

    def start(self) -> World:
        for feed in self.feeds:
            self.server.routes[f"/s{feed.index}.xml"] = self._route(feed.index)
        self.server.thread.start()
        self.write_config(self.config, self.output)
        return self

    def stop(self) -> None:
        self.server.httpd.shutdown()
        self.server.httpd.server_close()

    def write_config(self, path: Path, output: Path) -> None:
        lines = [
            f"database: {self.database}",
            f"output: {{dir: {output}, base_url: 'http://127.0.0.1:{self.port}/', max_items: 50}}",
            f"server: {{host: 127.0.0.1, port: {self.port}}}",
            "polling: {interval: 1s, timeout: 5s, concurrency: 20, per_host: 8}",
            "sources:",
            *[
                f"  - {{id: s{feed.index}, title: 'Source {feed.index}', url: '{self.server.url(f'/s{feed.index}.xml')}'}}"
                for feed in self.feeds
            ],
            "topics:",
            "  everything: {title: Everything}",
            "  ai: {title: AI, any: [AI]}",
            "  rust: {title: Rust, any: [Rust]}",
            "",
        ]
        path.write_text("\n".join(lines), encoding="utf-8")

    def _route(self, index: int):
        def answer(request: Request) -> Response:
            body = self.feeds[index].body()
            etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
            if request.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag})
            return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})

        return answer

    def _add(self, feed: Feed) -> None:
        self.next_number += 1
        words = self.rng.sample(WORDS, 6)
        tag = self.rng.choice(["AI", "Rust", "Linux", "Go"])
        title = f"{tag} {' '.join(words[:3])} {feed.index}-{self.next_number}"
        text = " ".join(self.rng.choice(WORDS) for _ in range(30)) + f" {self.next_number}"
        feed.items.append((self.next_number, title, text))

    def advance(self) -> None:
        """New items in some sources, an edited title in a few."""
        for feed in self.rng.sample(self.feeds, max(1, len(self.feeds) // 7)):
            for _ in range(self.rng.randint(1, 2)):
                self._add(feed)
        for feed in self.rng.sample(self.feeds, max(1, len(self.feeds) // 20)):
            n, title, text = feed.items[-1]
            feed.items[-1] = (n, title + " (updated)", text)

    def expected_keys(self) -> set[tuple[str, str]]:
        return {
            (f"s{feed.index}", f"https://s{feed.index}.example/{n}")
            for feed in self.feeds
            for n, _, _ in feed.items
        }

    def command(self, kind: str, config: Path | None = None) -> list[str]:
        args = {
            "poll": ["poll", "--no-progress"],
            "run": ["run"],
            "publish": ["publish"],
            "serve": ["serve"],
        }[kind]
        return [sys.executable, "-m", "aggregator", "-c", str(config or self.config), *args]

    def startup_seconds(self) -> float:
        """How long the program takes to start (imports, config): kills before that test nothing."""
        started = time.monotonic()
        subprocess.run([*self.command("publish")[:-1], "config", "check"], capture_output=True, check=True)
        return time.monotonic() - started

    def kill_moment(self, kind: str, rng: random.Random, startup: float, poll: float) -> float:
        """A random moment in the life of `kind`: while it polls, publishes or (run) does both."""
        work = {"poll": poll - startup, "publish": (poll - startup) / 3, "run": poll}[kind]
        return startup * 0.9 + rng.uniform(0.0, max(work, 0.2))

    def run(self, kind: str, timeout: float = 120) -> subprocess.CompletedProcess:
        with open(self.log, "ab") as log:
            return subprocess.run(self.command(kind), stdout=log, stderr=log, timeout=timeout)

    def kill_round(self, kind: str, kill_after: float) -> Outcome:
        """Advance the world, start `kind`, SIGKILL it after `kill_after` seconds unless it ended."""
        self.advance()
        started = time.monotonic()
        with open(self.log, "ab") as log:
            process = subprocess.Popen(self.command(kind), stdout=log, stderr=log)
        try:
            returncode = process.wait(timeout=kill_after)
            killed = False
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            returncode = process.wait(timeout=30)
            killed = True
        return Outcome(kind, killed, time.monotonic() - started, None if killed else returncode)


def integrity(database: Path) -> str:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def stored_keys(database: Path) -> set[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return set(db.execute("SELECT source_id, key FROM item_sources").fetchall())


def check_file(name: str, data: bytes) -> str | None:
    """Why `data` is not a complete published file, or None."""
    if not data:
        return "empty"
    try:
        if name.endswith((".xml", ".atom", ".opml")):
            root = lxml.etree.fromstring(data, _XML)
            if root.tag not in ("rss", "{http://www.w3.org/2005/Atom}feed", "opml"):
                return f"root <{root.tag}>"
        elif name.endswith(".json"):
            document = json.loads(data)
            if not isinstance(document.get("items"), list):
                return "no items"
        elif name.endswith(".html"):
            text = data.decode("utf-8")
            if not text.rstrip().endswith("</html>"):
                return "no </html> at the end"
            lxml.html.document_fromstring(text)
    except (ValueError, lxml.etree.XMLSyntaxError, UnicodeDecodeError) as error:
        return f"{type(error).__name__}: {error}"
    return None


class Reader(threading.Thread):
    """Reads and parses every published file, over and over, and the keys committed to the database."""

    def __init__(self, output: Path, database: Path, seconds: float = 3600) -> None:
        super().__init__(daemon=True)
        self.output = output
        self.database = database
        self.deadline = time.monotonic() + seconds  # bounded whatever happens to the caller
        self.stopping = threading.Event()
        self.failures: list[tuple[str, str]] = []
        self.reads = 0
        self.committed: set[tuple[str, str]] = set()
        self.database_reads = 0

    def start(self) -> Reader:
        super().start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def run(self) -> None:
        passes = 0
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            passes += 1
            with contextlib.suppress(FileNotFoundError):
                for path in self.output.iterdir():
                    if path.name.startswith("."):
                        continue  # a publisher's temporary file: never served
                    try:
                        data = path.read_bytes()
                    except FileNotFoundError:
                        continue
                    self.reads += 1
                    if problem := check_file(path.name, data):
                        self.failures.append((path.name, problem))
            if passes % 5 == 0 and self.database.exists():
                with contextlib.suppress(sqlite3.Error):
                    self.committed |= stored_keys(self.database)
                    self.database_reads += 1
            time.sleep(0.002)


def leftover_temporaries(output: Path) -> list[Path]:
    return sorted(path for path in output.glob(".*.tmp"))


def age(paths: list[Path], seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))
