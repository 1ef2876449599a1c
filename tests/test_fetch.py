"""Fetcher against a real HTTP server on 127.0.0.1 (the `feed_server` fixture) and local files."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import aiohttp
import pytest
from conftest import FIXTURES, FeedServer, Request, Response

from aggregator.errors import FetchError
from aggregator.fetch import USER_AGENT, Fetcher, _connection_error, _Decoder
from aggregator.models import FetchResult

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def fetch(url: str, fetcher: dict | None = None, **kwargs: str) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(**(fetcher or {})) as f:
            return await f.fetch(url, **kwargs)

    return asyncio.run(go())


def fetch_error(url: str, fetcher: dict | None = None, **kwargs: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, fetcher, **kwargs)
    return info.value


def redirect(status: int, location: str) -> Response:
    return Response(status, b"", {"Location": location})


def test_200_returns_body_and_lowercased_headers_and_sends_our_headers(feed_server):
    url = feed_server.serve("/feed", RSS, ETag='"v1"')
    result = fetch(url)
    assert (result.status, result.url, result.body) == (200, url, RSS)
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["etag"] == '"v1"'
    assert result.permanent_redirect is None
    sent = feed_server.requests_to("/feed")[0].headers
    assert sent["user-agent"] == USER_AGENT
    assert sent["accept"].startswith("application/rss+xml")
    assert sent["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_conditional_get_sends_validators_and_returns_304(feed_server):
    feed_server.routes["/feed"] = Response(304, b"", {"ETag": '"v1"'})
    result = fetch(feed_server.url("/feed"), etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    assert result.not_modified and result.body == b"" and result.headers["etag"] == '"v1"'
    sent = feed_server.requests_to("/feed")[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(RSS)),
        ("gzip", gzip.compress(RSS[:20]) + gzip.compress(RSS[20:])),  # two members, RFC 1952 §2.2
        ("x-gzip", gzip.compress(RSS)),
        ("deflate", zlib.compress(RSS)),  # the zlib format RFC 9110 asks for
        ("deflate", _raw_deflate(RSS)),  # what some servers send instead
    ],
    ids=["gzip", "gzip-members", "x-gzip", "deflate-zlib", "deflate-raw"],
)
def test_compressed_body_is_decoded(feed_server, coding, encoded):
    url = feed_server.serve("/feed", encoded, **{"Content-Encoding": coding})
    result = fetch(url)
    assert result.body == RSS
    assert "content-encoding" not in result.headers and "content-length" not in result.headers


def test_unrequested_content_coding_fails(feed_server):
    url = feed_server.serve("/feed", b"\x00\x01", **{"Content-Encoding": "br"})
    assert fetch_error(url).reason == "encoding"


def test_corrupt_gzip_fails(feed_server):
    url = feed_server.serve("/feed", b"not gzip at all", **{"Content-Encoding": "gzip"})
    assert fetch_error(url).reason == "encoding"


def test_content_length_over_max_body_is_refused(feed_server):
    url = feed_server.serve("/feed", b"x" * 2000)
    err = fetch_error(url, {"max_body": 1000})
    assert err.reason == "too_big" and url in str(err)


def test_gzip_bomb_is_aborted_on_decoded_size(feed_server):
    bomb = gzip.compress(b"\0" * 20_000_000)  # ~20 KB on the wire, 20 MB decoded
    url = feed_server.serve("/bomb", bomb, **{"Content-Encoding": "gzip"})
    assert fetch_error(url, {"max_body": 1_000_000}).reason == "too_big"


def test_decoder_never_inflates_past_its_limit():
    decoder = _Decoder("gzip", "http://example.test/")
    assert len(decoder.decode(gzip.compress(b"\0" * 20_000_000), 1001)) == 1001


def test_permanent_redirect_chain_reports_final_url(feed_server):
    feed_server.routes["/a"] = redirect(301, "/b")
    feed_server.routes["/b"] = redirect(308, feed_server.url("/feed"))
    url = feed_server.serve("/feed", RSS)
    result = fetch(feed_server.url("/a"))
    assert (result.url, result.permanent_redirect, result.body) == (url, url, RSS)


def test_temporary_hop_means_no_permanent_redirect(feed_server):
    feed_server.routes["/a"] = redirect(301, "/b")
    feed_server.routes["/b"] = redirect(302, "feed")  # relative to /b
    url = feed_server.serve("/feed", RSS)
    result = fetch(feed_server.url("/a"))
    assert (result.url, result.permanent_redirect) == (url, None)


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
def test_redirect_limit(feed_server, hops, ok):
    for i in range(hops):
        feed_server.routes[f"/r{i}"] = redirect(302, f"/r{i + 1}")
    feed_server.serve(f"/r{hops}", RSS)
    if ok:
        assert fetch(feed_server.url("/r0")).body == RSS
    else:
        assert fetch_error(feed_server.url("/r0")).reason == "redirect"


def test_redirect_loop_fails(feed_server):
    feed_server.routes["/a"] = redirect(301, "/b")
    feed_server.routes["/b"] = redirect(301, "/a")
    assert fetch_error(feed_server.url("/a")).reason == "redirect"


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "javascript:alert(1)"])
def test_redirect_to_non_http_scheme_fails(feed_server, target):
    feed_server.routes["/a"] = redirect(302, target)
    assert fetch_error(feed_server.url("/a")).reason == "scheme"


@pytest.mark.parametrize(
    ("status", "text"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")]
)
def test_http_error_status(feed_server, status, text):
    feed_server.routes["/feed"] = Response(status, b"oops")
    err = fetch_error(feed_server.url("/feed"))
    assert (err.reason, err.status, err.retry_after) == ("http", status, None)
    assert str(err).startswith(f"fetch: {text}") and feed_server.url("/feed") in str(err)


def test_429_retry_after_seconds(feed_server):
    feed_server.routes["/feed"] = Response(429, b"", {"Retry-After": "120"})
    err = fetch_error(feed_server.url("/feed"))
    assert (err.reason, err.status, err.retry_after) == ("http", 429, 120)


def test_503_retry_after_http_date(feed_server):
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    feed_server.routes["/feed"] = Response(503, b"", {"Retry-After": when})
    err = fetch_error(feed_server.url("/feed"))
    assert err.status == 503 and 3500 < err.retry_after <= 3600


def test_connection_refused():
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = fetch_error(f"http://127.0.0.1:{port}/feed")
    assert err.reason == "refused" and str(port) in str(err)


def test_timeout_waiting_for_headers(feed_server):
    release = threading.Event()

    def stuck(request: Request) -> Response:
        release.wait(30)
        return Response(200, RSS)

    feed_server.routes["/slow"] = stuck
    try:
        err = fetch_error(feed_server.url("/slow"), {"timeout": 0.5})
    finally:
        release.set()
    assert err.reason == "timeout"


def test_timeout_covers_the_body():
    """Headers arrive at once, then the body stalls: the deadline still applies."""

    async def go() -> FetchError:
        release = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss")
            await writer.drain()
            await release.wait()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, Fetcher(timeout=0.5) as fetcher:
            try:
                with pytest.raises(FetchError) as info:
                    await fetcher.fetch(f"http://127.0.0.1:{port}/")
            finally:
                release.set()
        return info.value

    assert asyncio.run(go()).reason == "timeout"


def test_per_host_limit_is_honoured(feed_server):
    """Four fetches at once to one host use two connections, both busy at the same time."""
    both_in = threading.Barrier(2, timeout=10)  # passes only when two requests are in flight together
    connections = set()  # ThreadingHTTPServer serves each connection on its own thread

    def counted(request: Request) -> Response:
        connections.add(threading.get_ident())
        both_in.wait()
        return Response(200, RSS)

    feed_server.routes["/feed"] = counted

    async def go() -> list[FetchResult]:
        async with Fetcher(per_host=2) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(feed_server.url("/feed")) for _ in range(4)))

    assert [r.status for r in asyncio.run(go())] == [200] * 4
    assert len(connections) == 2


def test_a_fetch_waiting_for_a_busy_host_leaves_the_overall_slots_to_other_hosts(feed_server):
    """concurrency 2, per_host 1: while one fetch holds the slow host's only slot, a second fetch
    to it waits for that slot without taking the last overall slot, so another host is fetched."""
    release = threading.Event()
    slow_in = threading.Event()

    def slow(request: Request) -> Response:
        slow_in.set()
        release.wait(10)
        return Response(200, RSS)

    feed_server.routes["/slow"] = slow
    other = FeedServer("127.0.0.2")
    other.thread.start()
    other.serve("/feed", RSS)

    async def go() -> FetchResult:
        async with Fetcher(concurrency=2, per_host=1) as fetcher:
            first = asyncio.create_task(fetcher.fetch(feed_server.url("/slow")))
            await asyncio.to_thread(slow_in.wait, 10)
            # Tasks start in the order they are made: the second fetch queues for the slow
            # host's slot before the fetch of the other host starts.
            second = asyncio.create_task(fetcher.fetch(feed_server.url("/slow")))
            try:
                return await asyncio.wait_for(fetcher.fetch(other.url("/feed")), 5)
            finally:
                release.set()
                await asyncio.gather(first, second)

    try:
        assert asyncio.run(go()).status == 200
    finally:
        release.set()
        other.httpd.shutdown()
        other.httpd.server_close()


def test_local_file_by_path_and_url_with_304(tmp_path):
    path = tmp_path / "sample.rss"
    path.write_bytes(RSS)
    for url in (str(path), path.as_uri()):
        result = fetch(url)
        assert (result.status, result.url, result.body) == (200, url, RSS)
        assert result.headers["content-type"] == "application/rss+xml"
        again = fetch(url, last_modified=result.headers["last-modified"])
        assert again.not_modified and again.body == b""


def test_local_file_larger_than_max_body(tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 2000)
    assert fetch_error(str(path), {"max_body": 1000}).reason == "too_big"


def test_missing_local_file(tmp_path):
    err = fetch_error((tmp_path / "missing.xml").as_uri())
    assert err.reason == "file" and "missing.xml" in str(err)


@pytest.mark.parametrize("url", ["ftp://example.test/feed", "javascript:alert(1)", "relative/feed.xml"])
def test_unsupported_scheme(url):
    assert fetch_error(url).reason == "scheme"


KEY = SimpleNamespace(host="example.test", port=443, ssl=True)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (aiohttp.ClientConnectorDNSError(KEY, socket.gaierror(-2, "Name or service not known")), "dns"),
        (aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "refused")), "refused"),
        (aiohttp.ClientConnectorError(KEY, OSError(101, "Network is unreachable")), "connection"),
        (aiohttp.ClientConnectorSSLError(KEY, OSError(1, "handshake failure")), "tls"),
        (aiohttp.ServerTimeoutError("read timed out"), "timeout"),
        (aiohttp.ServerDisconnectedError(), "connection"),
    ],
)
def test_connection_error_mapping(exc, reason):
    err = _connection_error(exc, "https://example.test/feed")
    assert err.reason == reason and "https://example.test/feed" in str(err)


def test_a_body_is_read_only_with_a_documents_slot_which_the_caller_then_holds(feed_server):
    """A 200 returns holding one of `documents`, and the next body waits for the caller to be
    done with it; a 304, an error and a local file take none."""
    first, second = feed_server.serve("/one", RSS), feed_server.serve("/two", RSS)
    feed_server.routes["/same"] = Response(304, b"", {"ETag": '"v1"'})
    gone = feed_server.url("/gone")
    feed_server.routes["/gone"] = Response(404, b"no", {})

    async def go() -> None:
        documents = asyncio.Semaphore(1)
        async with Fetcher() as f:
            held = await f.fetch(first, documents=documents)
            assert held.body == RSS and held.holds_document and documents.locked()
            waiting = asyncio.ensure_future(f.fetch(second, documents=documents))
            not_modified = await f.fetch(feed_server.url("/same"), etag='"v1"', documents=documents)
            assert not_modified.status == 304 and not not_modified.holds_document
            with pytest.raises(FetchError):
                await f.fetch(gone, documents=documents)
            assert not waiting.done()  # its answer is read and waits for the slot
            documents.release()
            result = await asyncio.wait_for(waiting, 30)
            assert result.body == RSS and result.holds_document
            documents.release()
            assert not documents.locked()
            local = await f.fetch(
                str(FIXTURES / "parse" / "identity" / "one_guid_for_all.xml"), documents=documents
            )
            assert local.body and not local.holds_document and not documents.locked()

    asyncio.run(go())
