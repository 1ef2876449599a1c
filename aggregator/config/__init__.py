"""Load and validate the YAML config; the only module that reads YAML or the environment.

Every problem is reported with the file, the line and the dotted key it concerns, and all of them
at once, so `aggregator config check` can list everything that needs fixing in one go. Unknown keys
are errors: a typo such as `intervall:` must not silently fall back to a default.

Relative paths (the database, the output folder, local sample feeds) are taken relative to the
current working directory, the way the README runs the program from the checkout; absolute
paths are used as they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .. import query as query_language
from ..errors import ConfigError
from ..models import Source, StoryRules, Topic, Webhook, regex_keyword
from . import static_site
from .static_site import StaticSiteConfig
from .values import (
    _ID,
    _base_url,
    _boolean,
    _closest,
    _database,
    _identifier,
    _join,
    _kind,
    _line,
    _path,
    _port,
    _positive_int,
    _secret,
    _similarity,
    _source_url,
    _text,
    _web_url,
    _workers,
)

DEFAULT_PATH = Path("config/aggregator.yaml")
ENV_PATH = "AGGREGATOR_CONFIG"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


@dataclass(frozen=True)
class OutputConfig:
    dir: Path
    base_url: str
    max_items: int = 50
    title: str = "Feed aggregator"
    static_site: tuple[StaticSiteConfig, ...] = ()  # blog folders kept current (config/static_site.py)
    websub_hub: str | None = None  # the WebSub hub every topic feed names, and which is told of changes


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None  # where hubs reach this server (WebSub callbacks); ends with "/"


@dataclass(frozen=True)
class PollingConfig:
    interval: float = 1800.0
    timeout: float = 30.0
    max_body: int = 10 * 1024 * 1024
    concurrency: int = 20
    per_host: int = 2
    user_agent: str | None = None
    max_backoff: float = 12 * 3600.0  # the longest wait after failures; a dead source is retried at this pace
    dead_after: float = 7 * 86400.0  # failing this long, a source is reported dead (and still retried)
    max_items_per_poll: int = 500  # items taken from one document: its newest (parse/limits.py)
    workers: int | None = None  # processes that parse and normalize; None: one per core (prepare.py)
    push_interval: float = 6 * 3600.0  # a source whose hub pushes its updates is polled this seldom
    lease: float = 120.0  # aggregator worker: a dead worker's claimed sources are polled again after this


@dataclass(frozen=True)
class RetentionConfig:
    max_age: float = 90 * 86400.0  # counted from when an item was first seen
    max_items_per_source: int | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path | str  # an SQLite file, or a postgresql:// URL
    output: OutputConfig
    server: ServerConfig
    polling: PollingConfig
    retention: RetentionConfig
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    stories: StoryRules = field(default_factory=StoryRules)  # `stories:`: when items are one story


def default_path() -> Path:
    """The config path used when -c is not given: $AGGREGATOR_CONFIG, else config/aggregator.yaml."""
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH)


def load(path: Path | str) -> Config:
    """Read, validate and resolve a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", file=str(path)) from None
    return _load_text(text, path)


def _load_text(text: str, path: Path) -> Config:
    """Validate and resolve the config `text`, naming `path` in the problems it reports.

    The document is read first by libyaml, without positions: ruamel's round-trip reader, which
    records the line of every key, takes seven times as long (half a second for a thousand
    sources, most of the start-up of a poll). Only a document with problems is read again with
    positions, so that each problem says its line.
    """
    with suppress(YAMLError):
        checker = _Checker(str(path))
        config = checker.config(_positionless(YAML(typ="safe").load(text)), path)
        if config is not None and not checker.problems:
            return config
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {e.problem or e.context}", file=str(path), line=line) from None
    checker = _Checker(str(path))
    config = checker.config(document, path)
    if checker.problems:
        raise ConfigError.many(checker.problems)
    assert config is not None
    return config


def _positionless(value: Any) -> Any:
    """A plain loaded document as the round-trip reader's types (without line numbers), so that
    the checker sees one kind of mapping and list whichever reader ran."""
    if isinstance(value, dict):
        return CommentedMap((key, _positionless(item)) for key, item in value.items())
    if isinstance(value, list):
        return CommentedSeq(_positionless(item) for item in value)
    return value


def parse_duration(value: Any) -> float:
    """'30s', '15m', '2h', '1d' or a number of seconds -> seconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (examples: 30s, 15m, 2h, 1d)")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def parse_size(value: Any) -> int:
    """'10MB', '512KiB' or a number of bytes -> bytes. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a size")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size (examples: 10MB, 512KiB, 1048576)")
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


class _Checker:
    """Walks the YAML document, converting values and collecting located problems."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[ConfigError] = []

    # -- reporting -----------------------------------------------------------------------------
    def problem(self, message: str, key: str, node: Any = None, field: Any = None) -> None:
        self.problems.append(ConfigError(message, file=self.file, line=_line(node, field), key=key))

    # -- structure ---------------------------------------------------------------------------------
    def mapping(
        self, node: Any, key: str, allowed: set[str], parent: Any = None, field: Any = None
    ) -> CommentedMap | None:
        if node is None:
            return None
        if not isinstance(node, CommentedMap):
            self.problem(f"expected a mapping, got {_kind(node)}", key, parent, field)
            return None
        for name in node:
            if name not in allowed:
                hint = _closest(str(name), allowed)
                self.problem(
                    f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}", _join(key, name), node, name
                )
        return node

    def value(
        self, node: CommentedMap | None, name: str, key: str, convert: Callable[[Any], Any], default: Any
    ) -> Any:
        if node is None or name not in node or node[name] is None:
            return default
        try:
            return convert(node[name])
        except ValueError as e:
            self.problem(str(e), _join(key, name), node, name)
            return default

    def strings(self, node: CommentedMap, name: str, key: str) -> tuple[str, ...]:
        """A list of strings (a single string is accepted as a one-element list)."""
        raw = node.get(name)
        if raw is None:
            return ()
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, CommentedSeq):
            self.problem(f"expected a list of strings, got {_kind(raw)}", _join(key, name), node, name)
            return ()
        out = []
        for i, entry in enumerate(raw):
            if isinstance(entry, bool) or not isinstance(entry, str | int | float):
                self.problem(f"expected a string, got {_kind(entry)}", f"{_join(key, name)}[{i}]", raw, i)
                continue
            out.append(str(entry))
        return tuple(out)

    # -- sections ----------------------------------------------------------------------------------
    def config(self, doc: Any, path: Path) -> Config | None:
        if doc is None:
            self.problem("the file is empty", "")
            return None
        root = self.mapping(
            doc, "", {"database", "output", "server", "polling", "retention", "stories", "sources", "topics"}
        )
        if root is None:
            return None
        database = self.value(root, "database", "", _database, Path("data/aggregator.db"))
        output = self.output(root)
        server = self.server(root)
        polling = self.polling(root)
        retention = self.retention(root)
        sources = self.sources(root, polling.interval)
        topics = self.topics(root, {s.id for s in sources}, output.max_items)
        sites = static_site.check(self, root.get("output"), {t.id for t in topics})
        output = replace(output, static_site=sites)
        stories = self.stories(root)
        return Config(path, database, output, server, polling, retention, sources, topics, stories)

    def output(self, root: CommentedMap) -> OutputConfig:
        allowed = {"dir", "base_url", "max_items", "title", "static_site", "websub_hub"}
        node = self.mapping(root.get("output"), "output", allowed, root, "output")
        return OutputConfig(
            dir=self.value(node, "dir", "output", _path, Path("public")),
            base_url=self.value(node, "base_url", "output", _base_url, "http://127.0.0.1:8080/"),
            max_items=self.value(node, "max_items", "output", _positive_int, 50),
            title=self.value(node, "title", "output", _text, "Feed aggregator"),
            websub_hub=self.value(node, "websub_hub", "output", _web_url, None),
        )

    def server(self, root: CommentedMap) -> ServerConfig:
        node = self.mapping(root.get("server"), "server", {"host", "port", "public_url"}, root, "server")
        return ServerConfig(
            host=self.value(node, "host", "server", _text, "127.0.0.1"),
            port=self.value(node, "port", "server", _port, 8080),
            public_url=self.value(node, "public_url", "server", _base_url, None),
        )

    def polling(self, root: CommentedMap) -> PollingConfig:
        allowed = {
            "interval",
            "timeout",
            "max_body",
            "concurrency",
            "per_host",
            "user_agent",
            "max_backoff",
            "dead_after",
            "max_items_per_poll",
            "workers",
            "push_interval",
            "lease",
        }
        node = self.mapping(root.get("polling"), "polling", allowed, root, "polling")
        return PollingConfig(
            interval=self.value(node, "interval", "polling", parse_duration, 1800.0),
            timeout=self.value(node, "timeout", "polling", parse_duration, 30.0),
            max_body=self.value(node, "max_body", "polling", parse_size, 10 * 1024 * 1024),
            concurrency=self.value(node, "concurrency", "polling", _positive_int, 20),
            per_host=self.value(node, "per_host", "polling", _positive_int, 2),
            user_agent=self.value(node, "user_agent", "polling", _text, None),
            max_backoff=self.value(node, "max_backoff", "polling", parse_duration, 12 * 3600.0),
            dead_after=self.value(node, "dead_after", "polling", parse_duration, 7 * 86400.0),
            max_items_per_poll=self.value(node, "max_items_per_poll", "polling", _positive_int, 500),
            workers=self.value(node, "workers", "polling", _workers, None),
            push_interval=self.value(node, "push_interval", "polling", parse_duration, 6 * 3600.0),
            lease=self.value(node, "lease", "polling", parse_duration, 120.0),
        )

    def retention(self, root: CommentedMap) -> RetentionConfig:
        allowed = {"max_age", "max_items_per_source"}
        node = self.mapping(root.get("retention"), "retention", allowed, root, "retention")
        return RetentionConfig(
            max_age=self.value(node, "max_age", "retention", parse_duration, 90 * 86400.0),
            max_items_per_source=self.value(node, "max_items_per_source", "retention", _positive_int, None),
        )

    def stories(self, root: CommentedMap) -> StoryRules:
        node = self.mapping(root.get("stories"), "stories", {"window", "threshold"}, root, "stories")
        default = StoryRules()
        return StoryRules(
            window=self.value(node, "window", "stories", parse_duration, default.window),
            threshold=self.value(node, "threshold", "stories", _similarity, default.threshold),
        )

    def sources(self, root: CommentedMap, default_interval: float) -> tuple[Source, ...]:
        raw = root.get("sources")
        if raw is None:
            return ()
        if not isinstance(raw, CommentedSeq):
            self.problem(f"expected a list of sources, got {_kind(raw)}", "sources", root, "sources")
            return ()
        sources: list[Source] = []
        seen: dict[str, int] = {}
        allowed = {"id", "title", "url", "site", "categories", "interval", "full_text"}
        for i, entry in enumerate(raw):
            key = f"sources[{i}]"
            node = self.mapping(entry, key, allowed, raw, i)
            if node is None:
                if entry is None:
                    self.problem("empty source entry", key, raw, i)
                continue
            source_id = self.value(node, "id", key, _identifier, None)
            url = self.value(node, "url", key, _source_url, None)
            if "id" not in node:
                self.problem("missing required key 'id'", key, raw, i)
            if "url" not in node:
                self.problem("missing required key 'url'", key, raw, i)
            if source_id is not None:
                if source_id in seen:
                    message = f"duplicate source id {source_id!r} (first at line {seen[source_id]})"
                    self.problem(message, f"{key}.id", node, "id")
                    continue
                seen[source_id] = _line(node, "id") or 0
                key = f"sources[{source_id}]"
            if source_id is None or url is None:
                continue
            sources.append(
                Source(
                    id=source_id,
                    url=url,
                    title=self.value(node, "title", key, _text, source_id),
                    categories=self.strings(node, "categories", key),
                    interval=self.value(node, "interval", key, parse_duration, default_interval),
                    site=self.value(node, "site", key, _web_url, None),
                    full_text=self.value(node, "full_text", key, _boolean, False),
                )
            )
        return tuple(sources)

    def topics(self, root: CommentedMap, source_ids: set[str], max_items: int = 50) -> tuple[Topic, ...]:
        raw = root.get("topics")
        if raw is None:
            return ()
        if not isinstance(raw, CommentedMap):
            self.problem(
                f"expected a mapping of topic id to rules, got {_kind(raw)}", "topics", root, "topics"
            )
            return ()
        topics = []
        allowed = {"title", "description", "any", "all", "none", "categories", "sources"}
        allowed |= {"query", "fold_chinese", "max_age", "max_items", "min_length", "webhook"}
        for topic_id in raw:
            key = f"topics.{topic_id}"
            if not isinstance(topic_id, str) or not _ID.match(topic_id):
                self.problem(
                    "a topic id must be letters, digits, '.', '_' or '-' (it names the output files)",
                    key,
                    raw,
                    topic_id,
                )
                continue
            node = raw[topic_id]
            if node is None:  # `everything:` with nothing under it is a valid catch-all topic
                node = CommentedMap()
            node = self.mapping(node, key, allowed, raw, topic_id)
            if node is None:
                continue
            lists = {
                name: self.strings(node, name, key)
                for name in ("any", "all", "none", "categories", "sources")
            }
            for name in ("any", "all", "none"):
                self.check_regexes(node, name, key, lists[name])
            for i, source_id in enumerate(lists["sources"]):
                if source_id not in source_ids:
                    self.problem(
                        f"unknown source {source_id!r}", f"{key}.sources[{i}]", node.get("sources"), i
                    )
            query = self.value(node, "query", key, _text, "")
            if query.strip():
                self.check_query(node, key, query, source_ids)
            topic_max_items = self.value(node, "max_items", key, _positive_int, None)
            if topic_max_items is not None and topic_max_items > max_items:
                message = f"{topic_max_items} is more than output.max_items ({max_items}), every feed's cap"
                self.problem(message, f"{key}.max_items", node, "max_items")
                topic_max_items = None
            topics.append(
                Topic(
                    id=topic_id,
                    title=self.value(node, "title", key, _text, topic_id),
                    description=self.value(node, "description", key, _text, ""),
                    **lists,
                    query=query,
                    fold_chinese=self.value(node, "fold_chinese", key, _boolean, True),
                    max_age=self.value(node, "max_age", key, parse_duration, None),
                    max_items=topic_max_items,
                    min_length=self.value(node, "min_length", key, _positive_int, 0),
                    webhook=self.webhook(node, key),
                )
            )
        return tuple(topics)

    def webhook(self, node: CommentedMap, key: str) -> Webhook | None:
        """A topic's `webhook:`: the receiver's http(s) URL and the secret shared with it."""
        hook = self.mapping(node.get("webhook"), f"{key}.webhook", {"url", "secret"}, node, "webhook")
        if hook is None:
            return None
        for name in ("url", "secret"):
            if name not in hook:
                self.problem(f"missing required key '{name}'", f"{key}.webhook", node, "webhook")
        url = self.value(hook, "url", f"{key}.webhook", _web_url, None)
        secret = self.value(hook, "secret", f"{key}.webhook", _secret, None)
        return Webhook(url, secret) if url and secret else None

    def check_query(self, node: CommentedMap, key: str, query: str, source_ids: set[str]) -> None:
        """A query must parse, and a `source:` term must name a configured source."""
        try:
            tree = query_language.parse(query)
        except query_language.QuerySyntaxError as e:
            self.problem(str(e), f"{key}.query", node, "query")
            return
        for term, _ in query_language.terms(tree):
            if term.field == "source" and term.kind != "regex" and term.value not in source_ids:
                message = f"column {term.position + 1}: unknown source {term.value!r}"
                self.problem(message, f"{key}.query", node, "query")

    def check_regexes(self, node: CommentedMap, name: str, key: str, keywords: tuple[str, ...]) -> None:
        for i, keyword in enumerate(keywords):
            pattern = regex_keyword(keyword)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as e:
                self.problem(f"invalid regex {keyword}: {e}", f"{key}.{name}[{i}]", node.get(name), i)
