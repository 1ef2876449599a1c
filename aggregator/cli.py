"""The `aggregator` command line: a thin layer over config, refresh and publish.

Exit codes: 0 the run happened (even if some sources failed), 1 it could not happen (database or
output folder unusable), 2 the config or the command line is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import config as config_module
from .cadence import Cadence
from .config import Config
from .errors import AggregatorError, ConfigError
from .fetch import USER_AGENT, Fetcher
from .publish import PublishSettings
from .publish.selection import publish
from .refresh import FAILED, NOT_MODIFIED, OK, PollOutcome, refresh_all
from .scheduler import Daemon
from .serve import serve_forever
from .store import Store
from .topics import compile_topics

log = logging.getLogger("aggregator")

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # One-shot commands print their own summary (failed sources included), so their log shows
    # only errors unless -v asks for more; the daemons log warnings and one line per poll batch.
    quiet_by_default = getattr(args, "handler", None) not in (cmd_run, cmd_serve)
    _setup_logging(
        args.verbose - args.quiet + (-1 if quiet_by_default else 1), getattr(args, "log_format", "text")
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_CONFIG
    try:
        config = config_module.load(args.config)
    except ConfigError as e:
        print(f"aggregator: invalid config\n{e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        return args.handler(args, config)
    except AggregatorError as e:
        print(f"aggregator: {e}", file=sys.stderr)
        return EXIT_RUN_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aggregator",
        description="Poll news feeds, keep each story once, sort stories into topics, publish topic feeds.",
        epilog="Example: aggregator -c config/sample.yaml poll",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=config_module.default_path(),
        help=f"config file (default: ${config_module.ENV_PATH} or {config_module.DEFAULT_PATH})",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str, handler: Callable, help: str, example: str, parent=commands
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"Example: {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    poll = command(
        "poll",
        cmd_poll,
        "Poll every source once now (ignoring schedules), store new items, publish the topics that changed.",
        "aggregator poll --source oschina",
    )
    poll.add_argument("--source", action="append", metavar="ID", help="poll only this source (repeatable)")
    poll.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")

    command(
        "publish",
        cmd_publish,
        "Regenerate every topic's output files from the database.",
        "aggregator publish",
    )

    run = command(
        "run",
        cmd_run,
        "Run the daemon in the foreground: scheduled polling, publishing and the HTTP server. "
        "SIGTERM/SIGINT stop it, SIGHUP reloads the config.",
        "aggregator run --log-format json",
    )
    serve = command(
        "serve",
        cmd_serve,
        "Only serve the output folder over HTTP (with /healthz), without polling.",
        "aggregator serve",
    )
    for sub in (run, serve):
        sub.add_argument(
            "--log-format", choices=("text", "json"), default="text", help="log line format on stderr"
        )

    sources = command(
        "sources",
        cmd_sources,
        "Show every source with its last status, last success, error streak, items in the last 7 days, "
        "next check, and dead/gone flags.",
        "aggregator sources --json",
    )
    sources.add_argument("--json", action="store_true", help="print JSON for scripts")

    config_parser = commands.add_parser(
        "config",
        help="Work with the config file.",
        description="Work with the config file.",
        epilog="Example: aggregator -c config/aggregator.yaml config check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config_commands = config_parser.add_subparsers(title="commands", metavar="COMMAND")
    command(
        "check",
        cmd_config_check,
        "Validate the config; print every problem with its file, line and key.",
        "aggregator -c config/aggregator.yaml config check",
        parent=config_commands,
    )
    return parser


# -- commands ---------------------------------------------------------------------------------------


def cmd_poll(args: argparse.Namespace, config: Config) -> int:
    sources = list(config.sources)
    if args.source:
        known = {s.id for s in sources}
        unknown = [s for s in args.source if s not in known]
        if unknown:
            print(f"aggregator: unknown source {', '.join(unknown)} (see {config.path})", file=sys.stderr)
            return EXIT_BAD_CONFIG
        sources = [s for s in sources if s.id in args.source]

    with Store(config.database) as store:
        store.sync_sources(config.sources)
        show_progress = sys.stderr.isatty() and not args.no_progress
        with _progress(show_progress, len(sources)) as advance:
            outcomes = asyncio.run(_poll(config, store, sources, advance))
        changed = [item_id for o in outcomes if o.saved for item_id in o.saved.changed]
        report = publish(store, compile_topics(config.topics), _publish_settings(config), changed)

    print(_summary(outcomes))
    for outcome in outcomes:
        if outcome.status == FAILED:
            print(f"  failed  {outcome.source_id}: {outcome.error}")
    if report.topics:
        print(f"published {len(report.topics)} topics ({', '.join(report.topics)}) to {config.output.dir}")
    else:
        print("no topic changed")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, config: Config) -> int:
    with Store(config.database) as store:
        store.sync_sources(config.sources)
        report = publish(store, compile_topics(config.topics), _publish_settings(config))
    print(
        f"published {len(config.topics)} topics to {config.output.dir} ({len(report.files)} files rewritten)"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    asyncio.run(Daemon(config).run())
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_forever(config.output.dir, config.server.host, config.server.port, stop)

    asyncio.run(serve())
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    cadence = Cadence(dead_after=config.polling.dead_after)
    with Store(config.database) as store:
        store.sync_sources(config.sources)
        states = store.source_states([s.id for s in config.sources])
        recent = store.items_seen_since(now - timedelta(days=7))
    rows = [
        {
            "id": state.source_id,
            "url": state.url,
            "last_status": state.last_status,
            "last_error": state.last_error,
            "last_checked_at": _iso(state.last_checked_at),
            "last_success_at": _iso(state.last_success_at),
            "error_streak": state.error_streak,
            "items_7d": recent.get(state.source_id, 0),
            "next_check_at": _iso(state.next_check_at),
            "dead": cadence.is_dead(state, now),
            "gone": state.gone,
        }
        for state in states
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    table = Table(box=None, header_style="bold")
    for column in ("source", "status", "last status", "last success", "errors", "items 7d", "next check"):
        table.add_column(column, justify="right" if column in ("errors", "items 7d") else "left")
    for row in rows:
        table.add_row(
            row["id"],
            "gone"
            if row["gone"]
            else "dead"
            if row["dead"]
            else "failing"
            if row["error_streak"]
            else "ok"
            if row["last_checked_at"]
            else "new",
            str(row["last_status"] or "-"),
            _ago(row["last_success_at"], now),
            str(row["error_streak"]),
            str(row["items_7d"]),
            "never" if row["gone"] else _ago(row["next_check_at"], now) if row["next_check_at"] else "now",
        )
    Console(soft_wrap=True).print(table)
    for row in rows:
        if row["last_error"]:
            print(f"  {row['id']}: {row['last_error']}")
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace, config: Config) -> int:
    # load() already refused an invalid file; here we say what a valid one amounts to.
    print(f"{config.path}: OK")
    print(f"  database  {config.database}")
    print(f"  output    {config.output.dir} (served at {config.output.base_url})")
    print(f"  sources   {len(config.sources)}: {', '.join(s.id for s in config.sources)}")
    print(f"  topics    {len(config.topics)}: {', '.join(t.id for t in config.topics)}")
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------------------------


async def _poll(
    config: Config, store: Store, sources: list, advance: Callable[[PollOutcome], None]
) -> list[PollOutcome]:
    polling = config.polling
    fetcher = Fetcher(
        timeout=polling.timeout,
        max_body=polling.max_body,
        user_agent=polling.user_agent or USER_AGENT,
        concurrency=polling.concurrency,
        per_host=polling.per_host,
    )
    async with fetcher:
        return await refresh_all(sources, store, fetcher, on_done=advance)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ago(iso: str | None, now: datetime) -> str:
    """'5m ago' / 'in 2h' for a timestamp, '-' for none."""
    if not iso:
        return "-"
    seconds = (datetime.fromisoformat(iso) - now).total_seconds()
    amount = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if amount >= size:
            text = f"{amount // size:.0f}{unit}"
            break
    else:
        text = f"{amount:.0f}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _publish_settings(config: Config) -> PublishSettings:
    output = config.output
    return PublishSettings(
        dir=output.dir, base_url=output.base_url, max_items=output.max_items, title=output.title
    )


def _summary(outcomes: list[PollOutcome]) -> str:
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
    columns = (TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"))
    with Progress(*columns, TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("poll", total=total, last="")
        yield lambda outcome: progress.update(task, advance=1, last=outcome.source_id)


def _setup_logging(level: int, log_format: str = "text") -> None:
    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        # One object per line; structured `extra` keys (source_id, status, items_new...) become fields.
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=levels.get(level, logging.DEBUG if level > 1 else logging.ERROR), handlers=[handler]
    )
    # APScheduler logs every job run at INFO; with a tick each second that would drown everything.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))


if __name__ == "__main__":
    sys.exit(main())
