"""Publish: write each topic's feeds, the index page and the OPML list into the output folder.

For a topic with id ID the folder gets ID.xml (RSS 2.0), ID.atom (Atom 1.0) and ID.json
(JSON Feed 1.1); `publish_index` writes index.html and topics.opml. `feed.build_feed` decides
what every output says; each format module renders it. selection.publish() takes the steps one
by one (build, topic_outputs, index_outputs, write_outputs) to share entries between topics and
write files in batches. Output is deterministic (no clock, fixed order), and `write_atomic` leaves
a file alone when its bytes did not change, so unchanged topics keep their mtime and ETag and
readers see no churn.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from aggregator.atomic import replace_file, replace_files
from aggregator.errors import PublishError
from aggregator.models import Story, Topic
from aggregator.publish import atom, html, jsonfeed, opml, rss
from aggregator.publish.feed import ATOM, JSON_FEED, RSS, PublishedEntry, PublishedFeed, build_feed

__all__ = [
    "PublishSettings",
    "build",
    "index_outputs",
    "publish_index",
    "publish_topic",
    "topic_outputs",
    "write_atomic",
    "write_outputs",
]

logger = logging.getLogger(__name__)

# Published files are read by whatever serves the folder, maybe another user (mkstemp makes 0600).
FILE_MODE = 0o644
STALE_TEMPORARY = 600.0  # seconds after which a publisher's temporary file is a dead one's leftover


@dataclass(frozen=True)
class PublishSettings:
    dir: Path
    base_url: str  # where `dir` is served, ends with "/"; used for self links
    max_items: int = 50
    title: str = "Feed aggregator"  # site title, for index.html and topics.opml
    websub_hub: str | None = None  # the WebSub hub each topic feed advertises (output.websub_hub)
    # Processes that may match stories in a large membership build (publish/selection.py), as
    # polling.workers says: None for one per core, 0 for none.
    processes: int | None = None

    def __post_init__(self) -> None:
        # Self links are base_url + file name: without the slash "http://host/feeds" + "ai.xml"
        # would name another folder's file.
        object.__setattr__(self, "dir", Path(self.dir))
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")


def publish_topic(topic: Topic, stories: list[Story], settings: PublishSettings) -> list[Path]:
    """Write a topic's RSS, Atom and JSON feeds; return the paths rewritten ([] when none changed).

    `stories` arrive newest first and are cut to `settings.max_items`.
    """
    written = write_outputs(settings.dir, topic_outputs(build(topic, stories, settings)))
    logger.debug("published topic", extra={"topic_id": topic.id, "files_written": len(written)})
    return written


def publish_index(topics: list[tuple[Topic, list[Story]]], settings: PublishSettings) -> list[Path]:
    """Write index.html and topics.opml for these topics, in this order; return the paths rewritten."""
    feeds = [build(topic, stories, settings) for topic, stories in topics]
    written = write_outputs(settings.dir, index_outputs(feeds, settings))
    logger.debug("published index", extra={"topics": len(feeds), "files_written": len(written)})
    return written


def build(
    topic: Topic,
    stories: list[Story],
    settings: PublishSettings,
    built: dict[str, PublishedEntry] | None = None,
) -> PublishedFeed:
    """What the topic's feeds say (feed.build_feed; `built` shares entries between topics)."""
    if not topic.id or topic.id.startswith(".") or "/" in topic.id or "\\" in topic.id:
        raise PublishError(f"topic id {topic.id!r} cannot be a file name in {settings.dir}")
    return build_feed(
        topic,
        stories,
        base_url=settings.base_url,
        site_title=settings.title,
        max_items=settings.max_items,
        hub=settings.websub_hub,
        built=built,
    )


def topic_outputs(feed: PublishedFeed) -> dict[str, bytes]:
    """A topic's files: name -> bytes."""
    return {
        feed.topic_id + RSS.suffix: rss.render(feed),
        feed.topic_id + ATOM.suffix: atom.render(feed),
        feed.topic_id + JSON_FEED.suffix: jsonfeed.render(feed),
    }


def index_outputs(feeds: list[PublishedFeed], settings: PublishSettings) -> dict[str, bytes]:
    """index.html and topics.opml for these topics' feeds, in this order: name -> bytes."""
    return {
        "index.html": html.render(feeds, site_title=settings.title, base_url=settings.base_url),
        "topics.opml": opml.render(feeds, site_title=settings.title, base_url=settings.base_url),
    }


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` atomically; return False, touching nothing, when it already holds them.

    The bytes go to a temporary file in the same folder, are fsynced, and the file is renamed over
    `path` (then the folder is fsynced), so readers and the server see the old file or the new one,
    never half of one. Raises PublishError naming the path and the OS reason.
    """
    path = Path(path)
    if _holds(path, data):
        return False
    try:
        replace_file(path, data, FILE_MODE)
    except OSError as error:
        raise PublishError(f"cannot write {path}: {error.strerror or error}") from error
    return True


def write_outputs(directory: Path, outputs: dict[str, bytes]) -> list[Path]:
    """write_atomic() for each file (name -> bytes) in `directory`, all written and fsynced
    together (atomic.replace_files); return the paths rewritten."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublishError(f"cannot create {directory}: {error.strerror or error}") from error
    _remove_stale_temporaries(directory, outputs)
    changed = {directory / name: data for name, data in outputs.items() if not _holds(directory / name, data)}
    try:
        replace_files(changed, FILE_MODE)
    except OSError as error:
        raise PublishError(f"cannot write {error.filename}: {error.strerror or error}") from error
    return list(changed)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False  # missing or unreadable: write it; a real problem shows up then, with its reason


def _remove_stale_temporaries(directory: Path, names: Iterable[str]) -> None:
    """Delete the temporary files (".NAME.*.tmp") of publishers killed mid-write.

    They are never served (serve.py answers 404 for hidden names) and never renamed into place,
    only left behind. One older than STALE_TEMPORARY has no live writer: a write takes
    milliseconds, while another process's fresh one may be in use now and is left alone.
    """
    cutoff = time.time() - STALE_TEMPORARY
    wanted = set(names)
    try:
        entries = list(os.scandir(directory))  # one listing: a glob per name read it once per file
    except OSError:
        return  # no folder, nothing left in it; writing says what is wrong
    for entry in entries:
        # atomic.replace_files names them ".NAME.XXXXXXXX.tmp", and mkstemp's part has no dot.
        name = entry.name
        if name.startswith(".") and name.endswith(".tmp") and name[1:-4].rpartition(".")[0] in wanted:
            with suppress(OSError):  # gone already, or not ours to delete: harmless either way
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
