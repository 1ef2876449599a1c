"""Hostile servers: every poll ends within its deadline with its reason recorded on the source's row,
and polling fifty of them at once keeps the process's memory bounded.

Each case is one misbehaving route of tests/hostile_server.py on 127.0.0.1 (HTTPS for the TLS
case), polled through refresh() into a real SQLite file; the row is then read back from the
store. The memory test runs the real `aggregator poll` as a subprocess over fifty such sources
and reads its peak RSS from the kernel (wait4).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile_server import (
    FEED,
    HostileServer,
    Route,
    canned,
    drip,
    endless,
    garbage,
    gzip_bomb,
    huge_headers,
    redirect,
    self_signed_context,
    stall_headers,
    truncated,
)

from aggregator.errors import FetchError
from aggregator.fetch import SMALL_BODY, Fetcher, _Decoder
from aggregator.models import Source
from aggregator.refresh import FAILED, OK, refresh
from aggregator.store import Store

TIMEOUT = 2.0  # the poll deadline in these tests (production: polling.timeout, 30 s)
SLACK = 3.0  # what a poll may take past its deadline: parsing and saving after the fetch, on a busy machine
MAX_BODY = 10 * 1024 * 1024  # the default polling.max_body
FIVE_MB_LINE = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>one line</title>'
    b"<item><guid>long</guid><title>Long</title><description>"
    + b"word " * (1024 * 1024)
    + b"</description></item></channel></rss>"
)
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Home</title>"
    b'<link rel="alternate" type="application/rss+xml" href="/real-feed.xml"></head>'
    b"<body><h1>Welcome</h1><p>No feed here.</p></body></html>"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)


@dataclass
class Case:
    """One hostile route, and what the source's row must say after one poll of it."""

    name: str
    route: Route
    status: str = FAILED  # the poll outcome
    error: str | None = None  # a regex the recorded last_error must match (None: no error)
    http_status: int | None = None  # the recorded last_status
    path: str = ""  # the route's path, /name when empty


def cases(server_url) -> list[Case]:
    return [
        Case("drip", drip(FEED, interval=1.0), error=r"^fetch: no complete answer from .* within 2s"),
        Case("stall-headers", stall_headers(), error=r"^fetch: no complete answer"),
        Case("endless-fast", endless(), error=rf"^fetch: body of .* is larger than {MAX_BODY} bytes"),
        Case("endless-slow", endless(interval=0.05, chunk=b"<item/>"), error=r"^fetch: no complete answer"),
        Case("gzip-bomb", gzip_bomb(), error=rf"^fetch: body of .* is larger than {MAX_BODY} bytes"),
        Case("redirect-loop", redirect("/redirect-loop-2"), error=r"^fetch: redirect loop from "),
        Case(
            "redirect-file",
            redirect("file:///etc/passwd"),
            error=r"redirects to a non-HTTP URL file:///etc/passwd",
        ),
        Case("redirect-ftp", redirect("ftp://127.0.0.1/feed"), error=r"redirects to a non-HTTP URL ftp:"),
        Case(
            "redirect-js", redirect("javascript:alert(1)"), error=r"redirects to a non-HTTP URL javascript:"
        ),
        Case("redirect-data", redirect("data:application/rss+xml,<rss/>"), error=r"non-HTTP URL data:"),
        Case(
            "redirect-forever", redirect("/redirect-forever?1"), error=r"more than 5 redirects|redirect loop"
        ),
        Case("500", canned(500, b"oops", "text/plain"), error=r"^fetch: HTTP 500 ", http_status=500),
        Case(
            "503",
            canned(503, b"", "text/plain", **{"Retry-After": "120"}),
            error=r"HTTP 503",
            http_status=503,
        ),
        Case(
            "429",
            canned(429, b"", "text/plain", **{"Retry-After": "3600"}),
            error=r"HTTP 429",
            http_status=429,
        ),
        Case("403", canned(403, b"forbidden", "text/html"), error=r"^fetch: HTTP 403 ", http_status=403),
        Case("feed-as-png", canned(200, FEED, "image/png"), status=OK, http_status=200),
        Case("feed-as-json", canned(200, FEED, "application/json"), status=OK, http_status=200),
        Case("feed-as-octets", canned(200, FEED, "application/octet-stream"), status=OK, http_status=200),
        Case(
            "png-as-feed",
            canned(200, PNG, "application/rss+xml"),
            error=r"^parse: not a feed",
            http_status=200,
        ),
        Case(
            "html-page",
            canned(200, HTML_PAGE, "text/html"),
            error=r"not a feed: got an HTML page \(it names a feed at http://127\.0\.0\.1:\d+/real-feed\.xml\)",
            http_status=200,
        ),
        Case(
            "html-as-rss",
            canned(200, HTML_PAGE, "application/rss+xml"),
            error=r"not a feed: got an HTML page",
            http_status=200,
        ),
        Case("five-mb-line", canned(200, FIVE_MB_LINE), status=OK, http_status=200),
        Case(
            "five-mb-junk",
            canned(200, b"x" * 5 * 1024 * 1024, "text/plain"),
            error=r"^parse: not a feed",
            http_status=200,
        ),
        Case(
            "five-mb-angles",
            canned(200, b"<" * 5 * 1024 * 1024),
            error=r"^parse: not a feed",
            http_status=200,
        ),
        Case("eleven-mb", canned(200, FEED + b" " * 11 * 1024 * 1024), error=r"larger than"),
        Case("truncated", truncated(), error=r"^fetch: connection to .* failed"),
        Case("not-http", garbage(), error=r"^fetch: connection to .* failed"),
        Case("huge-headers", huge_headers(), error=r"^fetch: connection to .* failed"),
        Case(
            "bad-gzip",
            canned(200, b"not gzip", **{"Content-Encoding": "gzip"}),
            error=r"^fetch: corrupt gzip body",
        ),
        Case(
            "brotli",
            canned(200, gzip.compress(FEED), **{"Content-Encoding": "br"}),
            error=r"unsupported content coding",
        ),
    ]


@pytest.fixture(scope="module")
def server():
    server = HostileServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    server = HostileServer(tls=self_signed_context(tmp_path_factory.mktemp("tls"))).start()
    server.routes["/feed"] = canned(200, FEED)
    yield server
    server.stop()


def poll_once(store: Store, source: Source, timeout: float = TIMEOUT):
    """Poll `source` once; return (outcome, seconds taken, its row afterwards)."""

    async def go():
        async with Fetcher(timeout=timeout, max_body=MAX_BODY) as fetcher:
            return await refresh(source, fetcher, store)

    store.sync_sources([source])
    started = time.monotonic()
    outcome = asyncio.run(go())
    return outcome, time.monotonic() - started, store.source_state(source.id)


CASE_NAMES = [case.name for case in cases(None)]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_server_poll_ends_in_time_with_its_reason_recorded(server, tmp_path, name):
    case = next(c for c in cases(server.url) if c.name == name)
    path = case.path or f"/{case.name}"
    server.routes[path] = case.route
    server.routes["/redirect-loop-2"] = redirect("/redirect-loop")
    for hop in range(10):  # /redirect-forever?1 -> ?2 -> ... (never the same URL twice)
        server.routes[f"/redirect-forever?{hop}"] = redirect(f"/redirect-forever?{hop + 1}")
    with Store(tmp_path / "db.sqlite") as store:
        outcome, seconds, row = poll_once(store, Source(case.name, server.url(path)))

    assert seconds < TIMEOUT + SLACK, f"{case.name} took {seconds:.1f}s"
    assert outcome.status == case.status, outcome.error
    assert row.last_checked_at is not None and row.next_check_at is not None
    assert row.last_status == case.http_status
    if case.error is None:
        assert row.last_error is None and row.error_streak == 0
    else:
        assert row.last_error and re.search(case.error, row.last_error), row.last_error
        assert row.error_streak == 1 and row.failing_since is not None
    if case.name == "429":  # Retry-After is believed
        assert row.next_check_at >= datetime.now(UTC) + timedelta(seconds=3500)


def test_self_signed_tls_is_a_tls_error(tls_server, tmp_path):
    async def fetch_error() -> FetchError:
        async with Fetcher(timeout=TIMEOUT) as fetcher:
            with pytest.raises(FetchError) as info:
                await fetcher.fetch(tls_server.url("/feed"))
        return info.value

    assert asyncio.run(fetch_error()).reason == "tls"
    with Store(tmp_path / "db.sqlite") as store:
        outcome, seconds, row = poll_once(store, Source("tls", tls_server.url("/feed")))
    assert outcome.status == FAILED and seconds < TIMEOUT + SLACK
    assert row.last_error.startswith("fetch: TLS failed with https://127.0.0.1:")
    assert "certificate" in row.last_error.lower() and row.last_status is None


def test_plain_http_to_a_tls_port_and_https_to_a_plain_port_fail_cleanly(server, tls_server, tmp_path):
    server.routes["/feed"] = canned(200, FEED)
    with Store(tmp_path / "db.sqlite") as store:
        http_to_tls = poll_once(store, Source("a", tls_server.url("/feed").replace("https:", "http:")))
        tls_to_http = poll_once(store, Source("b", server.url("/feed").replace("http:", "https:")))
    for outcome, seconds, row in (http_to_tls, tls_to_http):
        assert outcome.status == FAILED and seconds < TIMEOUT + SLACK
        assert re.match(r"^fetch: (TLS failed|connection to|no complete answer)", row.last_error), (
            row.last_error
        )


def test_refused_connection_is_recorded(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Store(tmp_path / "db.sqlite") as store:
        outcome, seconds, row = poll_once(store, Source("refused", f"http://127.0.0.1:{port}/feed"))
    assert outcome.status == FAILED and row.last_error.startswith("fetch: connection refused by")
    assert seconds < TIMEOUT


# -- fifty at once, memory watched ------------------------------------------------------------------

MEMORY_LIMIT_MB = 300


def hostile_world(server: HostileServer, count: int) -> list[tuple[str, str]]:
    """`count` sources cycling through every hostile case (the heavy ones most often)."""
    heavy = ["gzip-bomb", "endless-fast", "five-mb-line", "five-mb-angles", "five-mb-junk", "eleven-mb"]
    names = heavy * 3 + [c for c in CASE_NAMES if c not in heavy]
    for case in cases(server.url):
        server.routes[case.path or f"/{case.name}"] = case.route
    server.routes["/redirect-loop-2"] = redirect("/redirect-loop")
    for hop in range(10):
        server.routes[f"/redirect-forever?{hop}"] = redirect(f"/redirect-forever?{hop + 1}")
    return [
        (f"s{i:02d}-{names[i % len(names)]}", server.url(f"/{names[i % len(names)]}")) for i in range(count)
    ]


def write_config(
    tmp_path: Path, sources: list[tuple[str, str]], timeout: str = "5s", extra: str = ""
) -> Path:
    lines = [
        f"database: {tmp_path / 'db.sqlite'}",
        f"output: {{dir: {tmp_path / 'public'}, base_url: 'http://127.0.0.1:8080/'}}",
        # Fifty requests in flight at once, all to 127.0.0.1: per_host must not serialise them.
        f"polling: {{timeout: {timeout}, concurrency: 50, per_host: 50{extra}}}",
        "sources:",
        *[f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources],
        "topics:",
        "  everything: {title: Everything}",
    ]
    path = tmp_path / "aggregator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Runs the command and reports the peak RSS of that one process (wait4), from a small process of
# its own: Linux carries a process's RSS high-water mark into its child over fork and exec
# (exec_mmap keeps the old address space's in signal->maxrss), so a child of this test process,
# large after a whole test session, would report at least this process's own peak.
_MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(f'peak-rss-kb {usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_measured(args: list[str], timeout: float) -> tuple[int, float, float, str]:
    """Run a command; return (exit code, its peak RSS in MB, seconds, its output)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [sys.executable, "-c", _MEASURE, *args], stdout=output, stderr=output, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the wrapper's session: it and the command
            process.wait()
            raise AssertionError(f"{args} still running after {timeout}s") from None
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    peak = re.search(r"^peak-rss-kb (\d+)$", text, re.M)
    assert peak, text[-2000:]
    return code, int(peak.group(1)) / 1024, time.monotonic() - started, text


def test_fifty_hostile_sources_at_once_stay_under_300_mb(server, tmp_path):
    sources = hostile_world(server, 50)
    # A longer deadline than the single cases: the good sources here wait for their turn behind
    # the hostile ones (one event loop parses, and two large bodies are buffered at a time).
    config = write_config(tmp_path, sources, timeout="8s")
    command = [sys.executable, "-m", "aggregator", "-c", str(config), "poll", "--no-progress"]
    code, peak_mb, seconds, output = run_measured(command, timeout=120)
    print(f"\npeak RSS polling 50 hostile sources: {peak_mb:.0f} MB in {seconds:.1f}s")
    assert code == 0, output
    assert peak_mb < MEMORY_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"
    # Every poll ended (8 s deadline each, all at once) with its outcome recorded on its row.
    assert seconds < 60, output
    assert "polled 50 sources" in output
    with Store(tmp_path / "db.sqlite") as store:
        rows = {row.source_id: row for row in store.source_states([sid for sid, _ in sources])}
    for source_id, row in rows.items():
        assert row.last_checked_at is not None, source_id
        if source_id.endswith("five-mb-line"):
            # A good 5 MB feed: read, unless its turn for a large-body slot (two at a time, behind
            # fifteen hostile large bodies) came too late on a busy machine; then a timeout.
            assert row.last_error is None or "no complete answer" in row.last_error, row.last_error
            continue
        ok = any(source_id.endswith(name) for name in ("feed-as-png", "feed-as-json", "feed-as-octets"))
        assert (row.last_error is None) == ok, (source_id, row.last_error)


@pytest.mark.parametrize(
    "encoded",
    [
        gzip.compress(bytes(3_000_000)),
        gzip.compress(bytes(1_500_000)) + gzip.compress(b"x" * 1_500_000),  # two members
    ],
    ids=["one-member", "two-members"],
)
def test_decoder_stops_at_its_limit_and_resumes(encoded):
    """A body inflates only as far as the caller allows, and resumes when it allows more (after
    a large-body slot is granted): no chunk can put more than SMALL_BODY in memory unasked."""
    decoder = _Decoder("gzip", "http://example.test/")
    first = decoder.decode(encoded, SMALL_BODY + 1)
    assert len(first) == SMALL_BODY + 1 and decoder.pending
    rest = decoder.decode(b"", 10_000_000)
    assert not decoder.pending
    assert first + rest == gzip.decompress(encoded)
