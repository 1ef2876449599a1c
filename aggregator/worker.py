"""`aggregator worker`: one of any number of processes, on any number of machines, that share
the polling of one PostgreSQL database.

A worker is the daemon (scheduler.py) with four differences, all through store/leases.py:

- It polls the sources it claims, not every due source it knows: a claim lasts
  `polling.lease` and is renewed while its poll runs, and a poll is saved only while its claim
  holds. A worker that dies (SIGKILL, a lost machine) leaves claims that run out: its sources are
  due again for the others within `polling.lease`.
- The per-host cap (`polling.per_host`) holds across all workers (SharedHostSlots).
- Publishing and pruning are done by one worker at a time (an advisory lock, never waited for),
  from the list of changed items the store keeps (`unpublished`), so each change is published
  once, by whichever worker gets there. Workers write the same output folder: share it (one
  volume) and serve it with `aggregator serve`.
- It runs no HTTP server, so it neither serves feeds nor subscribes to WebSub hubs (a hub has
  to call back a server); it pings the hub after publishing.

A worker and a daemon never run on one database together (store/postgresql.py, DAEMON_LOCK).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from contextlib import AbstractContextManager
from datetime import datetime

from .config import Config
from .scheduler import DAEMON_BUSY_TIMEOUT, Daemon
from .store import Store, leases
from .store.leases import PUBLISH_LOCK, SharedHostSlots

log = logging.getLogger(__name__)


class Worker(Daemon):
    serves = False
    # Workers starting together each record the config's sources, one at a time (the write
    # lock), and the first sync of a large config takes seconds.
    start_sync_wait = 120.0

    def __init__(self, config: Config, name: str | None = None):
        super().__init__(config)
        # Unique among all workers, live or dead: a claim names its worker.
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.renewed_at = time.monotonic()
        self.slots: SharedHostSlots | None = None

    async def run(self) -> None:
        with Store(self.config.database, self.config.stories, busy_timeout=DAEMON_BUSY_TIMEOUT) as store:
            store.lock_worker()
            self.store = store
            self.slots = SharedHostSlots(store, self.config.polling.per_host)
            try:
                await self._run()
            finally:
                self.slots.close()
        if self.lock_lost is not None:
            raise self.lock_lost

    def started(self) -> None:
        log.info(
            "worker %s started: %d sources, %d topics, publishing to %s",
            self.name,
            len(self.config.sources),
            len(self.config.topics),
            self.config.output.dir,
        )

    def host_slots(self) -> SharedHostSlots | None:
        return self.slots

    def alone(self, key: int) -> AbstractContextManager[bool]:
        return leases.alone(self.store, key)

    def renew(self) -> None:
        """Renew the claims of polls still running, every quarter of `polling.lease`."""
        lease = self.config.polling.lease
        if self.leases and time.monotonic() - self.renewed_at >= lease / 4:
            self.renewed_at = time.monotonic()
            kept = leases.renew(self.store, self.name, list(self.leases), lease)
            for source_id in set(self.leases) - kept:  # its save will be refused (LeaseLost)
                log.warning(
                    "worker %s: the claim on source %s ran out before its poll ended", self.name, source_id
                )

    def due(self, now: datetime, room: int) -> list[str]:
        """Claim up to `room` due sources (none of this worker's polls still running)."""
        if room <= 0:
            return []
        claimed = leases.claim(
            self.store, self.name, self.config.polling.lease, now, room, list(self.in_flight)
        )
        # A source this worker's config does not have (another worker's config is newer): left
        # claimed until the claim runs out, so this worker does not claim it again and again.
        self.leases.update((sid, token) for sid, token in claimed.items() if sid in self.sources)
        return [sid for sid in claimed if sid in self.sources]

    def publish_due(self) -> None:
        """Publish what any worker changed, unless another worker is publishing now: the changes
        stay listed in the store for whoever publishes next."""
        self.pending.clear()  # the store's list is the one that counts here
        with self.alone(PUBLISH_LOCK) as mine:
            if mine:
                self._publish_listed()

    async def _drain(self) -> None:
        claimed = list(self.leases)
        await super()._drain()
        leases.release(self.store, self.name, claimed)  # abandoned polls: due for the others now
