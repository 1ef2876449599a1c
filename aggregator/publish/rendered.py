"""An entry feedgen writes from elements built before (rss.py and atom.py build each entry's
element once per publish and hand every feed that lists it a copy of it)."""

from __future__ import annotations

from copy import deepcopy

from feedgen.entry import FeedEntry
from lxml import etree


class Rendered(FeedEntry):
    """A feedgen entry whose <item> / <entry> element is already built.

    feedgen.FeedGenerator.add_entry() accepts it like any entry, and rss_str() / atom_str() ask
    it for its element (rss_entry() / atom_entry()), which they append to the feed: each call
    returns a fresh copy, so the built element can go into any number of feeds.
    """

    def __init__(self, *, rss: etree._Element | None = None, atom: etree._Element | None = None) -> None:
        super().__init__()
        self._rss = rss
        self._atom = atom

    def register_extension(self, *args: object, **kwargs: object) -> None:
        """add_entry() loads the feed's extensions here: they already wrote into the element."""

    def rss_entry(self, extensions: bool = True) -> etree._Element:
        if self._rss is None:
            raise ValueError("this entry was built for Atom only")
        return deepcopy(self._rss)

    def atom_entry(self, extensions: bool = True) -> etree._Element:
        if self._atom is None:
            raise ValueError("this entry was built for RSS only")
        return deepcopy(self._atom)
