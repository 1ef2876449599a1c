"""The world's feed server: one aiohttp.web process on 127.0.0.1 serving every source's feed.

    python bench/server.py --sources 1000 --items 50 --epoch 1732600000

prints the port it listens on, one line, once it accepts connections. Feeds are built on request
(world.World.document), so memory stays flat at any N. `--hosts H` listens on that port of
127.0.0.1 to 127.0.0.H as well, H hosts to a poller's per-host cap (the feeds are the same on
each); `--latency S` answers each feed request S seconds late, as a server across the Internet
does (bench/workers.py). Conditional requests are answered as a
well-behaved news site does (RFC 9110 §13.1.2-13.1.3): If-None-Match against the source's ETag,
else If-Modified-Since against its Last-Modified, 304 when they match.

Control endpoints for the benchmark (JSON):

    POST /_change   {"share": 0.05} or {"sources": [3, 17]}: one new item on each of those
                    sources (a random share of them, or the ones listed); answers the sources
                    changed, each with its new item's link, and the server's clock
    GET  /_etags    every source's feed path and current ETag (for bare_get.py)
    GET  /_served/S when source S's current version was first served with a 200 (or null)
    GET  /_stats    requests answered so far, by status
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
import time
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime

import world
from aiohttp import web

_CONTENT_TYPES = {"xml": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}


class FeedServer:
    """The HTTP face of a World; records when each source's current version was first served."""

    def __init__(self, the_world: world.World, seed: int, latency: float = 0.0) -> None:
        self.world = the_world
        self.latency = latency
        self.rng = random.Random(seed)
        self.served_at: dict[int, float] = {}  # source -> first 200 of its current version
        self.stats: Counter[int] = Counter()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feeds/{source:\\d+}.{kind:xml|atom}", self.feed)
        app.router.add_post("/_change", self.change)
        app.router.add_get("/_etags", self.etags)
        app.router.add_get("/_served/{source:\\d+}", self.served)
        app.router.add_get("/_stats", self.statistics)
        return app

    async def feed(self, request: web.Request) -> web.Response:
        source = int(request.match_info["source"])
        if source >= self.world.sources:
            raise web.HTTPNotFound()
        if self.latency:
            await asyncio.sleep(self.latency)
        etag = self.world.etag(source)
        modified = self.world.changed_at[source]
        headers = {"ETag": etag, "Last-Modified": formatdate(modified, usegmt=True)}
        if _not_modified(request, etag, modified):
            self.stats[304] += 1
            return web.Response(status=304, headers=headers)
        body = self.world.document(source)
        self.served_at.setdefault(source, time.time())
        self.stats[200] += 1
        headers["Content-Type"] = _CONTENT_TYPES[request.match_info["kind"]]
        return web.Response(body=body, headers=headers)

    async def change(self, request: web.Request) -> web.Response:
        wanted = await request.json()
        if "sources" in wanted:
            sources = [int(s) for s in wanted["sources"]]
        else:
            count = max(1, round(self.world.sources * float(wanted["share"])))
            sources = sorted(self.rng.sample(range(self.world.sources), count))
        now = time.time()
        self.world.change(sources, now)
        for s in sources:
            self.served_at.pop(s, None)
        links = {str(s): self.world.newest_link(s) for s in sources}
        return web.json_response({"changed": links, "at": now})

    async def etags(self, request: web.Request) -> web.Response:
        pairs = [[world.feed_path(s), self.world.etag(s)] for s in range(self.world.sources)]
        return web.json_response(pairs)

    async def served(self, request: web.Request) -> web.Response:
        return web.json_response({"served_at": self.served_at.get(int(request.match_info["source"]))})

    async def statistics(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": sum(self.stats.values()), "by_status": self.stats})


def _not_modified(request: web.Request, etag: str, modified: float) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in (tag.strip() for tag in if_none_match.split(","))
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        return parsedate_to_datetime(if_modified_since).timestamp() >= int(modified)
    except (TypeError, ValueError):
        return False


async def _serve(server: FeedServer, hosts: int) -> None:
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    for site in _bind(hosts):
        await web.SockSite(runner, site, backlog=1024).start()
    print(site.getsockname()[1], flush=True)
    await asyncio.Event().wait()  # until the benchmark terminates this process


def _bind(hosts: int) -> list[socket.socket]:
    """Sockets on one free port of 127.0.0.1 ... 127.0.0.`hosts` (all of 127/8 is loopback)."""
    for _ in range(20):  # another process may hold the port on one of the further addresses
        bound: list[socket.socket] = []
        try:
            for h in range(1, hosts + 1):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                bound.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((f"127.0.0.{h}", bound[0].getsockname()[1] if h > 1 else 0))
            return bound
        except OSError:
            for sock in bound:
                sock.close()
    raise RuntimeError(f"no port free on 127.0.0.1 to 127.0.0.{hosts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, required=True)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--epoch", type=float, required=True, help="world.starting_epoch() of the run")
    parser.add_argument("--seed", type=int, default=7, help="which sources a share-change picks")
    parser.add_argument("--hosts", type=int, default=1, help="listen on 127.0.0.1 to 127.0.0.HOSTS (< 255)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each feed's answer")
    args = parser.parse_args()
    if not 1 <= args.hosts < 255:
        parser.error("--hosts must be between 1 and 254")
    server = FeedServer(world.World(args.sources, args.items, args.epoch), args.seed, args.latency)
    try:
        asyncio.run(_serve(server, args.hosts))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
