"""URLs a document names, resolved against the base they are relative to.

urllib raises ValueError on some strings that feeds do carry ("http://[oops", an unclosed IPv6
literal; a host that NFKC normalization changes), so every URL read from a document goes
through resolve_url(), and one that urllib cannot read is no URL.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def resolve_url(base: str, url: str | None) -> str | None:
    """`url` stripped and resolved against `base`; None when empty or unreadable."""
    url = (url or "").strip()
    if not url:
        return None
    try:
        resolved = urljoin(base, url)
        urlsplit(resolved)  # urljoin leaves `url` unread when `base` is empty
    except ValueError:
        return None
    return resolved


def url_path(url: str) -> str:
    """The path of `url` ("" when urllib cannot read it)."""
    try:
        return urlsplit(url).path
    except ValueError:
        return ""
