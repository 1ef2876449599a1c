"""Value converters for the config checker: each takes a YAML value and returns the converted
value or raises ValueError with a message for the user; and the helpers that locate a value."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml.comments import CommentedMap, CommentedSeq

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # source and topic ids: they name files


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, got {_kind(value)}")
    return str(value)


def _identifier(value: Any) -> str:
    text = _text(value)
    if not _ID.match(text):
        raise ValueError(f"{text!r} is not a valid id (letters, digits, '.', '_' or '-')")
    return text


def _secret(value: Any) -> str:
    """A shared secret for signing: long enough not to be guessed, and a YAML string (unquoted
    digits would be read as a number and lose their leading zeros)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_kind(value)}: put the secret in quotes")
    secret = value
    if len(secret) < 16:
        raise ValueError("a secret must be at least 16 characters (try: openssl rand -hex 32)")
    return secret


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive whole number, got {value!r}")
    return value


def _similarity(value: Any) -> float:
    """A story threshold: a similarity above 0 and at most 1 (see aggregator/dedup/near.py)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"expected a similarity between 0 and 1 (such as 0.6), got {value!r}")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def _workers(value: Any) -> int | None:
    """A number of worker processes (0: none, work in the main process), or `auto` (one per core)."""
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
        raise ValueError(f"expected auto or a number of processes from 0 to 64, got {value!r}")
    return value


def _port(value: Any) -> int:
    port = _positive_int(value)
    if port > 65535:
        raise ValueError(f"{port} is not a TCP port (1-65535)")
    return port


def _path(value: Any) -> Path:
    return Path(os.path.expanduser(_text(value)))


def _database(value: Any) -> Path | str:
    """An SQLite file path, or a postgresql://user:password@host:port/name URL (kept as text).

    Messages never repeat the URL: it may hold a password.
    """
    text = _text(value).strip()
    if "://" not in text:
        return _path(value)
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise ValueError(
            f"unsupported database URL scheme {parts.scheme!r}: give an SQLite file path or a "
            "postgresql://user:password@host:port/name URL"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("the PostgreSQL URL's port is not a number from 1 to 65535") from None
    if not parts.path.strip("/"):
        raise ValueError("the PostgreSQL URL names no database (postgresql://user:password@host:port/name)")
    from psycopg.conninfo import conninfo_to_dict  # libpq's own parser: unknown ?options, bad escapes
    from psycopg.errors import ProgrammingError

    try:
        conninfo_to_dict(text)
    except ProgrammingError as e:
        raise ValueError(f"invalid PostgreSQL URL: {str(e).replace(text, '...')}") from None
    return text


def _base_url(value: Any) -> str:
    url = _web_url(value)
    return url if url.endswith("/") else url + "/"


def _web_url(value: Any) -> str:
    url = _text(value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def _source_url(value: Any) -> str:
    """http(s) URLs stay as they are; file:// URLs and paths become absolute file paths."""
    url = _text(value).strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        if not urlsplit(url).netloc:
            raise ValueError(f"{url!r} has no host")
        return url
    if scheme == "file":
        return url
    if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive letter
        raise ValueError(f"unsupported URL scheme {scheme!r} (use http, https, file or a path)")
    return str(Path(os.path.expanduser(url)).absolute())


# -- helpers ---------------------------------------------------------------------------------------


def _line(node: Any, field: Any = None) -> int | None:
    """1-based line of `field` inside `node` (a key of a mapping or an index of a list)."""
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:  # a document read without positions (config._positionless)
        return None
    try:
        if field is None:
            return lc.line + 1
        if isinstance(node, CommentedSeq):
            return lc.item(field)[0] + 1
        return lc.key(field)[0] + 1
    except (KeyError, IndexError, TypeError):
        return lc.line + 1


def _join(prefix: str, name: Any) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, CommentedMap):
        return "a mapping"
    if isinstance(value, CommentedSeq):
        return "a list"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return f"a {type(value).__name__}"


def _closest(name: str, allowed: set[str]) -> str:
    match = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
