"""The daemon: scheduled polling, incremental publishing and the HTTP server in one process.

Scheduling state lives in the database, not in APScheduler: one short tick job asks the store
which sources are due and starts their polls, so a restart resumes every schedule exactly and a
source that fell due while the daemon was down is polled once, soon after start. A poll batch
logs one INFO line; topics touched by new or changed stories are republished on the next tick.
A poll that crashes (a bug) is logged with its traceback and recorded as a failure of its source,
with the same back-off, so it is neither lost in silence nor fetched again on every tick.

WebSub (aggregator/websub/): the server also answers the callbacks of hubs that push sources'
updates, and the tick starts subscription requests and hub pings in the background.

Signals: SIGTERM and SIGINT stop (in-flight polls get a few seconds to finish, then are
cancelled; a poll writes to the database in one synchronous transaction, so a cancelled one
leaves nothing half-written), SIGHUP reloads the config.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import config as config_module
from .cadence import Cadence
from .config import Config
from .errors import AggregatorError, ConfigError, LeaseLost, LockLost, StoreError
from .fetch import HostSlots
from .metrics import Metrics
from .models import Source
from .publish.selection import publish
from .publish.static_site import export_after_publish
from .refresh import FAILED, NOT_MODIFIED, OK, PollOutcome, fetcher_for, record_crash, refresh, workers_for
from .republish import listed_changes, settings_for
from .serve import Health, make_app, start
from .store import Store
from .store.leases import PING_LOCK, PRUNE_LOCK, PUBLISH_LOCK
from .topics import compile_topics
from .webhooks import Courier
from .websub import WebSub

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0  # in-flight polls may finish within this; SIGTERM must end us within 10 s
PRUNE_EVERY = timedelta(hours=1)
COUNT_EVERY = timedelta(seconds=5)  # how fresh /healthz counts and /metrics gauges are
STALLED_AFTER = 30.0  # seconds without a tick before /healthz answers 503
# A write waits this long for another process's lock (one-shot commands wait store.BUSY_TIMEOUT):
# the event loop, and so the HTTP server, stands still meanwhile, and the daemon retries anyway.
DAEMON_BUSY_TIMEOUT = 5.0
RETRY_FIRST, RETRY_MAX = 2.0, 300.0  # seconds before retrying after the store or the output folder failed


class _Retry:
    """When to try again after the store or the output folder failed: RETRY_FIRST, doubling up to
    RETRY_MAX while failures go on, so a full disk or a held lock costs one log line per attempt,
    not one per tick, and remote servers are not polled for results that cannot be saved."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.at = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.at

    def failed(self) -> float:
        """Note a failure; return the seconds until the next attempt (several failures of one
        attempt, such as concurrent polls, count once)."""
        now = time.monotonic()
        if now >= self.at:
            self.delay = min(max(self.delay * 2, RETRY_FIRST), RETRY_MAX)
            self.at = now + self.delay
        return self.at - now

    def succeeded(self) -> None:
        self.delay = self.at = 0.0


class DaemonLock:
    """An exclusive lock next to the database, so two daemons never poll the same sources."""

    def __init__(self, database: Path | str):
        self.path = Path(f"{database}.lock") if isinstance(database, Path) else None
        self._file = None

    def acquire(self) -> None:
        if self.path is None:  # a shared database: the daemon's store holds its lock (Store.lock_daemon)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the daemon's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(
                f"another aggregator daemon (pid {holder}) is already running on {self.path.with_suffix('')}; "
                "stop it first, or give this one another database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class _Batch:
    """Polls started by one tick; logged as one line when the last one ends."""

    outcomes: list[PollOutcome] = field(default_factory=list)


class Daemon:
    """`aggregator run`: the one process polling, publishing and serving a database.
    (worker.py's Worker shares one with other workers.)"""

    serves = True  # runs the HTTP server, with the callbacks of WebSub hubs pushing sources' updates
    start_sync_wait = 0.0  # alone on its database: a lock held at start is another process's error

    def __init__(self, config: Config):
        self.config = config
        self.metrics = Metrics()
        self.stop_event = asyncio.Event()
        self.in_flight: dict[str, asyncio.Task] = {}
        self.leases: dict[str, int] = {}  # source id -> fencing token of a worker's claim (worker.py)
        self.lock_lost: LockLost | None = None  # set when another process took our database: stop
        self.pending: set[str] = set()  # story ids changed since the last publish
        self.publish_everything = False  # a full publish is due (at start, after a reload or its failure)
        self.store_retry = _Retry()  # polls wait while the database cannot be written
        self.publish_retry = _Retry()
        self.last_tick = time.monotonic()
        self.last_poll_at: datetime | None = None
        self.next_prune = self.next_count = datetime.now(UTC)
        self.counts: dict[str, int] = {}
        self.items = 0
        # webhooks: announces after each publish; a daemon is the only sender on its database
        self.courier = Courier(config.polling.user_agent, sole=self.serves)
        self._apply(config)

    def _apply(self, config: Config) -> None:
        self.config = config
        self.sources = {s.id: s for s in config.sources}
        self.topics = compile_topics(config.topics)
        self.cadence = Cadence(max_backoff=config.polling.max_backoff, dead_after=config.polling.dead_after)
        self.publish_settings = settings_for(config)
        self.courier.configure(config.topics, self.publish_settings)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> None:
        lock = DaemonLock(self.config.database)
        lock.acquire()
        try:
            with Store(self.config.database, self.config.stories, busy_timeout=DAEMON_BUSY_TIMEOUT) as store:
                store.lock_daemon()
                self.store = store
                await self._run()
        finally:
            lock.release()
        if self.lock_lost is not None:
            raise self.lock_lost

    async def _run(self) -> None:
        config = self.config
        await self._sync_sources()
        # Every topic has files from the first minute, and config changes show; done by the first
        # tick, once the server already answers (a publish over a large store takes a while).
        self.publish_everything = True
        polling = config.polling
        self.fetcher = fetcher_for(polling, host_slots=self.host_slots())
        self.workers = workers_for(polling)  # polling.workers applies from the next start
        self.websub = WebSub(
            self.store,
            self.fetcher,
            config,
            lambda sid: self.sources.get(sid),
            self._pushed,
            subscribes=self.serves,
            alone=lambda: self.alone(PING_LOCK),
        )
        self.websub.configure(config, datetime.now(UTC))
        runner = None
        if self.serves:
            app = make_app(
                config.output.dir, health=self.health, metrics=self.metrics, routes=self.websub.routes()
            )
            runner = await start(app, config.server.host, config.server.port)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop_event.set)
        loop.add_signal_handler(signal.SIGINT, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_SECONDS,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        self.started()
        try:
            async with self.fetcher:
                scheduler.start()
                self.courier.start(self.store)
                await self.stop_event.wait()
                log.info("stopping: %d polls in flight", len(self.in_flight))
                scheduler.shutdown(wait=False)
                await self._drain()
                await self.websub.stop()
                self.publish_due()
                await self.courier.stop()
        finally:
            self.workers.close()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            if runner is not None:
                await runner.cleanup()
        log.info("%s stopped", "daemon" if self.serves else "worker")

    async def _sync_sources(self) -> None:
        """Record the config's sources at start, waiting up to `start_sync_wait` seconds for the
        write lock."""
        deadline = time.monotonic() + self.start_sync_wait
        while True:
            try:
                self.store.sync_sources(self.config.sources, retire=True)
                return
            except StoreError as e:
                if time.monotonic() > deadline:
                    raise
                log.warning("could not record the config's sources yet (trying again): %s", e)
                await asyncio.sleep(1.0)

    def started(self) -> None:
        config = self.config
        log.info(
            "daemon started: %d sources, %d topics, serving %s on http://%s:%d/",
            len(config.sources),
            len(config.topics),
            config.output.dir,
            config.server.host,
            config.server.port,
        )

    def renew(self) -> None:
        """Keep this process's claims on the sources it polls (worker.py); a daemon has none."""

    def alone(self, key: int) -> AbstractContextManager[bool]:
        """Whether this process is the one to do the work `key` names (store/leases.py) now: a
        daemon always is."""
        return nullcontext(True)

    def host_slots(self) -> HostSlots | None:
        """How the per-host cap is kept: None, this process's own count (fetch.HostSlots)."""
        return None

    async def _drain(self) -> None:
        tasks = list(self.in_flight.values())
        if not tasks:
            return
        _, still = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        if still:
            log.info("abandoned %d polls in flight; they run again after restart", len(still))

    def reload(self) -> None:
        """SIGHUP: read the config again; keep the old one if the new one is invalid."""
        try:
            new = config_module.load(self.config.path)
        except ConfigError as e:
            log.error("reload refused, keeping the running config:\n%s", e)
            return
        old = self.config
        for name in ("database", "server", "polling", "stories"):
            if getattr(new, name) != getattr(old, name):
                log.warning("config %s changed: it takes effect after a restart", name)
        new = config_module.Config(
            path=new.path,
            database=old.database,
            output=new.output,
            server=old.server,
            polling=old.polling,
            retention=new.retention,
            sources=new.sources,
            topics=new.topics,
            stories=old.stories,  # the open store keeps the rules it started with
        )
        added = set(s.id for s in new.sources) - set(self.sources)
        removed = set(self.sources) - set(s.id for s in new.sources)
        self._apply(new)
        self.store.sync_sources(new.sources, retire=True)
        self.websub.configure(new, datetime.now(UTC))
        self.publish_everything = True  # by the next tick, not inside the signal handler
        log.info(
            "config reloaded: %d sources (%d added, %d removed), %d topics",
            len(new.sources),
            len(added),
            len(removed),
            len(new.topics),
        )

    # -- the tick -----------------------------------------------------------------------------------
    async def tick(self) -> None:
        self.last_tick = time.monotonic()
        now = datetime.now(UTC)
        try:
            self.renew()
            if self.publish_retry.ready():
                self.publish_due()
            if self.serves and now >= self.next_count:  # for /healthz and /metrics
                self.next_count = now + COUNT_EVERY
                self._count(now)
            if now >= self.next_prune:
                self.next_prune = now + PRUNE_EVERY
                self.prune(now)
            self.websub.tick(now)
            room = self.config.polling.concurrency * 2 - len(self.in_flight)
            due = self.due(now, room) if self.store_retry.ready() else []
        except LockLost as e:  # another daemon has the database now: polling beside it would go wrong
            log.error("%s; stopping", e)
            self.lock_lost = e
            self.stop_event.set()
            return
        except (AggregatorError, *self.store.engine.errors) as e:  # locked, full, lost: try next tick
            log.error("tick failed: %s", e)
            return
        if due:
            batch = _Batch()
            tasks = [self._start(self.sources[sid], batch) for sid in due]
            asyncio.get_running_loop().create_task(self._log_batch(batch, tasks))

    def publish_due(self) -> None:
        """Publish the topics that polls and pushes changed since the last publish, if any."""
        if self.pending or self.publish_everything:
            self.pending = set()
            with self.alone(PUBLISH_LOCK) as mine:
                if mine:
                    self._publish_listed()

    def _publish_listed(self) -> None:
        """Publish what the store lists unpublished (every topic when a full publish is due):
        this process's changes, and any a one-shot command or an earlier run left."""
        everything, self.publish_everything = self.publish_everything, False
        seen, changed = listed_changes(self.store, everything)
        if everything or seen:
            self._publish(None if changed is None else set(changed), seen)

    def prune(self, now: datetime) -> None:
        with self.alone(PRUNE_LOCK) as mine:
            if mine:
                retention = self.config.retention
                self.store.prune(now, retention.max_age, retention.max_items_per_source)

    def due(self, now: datetime, room: int) -> list[str]:
        """Up to `room` ids of sources to poll now (none already in flight); asked every tick."""
        if room <= 0:
            return []
        candidates = [sid for sid in self.sources if sid not in self.in_flight]
        return self.store.due_sources(now, candidates, room)

    def _start(self, source: Source, batch: _Batch) -> asyncio.Task:
        async def poll() -> None:
            try:
                outcome = await refresh(
                    self.websub.polled_as(source, datetime.now(UTC)),  # seldom while a hub pushes
                    self.fetcher,
                    self.store,
                    cadence=self.cadence,
                    max_items=self.config.polling.max_items_per_poll,
                    workers=self.workers,
                    lease=self.leases.get(source.id),
                )
            except LeaseLost as e:  # another worker polls the source now: its poll is the one kept
                log.warning("%s", e, extra={"source_id": source.id})
                outcome = PollOutcome(source.id, FAILED, error=str(e))
            except AggregatorError as e:  # the store failed: recorded nowhere else, so log it
                # Nothing of this poll was saved, so the source stays due and its items are
                # fetched again; new polls wait until then, so that a locked or full database
                # does not have every source fetched on every tick.
                delay = self.store_retry.failed()
                log.error(
                    "poll of %s could not be saved; polls resume in %.0fs: %s",
                    source.id,
                    delay,
                    e,
                    extra={"source_id": source.id},
                )
                outcome = PollOutcome(source.id, FAILED, error=str(e))
            except Exception as e:  # a bug: gather() in _log_batch would swallow it
                outcome = self._crashed(source, e)
            else:
                self.store_retry.succeeded()
                self._discovered(source, outcome)
            finally:
                self.in_flight.pop(source.id, None)
                self.leases.pop(source.id, None)
            batch.outcomes.append(outcome)
            self.last_poll_at = datetime.now(UTC)
            saved = outcome.saved
            if saved:
                self.pending.update(saved.changed)
            self.metrics.poll_finished(
                source.id,
                outcome.status,
                items_new=len(saved.new) if saved else 0,
                items_updated=len(saved.updated) if saved else 0,
                duration=outcome.seconds,
            )

        task = asyncio.get_running_loop().create_task(poll(), name=f"poll {source.id}")
        self.in_flight[source.id] = task
        return task

    def _discovered(self, source: Source, outcome: PollOutcome) -> None:
        """Follow the hubs a saved poll found; the poll stands whatever happens here."""
        try:
            self.websub.polled(source, outcome, datetime.now(UTC))
        except AggregatorError as e:
            log.warning(
                "source %s: could not record its WebSub hubs: %s",
                source.id,
                e,
                extra={"source_id": source.id},
            )

    def _crashed(self, source: Source, error: Exception) -> PollOutcome:
        """A poll ended in an unexpected error: log its traceback and record it on the source's
        row with the back-off of a failure, so the source is not fetched again on every tick."""
        log.error("poll of %s crashed", source.id, exc_info=error, extra={"source_id": source.id})
        try:
            return record_crash(
                self.store, source, error, self.cadence, datetime.now(UTC), self.leases.get(source.id)
            )
        except LeaseLost:  # another worker polls the source now
            return PollOutcome(source.id, FAILED, error=str(error))
        except Exception as e:  # not even that could be saved: wait as for a failing store
            delay = self.store_retry.failed()
            log.error(
                "poll of %s: the crash could not be recorded; polls resume in %.0fs: %s", source.id, delay, e
            )
            return PollOutcome(source.id, FAILED, error=str(error))

    async def _log_batch(self, batch: _Batch, tasks: list[asyncio.Task]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        count = {
            status: sum(o.status == status for o in batch.outcomes) for status in (OK, NOT_MODIFIED, FAILED)
        }
        new = sum(len(o.saved.new) for o in batch.outcomes if o.saved)
        updated = sum(len(o.saved.updated) for o in batch.outcomes if o.saved)
        log.info(
            "polled %d sources: %d ok, %d not modified, %d failed; items: %d new, %d updated",
            len(batch.outcomes),
            count[OK],
            count[NOT_MODIFIED],
            count[FAILED],
            new,
            updated,
            extra={"sources": len(batch.outcomes), "items_new": new, "items_updated": updated},
        )

    def _publish(self, changed: set[str] | None, seen: dict[str, int]) -> None:
        started = time.monotonic()
        try:
            report = publish(self.store, self.topics, self.publish_settings, changed)
            export_after_publish(
                self.store, self.topics, self.config.output, changed, self.publish_settings.processes
            )
        except AggregatorError as e:  # a full disk or read-only folder: keep the changes for next time
            # The old files stay in place (publish.write_atomic); a failed full publish (at start,
            # after a reload) is owed whole, or topics whose files were never written stay missing.
            delay = self.publish_retry.failed()
            log.error("publish failed, retrying in %.0fs: %s", delay, e)
            if changed is None:
                self.publish_everything = True
            else:
                self.pending |= changed
            return
        self.publish_retry.succeeded()
        if report.chosen is not None:  # None: nothing changed, nothing to announce
            self.courier.published(self.store, report.chosen)
        try:
            self.store.mark_published(seen)
        except AggregatorError as e:  # harmless: the next publish covers these ids again
            log.warning("could not record what was published: %s", e)
        self.metrics.publish_finished(time.monotonic() - started, len(report.topics))
        if report.topics:
            log.info("published %s", ", ".join(report.topics), extra={"topics": report.topics})

    def _pushed(self, outcome: PollOutcome) -> None:
        """A hub pushed a source's feed and it was stored: publish what changed on the next tick."""
        saved = outcome.saved
        if saved:
            self.pending.update(saved.changed)
            log.info(
                "source %s: pushed by its hub, items: %d new, %d updated",
                outcome.source_id,
                len(saved.new),
                len(saved.updated),
                extra={"source_id": outcome.source_id, "items_new": len(saved.new)},
            )

    # -- health ---------------------------------------------------------------------------------------
    def _count(self, now: datetime) -> None:
        """Refresh the source and item counts behind /healthz and the /metrics gauges."""
        states = self.store.source_states(list(self.sources))
        self.counts = {
            "total": len(states),
            "failing": sum(1 for s in states if s.error_streak and not s.gone),
            "dead": sum(1 for s in states if not s.gone and self.cadence.is_dead(s, now)),
            "gone": sum(1 for s in states if s.gone),
        }
        self.items = self.store.count_items()
        self.metrics.set_sources(**self.counts)
        self.metrics.set_items(self.items)

    def health(self) -> Health:
        """For /healthz: 503 once the tick has not run for STALLED_AFTER seconds. No database
        work here: readers and probes may call it often; the tick keeps the counts fresh."""
        since_tick = time.monotonic() - self.last_tick
        detail = {
            "ok": since_tick < STALLED_AFTER,
            "seconds_since_tick": round(since_tick, 1),
            "last_poll_at": self.last_poll_at.isoformat() if self.last_poll_at else None,
            "polls_in_flight": len(self.in_flight),
            "items": self.items,
            "sources": self.counts,
        }
        return Health(ok=detail["ok"], detail=detail)
