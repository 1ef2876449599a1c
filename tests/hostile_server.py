"""A loopback HTTP(S) server whose routes misbehave on purpose, for the hostile-server tests.

Each route is a coroutine that writes raw bytes to the socket, so a route can do what no
well-behaved server library allows: drip a byte a second, never end its body, stream a gzip bomb,
lie about its length, answer garbage. Every route is bounded in time and bytes (ROUTE_SECONDS,
ENDLESS_BYTES), so a client that keeps reading cannot keep a test running forever.

The server runs its own event loop in a daemon thread and listens on 127.0.0.1 only; with a
`tls` context it speaks HTTPS (see `self_signed_context`).

    server = HostileServer().start()
    server.routes["/drip"] = drip(RSS)
    ... server.url("/drip") ...
    server.stop()
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

Route = Callable[[asyncio.StreamWriter], Awaitable[None]]

ROUTE_SECONDS = 60.0  # no route writes for longer than this
ENDLESS_BYTES = 512 * 1024 * 1024  # nor more than this, whatever the client does
FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    b"<link>https://news.example.com/</link>"
    b"<item><guid>https://news.example.com/1</guid><title>Hello</title>"
    b"<link>https://news.example.com/1</link><description>body</description></item></channel></rss>"
)


class HostileServer:
    """Routes paths to misbehaving coroutines and records the path of every request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.tls = tls
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> HostileServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(timeout=10)
        return self

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls, backlog=256)
        return self._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            async with asyncio.timeout(ROUTE_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1")
                self.requests.append(path)
                route = self.routes.get(path) or canned(404, b"not found", "text/plain")
                await route(writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ssl.SSLError):
            pass  # the client gave up or failed the handshake: what these routes are for
        except asyncio.CancelledError:
            pass  # stop(): end quietly (asyncio logs a cancelled connection callback as an error)
        finally:
            self._tasks.discard(task)
            writer.close()


# -- routes -----------------------------------------------------------------------------------------


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def canned(
    status: int, body: bytes = b"", content_type: str = "application/rss+xml", **headers: str
) -> Route:
    """A complete, honest answer (the hostility is in what it says)."""

    async def route(writer: asyncio.StreamWriter) -> None:
        fields = {"Content-Type": content_type, "Content-Length": str(len(body)), **headers}
        writer.write(_head(status, fields) + body)
        await writer.drain()

    return route


def redirect(location: str, status: int = 302) -> Route:
    return canned(status, b"", "text/plain", Location=location)


def drip(body: bytes = FEED, interval: float = 1.0) -> Route:
    """Headers at once, then the body one byte per `interval` seconds."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))}))
        for byte in body:
            await writer.drain()
            writer.write(bytes([byte]))
            await asyncio.sleep(interval)

    return route


def stall_headers(interval: float = 1.0) -> Route:
    """The status line, then one header byte per `interval`: the headers never end."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            await writer.drain()
            writer.write(b"a")
            await asyncio.sleep(interval)

    return route


def endless(interval: float = 0.0, chunk: bytes = b"<item><title>again</title></item>" * 2000) -> Route:
    """A chunked body that never ends: `chunk` after `chunk` (fast, or one per `interval`)."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "application/rss+xml", "Transfer-Encoding": "chunked"}))
        start = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        writer.write(f"{len(start):x}\r\n".encode() + start + b"\r\n")
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        sent = 0
        while sent < ENDLESS_BYTES:
            writer.write(frame)
            sent += len(chunk)
            await writer.drain()
            if interval:
                await asyncio.sleep(interval)

    return route


def _gzip_zero_blocks() -> tuple[bytes, bytes]:
    """(gzip header + first MiB of zeros, one more MiB of zeros) as deflate blocks.

    After a full flush deflate's window is forgotten, so every further MiB of zeros compresses to
    the very same bytes: the bomb is streamed by repeating one ~1 KB block.
    """
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, block


def gzip_bomb(mebibytes: int = 1024) -> Route:
    """A gzip body of about 1 MB on the wire that inflates to `mebibytes` MiB (1 GiB) of zeros.

    Generated while it is sent, never stored: a header and first block, the same block again and
    again, and a final block with the CRC-32 and length of the whole (computed only if a client
    ever reads that far).
    """
    first, block = _gzip_zero_blocks()
    final = b"\x03\x00"  # an empty final fixed-Huffman block, byte-aligned after the full flush
    length = len(first) + len(block) * (mebibytes - 1) + len(final) + 8

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(
            _head(
                200,
                {
                    "Content-Type": "application/rss+xml",
                    "Content-Encoding": "gzip",
                    "Content-Length": str(length),
                },
            )
        )
        writer.write(first)
        for _ in range(mebibytes - 1):
            await writer.drain()
            writer.write(block)
        crc = 0
        for _ in range(mebibytes):
            crc = zlib.crc32(bytes(1 << 20), crc)
        writer.write(final + struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF))
        await writer.drain()

    return route


def truncated(body: bytes = FEED) -> Route:
    """Announces a longer body than it sends, then closes the connection."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(
            _head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body) * 2)})
        )
        writer.write(body)
        await writer.drain()

    return route


def garbage(data: bytes = b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\xfe not http at all\r\n\r\n") -> Route:
    """Not HTTP at all."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return route


def huge_headers(count: int = 10_000) -> Route:
    """Ten thousand response headers."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {f"X-H{i}": "x" * 50 for i in range(count)}) + FEED)
        await writer.drain()

    return route


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A TLS server context with a certificate for 127.0.0.1 that no one signed, made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
