"""dedup: which items are the same item, and which tell the same story.

- exact.py: the identity of a stored item (its canonical URL, else its source and key); entries
  repeated within one document are collapsed earlier, by normalize.entries.
- text.py, minhash.py, near.py: near-duplicates. An item reposted elsewhere with another URL, a
  【转载】 tag, a copyright line and full-width punctuation is still the same story; near.py says
  how similar two items are and gives each item the LSH buckets the store indexes, so finding a
  new item's story reads a few index entries, not the table.

Pure functions, no I/O: the store decides what to look up and keeps the result.
"""

from aggregator.dedup.exact import item_id
from aggregator.dedup.near import Fingerprint, fingerprint, similarity, stored_fingerprint, titles_conflict

__all__ = ["Fingerprint", "fingerprint", "item_id", "similarity", "stored_fingerprint", "titles_conflict"]
