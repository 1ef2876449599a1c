"""`output.static_site`: the blog folders that `publish`, `poll` and the daemon keep current.

    output:
      static_site:
        - format: hexo            # hexo or hugo
          dir: blog/source/_posts
          topics: [ai]            # optional: only these topics' stories (default: every topic)

Checked here for the config checker (aggregator/config/__init__.py), which owns the YAML walk
and reports every problem with its file, line and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .values import _kind, _line, _path

if TYPE_CHECKING:
    from . import _Checker

FORMATS = ("hexo", "hugo")
KEY = "output.static_site"


@dataclass(frozen=True)
class StaticSiteConfig:
    format: str  # one of FORMATS
    dir: Path  # the folder of posts: Hexo's source/_posts, or a Hugo content section
    topics: tuple[str, ...] = ()  # topic ids; () means every topic


def check(checker: _Checker, output: Any, topic_ids: set[str]) -> tuple[StaticSiteConfig, ...]:
    """The `static_site` list of the `output` mapping (already checked for unknown keys)."""
    if not isinstance(output, CommentedMap) or output.get("static_site") is None:
        return ()
    raw = output["static_site"]
    if not isinstance(raw, CommentedSeq):
        message = f"expected a list of static sites (format, dir, topics), got {_kind(raw)}"
        checker.problem(message, KEY, output, "static_site")
        return ()
    sites: list[StaticSiteConfig] = []
    dirs: dict[Path, int] = {}
    for i, entry in enumerate(raw):
        key = f"{KEY}[{i}]"
        node = checker.mapping(entry, key, {"format", "dir", "topics"}, raw, i)
        if node is None:
            if entry is None:
                checker.problem("empty static site entry", key, raw, i)
            continue
        for required in ("format", "dir"):
            if node.get(required) is None:
                checker.problem(f"missing required key {required!r}", key, raw, i)
        site_format = checker.value(node, "format", key, _format, None)
        directory = checker.value(node, "dir", key, _path, None)
        topics = checker.strings(node, "topics", key)
        if "topics" in node and not topics and isinstance(node["topics"], CommentedSeq):
            checker.problem(
                "an empty list exports nothing; leave `topics` out for every topic",
                f"{key}.topics",
                node,
                "topics",
            )
        for j, topic_id in enumerate(topics):
            if topic_id not in topic_ids:
                known = ", ".join(sorted(topic_ids)) or "none"
                checker.problem(
                    f"unknown topic {topic_id!r} (topics: {known})", f"{key}.topics[{j}]", node["topics"], j
                )
        if directory is not None:
            # Each folder has one manifest of the posts written there: two exports into one folder
            # would each delete the other's posts as stale.
            resolved = directory.absolute()
            if resolved in dirs:
                message = f"{str(directory)!r} is already the dir of the static site at line {dirs[resolved]}"
                checker.problem(message, f"{key}.dir", node, "dir")
                continue
            dirs[resolved] = _line(node, "dir") or 0
        if site_format is not None and directory is not None:
            sites.append(StaticSiteConfig(site_format, directory, tuple(dict.fromkeys(topics))))
    return tuple(sites)


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}, got {value!r}")
    return value
