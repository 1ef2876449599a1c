"""The commands that poll, publish and serve: poll, publish, export, run, worker, serve, config check.

The poller, the daemon, the server and the progress bar are imported by the commands that run
them (see the package docstring): `publish` does not load their libraries.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..config import Config
from ..config.static_site import StaticSiteConfig
from ..publish.static_site import export
from ..republish import republish, settings_for
from ..store import Store, redact
from ..topics import compile_topics
from .exits import EXIT_BAD_CONFIG, EXIT_OK

if TYPE_CHECKING:
    from ..refresh import PollOutcome


def cmd_poll(args: argparse.Namespace, config: Config) -> int:
    from ..refresh import FAILED
    from ..websub import subscriber

    sources = list(config.sources)
    if args.source:
        known = {s.id for s in sources}
        unknown = [s for s in args.source if s not in known]
        if unknown:
            print(f"aggregator: unknown source {', '.join(unknown)} (see {config.path})", file=sys.stderr)
            return EXIT_BAD_CONFIG
        sources = [s for s in sources if s.id in args.source]

    with Store(config.database, config.stories) as store:
        store.sync_sources(config.sources)
        show_progress = sys.stderr.isatty() and not args.no_progress
        with _progress(show_progress, len(sources)) as advance:
            outcomes = asyncio.run(_poll(config, store, sources, advance))
        by_id, now = {source.id: source for source in sources}, datetime.now(UTC)
        for outcome in outcomes:  # hubs the feeds name: subscribed to by the daemon (aggregator run)
            subscriber.discovered(store, by_id[outcome.source_id], outcome, config.server.public_url, now)
        # The topics touched by what this poll stored, and by anything an earlier run stored but
        # did not get to publish (killed, or the disk was full): the store keeps that list.
        report, lines = republish(config, store, everything=False)

    print(_summary(outcomes))
    for outcome in outcomes:
        if outcome.status == FAILED:
            print(f"  failed  {outcome.source_id}: {outcome.error}")
    if report.topics:
        print(f"published {len(report.topics)} topics ({', '.join(report.topics)}) to {config.output.dir}")
    else:
        print("no topic changed")
    for line in lines:
        print(line)
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, config: Config) -> int:
    with Store(config.database) as store:
        store.sync_sources(config.sources)
        report, lines = republish(config, store, everything=True)
    print(
        f"published {len(config.topics)} topics to {config.output.dir} ({len(report.files)} files rewritten)"
    )
    for line in lines:
        print(line)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    wanted = list(dict.fromkeys(args.topic or ()))
    unknown = [t for t in wanted if t not in {topic.id for topic in config.topics}]
    if unknown:
        known = ", ".join(t.id for t in config.topics) or "none"
        print(f"aggregator: unknown topic {', '.join(unknown)} (topics: {known})", file=sys.stderr)
        return EXIT_BAD_CONFIG
    site = StaticSiteConfig(args.format, args.dir, tuple(wanted))
    with Store(config.database) as store:
        store.sync_sources(config.sources)
        (report,) = export(
            store,
            compile_topics(config.topics),
            (site,),
            config.output.max_items,
            settings_for(config).processes,
        )
    print(report.summary())
    return EXIT_OK


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from ..scheduler import Daemon

    asyncio.run(Daemon(config).run())
    return EXIT_OK


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    from ..worker import Worker

    if not isinstance(config.database, str):
        print(
            f"aggregator: workers share a PostgreSQL database (database: postgresql://...); "
            f"{config.path} names the SQLite file {config.database}: run one `aggregator run` on it",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    asyncio.run(Worker(config, args.name).run())
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from ..serve import serve_forever

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_forever(config.output.dir, config.server.host, config.server.port, stop)

    asyncio.run(serve())
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace, config: Config) -> int:
    # load() already refused an invalid file; here we say what a valid one amounts to.
    print(f"{config.path}: OK")
    print(f"  database  {redact(config.database)}")
    print(f"  output    {config.output.dir} (served at {config.output.base_url})")
    print(f"  sources   {len(config.sources)}: {', '.join(s.id for s in config.sources)}")
    print(f"  topics    {len(config.topics)}: {', '.join(t.id for t in config.topics)}")
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------------------------


async def _poll(
    config: Config, store: Store, sources: list, advance: Callable[[PollOutcome], None]
) -> list[PollOutcome]:
    from ..refresh import fetcher_for, refresh_all, workers_for

    polling = config.polling
    workers = workers_for(polling)
    try:
        async with fetcher_for(polling) as fetcher:
            return await refresh_all(
                sources,
                store,
                fetcher,
                on_done=advance,
                max_items=polling.max_items_per_poll,
                workers=workers,
            )
    finally:
        workers.close()


def _summary(outcomes: list[PollOutcome]) -> str:
    from ..refresh import FAILED, NOT_MODIFIED, OK

    count = {status: sum(o.status == status for o in outcomes) for status in (OK, NOT_MODIFIED, FAILED)}
    new = sum(len(o.saved.new) for o in outcomes if o.saved)
    updated = sum(len(o.saved.updated) for o in outcomes if o.saved)
    return (
        f"polled {len(outcomes)} sources: {count[OK]} ok, {count[NOT_MODIFIED]} not modified, "
        f"{count[FAILED]} failed; items: {new} new, {updated} updated"
    )


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[PollOutcome], None]]:
    """Yield a callback that advances a progress bar on stderr (a no-op off a terminal)."""
    if not show:
        yield lambda outcome: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"))
    with Progress(*columns, TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("poll", total=total, last="")
        yield lambda outcome: progress.update(task, advance=1, last=outcome.source_id)
