"""Choose each topic's stories from the store and publish the topics that need it.

One newest-first pass over the stored stories fills every topic at once, and stops as soon as
each topic holds `max_items` stories, so publishing K topics costs one scan, not K.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..models import Story
from ..store import Store
from ..topics import CompiledTopic
from . import PublishSettings, publish_index, publish_topic

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    topics: list[str] = field(default_factory=list)  # topics whose files were rewritten
    files: list[Path] = field(default_factory=list)


def select(store: Store, topics: list[CompiledTopic], max_items: int) -> dict[str, list[Story]]:
    """topic id -> its newest `max_items` matching stories, newest first."""
    chosen: dict[str, list[Story]] = {t.topic.id: [] for t in topics}
    open_topics = list(topics)
    for story in store.stories():
        if not open_topics:
            break
        for compiled in open_topics:
            if compiled.match(story):
                chosen[compiled.topic.id].append(story)
        open_topics = [t for t in open_topics if len(chosen[t.topic.id]) < max_items]
    return chosen


def touched(store: Store, topics: list[CompiledTopic], story_ids: Iterable[str]) -> list[CompiledTopic]:
    """The topics that at least one of these (new or changed) stories belongs to."""
    remaining = list(topics)
    hit: list[CompiledTopic] = []
    ids = list(dict.fromkeys(story_ids))
    if not ids:
        return hit
    for story in store.stories(ids):
        for compiled in [t for t in remaining if t.match(story)]:
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
