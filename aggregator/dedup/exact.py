"""Exact duplicates: the storage identity of an item.

Two entries are the same item when they share a canonical URL (normalize.canonical_url: scheme,
host case, default port, fragment, trailing slash and tracking parameters do not count), in one
source or across several; without a link, when one source gives them the same key. The store
applies the same rule against what it already holds. Near-duplicates (the same story told by
different texts) are near.py's matter.
"""

from __future__ import annotations

import hashlib

from aggregator.models import Item


def item_id(item: Item) -> str:
    """A stable, opaque id for a new stored item: the same article gets the same id from any source."""
    identity = f"url:{item.url_key}" if item.url_key else f"key:{item.source_id}\0{item.key}"
    return hashlib.blake2b(identity.encode("utf-8"), digest_size=10).hexdigest()
