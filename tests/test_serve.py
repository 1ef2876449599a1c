"""The HTTP server end to end: a real aiohttp site on 127.0.0.1 (port 0) and a real client socket."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import aiohttp
import pytest

from aggregator import serve
from aggregator.metrics import Metrics
from aggregator.serve import Health, make_app

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>AI 人工智能</title>'
    + "".join(f"<item><title>第 {n} 条</title><guid>{n}</guid></item>" for n in range(40))
    + "</channel></rss>"
).encode()
SECRET = b"secret outside the output folder"


@dataclass
class Server:
    session: aiohttp.ClientSession
    port: int

    async def get(
        self, path: str, method: str = "GET", **headers: str
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        async with self.session.request(method, path, headers=headers) as response:
            return response, await response.read()

    async def raw(self, target: str) -> tuple[int, bytes]:
        """Send `target` byte for byte (no client-side normalising of `..`); return status and the
        whole response, headers and body."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
        await writer.wait_closed()
        return int(data.split(b" ", 2)[1]), data


@asynccontextmanager
async def running(output: Path, **options: object) -> AsyncIterator[Server]:
    runner = await serve.start(make_app(output, **options), "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        # Identity unless a test asks for gzip (aiohttp would send "gzip, deflate" on its own), and
        # no transparent decompression, so tests see the bytes on the wire.
        async with aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Accept-Encoding": "identity"},
            auto_decompress=False,
        ) as session:
            yield Server(session, port)
    finally:
        await runner.cleanup()


def run(output: Path, scenario: Callable[[Server], Awaitable[None]], **options: object) -> None:
    async def go() -> None:
        async with running(output, **options) as server:
            await scenario(server)

    asyncio.run(go())


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """A published folder like the publisher leaves it, with a secret file beside it."""
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "ai.xml").write_bytes(RSS)
    (folder / "ai.atom").write_bytes(b'<feed xmlns="http://www.w3.org/2005/Atom"/>')
    (folder / "ai.json").write_bytes(b'{"version": "https://jsonfeed.org/version/1.1"}')
    (folder / "topics.opml").write_bytes(b'<opml version="2.0"/>')
    (folder / "index.html").write_bytes("<!doctype html><title>话题</title>".encode())
    (folder / "README.md").write_bytes(b"# Topics\n")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return folder


def replace(path: Path, data: bytes) -> None:
    """Publish a new version the way the publisher does: a whole new file renamed over the old."""
    temp = path.with_name(f".{path.name}.new.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/ai.xml", "application/rss+xml; charset=utf-8"),
        ("/ai.atom", "application/atom+xml; charset=utf-8"),
        ("/ai.json", "application/feed+json; charset=utf-8"),
        ("/topics.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/README.md", "text/markdown; charset=utf-8"),
        ("/logo.png", "image/png"),  # anything else: guessed from the name
    ],
)
def test_content_type_follows_the_extension(output: Path, path: str, content_type: str) -> None:
    async def scenario(server: Server) -> None:
        response, body = await server.get(path)
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert body == (output / path.lstrip("/")).read_bytes()

    run(output, scenario)


def test_root_serves_index_html(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, body = await server.get("/")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert body == (output / "index.html").read_bytes()

    run(output, scenario)


def test_validators_and_cache_headers(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, _ = await server.get("/ai.xml")
        etag = response.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
        modified = parsedate_to_datetime(response.headers["Last-Modified"])
        assert int(modified.timestamp()) == int((output / "ai.xml").stat().st_mtime)
        assert response.headers["Cache-Control"] == "public, max-age=300"
        assert response.headers["Vary"] == "Accept-Encoding"
        again, _ = await server.get("/ai.xml")
        assert again.headers["ETag"] == etag  # an untouched file keeps its ETag

    run(output, scenario)


def test_if_none_match_gives_304(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, _ = await server.get("/ai.xml")
        etag = response.headers["ETag"]
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            not_modified, body = await server.get("/ai.xml", **{"If-None-Match": header})
            assert not_modified.status == 304, header
            assert body == b""
            assert not_modified.headers["ETag"] == etag
            assert not_modified.headers["Cache-Control"] == "public, max-age=300"
            assert not_modified.headers["Vary"] == "Accept-Encoding"
        changed, body = await server.get("/ai.xml", **{"If-None-Match": '"something-else"'})
        assert changed.status == 200
        assert body == RSS

    run(output, scenario)


def test_if_modified_since_gives_304_unless_if_none_match_is_present(output: Path) -> None:
    mtime = datetime.fromtimestamp((output / "ai.xml").stat().st_mtime, UTC)
    now = format_datetime(mtime, usegmt=True)
    earlier = format_datetime(mtime - timedelta(hours=1), usegmt=True)

    async def scenario(server: Server) -> None:
        response, _ = await server.get("/ai.xml", **{"If-Modified-Since": now})
        assert response.status == 304
        response, body = await server.get("/ai.xml", **{"If-Modified-Since": earlier})
        assert (response.status, body) == (200, RSS)
        response, _ = await server.get("/ai.xml", **{"If-Modified-Since": "not a date"})
        assert response.status == 200
        # RFC 9110 13.1.3: If-None-Match, when present, decides alone.
        response, _ = await server.get("/ai.xml", **{"If-Modified-Since": now, "If-None-Match": '"old"'})
        assert response.status == 200

    run(output, scenario)


def test_replacing_a_file_changes_its_etag(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, _ = await server.get("/ai.xml")
        old = response.headers["ETag"]
        # Same size, written within the same clock tick: the ETag must change all the same.
        new_body = RSS.replace(b"<guid>0</guid>", b"<guid>X</guid>")
        replace(output / "ai.xml", new_body)
        response, body = await server.get("/ai.xml", **{"If-None-Match": old})
        assert response.status == 200
        assert body == new_body
        assert response.headers["ETag"] != old
        response, _ = await server.get("/ai.xml", **{"If-None-Match": response.headers["ETag"]})
        assert response.status == 304

    run(output, scenario)


def test_gzip_is_its_own_representation(output: Path) -> None:
    async def scenario(server: Server) -> None:
        plain, _ = await server.get("/ai.xml")
        zipped, body = await server.get("/ai.xml", **{"Accept-Encoding": "gzip, deflate"})
        assert zipped.status == 200
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert zipped.headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(body) == RSS
        assert len(body) < len(RSS)
        assert zipped.headers["ETag"] != plain.headers["ETag"]
        assert zipped.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
        # Its own ETag revalidates, with or without W/ (the weak comparison).
        for tag in (zipped.headers["ETag"], "W/" + zipped.headers["ETag"]):
            response, empty = await server.get("/ai.xml", **{"Accept-Encoding": "gzip", "If-None-Match": tag})
            assert (response.status, empty) == (304, b"")
            assert response.headers["ETag"] == zipped.headers["ETag"]
        # A client holding the identity copy of the current version holds the current version.
        response, _ = await server.get(
            "/ai.xml", **{"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]}
        )
        assert response.status == 304
        again, body_again = await server.get("/ai.xml", **{"Accept-Encoding": "gzip"})  # from the cache
        assert (again.headers["ETag"], body_again) == (zipped.headers["ETag"], body)

    run(output, scenario)


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5, br", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("deflate, br", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accept_encoding_weights(output: Path, accept_encoding: str, gzipped: bool) -> None:
    async def scenario(server: Server) -> None:
        response, body = await server.get("/ai.xml", **{"Accept-Encoding": accept_encoding})
        assert ("Content-Encoding" in response.headers) is gzipped
        assert (gzip.decompress(body) if gzipped else body) == RSS

    run(output, scenario)


def test_small_files_are_not_gzipped(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, body = await server.get("/ai.atom", **{"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in response.headers
        assert body == (output / "ai.atom").read_bytes()

    run(output, scenario)


def test_head_has_the_headers_and_no_body(output: Path) -> None:
    async def scenario(server: Server) -> None:
        got, _ = await server.get("/ai.xml")
        head, body = await server.get("/ai.xml", method="HEAD")
        assert (head.status, body) == (200, b"")
        for name in ("ETag", "Last-Modified", "Content-Type", "Cache-Control", "Vary"):
            assert head.headers[name] == got.headers[name]
        assert head.headers["Content-Length"] == str(len(RSS))
        zipped, _ = await server.get("/ai.xml", **{"Accept-Encoding": "gzip"})
        head, body = await server.get("/ai.xml", method="HEAD", **{"Accept-Encoding": "gzip"})
        assert body == b""
        assert head.headers["Content-Encoding"] == "gzip"
        assert head.headers["Content-Length"] == zipped.headers["Content-Length"]
        head, _ = await server.get("/ai.xml", method="HEAD", **{"If-None-Match": got.headers["ETag"]})
        assert head.status == 304

    run(output, scenario)


def test_path_traversal_is_404(output: Path) -> None:
    (output / "escape").symlink_to(output.parent / "secret.txt")
    (output / "up").symlink_to(output.parent)
    targets = [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/..%2f..%2fetc/passwd",
        "/..%5c..%5cetc/passwd",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/ai.xml/../../secret.txt",
        "/./ai.xml",
        "/ai.xml%00.html",
        "/%ff.xml",
        "/escape",  # a symlink to a file outside
        "/up/secret.txt",  # through a symlink to a folder outside
    ]

    async def scenario(server: Server) -> None:
        for target in targets:
            status, response = await server.raw(target)
            assert status == 404, target
            assert SECRET not in response, target
            assert b"root:" not in response, target

    run(output, scenario)


def test_symlinks_inside_the_folder_are_followed(output: Path) -> None:
    (output / "latest.xml").symlink_to("ai.xml")

    async def scenario(server: Server) -> None:
        response, body = await server.get("/latest.xml")
        assert (response.status, body) == (200, RSS)

    run(output, scenario)


def test_hidden_files_directories_and_missing_files_are_404(output: Path) -> None:
    (output / ".ai.xml.k3j2.tmp").write_bytes(b"half a feed")  # the publisher's temporary file
    (output / ".git").mkdir()
    (output / ".git" / "config").write_bytes(b"[core]")
    (output / "archive").mkdir()
    (output / "archive" / "old.xml").write_bytes(RSS)
    (output / "tmp.xml").symlink_to(".ai.xml.k3j2.tmp")  # a visible name for a hidden file

    async def scenario(server: Server) -> None:
        for path in (
            "/.ai.xml.k3j2.tmp",
            "/%2eai.xml.k3j2.tmp",
            "/.git/config",
            "/tmp.xml",
            "/archive",
            "/archive/",  # a folder without index.html: no listing
            "/missing.xml",
        ):
            response, body = await server.get(path)
            assert response.status == 404, path
            assert b"half a feed" not in body and b"[core]" not in body
        response, body = await server.get("/archive/old.xml")
        assert (response.status, body) == (200, RSS)

    run(output, scenario)


def test_a_missing_output_folder_is_404_not_an_error(tmp_path: Path) -> None:
    async def scenario(server: Server) -> None:
        response, _ = await server.get("/")
        assert response.status == 404
        response, _ = await server.get("/healthz")
        assert response.status == 200

    run(tmp_path / "not-published-yet", scenario)


def test_other_methods_are_405(output: Path) -> None:
    async def scenario(server: Server) -> None:
        for method, path in (("POST", "/ai.xml"), ("PUT", "/ai.xml"), ("DELETE", "/"), ("POST", "/healthz")):
            response, _ = await server.get(path, method=method)
            assert response.status == 405, (method, path)
            assert "GET" in response.headers["Allow"]
        assert (output / "ai.xml").read_bytes() == RSS

    run(output, scenario)


# --- /healthz and /metrics ----------------------------------------------------------------------


def test_healthz_without_a_health_check(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, _ = await server.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"ok": True}

    run(output, scenario)


def test_healthz_reports_the_health_check(output: Path) -> None:
    state = {"ok": True}
    last_poll = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

    def health() -> Health:
        return Health(ok=state["ok"], detail={"last_poll": last_poll, "sources": 3, "failing": 1})

    async def scenario(server: Server) -> None:
        response, _ = await server.get("/healthz")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.json() == {
            "ok": True,
            "last_poll": "2025-01-02T03:04:05+00:00",
            "sources": 3,
            "failing": 1,
        }
        state["ok"] = False
        response, _ = await server.get("/healthz")
        assert response.status == 503
        assert (await response.json())["ok"] is False

    run(output, scenario, health=health)


def test_healthz_is_503_when_the_health_check_raises(output: Path, caplog: pytest.LogCaptureFixture) -> None:
    def health() -> Health:
        raise RuntimeError("database is locked")

    async def scenario(server: Server) -> None:
        response, _ = await server.get("/healthz")
        assert response.status == 503
        body = await response.json()
        assert body["ok"] is False and "database is locked" in body["error"]

    run(output, scenario, health=health)
    assert "health check failed" in caplog.text


def test_metrics_endpoint(output: Path) -> None:
    metrics = Metrics()
    metrics.poll_finished("oschina", "ok", items_new=3, items_updated=1, duration=0.2)
    metrics.poll_finished("oschina", "not_modified", duration=0.01)
    metrics.poll_finished("solidot", "failed", duration=5.0)

    async def scenario(server: Server) -> None:
        response, body = await server.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"] == Metrics.content_type
        text = body.decode()
        assert 'aggregator_polls_total{outcome="ok"} 1.0' in text
        assert 'aggregator_polls_total{outcome="failed"} 1.0' in text
        assert 'aggregator_source_errors_total{source_id="solidot"} 1.0' in text

    run(output, scenario, metrics=metrics)


def test_metrics_is_404_without_a_registry(output: Path) -> None:
    async def scenario(server: Server) -> None:
        response, _ = await server.get("/metrics")
        assert response.status == 404

    run(output, scenario)


# --- the daemon's entry point and its logs ------------------------------------------------------


def test_serve_forever_serves_until_stopped(output: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runners = []
    real_start = serve.start

    async def recording_start(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        runner = await real_start(*args, **kwargs)  # type: ignore[arg-type]
        runners.append(runner)
        started.set()
        return runner

    monkeypatch.setattr(serve, "start", recording_start)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(serve.serve_forever(output, "127.0.0.1", 0, stop))
        await started.wait()
        port = runners[0].addresses[0][1]
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/ai.xml") as got:
            assert got.status == 200
            assert await got.read() == RSS
        stop.set()
        await task
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)

    started = asyncio.Event()
    asyncio.run(go())


def test_requests_are_logged_only_at_debug(output: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(server: Server) -> None:
        await server.get("/ai.xml")

    caplog.set_level(logging.INFO)
    run(output, scenario)
    assert not [r for r in caplog.records if r.name.startswith("aggregator.serve.access")]
    caplog.set_level(logging.DEBUG, logger="aggregator.serve.access")
    run(output, scenario)
    (record,) = [r for r in caplog.records if r.name == "aggregator.serve.access"]
    assert record.levelno == logging.DEBUG
    assert (record.method, record.path, record.status) == ("GET", "/ai.xml", 200)  # type: ignore[attr-defined]


# --- the metrics registry -----------------------------------------------------------------------


def test_metrics_render_every_series() -> None:
    metrics = Metrics()
    metrics.poll_finished("oschina", "ok", items_new=3, items_updated=2, duration=0.3)
    metrics.poll_finished("oschina", "ok", items_new=1, duration=0.1)
    metrics.poll_finished("solidot", "failed", duration=30.0)
    metrics.poll_finished("solidot", "failed")
    metrics.publish_finished(0.05, topics=4)
    metrics.set_sources(total=10, failing=2, dead=1, gone=1)
    metrics.set_items(1234)
    text = metrics.render().decode()
    for line in (
        'aggregator_polls_total{outcome="ok"} 2.0',
        'aggregator_polls_total{outcome="not_modified"} 0.0',  # present from the start
        'aggregator_polls_total{outcome="failed"} 2.0',
        'aggregator_source_errors_total{source_id="solidot"} 2.0',
        'aggregator_items_stored_total{kind="new"} 4.0',
        'aggregator_items_stored_total{kind="updated"} 2.0',
        "aggregator_poll_duration_seconds_count 4.0",
        'aggregator_poll_duration_seconds_bucket{le="0.25"} 2.0',
        "aggregator_publish_duration_seconds_count 1.0",
        "aggregator_topics_published_total 4.0",
        "aggregator_sources 10.0",
        "aggregator_sources_failing 2.0",
        "aggregator_sources_dead 1.0",
        "aggregator_sources_gone 1.0",
        "aggregator_items 1234.0",
    ):
        assert line + "\n" in text, line
    assert 'source_id="oschina"' not in text  # only failures count as source errors


def test_metrics_instances_are_independent() -> None:
    first, second = Metrics(), Metrics()  # no "Duplicated timeseries" from a shared registry
    first.poll_finished("a", "ok")
    assert 'aggregator_polls_total{outcome="ok"} 1.0' in first.render().decode()
    assert 'aggregator_polls_total{outcome="ok"} 0.0' in second.render().decode()


def test_metrics_reject_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="unknown poll outcome"):
        Metrics().poll_finished("a", "timeout")
