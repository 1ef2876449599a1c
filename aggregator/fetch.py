"""Fetch a source's bytes over HTTP (or from a bundled local file). Never parses.

One `Fetcher` holds one aiohttp session for a whole poll batch, so connections are pooled and capped
per host. `fetch()` returns a FetchResult or raises FetchError with a short `reason`:

    scheme     the URL (or a redirect target) is not http/https; file only as the initial URL
    url        the URL is malformed
    file       a local file is missing or unreadable
    dns, refused, tls, connection    the connection failed
    internal   a public_only request would have connected to an address inside our network
    timeout    no complete answer within `timeout` seconds, body included
    redirect   more than `max_redirects` hops, or a loop
    http       a 4xx/5xx answer (`status` set; `retry_after` for 429/503)
    too_big    the decoded body is larger than `max_body`
    encoding   the body uses a content coding we did not ask for, or is corrupt

Specs: conditional requests are RFC 9110 §13.1.2-13.1.3 (If-None-Match, If-Modified-Since) and
§15.4.5 (304); redirects are RFC 9110 §15.4 (301/308 permanent, 302/303/307 temporary) and
§10.2.2 (Location, possibly relative); Retry-After is RFC 9110 §10.2.3; content codings are
RFC 9110 §8.4.1 (gzip is RFC 1952, deflate is the zlib format of RFC 1950).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import mimetypes
import os
import zlib
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import aiohttp

from . import network
from .characters import xml_safe
from .errors import FetchError
from .models import FetchResult

log = logging.getLogger(__name__)

USER_AGENT = "feed-aggregator/0.1 (+https://github.com/feed-aggregator/feed-aggregator)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.1"
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_ANSWER_TEXT = 1024  # bytes of a hub's answer kept for error messages
# Memory: each fetch may buffer SMALL_BODY decoded bytes freely (feeds are rarely larger); past
# that it needs one of BUFFER_BUDGET // max_body "large body" slots, so that fifty hostile servers
# streaming max_body each at once hold a few bodies in memory, not fifty (tests/test_hostile_servers.py).
SMALL_BODY = 1024 * 1024
BUFFER_BUDGET = 24 * 1024 * 1024
# mimetypes does not know the feed suffixes, and /etc/mime.types differs between machines.
_FEED_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}


class HostSlots:
    """The per-host cap of one process: at most `per_host` requests in flight to one host.
    (store/leases.py keeps the cap across `aggregator worker` processes.)"""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def slot(self, host: str) -> AbstractAsyncContextManager[object]:
        """Hold one of `host`'s slots while in the `async with`."""
        return self._hosts.setdefault(host, asyncio.Semaphore(self.per_host))


class Fetcher:
    """Fetches sources with conditional GET, manual redirects, a deadline and a body cap.

    `concurrency` and `per_host` cap requests in flight overall and per host; a fetch waits for its
    slots first (its host's, then one of the overall ones), and only then does `timeout`, one
    deadline for the whole exchange (redirects and body included), start, so a long queue for
    one host never times out requests that were never sent. `host_slots` keeps the per-host cap (this process's own by default; store/leases.py
    shares it between workers). `max_body` counts decoded bytes. A body past SMALL_BODY waits,
    within that deadline, for a large-body slot (at least one; BUFFER_BUDGET // max_body), which
    bounds the memory of a batch.

    A `public_only` request (a URL a feed named) connects to public addresses only, on every hop
    (network.py); it goes through a connection pool of its own, so it never reuses a connection
    another request opened to an internal address.
    """

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_body: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        user_agent: str = USER_AGENT,
        concurrency: int = 20,
        per_host: int = 2,
        host_slots: HostSlots | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_body = max_body
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.concurrency = concurrency
        self.per_host = per_host
        self._session: aiohttp.ClientSession | None = None
        self._public_session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self.host_slots = host_slots or HostSlots(per_host)
        self._large_slots = asyncio.Semaphore(max(1, BUFFER_BUDGET // max_body))

    async def __aenter__(self) -> Fetcher:
        self._session = self._open()
        self._public_session = self._open(socket_factory=network.public_socket)
        return self

    def _open(self, **connector: object) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.per_host, **connector),
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
            # We inflate ourselves, a bounded amount at a time, so a gzip bomb cannot fill memory
            # whatever the aiohttp version (older ones inflate a whole network read at once).
            auto_decompress=False,
            # fetch() sets one deadline for the whole exchange; aiohttp's per-request defaults
            # would restart at each redirect.
            timeout=aiohttp.ClientTimeout(),
            # Sources are independent: a cookie set by one must never reach another.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def __aexit__(self, *exc_info: object) -> None:
        for session in (self._session, self._public_session):
            if session is not None:
                await session.close()
        self._session = self._public_session = None

    def _session_for(self, public_only: bool) -> aiohttp.ClientSession:
        session = self._public_session if public_only else self._session
        if session is None:
            raise RuntimeError("use Fetcher as 'async with Fetcher() as fetcher'")
        return session

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = ACCEPT,
        public_only: bool = False,
        documents: asyncio.Semaphore | None = None,
    ) -> FetchResult:
        """Fetch `url`, sending the validators of the previous answer so an unchanged source costs a 304.

        `url` is http(s), or a file:// URL or absolute path naming a bundled local feed. `accept`
        is the Accept header (feeds preferred by default). `public_only`: connect to public
        addresses only (FetchError "internal" otherwise), the initial URL's and every redirect's.
        `documents`: an answer with a body (a 200 from a server) returns holding one of its
        slots, for the caller to release when done with the body; a 304 or an error holds none.
        Waiting for the slot (after the deadline: the wait is ours, not the server's), the fetch
        keeps its host's and `concurrency` slots, so fetching slows to the pace at which bodies
        are processed instead of piling them up in memory: at most `concurrency` bodies wait.
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file" or (not scheme and os.path.isabs(url)):
            return await self._fetch_file(url, last_modified)
        if scheme not in ("http", "https"):
            raise FetchError("scheme", f"cannot fetch {scheme or 'a relative'} URL {url}")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = (urlsplit(url).hostname or "").lower()
        held = False  # one of `documents`
        try:
            # The host's slot first: a fetch waiting for a busy host (whose slots other workers
            # may hold) keeps none of this process's `concurrency` slots from other hosts' fetches.
            async with self.host_slots.slot(host), self._slots:
                async with asyncio.timeout(self.timeout):
                    result = await self._exchange(self._session_for(public_only), url, headers)
                if documents is not None and not result.not_modified:
                    await documents.acquire()  # after the deadline: this wait is ours, not the server's
                    held = result.holds_document = True
                return result
        except BaseException as error:
            if held:  # the caller never got the body: the slot is not theirs to release
                documents.release()
            if isinstance(error, TimeoutError):
                raise FetchError(
                    "timeout", f"no complete answer from {url} within {self.timeout:g}s"
                ) from None
            raise

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str],
    ) -> FetchResult:
        # Redirects are followed by hand so every target's scheme is checked and we know whether
        # the whole chain was permanent (only then may the stored URL change, RFC 9110 §15.4.2).
        visited = [url]
        permanent = True
        while True:
            try:
                async with session.get(url, headers=headers, allow_redirects=False) as resp:
                    log.debug("fetch url=%s status=%d", url, resp.status)
                    location = resp.headers.get("Location") if resp.status in _REDIRECT_STATUSES else None
                    if location is None:
                        result = await self._result(url, resp)
                        break
            except aiohttp.ClientError as exc:
                raise _connection_error(exc, url) from exc
            permanent = permanent and resp.status in (301, 308)
            url = self._redirect_target(visited, xml_safe(location))
            visited.append(url)
        if len(visited) > 1 and permanent:
            result.permanent_redirect = url
        return result

    def _redirect_target(self, visited: list[str], location: str) -> str:
        target = urljoin(visited[-1], location)
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise FetchError("scheme", f"{visited[-1]} redirects to a non-HTTP URL {target}")
        if target in visited:
            raise FetchError("redirect", f"redirect loop from {visited[0]} back to {target}")
        if len(visited) > self.max_redirects:
            raise FetchError("redirect", f"more than {self.max_redirects} redirects from {visited[0]}")
        return target

    async def _result(self, url: str, resp: aiohttp.ClientResponse) -> FetchResult:
        headers = _headers(resp)
        if resp.status == 304:
            return FetchResult(url=url, status=304, headers=headers)
        if resp.status >= 300:
            retry_after = _retry_after(headers.get("retry-after")) if resp.status in (429, 503) else None
            raise FetchError(
                "http",
                f"HTTP {resp.status} {resp.reason} at {url}",
                status=resp.status,
                retry_after=retry_after,
            )
        body = await self._read_body(url, resp, headers.pop("content-encoding", "identity"))
        # The body we return is decoded, so the wire length would only mislead.
        headers.pop("content-length", None)
        return FetchResult(url=url, status=resp.status, headers=headers, body=body)

    async def _read_body(self, url: str, resp: aiohttp.ClientResponse, coding: str) -> bytes:
        # A compressed body inflates to at least its own size, so a large Content-Length is
        # enough to refuse before reading anything.
        if resp.content_length is not None and resp.content_length > self.max_body:
            raise _too_big(url, self.max_body)
        decoder = _Decoder(coding.strip().lower(), url)
        body = bytearray()
        large = False
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                data = chunk
                while True:
                    # Inflate one byte past the cap at most: enough to know the body is too big.
                    # Without a large-body slot the cap is SMALL_BODY, or a gzip bomb's first
                    # chunk would put max_body in memory before its turn for a slot.
                    cap = self.max_body if large else SMALL_BODY
                    body += decoder.decode(data, cap - len(body) + 1)
                    data = b""
                    if len(body) > self.max_body:
                        raise _too_big(url, self.max_body)
                    if large or len(body) <= SMALL_BODY:
                        break
                    await self._large_slots.acquire()  # the socket waits meanwhile (TCP flow control)
                    large = True
                    if not decoder.pending:
                        break
            return bytes(body)  # copied while the slot is held: for a moment the body is there twice
        except zlib.error as exc:
            raise FetchError("encoding", f"corrupt {coding} body from {url}: {exc}") from exc
        finally:
            if large:
                self._large_slots.release()

    async def _fetch_file(self, url: str, last_modified: str | None) -> FetchResult:
        parts = urlsplit(url)
        if parts.scheme.lower() == "file" and parts.netloc not in ("", "localhost"):
            raise FetchError("file", f"file URL names another host: {url}")
        path = Path(url2pathname(parts.path)) if parts.scheme else Path(url)
        try:
            stat = await asyncio.to_thread(path.stat)
            headers = {
                "content-type": _FEED_TYPES.get(path.suffix.lower())
                or mimetypes.guess_type(path.name)[0]
                or "application/octet-stream",
                "last-modified": formatdate(stat.st_mtime, usegmt=True),
            }
            log.debug("fetch file=%s size=%d", path, stat.st_size)
            # The same validator an HTTP server would send, so sample sources also poll as 304.
            if last_modified == headers["last-modified"]:
                return FetchResult(url=url, status=304, headers=headers)
            if stat.st_size > self.max_body:
                raise _too_big(url, self.max_body)
            body = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise FetchError("file", f"cannot read {path}: {exc.strerror or exc}") from exc
        return FetchResult(url=url, status=200, headers=headers, body=body)

    async def post_form(self, url: str, fields: list[tuple[str, str]], *, public_only: bool = False) -> None:
        """POST `fields` to `url` as application/x-www-form-urlencoded UTF-8 (how WebSub talks to
        hubs); return when it answers 2xx, else raise FetchError (an error answer's text is in
        the message).

        Redirects are followed (a hub that moved answers 307 or 308, and the same request goes
        to its new address, WebSub 5.1.2). `public_only` as for fetch(): every hop is checked.
        """
        session = self._session_for(public_only)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise FetchError("scheme", f"cannot post to {url}: not an http(s) URL")
        host = (urlsplit(url).hostname or "").lower()
        headers = {"Accept": "*/*", "Accept-Encoding": "identity"}  # only a short text is read
        try:
            async with (
                self.host_slots.slot(host),
                self._slots,
                asyncio.timeout(self.timeout),
                session.post(url, data=fields, max_redirects=self.max_redirects, headers=headers) as resp,
            ):
                if 200 <= resp.status < 300:
                    return
                text = (await resp.content.read(_ANSWER_TEXT)).decode("utf-8", "replace").strip()
                raise FetchError(
                    "http",
                    f"HTTP {resp.status} {resp.reason} at {url}" + (f": {text[:200]}" if text else ""),
                    status=resp.status,
                )
        except TimeoutError:
            raise FetchError("timeout", f"no answer from {url} within {self.timeout:g}s") from None
        except aiohttp.TooManyRedirects:
            raise FetchError("redirect", f"more than {self.max_redirects} redirects from {url}") from None
        except aiohttp.ClientError as exc:
            raise _connection_error(exc, url) from exc


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """The response's header fields by lower-cased name; a field sent on several lines (Link, for
    one) is joined into one value with ", ", as RFC 9110 section 5.3 allows for list fields.

    Values lose the characters XML refuses (characters.py): control characters are invalid in a
    field value (RFC 9110 section 5.5), and invalid UTF-8 comes as lone surrogates, which no
    database takes, while ETag, Last-Modified and Link reach the source's row.
    """
    headers: dict[str, str] = {}
    for name, value in resp.headers.items():
        name, value = name.lower(), xml_safe(value)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class _Decoder:
    """Decodes a body incrementally, inflating at most what the caller allows per call."""

    def __init__(self, coding: str, url: str) -> None:
        if coding == "x-gzip":
            coding = "gzip"
        if coding not in ("identity", "", "gzip", "deflate"):
            raise FetchError("encoding", f"unsupported content coding {coding!r} from {url}")
        self.coding = coding
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS) if coding == "gzip" else None

    def decode(self, data: bytes, limit: int) -> bytes:
        """Return the decoded bytes of `data`, after any input left over, at most `limit` (>= 1).

        Input past `limit` waits in the decoder (`pending`) for the next call, which may pass b"".
        """
        if self.coding in ("identity", ""):
            return data
        if self._obj is None:
            # 'deflate' means the zlib format (RFC 9110 §8.4.1.2), but some servers send raw
            # deflate. A zlib header (RFC 1950 §2.2) has method 8 and is a multiple of 31.
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out = b""
        data = self._obj.unconsumed_tail + data
        while True:
            # A gzip body may be several members back to back (RFC 1952 §2.2).
            if self.coding == "gzip" and self._obj.eof:
                # Zero bytes may pad a gzip file after its last member (as Python's gzip reads it).
                data = (self._obj.unused_data + data).lstrip(b"\0")
                if not data:
                    break
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._obj.decompress(data, limit - len(out))
            data = b""
            if len(out) >= limit or not (self.coding == "gzip" and self._obj.eof and self._obj.unused_data):
                break
        return out

    @property
    def pending(self) -> bool:
        """Whether input is left that a call with a higher limit would decode."""
        obj = self._obj
        if obj is None:
            return False
        return bool(
            obj.unconsumed_tail or (self.coding == "gzip" and obj.eof and obj.unused_data.strip(b"\0"))
        )


def _too_big(url: str, max_body: int) -> FetchError:
    return FetchError("too_big", f"body of {url} is larger than {max_body} bytes")


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _connection_error(exc: aiohttp.ClientError, url: str) -> FetchError:
    """Map an aiohttp failure to a FetchError whose reason an operator can act on."""
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError("url", f"invalid URL {url}")
    if isinstance(exc, TimeoutError):
        return FetchError("timeout", f"timed out talking to {url}")
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, network.InternalAddress):
        return FetchError("internal", f"not connecting to {url}: {exc.host} is inside our network")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError("dns", f"cannot resolve the host of {url}")
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        return FetchError("tls", f"TLS failed with {url}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error.errno == errno.ECONNREFUSED:
        return FetchError("refused", f"connection refused by {url}")
    return FetchError("connection", f"connection to {url} failed: {exc}")
