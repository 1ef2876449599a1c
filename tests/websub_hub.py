"""A WebSub hub on 127.0.0.1 for the tests: an aiohttp server in a thread of its own.

It records every request, verifies each (un)subscription at once against the subscriber's
callback, as a real hub does after answering 202, and on a publish ping fetches the pinged URL,
as a real hub does to learn what changed. The test pushes content itself (`push`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import aiohttp
from aiohttp import web


@dataclass
class Verification:
    params: dict[str, str]
    status: int
    body: str


class Hub:
    def __init__(self, lease_seconds: int = 3600) -> None:
        self.lease_seconds = lease_seconds
        self.verifies = True  # verify each subscription request; False leaves them unverified
        self.requests: list[dict[str, list[str]]] = []  # form fields of each POST, in order
        self.verifications: list[Verification] = []
        self.fetched: list[tuple[str, str]] = []  # (pinged URL, its body when the ping came)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner, self._session, self.port = self._call(self._start())
        self.url = f"http://127.0.0.1:{self.port}/"

    # -- what the test reads ------------------------------------------------------------------------
    def posts(self, mode: str) -> list[dict[str, str]]:
        """The requests with this hub.mode, each field's first value."""
        with self._lock:
            return [{k: v[0] for k, v in r.items()} for r in self.requests if r.get("hub.mode") == [mode]]

    def verified(self, mode: str) -> list[Verification]:
        with self._lock:
            return [v for v in self.verifications if v.params["hub.mode"] == mode]

    def pinged(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.fetched)

    # -- the server ---------------------------------------------------------------------------------
    async def _start(self) -> tuple[web.AppRunner, aiohttp.ClientSession, int]:
        app = web.Application()
        app.router.add_post("/", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, aiohttp.ClientSession(), runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {name: [str(v) for v in form.getall(name)] for name in set(form.keys())}
        with self._lock:
            self.requests.append(fields)
        mode = fields.get("hub.mode", [""])[0]
        if mode == "publish":
            url = fields["hub.url"][0]
            async with self._session.get(url) as response:
                body = await response.text()
            with self._lock:
                self.fetched.append((url, body))
            return web.Response(status=204)
        if mode in ("subscribe", "unsubscribe") and self.verifies:
            params = {
                "hub.mode": mode,
                "hub.topic": fields["hub.topic"][0],
                "hub.challenge": secrets.token_hex(16),
            }
            if mode == "subscribe":
                params["hub.lease_seconds"] = str(self.lease_seconds)
            asyncio.get_running_loop().create_task(self._verify(fields["hub.callback"][0], params))
        return web.Response(status=202)

    async def _verify(self, callback: str, params: dict[str, str]) -> None:
        async with self._session.get(callback, params=params) as response:
            verification = Verification(params, response.status, await response.text())
        with self._lock:
            self.verifications.append(verification)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def close(self) -> None:
        self._call(self._session.close())
        self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    return f"{method}={hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()}"


def push(callback: str, body: bytes, signature: str | None, content_type: str = "application/rss+xml") -> int:
    """POST content to a subscriber's callback, as a hub distributes it; the answer's status."""
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    request = urllib.request.Request(callback, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def verify(callback: str, **params: str) -> tuple[int, str]:
    """GET the callback with hub.* parameters (mode="subscribe" is sent as hub.mode=subscribe)."""
    query = urllib.parse.urlencode({f"hub.{name}": value for name, value in params.items()})
    try:
        with urllib.request.urlopen(f"{callback}?{query}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
