"""`aggregator migrate --to postgresql://...`: copy the configured SQLite database into an empty
PostgreSQL database (store/transfer.py), then say how to switch to it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Config
from ..config.values import _database as database_value  # the config's own check of `database:`
from ..store import Store, redact
from .exits import EXIT_BAD_CONFIG, EXIT_OK, EXIT_RUN_FAILED


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from ..scheduler import DaemonLock
    from ..store.transfer import copy_database

    if not isinstance(config.database, Path):
        print(
            f"aggregator: the database in {config.path} is already {redact(config.database)}; "
            "migrate copies an SQLite database",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    try:
        target = database_value(args.to)
    except ValueError as e:
        print(f"aggregator: --to: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if not isinstance(target, str):
        print("aggregator: --to: give a postgresql://user:password@host:port/name URL", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if not config.database.is_file():  # opening it would make an empty one
        print(
            f"aggregator: no SQLite database at {config.database} (database: in {config.path})",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    # A daemon on the file would go on storing into it after the copy: that would be lost.
    lock = DaemonLock(config.database)
    lock.acquire()
    try:
        with Store(config.database) as source, Store(target) as destination:
            copied = copy_database(source, destination)
    finally:
        lock.release()
    print(f"copied {config.database} into {redact(target)}:")
    width = max(len(c.table) for c in copied)
    for c in copied:
        cleaned = f"  ({c.cleaned} cleaned of characters XML and PostgreSQL refuse)" if c.cleaned else ""
        print(f"  {c.table:<{width}}  {c.rows:>9}{cleaned}")
    print(f"  {'total':<{width}}  {sum(c.rows for c in copied):>9} rows in {len(copied)} tables")
    print(f"to use it, set `database:` in {config.path} to that URL")
    return EXIT_OK
