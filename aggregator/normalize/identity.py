"""Which item is which: the key of an item within its source, and the hash of what readers see.

key: the guid, else the link, else "hash:" and a hash of the title and content. Guids and links are
used as they are (no prefix), so an item whose guid is its permalink keeps its key if the feed
later drops the guid.

Some feeds repeat one guid for every item, or give several different items the same guid (or,
without guids, the same link: the site's home page). Within one document a guid or link shared by
items that differ (another link or title) identifies none of them, so those items fall back to
the next kind of key. Items that share a key and do not differ are the same item listed twice
(dedup.unique() keeps the first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import blake2b

from aggregator.models import RawItem

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in the text of a feed


def item_keys(raws: Sequence[RawItem], links: Sequence[str | None]) -> list[str]:
    """The key of each item of one document; `links` are the items' absolute links."""
    guids = [(raw.guid or "").strip() or None for raw in raws]
    signatures = [(link, raw.title or "") for raw, link in zip(raws, links, strict=True)]
    usable_guids = _unambiguous(guids, signatures)
    usable_links = _unambiguous(links, signatures)
    keys = []
    for raw, guid, link in zip(raws, guids, links, strict=True):
        if guid in usable_guids:
            keys.append(guid)
        elif link in usable_links:
            keys.append(link)
        else:
            keys.append("hash:" + short_hash(raw.title or "", raw.content or raw.summary or ""))
    return keys


def short_hash(*parts: str) -> str:
    """A stable 32-hex-digit hash of `parts` (BLAKE2b, 128 bits)."""
    return blake2b(_SEPARATOR.join(parts).encode("utf-8"), digest_size=16).hexdigest()


def _unambiguous(values: Iterable[str | None], signatures: Iterable[tuple[str | None, str]]) -> set[str]:
    """The values that every item carrying them agrees with (one signature per value)."""
    seen: dict[str, set[tuple[str | None, str]]] = {}
    for value, signature in zip(values, signatures, strict=True):
        if value:
            seen.setdefault(value, set()).add(signature)
    return {value for value, found in seen.items() if len(found) == 1}
