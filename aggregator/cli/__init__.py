"""The `aggregator` command line: a thin layer over config, refresh and publish.

This module reads the command line and runs a command; the commands are in run.py (poll,
publish, export, run, serve, config check), views.py (sources, topics test, search, stories),
opml.py (sources import and export) and migrate.py. Exit codes are in exits.py.

Every command starts a process of its own, so start-up is part of each command's cost. The
modules here import at their top only what is light and shared; a command imports the stages
that bring heavy libraries (the poller's aiohttp, numpy and readability, the daemon's
APScheduler, rich's tables) in its body, and those stages import such a library where they use
it when the commands that read the store do not need it. `aggregator publish` thus loads no
poller, daemon or progress bar; tests/test_startup.py keeps it so.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from .. import config as config_module
from ..errors import AggregatorError, ConfigError
from .exits import EXIT_BAD_CONFIG, EXIT_RUN_FAILED
from .migrate import cmd_migrate
from .opml import cmd_sources_export, cmd_sources_import
from .run import cmd_config_check, cmd_export, cmd_poll, cmd_publish, cmd_run, cmd_serve, cmd_worker
from .views import cmd_search, cmd_sources, cmd_stories, cmd_topics_test


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # One-shot commands print their own summary (failed sources included), so their log shows
    # only errors unless -v asks for more; the daemons log warnings and one line per poll batch.
    quiet_by_default = getattr(args, "handler", None) not in (cmd_run, cmd_serve, cmd_worker)
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
    worker = command(
        "worker",
        cmd_worker,
        "Run one of several worker processes that share the polling of a PostgreSQL database "
        "(on one machine or many): each claims due sources for polling.lease, polls and publishes; "
        "a dead worker's sources go to the others. No HTTP server: serve the shared output folder "
        "with `aggregator serve`. SIGTERM/SIGINT stop it, SIGHUP reloads the config.",
        "aggregator -c deploy/workers.yaml worker --name worker-1",
    )
    worker.add_argument(
        "--name", help="this worker's name in claims and logs (default: host:pid:random); unique"
    )
    serve = command(
        "serve",
        cmd_serve,
        "Only serve the output folder over HTTP (with /healthz), without polling.",
        "aggregator serve",
    )
    for sub in (run, worker, serve):
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

    migrate = command(
        "migrate",
        cmd_migrate,
        "Copy the SQLite database into an empty PostgreSQL database, every table and row, in one "
        "transaction, and print each table's row count; then point `database:` at the URL. Refused "
        "while `aggregator run` uses the file, or when the target holds any row.",
        "aggregator migrate --to postgresql://aggregator:secret@db.example.org/feeds",
    )
    migrate.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the PostgreSQL database (postgresql://user:password@host:port/name)",
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


def _setup_logging(level: int, log_format: str = "text") -> None:
    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        # One object per line; structured `extra` keys (source_id, status, items_new...) become fields.
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=levels.get(level, logging.DEBUG if level > 1 else logging.ERROR), handlers=[handler]
    )
    # APScheduler logs every job run at INFO; with a tick each second that would drown everything.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
