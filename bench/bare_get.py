"""The floor for an all-304 poll: bare conditional GETs of every feed, nothing else.

    python bench/bare_get.py http://127.0.0.1:PORT --concurrency 20

asks the server for every feed path and current ETag (untimed), then sends one GET with
If-None-Match per feed through one aiohttp session capped at `concurrency` connections, as
aggregator's Fetcher is, and prints {"seconds": ..., "statuses": {...}} as JSON. Run it as a
subprocess, like the poll it is compared with, so both pay interpreter start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import aiohttp


async def bare_gets(base: str, concurrency: int) -> dict:
    async with aiohttp.ClientSession() as session, session.get(base + "/_etags") as response:
        feeds = await response.json()
    return await get_all([(base + path, {"If-None-Match": etag}) for path, etag in feeds], concurrency)


async def get_all(requests: list[tuple[str, dict[str, str]]], concurrency: int, per_host: int = 0) -> dict:
    """GET each (url, headers) through one aiohttp session, at most `concurrency` at once (and
    `per_host` per host, 0 for no cap); {"seconds": the GETs' wall time, "statuses": counts}."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host or concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        slots = asyncio.Semaphore(concurrency)
        statuses: Counter[int] = Counter()

        async def one(url: str, headers: dict[str, str]) -> None:
            async with slots, session.get(url, headers=headers) as response:
                await response.read()
                statuses[response.status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(url, headers) for url, headers in requests))
        return {"seconds": time.perf_counter() - started, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the world server, http://127.0.0.1:PORT")
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bare_gets(args.base, args.concurrency))))


if __name__ == "__main__":
    main()
