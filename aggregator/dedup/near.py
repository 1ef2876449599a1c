"""Near-duplicates: is this item another copy of a story we hold?

Two items are compared in three steps, cheapest and strictest first:

1. Title numbers (text.title_numbers) must not conflict (numbers_conflict): "Rust 1.54 发布" and
   "Rust 1.55 发布", "周刊第 100 期" and "第 101 期", 5.14-rc1 and 5.14-rc2 share most of their
   words and differ in exactly this, and a true repost never changes a number of its title (it
   may add one). Conflicting numbers: similarity 0, whatever the text.
2. Body: shingles of 3 tokens (CJK characters or words) of the cleaned text, at most
   MAX_BODY_TOKENS of them. J = |A∩B| / |A∪B| (Jaccard) measures two full copies; C = |A∩B| /
   min(|A|, |B|) (containment) measures a summary or a trimmed copy inside the full text.
3. Title: Jaccard T of the cleaned titles' tokens and token pairs.

similarity = max(J, min(C, T)): a copy of the whole text is the same story whatever its title
(reposters do rewrite titles); a part of the text is only when the titles agree as well, since
templated posts (digests, release notes) share whole paragraphs of header and footer. Items whose
bodies are too short to judge (under MIN_BODY shingles) fall back to T², so a title alone must be
nearly identical. The store groups two items when similarity >= the configured threshold
(models.StoryRules: 0.6 by default).

Lookup: `Fingerprint.buckets` are the item's LSH buckets (minhash.py) for three views: the
cleaned title as a whole, MinHash bands of the title, and MinHash bands of the body. A lookup of
those buckets yields the candidates worth comparing; the comparison above then decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aggregator.dedup import minhash
from aggregator.dedup.text import clean_body, clean_title, title_numbers, tokens

# numpy is imported inside the functions that compute with it: the store imports this module,
# and a publish, which only reads the store, need not load numpy (see aggregator/cli).
if TYPE_CHECKING:
    import numpy as np

SHINGLE = 3  # tokens per body shingle
MAX_BODY_TOKENS = 3000  # a long article is judged on its first 3000 tokens: cost stays flat
# Characters read to find them (3000 words of English, with room for boilerplate lines), and of a
# title: a 5 MB entry costs what a normal one does, in time and in memory.
MAX_BODY_CHARS = 30_000
MAX_TITLE_CHARS = 500
MIN_BODY = 12  # fewer body shingles than this: too little text to judge, the title decides
CONTAINMENT_FLOOR = 0.5  # containment counts from here: templated posts share half their text
MIN_TITLE_KEY = 4  # tokens a cleaned title needs before its exact form is a bucket of its own

# (view, bins, rows per band) for the MinHash views; view 0 is the exact cleaned title.
# P(found) = 1 - (1 - J^rows)^bands: title J 0.9 -> 0.98, 0.8 -> 0.88, 0.3 -> 0.03 (4 bands);
# body J 0.7 -> 0.99, 0.6 -> 0.89, 0.5 -> 0.64, 0.3 -> 0.12, 0.1 -> 0.002 (16 bands). An exact
# title (view 0) finds summaries and trimmed copies whose body J is low; 21 index rows an item.
TITLE_BANDS = (1, 16, 4)
BODY_BANDS = (2, 64, 4)


@dataclass(frozen=True)
class Fingerprint:
    """What near-duplicate detection needs of one item; computed from its title and text."""

    title: frozenset[int]  # shingles of the cleaned title: its tokens and pairs of tokens
    numbers: frozenset[str]  # title_numbers of the cleaned title
    # 3-token shingles of the cleaned text, sorted, as little-endian uint32: 4 bytes a shingle,
    # where a frozenset costs some 70; the store keeps thousands of fingerprints in memory.
    body: bytes
    buckets: tuple[int, ...]  # LSH buckets, to store and to look up

    @property
    def body_shingles(self) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self.body, dtype=_SHINGLE)


_SHINGLE = "<u4"  # numpy's dtype of a shingle in Fingerprint.body


def fingerprint(title: str, text: str) -> Fingerprint:
    """The fingerprint of an item with this title and plain text."""
    import numpy as np

    title_view = _TitleView(title)
    body_tokens = tokens(clean_body(text[:MAX_BODY_CHARS]), MAX_BODY_TOKENS)
    shingled = minhash.shingles(body_tokens, SHINGLE)
    body = np.fromiter(shingled, dtype=_SHINGLE, count=len(shingled))
    body.sort()
    found: list[int] = []
    if len(title_view.tokens) >= MIN_TITLE_KEY:
        found.append(minhash.bucket("0:" + "\x1f".join(title_view.tokens)))
    # Title bands hash pairs only: single characters (开, 发, 布) are shared by unrelated titles.
    found += _bands(title_view.pairs, TITLE_BANDS)
    if body.size >= MIN_BODY:  # a few shingles would put every short text in one bucket
        found += _bands(body, BODY_BANDS)
    return title_view.fingerprint(body.tobytes(), tuple(dict.fromkeys(found)))


def stored_fingerprint(title: str, body: bytes) -> Fingerprint:
    """The fingerprint of a stored item from its title and its kept `Fingerprint.body`, to compare
    with (its buckets, which comparing does not need, are left empty): the body's shingles cost
    a millisecond to make from the text, the title's some microseconds."""
    return _TitleView(title).fingerprint(body, ())


class _TitleView:
    """A title cleaned and cut into tokens and token pairs (the pairs' shingles)."""

    def __init__(self, title: str):
        self.cleaned = clean_title(title[:MAX_TITLE_CHARS])
        self.tokens = tokens(self.cleaned)
        self.pairs = minhash.shingles(self.tokens, 2)

    def fingerprint(self, body: bytes, buckets: tuple[int, ...]) -> Fingerprint:
        return Fingerprint(
            title=frozenset(minhash.shingles(self.tokens, 1) | self.pairs),
            numbers=title_numbers(self.cleaned),
            body=body,
            buckets=buckets,
        )


def _bands(shingles: set[int] | np.ndarray, bands: tuple[int, int, int]) -> list[int]:
    view, bins, rows = bands
    return minhash.buckets(minhash.signature(shingles, bins), view, rows)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """How surely `a` and `b` tell the same story, from 0 to 1 (see the module docstring)."""
    import numpy as np

    if numbers_conflict(a.numbers, b.numbers):
        return 0.0
    title = _jaccard(a.title, b.title)
    a_body, b_body = a.body_shingles, b.body_shingles
    smaller = min(a_body.size, b_body.size)
    if smaller < MIN_BODY:
        return title * title
    shared = np.intersect1d(a_body, b_body, assume_unique=True).size
    jaccard = shared / (a_body.size + b_body.size - shared)
    containment = max(0.0, shared / smaller - CONTAINMENT_FLOOR) / (1 - CONTAINMENT_FLOOR)
    return max(jaccard, min(containment, title))


def titles_conflict(found: Fingerprint, title: str) -> bool:
    """True when another item's title names other numbers than `found`'s: similarity would be 0.

    Costs microseconds, against a millisecond for a whole fingerprint: the store checks it first,
    so a crowd of templated look-alikes (a digest's past issues) costs little to turn away.
    """
    return numbers_conflict(found.numbers, title_numbers(clean_title(title[:MAX_TITLE_CHARS])))


def numbers_conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """True when two titles' numbers say they are different stories.

    Pre-release tags must agree ("rc1" and "rc2", "rc2" and none); otherwise the titles conflict
    when each names a number the other does not ("1.54" and "1.55", "第 100 期" and "第 101 期").
    A title that only adds one ("支持 x86", "its RP2040 chip") does not conflict: editors who
    rewrite a title do that, and the body must still agree.
    """
    if a == b:
        return False
    if {n for n in a if not n[0].isdigit()} != {n for n in b if not n[0].isdigit()}:
        return True
    return not (a <= b or b <= a)


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)
