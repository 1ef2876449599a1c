"""What each topic's published files were last written from (publish.feed.fingerprint), so an
incremental publish renders only the topics whose feeds would say something new.

    published_feeds  (path: the output folder and topic id, fingerprint)
"""

from __future__ import annotations

from . import Store
from .rows import _select_in


class PublishedFeeds:
    """The published_feeds table of an open Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def fingerprints(self, paths: list[str]) -> dict[str, str]:
        """path -> the fingerprint recorded for it, for the paths that have one."""
        return dict(
            _select_in(
                self.db, "SELECT path, fingerprint FROM published_feeds WHERE path IN ({marks})", paths
            )
        )

    def record(self, fingerprints: dict[str, str]) -> None:
        """Remember that the files at these paths were written from feeds with these fingerprints."""
        with self.store._transaction():
            self.db.conn.executemany(
                "INSERT INTO published_feeds (path, fingerprint) VALUES (?, ?) "
                "ON CONFLICT (path) DO UPDATE SET fingerprint = excluded.fingerprint",
                list(fingerprints.items()),
            )
