"""The commands that show what is stored: sources, topics test, search, stories."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from datetime import UTC, datetime, timedelta

from .. import query as query_language
from ..cadence import Cadence
from ..config import Config
from ..models import Story, Topic
from ..search import dry_run, search
from ..store import Store, leases
from ..topics import compile_topic
from .exits import EXIT_BAD_CONFIG, EXIT_OK


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..websub import subscriber

    now = datetime.now(UTC)
    cadence = Cadence(dead_after=config.polling.dead_after)
    with Store(config.database) as store:
        store.sync_sources(config.sources)
        states = store.source_states([s.id for s in config.sources])
        recent = store.items_seen_since(now - timedelta(days=7))
        push = subscriber.status(store, [s.source_id for s in states])
        claims = leases.claims(store)
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
            "polled_by": claims.get(state.source_id),  # the worker polling it now (aggregator worker)
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
            else f"polling ({row['polled_by']})"
            if row["polled_by"]
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
