"""The `aggregator` command line: a thin layer over config, refresh and publish.

Exit codes: 0 the run happened (even if some sources failed), 1 it could not happen (database or
output folder unusable), 2 the config or the command line is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pythonjsonlogger.json import JsonFormatter
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import config as config_module
from . import query as query_language
from .cadence import Cadence
from .config import Config
from .config import edit as config_edit
from .config.static_site import StaticSiteConfig
from .errors import AggregatorError, ConfigError, ParseError
from .models import Story, Topic
from .publish import PublishSettings, opml, write_atomic
from .publish.selection import publish
from .publish.static_site import ExportReport, export, export_after_publish
from .refresh import FAILED, NOT_MODIFIED, OK, PollOutcome, fetcher_for, refresh_all, workers_for
from .scheduler import Daemon
from .search import dry_run, search
from .serve import serve_forever
from .store import Store, redact
from .subscriptions import plan_import, read_opml
from .topics import compile_topic, compile_topics
from .webhooks import after_publish as deliver_webhooks
from .websub import publisher, subscriber

log = logging.getLogger("aggregator")

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_CONFIG = 0, 1, 2
PING_TIMEOUT = 10.0  # seconds `poll` and `publish` wait for the WebSub hub; the daemon retries later


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
        name: str, handler: Callable | None, help: str, example: str, parent=commands
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

    def group(name: str, help: str, example: str) -> argparse._SubParsersAction:
        """A command whose work is done by its subcommands; alone, it prints the main help."""
        return command(name, None, help, example).add_subparsers(title="commands", metavar="COMMAND")

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
        "next check, and dead/gone flags. `sources import` and `sources export` exchange OPML "
        "subscription lists with feed readers.",
        "aggregator sources --json",
    )
    sources.add_argument("--json", action="store_true", help="print JSON for scripts")
    source_commands = sources.add_subparsers(title="commands", metavar="COMMAND")
    opml_import = command(
        "import",
        cmd_sources_import,
        "Add the feeds of an OPML subscription list (exported from a feed reader) to the config file "
        "as sources, after the last one; the rest of the file is kept as it is, comments included. "
        "Folder names become the sources' categories; feeds already configured, and URLs that are "
        "not http(s), are skipped.",
        "aggregator sources import feedly.opml --dry-run",
        parent=source_commands,
    )
    opml_import.add_argument("file", metavar="FILE.opml", help="the OPML file ('-' reads standard input)")
    opml_import.add_argument(
        "--dry-run", action="store_true", help="show what would be added and the change, write nothing"
    )
    opml_export = command(
        "export",
        cmd_sources_export,
        "Print the configured http(s) sources as an OPML 2.0 subscription list, to import into a feed "
        "reader (each in a folder named after its first category).",
        "aggregator sources export -o subscriptions.opml",
        parent=source_commands,
    )
    opml_export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )

    topic_commands = group(
        "topics", "Work with topics.", "aggregator topics test ai --query '(AI OR 大模型) NOT 招聘'"
    )
    topics_test = command(
        "test",
        cmd_topics_test,
        "Dry run: match a topic against the stored stories, newest first, and print for each one "
        "whether it matched and which rule, keyword or query clause decided it, then the counts. "
        "--query tries another query with the topic's other rules (or, with no ID, the query alone).",
        "aggregator topics test ai --query 'title:(AI OR 人工智能) NOT 招聘' --limit 20",
        parent=topic_commands,
    )
    topics_test.add_argument("id", nargs="?", metavar="ID", help="the topic id (optional with --query)")
    topics_test.add_argument("--query", help="use this query instead of the topic's query:")
    topics_test.add_argument(
        "--limit", type=int, default=100, metavar="N", help="the newest N stories (default 100; 0: all)"
    )

    search = command(
        "search",
        cmd_search,
        "Search the stored stories with the topic query language (Chinese and English), newest "
        "first; print each story's date, source, title and link.",
        "aggregator search '\"开源 大会\" OR title:KubeCon' --limit 5",
    )
    search.add_argument("query", metavar="QUERY", help="a query, e.g. 'rust NOT 招聘'")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="at most N stories (default 20)")
    search.add_argument("--json", action="store_true", help="print JSON for scripts")

    stories = command(
        "stories",
        cmd_stories,
        "List the newest stories that several sources carried: each story's published entry, then "
        "every member (source, title, link) with its similarity to the item it joined through.",
        "aggregator stories --topic ai --limit 5",
    )
    stories.add_argument("--topic", metavar="ID", help="only stories of this topic")
    stories.add_argument("--limit", type=int, default=20, metavar="N", help="at most N stories (default 20)")
    stories.add_argument("--json", action="store_true", help="print JSON for scripts")

    export_commands = group(
        "export",
        "Write the stories of the topic feeds into a static site's folder, one post per story.",
        "aggregator export hexo blog/source/_posts --topic ai",
    )
    for name, folder, what in (
        ("hexo", "blog/source/_posts", "Hexo posts (.md with the stored HTML as the body)"),
        ("hugo", "site/content/news", "Hugo pages (.md, the body converted to Markdown)"),
    ):
        site = command(
            name,
            cmd_export,
            f"Write each story of the topic feeds into DIR as one of the {what}, named after the "
            "story, so a second export updates them; posts of stories that left the feeds are "
            "deleted, the folder's other files are left alone.",
            f"aggregator export {name} {folder} --topic ai",
            parent=export_commands,
        )
        site.set_defaults(format=name)
        site.add_argument("dir", type=Path, metavar="DIR", help="the folder of posts (created if missing)")
        site.add_argument(
            "--topic", action="append", metavar="ID", help="only this topic's stories (repeatable)"
        )

    config_commands = group(
        "config", "Work with the config file.", "aggregator -c config/aggregator.yaml config check"
    )
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
        changed = store.unpublished()
        topics = compile_topics(config.topics)
        report = publish(store, topics, _publish_settings(config), changed)
        exports = export_after_publish(store, topics, config.output, changed)
        store.mark_published(changed)
        pinged = _ping_hub(config, store, report.files)
        delivered = deliver_webhooks(
            store, config.topics, _publish_settings(config), config.polling.user_agent
        )

    print(_summary(outcomes))
    for outcome in outcomes:
        if outcome.status == FAILED:
            print(f"  failed  {outcome.source_id}: {outcome.error}")
    if report.topics:
        print(f"published {len(report.topics)} topics ({', '.join(report.topics)}) to {config.output.dir}")
    else:
        print("no topic changed")
    _print_exports(exports)
    _print_pings(config, pinged)
    if delivered:
        print(delivered)
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, config: Config) -> int:
    with Store(config.database) as store:
        store.sync_sources(config.sources)
        topics = compile_topics(config.topics)
        report = publish(store, topics, _publish_settings(config))
        exports = export_after_publish(store, topics, config.output, None)
        store.mark_published(None)
        pinged = _ping_hub(config, store, report.files)
        delivered = deliver_webhooks(
            store, config.topics, _publish_settings(config), config.polling.user_agent
        )
    print(
        f"published {len(config.topics)} topics to {config.output.dir} ({len(report.files)} files rewritten)"
    )
    _print_exports(exports)
    _print_pings(config, pinged)
    if delivered:
        print(delivered)
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
        (report,) = export(store, compile_topics(config.topics), (site,), config.output.max_items)
    print(report.summary())
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
        push = subscriber.status(store, [s.source_id for s in states])
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
            "push": push.get(state.source_id),  # WebSub: state, hub, topic, expires_at, reason
        }
        for state in states
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    table = Table(box=None, header_style="bold")
    columns = ("source", "status", "last status", "last success", "errors", "items 7d", "next check", "push")
    for column in columns:
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
            row["push"]["state"] if row["push"] else "-",
        )
    Console(soft_wrap=True).print(table)
    for row in rows:
        if row["last_error"]:
            print(f"  {row['id']}: {row['last_error']}")
        if row["push"] and row["push"]["reason"]:
            print(
                f"  {row['id']}: push {row['push']['state']} ({row['push']['hub']}): {row['push']['reason']}"
            )
    return EXIT_OK


def cmd_topics_test(args: argparse.Namespace, config: Config) -> int:
    if args.id is None and args.query is None:
        print("aggregator: topics test needs a topic ID, --query, or both", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.limit < 0 or (args.query is not None and not _valid_query(args.query)):
        if args.limit < 0:
            print("aggregator: --limit must be 0 (all) or more", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.id is None:
        topic = Topic(id="query", title="--query", query=args.query)
    else:
        topic = next((t for t in config.topics if t.id == args.id), None)
        if topic is None:
            known = ", ".join(t.id for t in config.topics) or "none"
            print(f"aggregator: unknown topic {args.id!r} (topics: {known})", file=sys.stderr)
            return EXIT_BAD_CONFIG
        if args.query is not None:
            topic = dataclasses.replace(topic, query=args.query)
    compiled = compile_topic(topic)
    matched = seen = 0
    with Store(config.database) as store:
        stored = store.count_stories()
        for verdict in dry_run(store, compiled, datetime.now(UTC), args.limit or None):
            seen += 1
            matched += verdict.matched
            print(f"{'match' if verdict.matched else 'no':<5}  {_story_line(verdict.story)}")
            print(f"       {'; '.join(verdict.reasons)}")
    summary = f"{matched} of {seen} stories match"
    if seen < stored:
        summary += f" (the newest {seen} of {stored} stored; --limit 0 looks at all)"
    feed_size = min(topic.max_items or config.output.max_items, config.output.max_items)
    if matched > feed_size:
        summary += f"; the feed keeps the newest {feed_size}"
    print(summary)
    return EXIT_OK


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    if args.limit <= 0:
        print("aggregator: --limit must be 1 or more", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if not _valid_query(args.query):
        return EXIT_BAD_CONFIG
    with Store(config.database) as store:
        result = search(store, args.query, args.limit)
    if args.json:
        rows = [
            {
                "id": story.id,
                "title": story.item.title,
                "published": _iso(story.item.published),
                "source": story.item.source_id,
                "sources": [c.source_id for c in story.carriers],
                "link": story.item.link,
            }
            for story in result.stories
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    for story in result.stories:
        print(_story_line(story))
        print(f"{'':12}{story.item.link or '-'}")
    found = len(result.stories)
    summary = f"{found} {'story' if found == 1 else 'stories'} found" if found else "no story matches"
    if found == args.limit:
        summary += " (the newest; --limit N shows more)"
    if result.scanned:
        summary += (
            f"; the query has no term the full-text index can use, so only the newest "
            f"{result.checked} stories were checked"
        )
    print(summary)
    return EXIT_OK


def cmd_stories(args: argparse.Namespace, config: Config) -> int:
    if args.limit <= 0:
        print("aggregator: --limit must be 1 or more", file=sys.stderr)
        return EXIT_BAD_CONFIG
    compiled = None
    if args.topic:
        topic = next((t for t in config.topics if t.id == args.topic), None)
        if topic is None:
            known = ", ".join(t.id for t in config.topics) or "none"
            print(f"aggregator: unknown topic {args.topic!r} (topics: {known})", file=sys.stderr)
            return EXIT_BAD_CONFIG
        compiled = compile_topic(topic)
    rows = []
    with Store(config.database) as store:
        for story in store.stories(min_sources=2):
            if len(rows) >= args.limit:
                break
            if compiled is None or compiled.match(story):
                rows.append((story, store.story_members(story.id)))
    if args.json:
        document = [
            {
                "id": story.id,
                "title": story.item.title,
                "published": _iso(story.item.published),
                "link": story.item.link,
                "members": [
                    {
                        "source": m.source_id,
                        "title": m.title,
                        "link": m.link,
                        "published": _iso(m.published),
                        "similarity": m.similarity,
                    }
                    for m in members
                ],
            }
            for story, members in rows
        ]
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return EXIT_OK
    for story, members in rows:
        print(_story_line(story))
        for m in members:
            score = "first" if m.similarity is None else f"{m.similarity:.2f}"
            print(f"{'':12}{score:>5}  {m.source_id}  {m.title}  {m.link or '-'}")
    found = len(rows)
    print(f"{found} multi-source {'story' if found == 1 else 'stories'}" if rows else "no multi-source story")
    return EXIT_OK


def cmd_sources_import(args: argparse.Namespace, config: Config) -> int:
    name = "<stdin>" if args.file == "-" else args.file
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        listing = read_opml(data, name=name)
    except OSError as e:
        print(f"aggregator: cannot read {name}: {e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except ParseError as e:
        print(f"aggregator: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    plan = plan_import(listing, config.sources)
    edit = config_edit.add_sources(
        config.path, plan.sources, comment=f"Imported from {Path(name).name}", dry_run=args.dry_run
    )
    count = len(plan.sources)
    print(
        f"{'would add' if args.dry_run else 'added'} {count} {'source' if count == 1 else 'sources'} "
        f"to {config.path}{':' if count else ''}"
    )
    width = max((len(source.id) for source in plan.sources), default=0)
    for source in plan.sources:
        categories = f"  [{', '.join(source.categories)}]" if source.categories else ""
        print(f"  + {source.id:<{width}}  {source.title}  {source.url}{categories}")
    if plan.skipped:
        print(f"skipped {len(plan.skipped)}:")
        for skipped in plan.skipped:
            print(f"  - {skipped.url or '(no URL)'} ({skipped.title or 'untitled'}): {skipped.reason}")
    if args.dry_run and edit.diff:
        print(f"\nthe change (dry run: {config.path} not written):")
        print(edit.diff, end="")
    return EXIT_OK


def cmd_sources_export(args: argparse.Namespace, config: Config) -> int:
    exported = [s for s in config.sources if urlsplit(s.url).scheme in ("http", "https")]
    data = opml.render_sources(exported, title=f"{config.output.title}: sources")
    left_out = len(config.sources) - len(exported)
    note = f" ({left_out} local file {'source' if left_out == 1 else 'sources'} left out)" if left_out else ""
    if args.output:
        write_atomic(args.output, data)
        print(f"exported {len(exported)} sources to {args.output}{note}")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        if note:
            print(f"aggregator: exported {len(exported)} sources{note}", file=sys.stderr)
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


def _ping_hub(config: Config, store: Store, files: list[Path]) -> tuple[int, int]:
    """Tell the WebSub hub which feeds a publish rewrote, with those earlier runs could not tell
    it of; (accepted, failed). A failed ping stays queued for the next run or the daemon."""
    publisher.queue_changed(store, _publish_settings(config), files)
    hub = config.output.websub_hub
    if not hub or not publisher.pings_due(store):
        return 0, 0

    async def ping() -> tuple[int, int]:
        async with fetcher_for(config.polling, timeout=min(config.polling.timeout, PING_TIMEOUT)) as fetcher:
            return await publisher.send_pings(store, fetcher, hub)

    return asyncio.run(ping())


def _print_pings(config: Config, pinged: tuple[int, int]) -> None:
    sent, failed = pinged
    if sent:
        print(f"told WebSub hub {config.output.websub_hub} that {sent} feeds changed")
    if failed:
        print(
            f"could not tell WebSub hub {config.output.websub_hub} of {failed} changed feeds (retried later)"
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _valid_query(text: str) -> bool:
    """True for a query that parses; else print the error with a caret under its position."""
    try:
        query_language.parse(text)
    except query_language.QuerySyntaxError as e:
        print(f"aggregator: invalid query: {e}", file=sys.stderr)
        print(textwrap.indent(query_language.pointer(text, e.position), "  "), file=sys.stderr)
        return False
    return True


def _story_line(story: Story) -> str:
    """'2021-07-05  oschina,solidot  title' for listings."""
    sources = ",".join(dict.fromkeys([story.item.source_id, *(c.source_id for c in story.carriers)]))
    return f"{story.item.published:%Y-%m-%d}  {sources}  {story.item.title}"


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
        dir=output.dir,
        base_url=output.base_url,
        max_items=output.max_items,
        title=output.title,
        websub_hub=output.websub_hub,
    )


def _print_exports(reports: list[ExportReport]) -> None:
    for report in reports:
        print(report.summary())


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
