"""Adding sources to the config file (`aggregator sources import`), keeping every other byte."""

from __future__ import annotations

import difflib
import io
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..atomic import replace_file
from ..errors import ConfigError
from ..models import Source
from . import _load_text
from .values import _source_url


@dataclass(frozen=True)
class ConfigEdit:
    """What add_sources did, or would do: the ids added and the change as a unified diff."""

    ids: list[str]
    diff: str


def add_sources(
    path: Path | str, sources: Sequence[Source], *, comment: str | None = None, dry_run: bool = False
) -> ConfigEdit:
    """Append `sources` (id, title, url, site, categories) to the config file's `sources:` list.

    Every other byte of the file stays as it was (comments, order, blank lines, wrapped flow
    lists): the new entries are inserted as text after the last source, in the file's own
    indentation, each rendered by ruamel.yaml so that a title needing quotes gets them. A
    round-trip dump of the whole document would not do: ruamel re-indents the file and re-wraps
    its flow lists. The result must pass the same checks as `load` and hold exactly the old
    sources plus the new ones before anything is written; it is written atomically (a temporary
    file renamed over the old one, keeping its permissions), so a failure leaves the file as it
    was. `comment` becomes a comment line above the new entries; `dry_run` checks without
    writing. Raises ConfigError.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", file=str(path)) from None
    new_text = with_sources(text, sources, path=path, comment=comment)
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True), new_text.splitlines(keepends=True), str(path), str(path)
        )
    )
    if not dry_run and new_text != text:
        _replace_file(path, new_text)
    return ConfigEdit([source.id for source in sources], diff)


def with_sources(text: str, sources: Sequence[Source], *, path: Path, comment: str | None = None) -> str:
    """The config `text` with `sources` appended to its `sources:` list (see add_sources)."""
    before = _load_text(text, path)
    if not sources:
        return text
    root = YAML(typ="rt").load(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    existing = root.get("sources")
    if isinstance(existing, CommentedSeq) and len(existing) and existing.fa.flow_style() is not True:
        at, dash, column, spaced = _after_last_source(lines, root, existing, path)
    elif "sources" not in root:
        lines.append(f"{newline}sources:{newline}")
        at, dash, column, spaced = len(lines), 2, 4, False
    else:  # `sources:` with nothing under it, or `sources: []`
        key_line = root.lc.key("sources")[0]
        empty = _EMPTY_LIST_KEY.match(lines[key_line].rstrip("\r\n"))
        if not empty and not (existing is None and _bare_key(lines[key_line], "sources")):
            raise ConfigError(
                "sources is written on one line (a flow list or null); write it as a block list "
                "('- id: ...' lines) so that sources can be added to it",
                file=str(path),
                line=key_line + 1,
                key="sources",
            )
        if empty:  # the list goes below the key
            lines[key_line] = empty.group(1) + (f"  {empty.group(2)}" if empty.group(2) else "") + newline
        at, dash, column, spaced = key_line + 1, 2, 4, False
    chunk: list[str] = []
    if comment:
        chunk += [""] if spaced else []
        chunk.append(" " * dash + "# " + " ".join(comment.split()))
    for i, source in enumerate(sources):
        if spaced and (i or not comment):
            chunk.append("")
        first, *rest = _source_lines(source)
        chunk.append(" " * dash + "-" + " " * max(column - dash - 1, 1) + first)
        chunk += [" " * column + line for line in rest]
    new_text = "".join(lines[:at] + [line + newline for line in chunk] + lines[at:])

    after = _load_text(new_text, path)
    expected = before.sources + tuple(
        replace(s, title=s.title or s.id, url=_source_url(s.url), interval=before.polling.interval)
        for s in sources
    )
    if after.sources != expected:
        raise ConfigError(
            "the sources could not be appended as intended; the file was left as it was",
            file=str(path),
            key="sources",
        )
    return new_text


def _after_last_source(
    lines: list[str], root: CommentedMap, sources: CommentedSeq, path: Path
) -> tuple[int, int, int, bool]:
    """Where new entries go (the line after the last source's last line), the column of the
    list's dashes and of its keys, and whether entries are separated by blank lines."""
    last = len(sources) - 1
    line, column = sources.lc.item(last)
    if lines[line][:column].strip() == "-":  # "  - id: x"
        dash_line = line
    elif line and lines[line - 1].strip() == "-":  # "  -" alone, the mapping below it
        dash_line = line - 1
    else:
        raise ConfigError(
            "cannot tell how the sources list is indented", file=str(path), line=line + 1, key="sources"
        )
    dash = lines[dash_line].index("-")
    keys = list(root)
    following = keys[keys.index("sources") + 1 :]
    end = root.lc.key(following[0])[0] if following else len(lines)
    # Step back over blank lines and the comments of what follows (indented left of the dashes),
    # but not over comments inside the last entry or commented-out entries of the list.
    at = end
    while at - 1 > line:
        stripped = lines[at - 1].strip()
        indent = len(lines[at - 1]) - len(lines[at - 1].lstrip())
        if stripped and not (stripped.startswith("#") and indent <= max(dash - 1, 0)):
            break
        at -= 1
    spaced = dash_line > 0 and last > 0 and not lines[dash_line - 1].strip()
    return at, dash, column, spaced


_EMPTY_LIST_KEY = re.compile(r"^(sources:)\s*\[\s*\]\s*(#.*)?$")


def _bare_key(line: str, key: str) -> bool:
    """Whether `line` is `key:` with nothing after it but a comment."""
    rest = line.strip()[len(key) + 1 :].strip()
    return line.strip().startswith(key + ":") and (not rest or rest.startswith("#"))


def _source_lines(source: Source) -> list[str]:
    """One source as a YAML block mapping, categories as a flow list like the bundled config's."""
    node = CommentedMap()
    node["id"] = source.id
    node["title"] = source.title or source.id
    node["url"] = source.url
    if source.site:
        node["site"] = source.site
    if source.categories:
        categories = CommentedSeq(source.categories)
        categories.fa.set_flow_style()
        node["categories"] = categories
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold a long title or URL over two lines
    out = io.StringIO()
    yaml.dump(node, out)
    return out.getvalue().splitlines()


def _replace_file(path: Path, text: str) -> None:
    """Write `text` over `path` atomically, keeping its permissions (and a symlink in place)."""
    target = Path(os.path.realpath(path))
    try:
        replace_file(target, text.encode("utf-8"), stat.S_IMODE(target.stat().st_mode))
    except OSError as e:
        raise ConfigError(f"cannot write: {e.strerror or e}", file=str(path)) from None
