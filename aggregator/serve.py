"""Serve: the published output folder over HTTP for feed readers, plus /healthz and /metrics.

Routes (GET and HEAD; any other method gets 405 with an Allow header):

    /healthz    200 {"ok": true, ...detail} from the health callable; 503 when it says not ok
    /metrics    the Metrics registry in the Prometheus text format; 404 when there is none
    /NAME       a regular file inside the output folder; "/" (or "DIR/") means index.html

`make_app(routes=...)` adds routes before the folder's (the daemon's WebSub callbacks, with GET
and POST: aggregator/websub/subscriber.py).

Only regular files inside the folder are served: a path with an empty, ".", ".." or hidden
(".name", like the publisher's temporary files) segment, an encoded "/" or "\\", or a symlink
resolving outside the folder is 404, and so is a directory (no listings).

Conditional requests follow RFC 9110 section 13 (https://www.rfc-editor.org/rfc/rfc9110#section-13):
If-None-Match is evaluated first, with the weak comparison, and when it is present
If-Modified-Since is ignored (13.1.3). A 304 carries the ETag, Last-Modified, Cache-Control and
Vary a 200 would have carried (15.4.5).

Validators. ETags are strong and come from the file's identity, `"INODE-SIZE-MTIME_NS"` in hex,
not from hashing its bytes: the publisher replaces a file by renaming a complete new one over it
and leaves unchanged files untouched (publish.write_atomic), so a new version is a new inode with
a new mtime and an unchanged file keeps its ETag across publishes. The inode keeps apart two
versions of equal size written within one tick of the coarse clock that stamps file times. The
price: copying the folder elsewhere changes every ETag, and readers refetch each file once.

gzip (RFC 9110 8.4.1) is a different representation of the same file, so it has its own ETag, the
identity one with "-gzip" before the closing quote (8.8.3: a strong ETag names one
representation). On the way back either ETag of the current version gives a 304: the client holds
a representation of the version we would send. (Apache's well-known mod_deflate bug was adding the
suffix and not recognising it on the way back, so gzip clients never got a 304.) Compressed bytes
are cached per file version, so a popular feed is compressed once, not once per reader.

Consistency: each file is opened once; fstat of that handle gives the validators and the same
handle gives the bytes. The publisher renames complete files into place, so a response never mixes
two versions or shows half a file, even when a publish lands mid-request.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import mimetypes
import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger

from aggregator.metrics import Metrics
from aggregator.publish.feed import FORMATS

__all__ = ["Health", "make_app", "serve_forever", "start"]

logger = logging.getLogger(__name__)
# Readers poll every few minutes, so one line per request would drown INFO: requests are logged at
# DEBUG on their own logger, which operators can turn on alone.
access_logger = logging.getLogger(__name__ + ".access")

INDEX = "index.html"
MAX_AGE = 300  # seconds; short, so readers revalidate (cheaply, with a 304) after a publish
GZIP_MIN_SIZE = 256  # below this gzip's own header and trailer eat the saving
GZIP_LEVEL = 6  # zlib's default: most of level 9's saving at a fraction of its CPU
GZIP_CACHE_ENTRIES = 128
GZIP_CACHE_BYTES = 32 * 1024 * 1024

# Every published file is UTF-8. The per-topic media types come from the formats the publisher
# writes, so the two cannot drift apart.
CONTENT_TYPES = {fmt.suffix: fmt.media_type for fmt in FORMATS} | {
    ".opml": "text/x-opml",
    ".html": "text/html",
    ".md": "text/markdown",
}


@dataclass
class Health:
    """What /healthz reports: `ok` False answers 503; `detail` (JSON-serialisable) joins the body."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


def make_app(
    output_dir: Path,
    *,
    health: Callable[[], Health] | None = None,
    metrics: Metrics | None = None,
    routes: Iterable[web.RouteDef] = (),
) -> web.Application:
    """The application serving `output_dir` at `/`, with /healthz and /metrics.

    `output_dir` need not exist yet (files are 404 until the publisher creates it). `health` is
    called on every /healthz request and must be quick; without it /healthz answers {"ok": true}.
    `routes` are added before the folder's catch-all route.
    """
    folder = _Folder(Path(output_dir))
    app = web.Application()
    app.router.add_get("/healthz", _healthz_handler(health))
    app.router.add_get("/metrics", _metrics_handler(metrics))
    app.router.add_routes(routes)
    app.router.add_get("/{path:.*}", folder.handle)
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Bind `host:port` (0 picks a free port, see `runner.addresses`) and start serving `app`.

    The caller stops the server with `await runner.cleanup()`.
    """
    runner = web.AppRunner(app, access_log=access_logger, access_log_class=_AccessLogger)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def serve_forever(
    output_dir: Path,
    host: str,
    port: int,
    stop: asyncio.Event,
    health: Callable[[], Health] | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Serve `output_dir` on `host:port` until `stop` is set (what `aggregator serve` runs)."""
    runner = await start(make_app(output_dir, health=health, metrics=metrics), host, port)
    try:
        for address in runner.addresses:
            logger.info(
                "serving %s at http://%s:%s/",
                output_dir,
                *address[:2],
                extra={"output_dir": str(output_dir), "host": address[0], "port": address[1]},
            )
        await stop.wait()
    finally:
        await runner.cleanup()
        logger.info("server stopped", extra={"output_dir": str(output_dir)})


class _Folder:
    """Answers GET and HEAD for the files of one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._gzipped = _GzipCache(GZIP_CACHE_ENTRIES, GZIP_CACHE_BYTES)

    async def handle(self, request: web.Request) -> web.Response:
        names = _names(request.rel_url.raw_path)
        if not names or (file := _open_inside(self.directory, names)) is None:
            raise web.HTTPNotFound()
        with file:
            info = os.fstat(file.fileno())
            # (st_dev, st_ino, st_size, st_mtime_ns) names one version of one file: see the module
            # docstring for why that is enough under the publisher's write-by-rename.
            version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            identity_etag = f'"{info.st_ino:x}-{info.st_size:x}-{info.st_mtime_ns:x}"'
            gzip_etag = identity_etag[:-1] + '-gzip"'
            use_gzip = info.st_size >= GZIP_MIN_SIZE and _accepts_gzip(
                request.headers.get(hdrs.ACCEPT_ENCODING, "")
            )
            headers = {
                hdrs.ETAG: gzip_etag if use_gzip else identity_etag,
                hdrs.LAST_MODIFIED: formatdate(info.st_mtime, usegmt=True),
                hdrs.CACHE_CONTROL: f"public, max-age={MAX_AGE}",
                hdrs.VARY: hdrs.ACCEPT_ENCODING,
            }
            matched = _not_modified(request, info.st_mtime, (headers[hdrs.ETAG], identity_etag, gzip_etag))
            if matched is not None:
                headers[hdrs.ETAG] = matched
                return web.Response(status=304, headers=headers)
            cached = self._gzipped.get(version) if use_gzip else None
            # A synchronous read on the event loop: published files are a few hundred KB at most
            # and sit in the page cache (open + read of 400 KB measured ≈ 60 µs here); a thread hop
            # would cost about as much.
            body = cached if cached is not None else file.read()
        if use_gzip:
            if cached is None:
                # Compressing 400 KB takes ≈ 16 ms: off the loop, and once per file version.
                body = await asyncio.get_running_loop().run_in_executor(None, _gzip, body)
                self._gzipped.put(version, body)
            headers[hdrs.CONTENT_ENCODING] = "gzip"
        headers[hdrs.CONTENT_TYPE] = _content_type(names[-1])
        headers["X-Content-Type-Options"] = "nosniff"
        return web.Response(body=body, headers=headers)


def _names(raw_path: str) -> list[str] | None:
    """The file names along a still-percent-encoded request path, or None when it is not plainly
    a file inside the folder ("" and "." segments, "..", hidden names, encoded "/" or "\\", NUL)."""
    if not raw_path.startswith("/"):
        return None
    parts = raw_path[1:].split("/")
    if parts[-1] == "":
        parts[-1] = INDEX
    names = []
    for part in parts:
        try:
            name = unquote(part, errors="strict")
        except UnicodeDecodeError:
            return None
        if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
            return None
        names.append(name)
    return names


def _open_inside(directory: Path, names: list[str]) -> IO[bytes] | None:
    """Open the regular file `directory/names...` for reading, or None when it is not one or when
    it resolves (through symlinks) outside `directory` or onto a hidden name."""
    try:
        root = directory.resolve(strict=True)
        target = root.joinpath(*names).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, or (before Python 3.13) a symlink loop
        return None
    if not target.is_relative_to(root) or any(
        name.startswith(".") for name in target.relative_to(root).parts
    ):
        return None
    try:
        # O_NOFOLLOW: `target` is resolved, so a symlink here was swapped in since; O_NONBLOCK: a
        # FIFO must not hang the loop (it is refused below; regular files ignore the flag).
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:
        os.close(fd)
        return None
    return open(fd, "rb")  # the caller closes it


def _not_modified(request: web.Request, mtime: float, etags: tuple[str, ...]) -> str | None:
    """The ETag to send with a 304 when the client's copy is current, else None.

    `etags` starts with the ETag of the representation being selected, then every ETag of the
    file's current version.
    """
    if hdrs.IF_NONE_MATCH in request.headers:
        for tag in request.if_none_match or ():
            if tag.value == "*":
                return etags[0]
            quoted = f'"{tag.value}"'  # weak comparison (13.1.2): W/ does not matter
            if quoted in etags:
                return quoted
        return None  # present, so If-Modified-Since is not looked at (RFC 9110 13.1.3)
    since = request.if_modified_since  # None when absent or not a valid date: then ignored
    if since is not None and int(mtime) <= since.timestamp():  # HTTP dates have whole seconds
        return etags[0]
    return None


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value (RFC 9110 12.5.3) allows gzip: listed, or covered by "*",
    with a non-zero weight."""
    gzip_weight = any_weight = None
    for element in accept_encoding.split(","):
        coding, *params = (piece.strip() for piece in element.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0  # an unreadable weight is no consent
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            gzip_weight = weight
        elif coding == "*":
            any_weight = weight
    if gzip_weight is not None:
        return gzip_weight > 0
    return any_weight is not None and any_weight > 0


def _gzip(data: bytes) -> bytes:
    # mtime=0: the same file always compresses to the same bytes, whichever server or restart.
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def _content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix] + "; charset=utf-8"
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


class _GzipCache:
    """Compressed bodies by file version, least recently used first out, bounded in count and bytes."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[int, ...]) -> bytes | None:
        data = self._entries.get(key)
        if data is not None:
            self._entries.move_to_end(key)
        return data

    def put(self, key: tuple[int, ...], data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._entries[key] = data
        self._bytes += len(data)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped)


def _healthz_handler(health: Callable[[], Health] | None) -> Callable[[web.Request], Any]:
    async def healthz(request: web.Request) -> web.Response:
        if health is None:
            report = Health(ok=True)
        else:
            try:
                report = health()
            except Exception as error:
                # A health check that cannot run is an unhealthy daemon: say so with a 503, and
                # log the traceback for the operator.
                logger.exception("health check failed")
                report = Health(ok=False, detail={"error": f"serve: health check failed: {error}"})
        body = {"ok": report.ok, **{key: value for key, value in report.detail.items() if key != "ok"}}
        return web.Response(
            status=200 if report.ok else 503,
            text=json.dumps(body, ensure_ascii=False, default=_json_default),
            content_type="application/json",
            headers={hdrs.CACHE_CONTROL: "no-store"},
        )

    return healthz


def _json_default(value: object) -> object:
    # Health details are meant to be JSON already; a datetime (last poll time) is common enough to
    # accept as ISO 8601, and anything else shows as its str() rather than turning /healthz into a 500.
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _metrics_handler(metrics: Metrics | None) -> Callable[[web.Request], Any]:
    async def metrics_page(request: web.Request) -> web.Response:
        if metrics is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=metrics.render(),
            headers={hdrs.CONTENT_TYPE: metrics.content_type, hdrs.CACHE_CONTROL: "no-store"},
        )

    return metrics_page


class _AccessLogger(AbstractAccessLogger):
    """One DEBUG line per request, with structured keys; nothing is formatted when DEBUG is off."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %s %.1fms",
            request.method,
            request.rel_url,
            response.status,
            time * 1000,
            extra={
                "method": request.method,
                "path": str(request.rel_url),
                "status": response.status,
                "bytes": response.body_length,
                "duration_ms": round(time * 1000, 2),
                "remote": request.remote,
            },
        )
