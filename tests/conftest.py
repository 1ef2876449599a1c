"""Shared fixtures: a real HTTP server on 127.0.0.1 serving fixture feeds, and fixture paths."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import settings
from pg import Cluster, binaries

from aggregator import network

FIXTURES = Path(__file__).parent / "fixtures"

# Longer property runs for tests/test_fuzz.py (CI runs 200 examples per property):
#   python -m pytest tests/test_fuzz.py --hypothesis-profile fuzz-long
settings.register_profile("fuzz-long", max_examples=5_000, deadline=None)
settings.register_profile("fuzz-soak", max_examples=50_000, deadline=None)


@dataclass
class Response:
    """A canned answer; a route may also be a callable taking the Request and returning one."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


Handler = Callable[[Request], Response]


class FeedServer:
    """Routes paths to canned responses or handlers, and records every request it receives.

    `host` is a loopback address (all of 127.0.0.0/8 is on the loopback interface).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                pass

            def _answer(self) -> None:
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.requests.append(request)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    response = Response(404, b"not found", {"Content-Type": "text/plain"})
                elif callable(route):
                    response = route(request)
                else:
                    response = route
                self.send_response(response.status)
                headers = {"Content-Length": str(len(response.body)), **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = _answer
            do_HEAD = _answer

        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # A short poll interval makes shutdown quick; the default 0.5 s adds up over many tests.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(
        self, path: str, body: bytes | str, content_type: str = "application/rss+xml", **headers: str
    ) -> str:
        """Serve a fixed body at `path`; returns its URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Response(200, body, {"Content-Type": content_type, **headers})
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


def serving(host: str = "127.0.0.1") -> Iterator[FeedServer]:
    server = FeedServer(host)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from serving()


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Check `condition` until it holds (returning its value) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _fresh_network_answers() -> Iterator[None]:
    """network.on_internal_network keeps answers per host for an hour; each test starts afresh
    (some make a loopback address count as public)."""
    network._answers.clear()
    yield


@pytest.fixture(scope="session")
def postgresql() -> Iterator[Cluster]:
    """A PostgreSQL server for the session (tests/pg.py). Without the server binaries the tests
    that need it are skipped on a developer machine, and fail in CI (CI=true), which installs them."""
    bin_dir = binaries()
    if bin_dir is None:
        missing = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {missing}", pytrace=False)
        pytest.skip(missing)
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgresql_url(postgresql: Cluster) -> Iterator[str]:
    """The URL of a new empty PostgreSQL database, dropped after the test."""
    url = postgresql.database()
    yield url
    postgresql.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The `database:` of a store on each engine: an SQLite file, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "test.db"
    return request.getfixturevalue("postgresql_url")
