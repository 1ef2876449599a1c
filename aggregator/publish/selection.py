"""Choose each topic's stories from the store and publish the topics that need it.

One newest-first pass over the stored stories fills every topic at once, and stops as soon as
each topic holds its `max_items` stories (or has reached stories older than its `max_age`), so
publishing K topics costs one scan, not K.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..models import Story
from ..store import Store
from ..topics import CompiledTopic, PreparedStory
from . import PublishSettings, publish_index, publish_topic

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    topics: list[str] = field(default_factory=list)  # topics whose files were rewritten
    files: list[Path] = field(default_factory=list)


def select(
    store: Store, topics: list[CompiledTopic], max_items: int, now: datetime | None = None
) -> dict[str, list[Story]]:
    """topic id -> its newest matching stories, newest first.

    A topic holds at most its own `max_items` (never more than `max_items`, the feeds' cap) and,
    when it sets `max_age`, no story published before `now` minus that age. Stories come newest
    first, so a topic is closed for the rest of the pass once it is full or the stories have
    grown older than its max_age. Each story is prepared (folded) once for all the topics.
    """
    now = now or datetime.now(UTC)
    chosen: dict[str, list[Story]] = {t.topic.id: [] for t in topics}
    limits = {t.topic.id: min(t.topic.max_items or max_items, max_items) for t in topics}
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


def touched(store: Store, topics: list[CompiledTopic], story_ids: Iterable[str]) -> list[CompiledTopic]:
    """The topics that at least one of these (new or changed) stories belongs to."""
    remaining = list(topics)
    hit: list[CompiledTopic] = []
    ids = list(dict.fromkeys(story_ids))
    if not ids:
        return hit
    for story in store.stories(ids):
        prepared = PreparedStory(story)
        for compiled in [t for t in remaining if t.match(prepared)]:
            hit.append(compiled)
            remaining.remove(compiled)
        if not remaining:
            break
    return hit


def publish(
    store: Store,
    topics: list[CompiledTopic],
    settings: PublishSettings,
    changed: Iterable[str] | None = None,
) -> PublishReport:
    """Publish every topic (changed=None), or only those the changed story ids touch.

    A topic whose files do not exist yet is always written, so every configured topic has a feed
    to subscribe to from the first run on. Files whose bytes would not change are left alone.
    """
    if changed is None:
        due = topics
    else:
        touched_ids = {t.topic.id for t in touched(store, topics, changed)}
        due = [t for t in topics if t.topic.id in touched_ids or not _published(settings, t.topic.id)]
    report = PublishReport()
    if not due:  # no story changed where a topic can see it: every file, index included, stands
        return report
    stories = select(store, topics, settings.max_items)
    for compiled in due:
        written = publish_topic(compiled.topic, stories[compiled.topic.id], settings)
        if written:
            report.topics.append(compiled.topic.id)
            report.files.extend(written)
    report.files.extend(publish_index([(t.topic, stories[t.topic.id]) for t in topics], settings))
    log.debug("published %d topics, %d files", len(report.topics), len(report.files))
    return report


def _published(settings: PublishSettings, topic_id: str) -> bool:
    return all((settings.dir / f"{topic_id}.{ext}").exists() for ext in ("xml", "atom", "json"))
