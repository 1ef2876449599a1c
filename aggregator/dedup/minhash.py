"""Shingles, MinHash signatures and LSH band buckets: how a new item finds its look-alikes
without reading the table.

A shingle is n consecutive tokens (text.tokens), hashed to 32 bits with CRC-32 (a C call, five
times faster here than blake2b; the bits are mixed again below before any minimum is taken).

The signature is one-permutation MinHash (Li, Owen and Zhang, "One Permutation Hashing", NIPS
2012): the hashes are spread over k bins by their top bits and each bin keeps its smallest value,
so one pass over the shingles gives k minima instead of k passes. Empty bins (short texts) borrow
the value of the next filled bin, marked with the distance (densification by rotation, Shrivastava
and Li, ICML 2014), so two sets agree on a bin with probability close to their Jaccard similarity.

LSH banding: the k minima are cut into k/r bands of r; each band hashes to one 64-bit bucket. Two
sets share at least one bucket with probability 1 - (1 - J^r)^b, b = k/r bands: an S-curve that
rises around J = (1/b)^(1/r) and is nearly zero for unrelated texts, so looking up b buckets finds
the look-alikes and almost nothing else. The `view` number keeps the buckets of a title and of a body apart.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported in signature(), where it computes: see near.py
    import numpy as np

_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B1  # Knuth's multiplicative constant: spreads CRC values over the top bits
_SEPARATOR = "\x1f"


def shingles(tokens: Sequence[str], n: int) -> set[int]:
    """Hashes of every run of `n` consecutive tokens (of all of them when there are fewer)."""
    crc32, join = zlib.crc32, _SEPARATOR.join
    if len(tokens) < n:
        return {crc32(join(tokens).encode())} if tokens else set()
    # Chained maps run in C, element by element: a quarter faster than a comprehension here,
    # where most of a fingerprint's time goes.
    runs = zip(*(tokens[i:] for i in range(n)), strict=False)  # the shorter tails end it
    return set(map(crc32, map(str.encode, map(join, runs))))


def signature(hashes: Iterable[int] | np.ndarray, k: int) -> list[int]:
    """One-permutation MinHash of a set of 32-bit hashes into `k` bins (k a power of two)."""
    import numpy as np

    bits = k.bit_length() - 1
    if k != 1 << bits:
        raise ValueError(f"k must be a power of two, not {k}")
    low = 32 - bits
    empty = 1 << low  # larger than any value
    values = hashes if isinstance(hashes, np.ndarray) else np.fromiter(hashes, dtype=np.uint64)
    if not values.size:
        return []
    mixed = (values.astype(np.uint64) * _GOLDEN) & _MASK32
    bins = np.full(k, empty, dtype=np.uint64)
    np.minimum.at(bins, (mixed >> low).astype(np.intp), mixed & ((1 << low) - 1))
    found = bins.tolist()
    # Densify: an empty bin takes the next filled bin's value, offset by how far it had to look.
    dense = list(found)
    for slot in range(k):
        if found[slot] == empty:
            distance = 1
            while found[(slot + distance) % k] == empty:
                distance += 1
            dense[slot] = found[(slot + distance) % k] + distance * empty
    return dense


def buckets(minima: Sequence[int], view: int, rows: int) -> list[int]:
    """The LSH bucket of each band of `rows` minima: signed 64-bit integers, fit for SQLite."""
    out = []
    for band in range(len(minima) // rows):
        values = minima[band * rows : (band + 1) * rows]
        key = f"{view}:{band}:" + ",".join(map(str, values))
        out.append(bucket(key))
    return out


def bucket(key: str) -> int:
    """A stable signed 64-bit integer for `key`."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)
