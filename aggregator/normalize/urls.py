"""URLs: absolute links, tracking parameters removed, and one canonical form per page.

Tracking parameters removed (query keys, compared case-insensitively). The list is kept short on
purpose: only keys whose sole use is attribution, so that no link ever stops working.

- ``utm_*``: Google Analytics campaign tags (any key starting with ``utm_``)
- ``fbclid``, ``gclid``, ``dclid``, ``gbraid``, ``wbraid``, ``msclkid``, ``yclid``, ``igshid``:
  click ids of Facebook, Google Ads, DoubleClick, Microsoft Ads, Yandex, Instagram
- ``mc_cid``, ``mc_eid``: Mailchimp; ``_hsenc``, ``_hsmi``: HubSpot
- ``spm``: Alibaba/Taobao page-position tracking, common on Chinese sites

Deliberately kept: ``from``, ``ref``, ``source``, ``share_token`` and the like, which some sites
use to choose content or grant access.

canonical_url() gives the form used to recognise one page across sources:

- scheme and host lower-cased; http and https are the same page, written "https";
- ports 80 and 443 dropped (with http and https one scheme, both are "the default"), and a
  trailing dot of the host; an IDN host written in punycode;
- "www." is kept: www.example.com and example.com may be different sites, and the sources we
  carry link consistently to one of them;
- dot segments resolved, percent-encoding normalised (unreserved characters decoded, the rest
  upper-case hex, non-ASCII UTF-8-encoded), trailing slashes dropped (the root stays "/");
- tracking parameters removed, the others sorted (key, then value), empty query dropped;
- the fragment dropped, except a "#!" one (hash-bang pages identify content by it).
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

TRACKING_KEYS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "spm",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PATH_SAFE = "/:@!$&'()*+,;="  # RFC 3986 pchar delimiters, left as they are
_QUERY_SAFE = "/:@!$'()*+,;?"  # the same without "&" and "=", which split the query
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_INVISIBLE = re.compile(r"[\t\n\r]")  # removed anywhere by URL parsers (WHATWG URL, "basic URL parser")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))  # stripped from both ends by the same parsers


def is_tracking_key(key: str) -> bool:
    key = key.lower()
    return key.startswith("utm_") or key in TRACKING_KEYS


def strip_tracking(url: str) -> str:
    """Remove tracking parameters from `url`'s query, changing nothing else.

    For the links we publish: the result is the same string when there is nothing to remove.
    """
    if "?" not in url:
        return url
    rest, hash_, fragment = url.partition("#")
    head, _, query = rest.partition("?")
    if not query:
        return url
    pieces = query.split("&")
    kept = [p for p in pieces if p and not is_tracking_key(unquote(p.split("=", 1)[0]))]
    if len(kept) == len(pieces):
        return url
    return head + ("?" + "&".join(kept) if kept else "") + hash_ + fragment


def absolute_url(url: str | None, base: str | None) -> str | None:
    """`url` resolved against `base`; None when empty, or when urllib cannot read it or its base
    ("http://[oops": an unclosed IPv6 literal raises ValueError). Relative URLs stay relative
    without a base."""
    if not url or not url.strip():
        return None
    url = url.strip()
    if base and not _SCHEME.match(url):
        try:
            return urljoin(base, url)
        except ValueError:
            return None
    return url


def scheme_of(url: str) -> str:
    """The lower-cased scheme of `url` as a browser reads it ("" when relative).

    Surrounding whitespace and control characters, and tabs or newlines anywhere, are ignored as
    browsers ignore them, so "java\\tscript:" and " JAVASCRIPT:" both say "javascript".
    """
    match = _SCHEME.match(_INVISIBLE.sub("", url).strip(_C0_AND_SPACE))
    return match.group(1).lower() if match else ""


def is_web_url(url: str | None) -> bool:
    """Whether `url` is an absolute http(s) URL."""
    if not url or scheme_of(url) not in ("http", "https"):
        return False
    try:
        return bool(urlsplit(url.strip()).netloc)
    except ValueError:  # "http://[oops": an unclosed IPv6 literal
        return False


def canonical_url(url: str) -> str:
    """The form of an http(s) URL used to recognise one page across sources (see module docstring).

    Other URLs (relative, mailto:, tag:, ...) come back stripped but otherwise unchanged.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an invalid port or IPv6 literal: not a URL we can reason about
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.rstrip(".")  # lower-cased by urlsplit
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # 例子.中国 and xn--fsqu00a.xn--fiqs8s alike
            host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port not in _DEFAULT_PORTS.values():  # http and https are one: 80 and 443 too
        host = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        host = f"{userinfo}@{host}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE))  # after: %2E is "."
    path = path.rstrip("/")
    pairs = []
    for piece in parts.query.split("&"):
        if piece and not is_tracking_key(unquote(piece.split("=", 1)[0])):
            key, eq, value = piece.partition("=")
            pairs.append(
                (_normalise_escapes(key, _QUERY_SAFE), eq + _normalise_escapes(value, _QUERY_SAFE + "="))
            )
    query = "&".join(key + value for key, value in sorted(pairs))
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    return urlunsplit(("https", host, path or "/", query, fragment))


def _normalise_escapes(text: str, safe: str) -> str:
    """Decode escaped unreserved characters, upper-case other escapes, escape what must be."""
    text = _STRAY_PERCENT.sub("%25", text)
    text = _ESCAPE.sub(_unescape_unreserved, text)
    return quote(text, safe=safe + "%")


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment == ".":
            if i == len(segments) - 1:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if i == len(segments) - 1:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") or not path.startswith("/") else "/" + result
