"""sources import and sources export: subscriptions in and out as OPML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Config
from ..config import edit as config_edit
from ..errors import ParseError
from ..publish import opml, write_atomic
from .exits import EXIT_BAD_CONFIG, EXIT_OK


def cmd_sources_import(args: argparse.Namespace, config: Config) -> int:
    from ..subscriptions import plan_import, read_opml

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
