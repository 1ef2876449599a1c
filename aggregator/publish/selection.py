"""Choose each topic's stories from the store and publish the topics that need it.

Which stories a topic's rules take is kept in the database (store/membership.py), so choosing a
topic's stories reads the newest rows of its rules set, an index range whatever the size of the
store, instead of matching every story. select() keeps that membership up to date first:

1. Stories queued as changed are evaluated again against every kept rules set. Triggers queue a
   story whenever its items, its carriers or its date change (schema.py), whichever code path
   wrote them: saving a poll, pruning, a representative changing, a member joining.
2. Rules not kept yet (a new topic, or a topic whose rules changed and so have a new digest) are
   built from every stored story, newest first, BATCH stories per transaction (per worker
   process, over a large store); a story that changes meanwhile is queued, and step 3 evaluates
   it again.
3. In one transaction, the queue is emptied again, the rows are read and the stories loaded: the
   result is what scan() (the plain scan of every story, kept as the reference and the fallback)
   gives at that moment.

Rules are kept by digest, not by topic id, so processes with different configs on one database
(a daemon and an `aggregator publish` run after an edit) keep each other's rules up to date
instead of corrupting them. publish() records that it used its rules and drops those no publish
has used for RULES_KEPT_FOR (topics removed or edited since): dropping every rules set not in this
process's config would have a daemon and a CLI run with another config rebuild each other's
membership at every publish, a scan of every story each time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..models import Story
from ..store import Store
from ..store import websub as websub_table
from ..store.membership import Membership, Rules
from ..store.published import PublishedFeeds
from ..topics import CompiledTopic, PreparedStory, compile_rules
from . import PublishSettings, build, index_outputs, topic_outputs, write_outputs
from .feed import FORMATS, PublishedEntry, fingerprint

if TYPE_CHECKING:
    from ..pool import Workers

log = logging.getLogger(__name__)

BATCH = 200  # stories evaluated per write transaction (per worker process): others wait for one batch at most
PARALLEL_BUILD = 5000  # stored stories from which a membership build uses worker processes
BUILD_PROCESSES = 4  # at most: each takes BATCH stories of a transaction, which holds the write lock
ATTEMPTS = 3  # membership reads tried before scanning (another process kept dropping our rules)
# Topics rendered and written together: their 60 files are about one round of
# atomic.replace_files, and all that a publish holds in memory at once, however many topics.
TOPICS_PER_WRITE = 20
RULES_KEPT_FOR = timedelta(days=1)  # unused rules sets are dropped after this (module docstring)

# Kept rules compiled from their saved form, once: another config's, and a worker process's (_evaluate_share).
_foreign_rules: dict[str, CompiledTopic] = {}


@dataclass
class PublishReport:
    """What a publish did. The WebSub hub's pings for the rewritten feeds are already queued."""

    topics: list[str] = field(default_factory=list)  # topics whose files were rewritten
    files: list[Path] = field(default_factory=list)
    # topic id -> the stories its feeds list now (None: nothing changed, nothing was chosen),
    # for the webhooks to announce exactly what the feeds list.
    chosen: dict[str, list[Story]] | None = None


def select(
    store: Store,
    topics: list[CompiledTopic],
    max_items: int,
    now: datetime | None = None,
    processes: int | None = None,
) -> dict[str, list[Story]]:
    """topic id -> its newest matching stories, newest first.

    A topic holds at most its own `max_items` (never more than `max_items`, the feeds' cap) and,
    when it sets `max_age`, no story published before `now` minus that age. The answer is the
    same as scan()'s; it is read from the kept membership (module docstring). A large build
    uses at most `processes` worker processes (PublishSettings.processes).
    """
    now = now or datetime.now(UTC)
    membership = Membership(store)
    for _ in range(ATTEMPTS):
        _keep_up(store, membership, topics, processes)
        chosen = _read(store, membership, topics, max_items, now)
        if chosen is not None:
            return chosen
    log.warning("topic membership changed under this process at every attempt; scanning every story")
    return scan(store, topics, max_items, now)


def scan(
    store: Store, topics: list[CompiledTopic], max_items: int, now: datetime | None = None
) -> dict[str, list[Story]]:
    """select()'s answer from one newest-first pass over every stored story, matching each.

    A topic is closed for the rest of the pass once it is full or the stories have grown older
    than its max_age; each story is prepared (folded) once for all the topics.
    """
    now = now or datetime.now(UTC)
    chosen: dict[str, list[Story]] = {t.topic.id: [] for t in topics}
    limits = {t.topic.id: _limit(t, max_items) for t in topics}
    open_topics = list(topics)
    for story in store.stories():
        open_topics = [t for t in open_topics if t.fresh(story, now)]
        if not open_topics:
            break
        prepared = PreparedStory(story)
        for compiled in open_topics:
            if compiled.match(prepared):
                chosen[compiled.topic.id].append(story)
        open_topics = [t for t in open_topics if len(chosen[t.topic.id]) < limits[t.topic.id]]
    return chosen


def forget_unused_rules(store: Store, topics: list[CompiledTopic], now: datetime) -> None:
    """Record that `topics` use their rules sets at `now`, and drop the kept membership of every
    rules set no publish has used for RULES_KEPT_FOR (module docstring)."""
    membership = Membership(store)
    with membership.transaction():
        membership.used([t.digest for t in topics], now)
        membership.forget(membership.unused_since(now - RULES_KEPT_FOR))


def _limit(compiled: CompiledTopic, max_items: int) -> int:
    return min(compiled.topic.max_items or max_items, max_items)


def _keep_up(
    store: Store, membership: Membership, topics: list[CompiledTopic], processes: int | None = None
) -> None:
    """Steps 1 and 2 of the module docstring."""
    while True:
        with membership.transaction():
            if not _reevaluate(store, membership, _kept(membership, topics)):
                break
    building: dict[int, CompiledTopic] = {}
    with membership.transaction():
        kept = {rules.digest: rules for rules in membership.rules()}
        for compiled in topics:
            rules = kept.get(compiled.digest)
            if rules is None or not rules.built:
                building[membership.keep(compiled.digest, compiled.rules)] = compiled
    if building:
        _build(store, membership, building, processes)


def _build(
    store: Store, membership: Membership, building: dict[int, CompiledTopic], processes: int | None = None
) -> None:
    """Evaluate every stored story against these new rules sets (id -> rules), newest first.

    Matching is most of the cost (about half a millisecond a story for 50 topics): over a large
    store, on a machine with several cores, the stories of each transaction are matched in
    worker processes, one share each, while this one waits.
    """
    started, evaluated = time.monotonic(), 0
    log.info("building the membership of %d topic rules over every stored story", len(building))
    workers = _workers_for(store.count_stories(), processes)
    page = BATCH * (workers.processes if workers else 1)
    stories = store.stories(batch=page)  # each page is read inside the transaction that uses it
    try:
        while building:
            with membership.transaction():
                alive = {rules.id for rules in membership.rules()}
                building = {rules_id: c for rules_id, c in building.items() if rules_id in alive}
                batch = list(islice(stories, page))
                membership.add(
                    _evaluate_shares(workers, batch, building) if workers else _evaluate(batch, building)
                )
                evaluated += len(batch)
                if len(batch) < page:
                    for rules_id in building:
                        membership.built(rules_id)
                    break
    finally:
        if workers:
            workers.close()
    seconds = time.monotonic() - started
    log.info(
        "built topic membership: %d stories in %.1f s",
        evaluated,
        seconds,
        extra={"stories": evaluated, "seconds": round(seconds, 1)},
    )


def _read(
    store: Store, membership: Membership, topics: list[CompiledTopic], max_items: int, now: datetime
) -> dict[str, list[Story]] | None:
    """Step 3 of the module docstring; None when a rules set we need is not built (another
    process dropped it since _keep_up) or a row names a story that is gone: try again."""
    with membership.transaction():
        compiled_rules = _kept(membership, topics)
        while _reevaluate(store, membership, compiled_rules):
            pass
        kept = {rules.digest: rules for rules in membership.rules()}
        if not all(t.digest in kept and kept[t.digest].built for t in topics):
            return None
        newest: dict[str, list[str]] = {}
        for compiled in topics:
            max_age = compiled.topic.max_age
            since = now - timedelta(seconds=max_age) if max_age is not None else None
            newest[compiled.topic.id] = membership.newest(
                kept[compiled.digest].id, since, _limit(compiled, max_items)
            )
        wanted = list(dict.fromkeys(story_id for ids in newest.values() for story_id in ids))
        stories = {story.id: story for story in store.stories(wanted)}
        gone = [story_id for story_id in wanted if story_id not in stories]
        if gone:  # cannot happen while the triggers hold; heal rather than publish a short feed
            log.warning("topic membership named %d stories that are gone; evaluating them again", len(gone))
            membership.queue(gone)
            return None
    # `since` is whole seconds; fresh() has the exact word on the stories at the edge.
    return {
        compiled.topic.id: [
            stories[story_id]
            for story_id in newest[compiled.topic.id]
            if compiled.fresh(stories[story_id], now)
        ]
        for compiled in topics
    }


def _kept(membership: Membership, topics: list[CompiledTopic]) -> dict[int, CompiledTopic]:
    """Every kept rules set, compiled: ours from `topics`, others' from their saved rules. Rules
    saved by another version of this program (they no longer compile, or to another digest) are
    dropped: we cannot keep them up to date, and that version rebuilds them when it needs them."""
    ours = {t.digest: t for t in topics}
    compiled: dict[int, CompiledTopic] = {}
    unusable: list[int] = []
    for rules in membership.rules():
        topic = ours.get(rules.digest) or _foreign_rules.get(rules.digest) or _compile(rules)
        if topic is None:
            unusable.append(rules.id)
        else:
            compiled[rules.id] = topic
    membership.forget(unusable)
    return compiled


def _compile(rules: Rules) -> CompiledTopic | None:
    try:
        topic = compile_rules(rules.rules)
    except (ConfigError, TypeError) as error:
        log.warning("dropping topic rules saved by another version: %s", error)
        return None
    if topic.digest != rules.digest:
        log.warning("dropping topic rules saved by another version of the matching (%s)", rules.digest)
        return None
    _foreign_rules[rules.digest] = topic
    return topic


def _reevaluate(store: Store, membership: Membership, kept: dict[int, CompiledTopic]) -> int:
    """Evaluate one batch of queued stories against every kept rules set; return how many were
    taken off the queue (0: it is empty). Runs inside the caller's transaction."""
    queued = membership.stale(BATCH)
    if queued:
        stories = list(store.stories(queued))
        membership.decide(queued + [story.id for story in stories], _evaluate(stories, kept))
    return len(queued)


def _workers_for(stories: int, processes: int | None) -> Workers | None:
    """Worker processes to build membership over `stories` stories with, started: `processes`
    (None: one per core, none on a single core) up to BUILD_PROCESSES, and none below
    PARALLEL_BUILD (starting them costs about a second of CPU)."""
    from ..pool import WorkerDied, Workers, default_workers  # loads multiprocessing: only for a large build

    allowed = default_workers() if processes is None else processes
    count = min(allowed, BUILD_PROCESSES) if stories >= PARALLEL_BUILD else 0
    if not count:
        return None
    workers = Workers(count, inline=0)
    try:
        workers.start()  # before the first transaction: starting them takes a second or so
    except WorkerDied as error:
        log.warning("matching stories here: %s", error)
        workers.close()
        return None
    return workers


def _evaluate_shares(
    workers: Workers, stories: list[Story], rules: dict[int, CompiledTopic]
) -> list[tuple[int, str]]:
    """_evaluate, BATCH stories a job in the worker processes (here if one of them died)."""
    from ..pool import WorkerDied

    saved = {rules_id: (c.digest, c.rules) for rules_id, c in rules.items()}
    shares = [(stories[start : start + BATCH], saved) for start in range(0, len(stories), BATCH)]
    try:
        return [row for rows in workers.map(_evaluate_share, shares) for row in rows]
    except WorkerDied as error:
        log.warning("matching stories here instead: %s", error)
        return _evaluate(stories, rules)


def _evaluate_share(share: tuple[list[Story], dict[int, tuple[str, dict]]]) -> list[tuple[int, str]]:
    """_evaluate in a worker process: the rules travel as (digest, saved rules), compiled once."""
    stories, saved = share
    compiled = {}
    for rules_id, (digest, rules) in saved.items():
        topic = _foreign_rules.get(digest) or _compile(Rules(rules_id, digest, rules, built=False))
        if topic is None:
            raise ConfigError(f"topic rules {digest} do not compile in a worker process")
        compiled[rules_id] = topic
    return _evaluate(stories, compiled)


def _evaluate(stories: Iterable[Story], rules: dict[int, CompiledTopic]) -> list[tuple[int, str]]:
    """(rules id, story id) for every rules set that takes each story; each story folded once."""
    rows: list[tuple[int, str]] = []
    for story in stories:
        prepared = PreparedStory(story)
        rows += [(rules_id, story.id) for rules_id, compiled in rules.items() if compiled.match(prepared)]
    return rows


def publish(
    store: Store,
    topics: list[CompiledTopic],
    settings: PublishSettings,
    changed: Iterable[str] | None = None,
) -> PublishReport:
    """Publish every topic (changed=None), or, after changes (ids of changed items or stories),
    the topics whose feeds now say something else than what their files were written from.

    A full publish renders every topic and rewrites the files whose bytes changed. An incremental
    one compares each feed's fingerprint with the one recorded when its files were written, and
    renders only the topics that differ (whatever the changes were: a story that joined, changed,
    or left a feed) and those whose files are missing, plus the index when any topic changed. The
    files of every configured topic are written from the first run on.
    """
    report = PublishReport()
    if changed is not None and not list(changed) and _all_published(settings, topics):
        return report  # nothing changed and nothing is missing: every file stands
    forget_unused_rules(store, topics, datetime.now(UTC))
    chosen = report.chosen = select(store, topics, settings.max_items, processes=settings.processes)
    built: dict[str, PublishedEntry] = {}  # shared by the topics that list the same story
    feeds = [build(t.topic, chosen[t.topic.id], settings, built) for t in topics]
    published = PublishedFeeds(store)
    paths = {feed.topic_id: str((settings.dir / feed.topic_id).resolve()) for feed in feeds}
    fingerprints = {feed.topic_id: fingerprint(feed) for feed in feeds}
    recorded = published.fingerprints(list(paths.values()))
    due = [
        feed
        for feed in feeds
        if changed is None
        or recorded.get(paths[feed.topic_id]) != fingerprints[feed.topic_id]
        or not _published(settings, feed.topic_id)
    ]
    for start in range(0, len(due), TOPICS_PER_WRITE):
        group = due[start : start + TOPICS_PER_WRITE]
        written = write_outputs(settings.dir, {n: d for f in group for n, d in topic_outputs(f).items()})
        names = {path.name for path in written}
        report.files += written
        report.topics += [f.topic_id for f in group if any(f.topic_id + x.suffix in names for x in FORMATS)]
        # The hub's pings are owed before the fingerprints say these files are written: a publish
        # that fails after this (a later group, a static site) is retried, finds the fingerprints
        # matching and rewrites nothing, so it could no longer tell the hub. A feed whose
        # fingerprint is new is pinged even if an attempt cut short already wrote its files.
        if settings.websub_hub:
            pings = [
                f.url(x)
                for f in group
                for x in FORMATS
                if f.topic_id + x.suffix in names
                or recorded.get(paths[f.topic_id]) != fingerprints[f.topic_id]
            ]
            if pings:
                websub_table.queue_pings(store, pings, datetime.now(UTC))
        published.record({paths[f.topic_id]: fingerprints[f.topic_id] for f in group})
    if due or not _index_published(settings):
        report.files += write_outputs(settings.dir, index_outputs(feeds, settings))
    log.debug("published %d topics, %d files", len(report.topics), len(report.files))
    return report


def _all_published(settings: PublishSettings, topics: list[CompiledTopic]) -> bool:
    return _index_published(settings) and all(_published(settings, t.topic.id) for t in topics)


def _published(settings: PublishSettings, topic_id: str) -> bool:
    return all((settings.dir / (topic_id + f.suffix)).exists() for f in FORMATS)


def _index_published(settings: PublishSettings) -> bool:
    return all((settings.dir / name).exists() for name in ("index.html", "topics.opml"))
