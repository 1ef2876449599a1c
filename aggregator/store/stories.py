"""Story grouping, the store's half: finding a new item's look-alikes through the LSH index,
keeping each story's row up to date, and reading stories back (dedup/near.py decides what is
alike; this looks up and keeps). A part of Store, which it is mixed into."""

from __future__ import annotations

import json
import struct
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..dedup import Fingerprint, fingerprint, similarity, stored_fingerprint, titles_conflict
from ..dedup.near import numbers_conflict
from ..models import Carrier, Item, Story, StoryMember
from .rows import _epoch, _format_time, _in_chunks, _parse_time, _select_in

if TYPE_CHECKING:
    from collections import OrderedDict

    from ..models import StoryRules

# At most this many look-alikes are compared with a new item, those sharing most buckets with it
# first: a bucket crowded by some templated series must not make one lookup cost more than a
# millisecond or two.
MAX_LOOK_ALIKES = 16
# Rows read of one bucket (inside the window). A bucket that holds this many is crowded: a title
# pattern or boilerplate many items share, which says little. A look-alike found only there is
# not compared unless it shares another bucket; a true copy shares several (the exact title and
# its title bands, or body bands), a rewritten one at least one body band that is not crowded.
BUCKET_ROWS = 24
FINGERPRINTS = 4096  # stored items' fingerprints kept in memory (_remember): ~40 MB of long articles


# What a Story's item is made of (_stories): not the dedup columns, a blob of a kilobyte or more.
_ITEM_COLUMNS = ", ".join(
    f"items.{column}"
    for column in (
        "id", "url_key", "link", "title", "author", "published", "updated", "content_html", "text",
        "categories", "thumbnail", "content_hash", "source_id", "entry_key", "story_id",
    )
)  # fmt: skip


def pack_numbers(numbers: frozenset[str]) -> str:
    """A title's numbers (Fingerprint.numbers) as stored in items.story_numbers: space-separated
    (a number holds none; control characters would not survive the PostgreSQL store's cleaning)."""
    return " ".join(sorted(numbers))


def unpack_numbers(packed: str) -> frozenset[str]:
    return frozenset(packed.split(" ")) if packed else frozenset()


class StoryIndex:
    """Store's story methods; they use the Store's `db`, `story_rules` and `_fingerprints`."""

    db: object
    story_rules: StoryRules
    _fingerprints: OrderedDict[tuple[str, str], Fingerprint]

    # -- story grouping: which story a new item belongs to (dedup/near.py decides, we look up) -------
    def _join_story(
        self, stored_id: str, item: Item, found: Fingerprint | None, first_seen: str
    ) -> str | None:
        """Store a new item in the story of its most similar look-alike, else in a new story;
        return the id of the story it joined (None: it began one).

        A story keeps the id of its first item; _refresh_story picks its representative.
        `found` is the item's fingerprint when the caller has it.
        """
        found = found or fingerprint(item.title, item.text)
        story = self.find_story(item, found)
        self._remember(stored_id, item.content_hash, found)
        story_id, score = (story[0], round(story[1], 4)) if story else (stored_id, None)
        self._write_item(stored_id, item, first_seen=first_seen, found=found, story=(story_id, score))
        self._add_bands(stored_id, found, item.published)
        if story is None:
            # Its own story: what _refresh_story would read back of one item, written at once.
            # Its one carrier is added by the caller in this transaction.
            published = _format_time(item.published)
            inserted = self.db.execute(
                "INSERT INTO stories (id, item_id, published, last_published, first_seen, members, sources) "
                "VALUES (?, ?, ?, ?, ?, 1, 1) ON CONFLICT(id) DO NOTHING",
                [stored_id, stored_id, published, published, first_seen],
            ).rowcount
            if not inserted:  # a story of that id outlived its first item: it has others now
                self._refresh_story(stored_id)
                return stored_id
            return None
        self._refresh_story(story_id)  # at once: the next item of this poll may join it
        return story_id

    def find_story(self, item: Item, found: Fingerprint | None = None) -> tuple[str, float] | None:
        """(story id, similarity) of the stored story `item` belongs to, or None for a story of its own.

        Look-alikes are the items that share an LSH bucket with it and were published within the
        window (an index range scan, whatever the size of the table). The most similar one at or
        above the threshold wins, provided its story would still span no more than the window.
        `found` is the item's fingerprint when the caller has it already.
        """
        rules = self.story_rules
        found = found or fingerprint(item.title, item.text)
        best: tuple[str, float] | None = None
        for story_id, other, first, last in self._look_alikes(found, item.published):
            if max(last, item.published) - min(first, item.published) > timedelta(seconds=rules.window):
                continue
            score = similarity(found, other)
            if score >= rules.threshold and (best is None or score > best[1]):
                best = (story_id, score)
        return best

    def _look_alikes(self, found: Fingerprint, published: datetime) -> list[tuple]:
        """(story id, fingerprint, story's first and last published) of the items sharing a bucket
        with `found` and published within the window of `published`, oldest first: the
        MAX_LOOK_ALIKES of them that share most buckets, leaving out those found only in a
        crowded bucket (BUCKET_ROWS).

        Fingerprints come from memory when the item is there (see _remember), else from its
        stored title and shingles (its text, for an item stored before they were kept); a
        look-alike whose title names other numbers (titles_conflict) is turned away first.
        """
        if not found.buckets:
            return []
        moment, window = _epoch(published), int(self.story_rules.window)
        # One statement, one index range per bucket, each cut at BUCKET_ROWS.
        query = " UNION ALL ".join(
            f"SELECT * FROM (SELECT bucket, item_id FROM story_bands WHERE bucket = ? "
            f"AND published BETWEEN ? AND ? LIMIT {BUCKET_ROWS}) AS b{n}"
            for n in range(len(found.buckets))
        )
        params = [value for bucket in found.buckets for value in (bucket, moment - window, moment + window)]
        members: dict[int, list[str]] = defaultdict(list)
        for bucket, stored_id in self.db.execute(query, params):
            members[bucket].append(stored_id)
        shared: Counter[str] = Counter()
        telling: set[str] = set()  # found in a bucket that is not crowded
        for bucket_members in members.values():
            shared.update(bucket_members)
            if len(bucket_members) < BUCKET_ROWS:
                telling.update(bucket_members)
        ids = [stored_id for stored_id, count in shared.most_common() if count > 1 or stored_id in telling][
            :MAX_LOOK_ALIKES
        ]
        if not ids:
            return []
        rows = self.db.execute(
            "SELECT i.id, i.content_hash, i.story_id, st.published, st.last_published, i.story_numbers "
            f"FROM items i JOIN stories st ON st.id = i.story_id WHERE i.id IN ({','.join('?' * len(ids))}) "
            "ORDER BY i.published, i.id",
            ids,
        ).fetchall()
        # Those not in memory are read and remembered, unless their title names other numbers
        # (a templated series' other issues): similarity would be 0.
        missing = [
            row[0]
            for row in rows
            if (row[0], row[1]) not in self._fingerprints
            and (row[5] is None or not numbers_conflict(found.numbers, unpack_numbers(row[5])))
        ]
        if missing:
            for stored_id, content_hash, title, shingles, text, numbers in self.db.execute(
                "SELECT id, content_hash, title, story_shingles, "
                "CASE WHEN story_shingles IS NULL THEN text END, story_numbers FROM items "
                f"WHERE id IN ({','.join('?' * len(missing))})",
                missing,
            ):
                if numbers is None and titles_conflict(found, title):  # stored before story_numbers
                    continue
                other = (
                    stored_fingerprint(title, shingles) if shingles is not None else fingerprint(title, text)
                )
                self._remember(stored_id, content_hash, other)
        out = []
        for stored_id, content_hash, story, first, last, _ in rows:
            other = self._fingerprints.get((stored_id, content_hash))
            if other is not None:
                self._fingerprints.move_to_end((stored_id, content_hash))
                out.append((story, other, _parse_time(first), _parse_time(last)))
        return out

    def _remember(self, stored_id: str, content_hash: str, found: Fingerprint) -> None:
        """Keep a stored item's fingerprint in memory (the most recently used FINGERPRINTS of them).

        Keyed by the item's content hash too, so a rewritten or re-stored item is never judged by
        an old fingerprint. Computing one again from the stored text costs about a millisecond;
        keeping one costs some 4 bytes a shingle (about 10 KB for a long article).
        """
        self._fingerprints[(stored_id, content_hash)] = found
        if len(self._fingerprints) > FINGERPRINTS:
            self._fingerprints.popitem(last=False)

    def _index_story(self, stored_id: str, item: Item, found: Fingerprint | None) -> Fingerprint:
        """Re-index an item whose stored title or text is being rewritten (it stays in its
        story); return its fingerprint (`found`, when the caller has it), for the row."""
        self._unindex_stories([stored_id])
        found = found or fingerprint(item.title, item.text)
        self._remember(stored_id, item.content_hash, found)
        self._add_bands(stored_id, found, item.published)
        return found

    def _add_bands(self, stored_id: str, found: Fingerprint, published: datetime) -> None:
        """The item's rows in the LSH index (its row keeps its buckets: Store._write_item)."""
        moment = _epoch(published)
        self.db.conn.executemany(
            "INSERT INTO story_bands (bucket, published, item_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(bucket, moment, stored_id) for bucket in found.buckets],
        )

    def _unindex_stories(self, ids: list[str]) -> set[str]:
        """Remove these items' index entries; return the ids of their stories."""
        stories: set[str] = set()
        for sql, params in _in_chunks(
            "SELECT id, story_id, story_buckets FROM items WHERE id IN ({marks})", ids
        ):
            for stored_id, story_id, packed in self.db.execute(sql, params).fetchall():
                stories.add(story_id)
                buckets = struct.unpack(f"<{len(packed or b'') // 8}q", packed or b"")
                self.db.conn.executemany(
                    "DELETE FROM story_bands WHERE bucket = ? AND item_id = ?",
                    [(bucket, stored_id) for bucket in buckets],
                )
        return stories

    def _refresh_stories(self, ids: set[str]) -> None:
        """Bring up to date the stories of these items (members, carriers, representative)."""
        stories = {
            row[0]
            for row in _select_in(self.db, "SELECT story_id FROM items WHERE id IN ({marks})", sorted(ids))
        }
        for story_id in sorted(stories):
            self._refresh_story(story_id)

    def _refresh_story(self, story_id: str) -> None:
        """Recompute a story's row from its items: the representative is the earliest, then the
        richest (as save_poll keeps the earliest version of a URL); a story without items goes."""
        members = self.db.execute(
            "SELECT id, published, length(content_html), source_id, first_seen FROM items WHERE story_id = ?",
            [story_id],
        ).fetchall()
        if not members:
            self.db.execute("DELETE FROM stories WHERE id = ?", [story_id])
            return
        representative = min(members, key=lambda m: (m[1], -m[2], m[3]))
        sources = self.db.execute(
            "SELECT count(DISTINCT s.source_id) FROM item_sources s JOIN items i ON i.id = s.item_id "
            "WHERE i.story_id = ?",
            [story_id],
        ).fetchone()[0]
        self.db.execute(
            "INSERT INTO stories (id, item_id, published, last_published, first_seen, members, sources) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET item_id = excluded.item_id, "
            "published = excluded.published, last_published = excluded.last_published, "
            "first_seen = excluded.first_seen, members = excluded.members, sources = excluded.sources",
            [
                story_id,
                representative[0],
                representative[1],
                max(m[1] for m in members),
                min(m[4] for m in members),
                len(members),
                sources,
            ],
        )

    def story_members(self, story_id: str) -> list[StoryMember]:
        """Every item of a story as each source carried it, oldest first.

        The similarity is the item's to the look-alike it joined through; None for the item that
        began the story, and 1.0 for a further source that carried an item by the same link.
        """
        members: list[StoryMember] = []
        seen: set[str] = set()
        for row in self.db.execute(
            "SELECT i.id, s.source_id, src.title, i.title, s.link, i.published, i.story_similarity "
            "FROM items i JOIN item_sources s ON s.item_id = i.id JOIN sources src ON src.id = s.source_id "
            "WHERE i.story_id = ? ORDER BY i.published, i.id, s.first_seen, s.source_id",
            [story_id],
        ):
            stored_id, source_id, source_title, title, link, published, score = row
            members.append(
                StoryMember(
                    story_id=story_id,
                    item_id=stored_id,
                    source_id=source_id,
                    source_title=source_title or source_id,
                    title=title,
                    link=link,
                    published=_parse_time(published),
                    similarity=1.0 if stored_id in seen else score,
                )
            )
            seen.add(stored_id)
        return members

    # -- stories -----------------------------------------------------------------------------------
    def stories(
        self, ids: list[str] | None = None, batch: int = 200, min_sources: int = 1
    ) -> Iterator[Story]:
        """Stories newest first (by their representative's published date), each once, with every
        source that carried one of its items.

        With `ids` (story ids, or ids of items: each stands for its story), only those stories.
        With `min_sources`, only stories carried by at least that many sources. Streams in
        batches, so callers may stop early.
        """
        select = (
            f"SELECT {_ITEM_COLUMNS}, stories.published AS story_published, "
            "stories.first_seen AS story_first_seen FROM stories "
            "JOIN items ON items.id = stories.item_id WHERE {} ORDER BY stories.published DESC, stories.id"
        )
        if ids is not None:
            done: set[str] = set()
            # Chunk by chunk: a chunk's stories are yielded before the next chunk is looked up.
            for sql, params in _in_chunks(
                "SELECT story_id FROM items WHERE id IN ({marks}) UNION SELECT id FROM stories WHERE id IN ({marks})",
                dict.fromkeys(ids),
            ):
                wanted = [row[0] for row in self.db.execute(sql, params) if row[0] not in done]
                done.update(wanted)
                if wanted:
                    where = f"stories.id IN ({','.join('?' * len(wanted))}) AND stories.sources >= ?"
                    rows = list(self.db.query(select.format(where), [*wanted, min_sources]))
                    yield from self._stories(rows)
            return
        after: tuple[str, str] | None = None  # keyset paging: (published, id) of the last story yielded
        while True:
            where, params = "stories.sources >= ?", [min_sources]
            if after:
                # The range on `published` alone is what lets the index seek to the page: with only
                # "published < ? OR (published = ? AND id > ?)" both engines scan from the newest
                # story each time, and reading a million stories page by page was quadratic.
                where += " AND stories.published <= ? AND (stories.published < ? OR stories.id > ?)"
                params += [after[0], after[0], after[1]]
            rows = list(self.db.query(select.format(where) + " LIMIT ?", [*params, batch]))
            if not rows:
                return
            yield from self._stories(rows)
            after = (rows[-1]["story_published"], rows[-1]["story_id"])

    def _stories(self, records: list[dict]) -> Iterator[Story]:
        """Stories from rows of their representative items; carriers come from all their items."""
        if not records:
            return
        representative = {r["story_id"]: r["id"] for r in records}
        found: dict[str, list[tuple[tuple, Carrier]]] = {story_id: [] for story_id in representative}
        marks = ",".join("?" * len(records))
        for story_id, stored_id, source_id, title, url, link, first_seen, key in self.db.execute(
            "SELECT i.story_id, s.item_id, s.source_id, src.title, src.url, s.link, s.first_seen, s.key "
            "FROM item_sources s JOIN items i ON i.id = s.item_id JOIN sources src ON src.id = s.source_id "
            f"WHERE i.story_id IN ({marks})",
            list(representative),
        ):
            # The representative's own carriers first, so its source is listed with its link; the
            # key settles the rest, as no engine promises the order of a join's rows.
            order = (stored_id != representative[story_id], first_seen, source_id, key)
            found[story_id].append((order, Carrier(source_id, title or source_id, url, link)))
        carriers: dict[str, list[Carrier]] = {}
        for story_id, rows in found.items():
            chosen: dict[str, Carrier] = {}
            for _, carrier in sorted(rows, key=lambda row: row[0]):
                chosen.setdefault(carrier.source_id, carrier)
            carriers[story_id] = list(chosen.values())
        for r in records:
            item = Item(
                source_id=r["source_id"],
                key=r["entry_key"],
                link=r["link"],
                url_key=r["url_key"],
                title=r["title"],
                author=r["author"],
                published=_parse_time(r["published"]),
                updated=_parse_time(r["updated"]),
                content_html=r["content_html"],
                text=r["text"],
                categories=tuple(json.loads(r["categories"] or "[]")),
                thumbnail=r["thumbnail"],
                content_hash=r["content_hash"],
            )
            yield Story(
                id=r["story_id"],
                item=item,
                carriers=carriers[r["story_id"]],
                first_seen=_parse_time(r["story_first_seen"]),
            )
