"""WebSub (https://www.w3.org/TR/websub/), both sides.

    publisher.py   our topic feeds name output.websub_hub (publish/), and the hub is pinged
                   when a publish rewrites one of them (the publish queues the pings)
    subscriber.py  sources whose feeds name a hub are subscribed to, and what the hub pushes is
                   stored like a poll's result (refresh.receive)

`WebSub` is what the daemon (scheduler.py) holds: the callback routes for its HTTP server, and
the requests and pings that its tick starts in the background, so that no hub, however slow,
holds up polling, publishing or the server. State lives in the store (store/websub.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from aiohttp import web

from ..config import Config
from ..errors import AggregatorError
from ..fetch import Fetcher
from ..models import Source
from ..refresh import PollOutcome
from ..store import Store
from ..store import websub as table
from . import publisher, subscriber

__all__ = ["WebSub"]

log = logging.getLogger(__name__)


class WebSub:
    """The daemon's WebSub work. `source` finds a configured source by id; `received` is told of
    each stored push, as a poll's outcome (the daemon publishes what it changed)."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        config: Config,
        source: Callable[[str], Source | None],
        received: Callable[[PollOutcome], None],
        *,
        subscribes: bool = True,
        alone: Callable[[], AbstractContextManager[bool]] = lambda: nullcontext(True),
    ) -> None:
        self.store = store
        # False for workers (worker.py): they run no server for hubs to call back, so they only
        # ping the hub after publishing.
        self.subscribes = subscribes
        self.alone = alone  # whether this process is the one to send pings now (worker.py)
        self.fetcher = fetcher
        self.config = config
        self.callbacks = subscriber.Callbacks(
            store,
            fetcher,
            source,
            received,
            max_body=config.polling.max_body,
            max_items=config.polling.max_items_per_poll,
        )
        self._tasks: dict[str, asyncio.Task] = {}

    def routes(self) -> list[web.RouteDef]:
        return self.callbacks.routes()

    def configure(self, config: Config, now: datetime) -> None:
        """At start and after a reload: the hub to ping, and subscriptions for these sources."""
        self.config = config
        if self.subscribes:
            subscriber.sync(self.store, config, now)

    def polled(self, source: Source, outcome: PollOutcome, now: datetime) -> None:
        if self.subscribes:
            subscriber.discovered(self.store, source, outcome, self.config.server.public_url, now)

    def polled_as(self, source: Source, now: datetime) -> Source:
        if not self.subscribes:
            return source
        return subscriber.polled_as(self.store, source, self.config.polling.push_interval, now)

    def tick(self, now: datetime) -> None:
        """Notice lapsed leases; start sending due requests and pings unless already under way."""
        if self.subscribes:
            subscriber.end_lapsed(self.store, now)
            if self._idle("requests") and table.due_subscriptions(self.store, now, 1):
                self._start("requests", subscriber.send_requests(self.store, self.fetcher))
        hub = self.config.output.websub_hub
        if hub and self._idle("pings") and publisher.pings_due(self.store, now):
            self._start("pings", self._pings(hub))

    async def _pings(self, hub: str) -> None:
        with self.alone() as mine:
            if mine:
                await publisher.send_pings(self.store, self.fetcher, hub)

    async def stop(self) -> None:
        """Cancel what is under way; unsent requests and pings stay due in the store."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    def _idle(self, name: str) -> bool:
        task = self._tasks.get(name)
        return task is None or task.done()

    def _start(self, name: str, work: Coroutine[object, object, object]) -> None:
        async def guarded() -> None:
            try:
                await work
            except AggregatorError as e:  # a locked or full database: the next tick tries again
                log.error("WebSub %s failed: %s", name, e)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"websub {name}")
        task.add_done_callback(_report_crash)
        self._tasks[name] = task


def _report_crash(task: asyncio.Task) -> None:
    """Log a bug in a background task now, not when the task object happens to be collected."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s crashed", task.get_name(), exc_info=task.exception())
