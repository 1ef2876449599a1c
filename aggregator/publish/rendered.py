"""Feed documents put together from entries serialized once (rss.py and atom.py).

feedgen builds each entry's element once per publish, and the element is serialized once, as it
reads in any feed of its format: at the depth of the feed's entries, under the same namespace
declarations. A feed's document is then feedgen's document of the feed without entries, with
the entries' bytes put in before its closing tags: the bytes feedgen writes with the entries in
it. Serializing a feed's whole tree again for every topic that lists a story (each entry's copy
included) cost more than building the entries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from lxml import etree

# Keeps pretty_print's indentation out of the parsed tree, so that serializing it indents again.
_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)


class Splice:
    """Where entries go in the documents of one format: the last element of `holder`, before
    `closing` (the closing tags that end every document of the format, entries or not)."""

    def __init__(self, holder: str | None, closing: bytes) -> None:
        self.holder = holder  # a path from the root (find()), or None for the root itself
        self.closing = closing
        self._contexts: dict[bytes, tuple[bytes, etree._Element, etree._Element]] = {}
        self._lock = threading.Lock()  # one entry at a time in a context tree, whichever thread

    def document(self, empty: bytes, entries: Iterable[bytes]) -> bytes:
        """The document of a feed whose document without entries is `empty`, with `entries`
        (from entry()) in this order."""
        if not empty.endswith(self.closing):
            raise ValueError(f"a feed document does not end with {self.closing!r}")
        return empty[: -len(self.closing)] + b"".join(entries) + self.closing

    def entry(self, element: etree._Element, empty: bytes) -> bytes:
        """The bytes of `element` as an entry of the documents whose root start tag is that of
        `empty` (any feed's document without entries). The element is used up: it is moved into
        the tree of such a document, serialized there and removed."""
        with self._lock:
            before, root, holder = self._context(empty)
            holder.append(element)
            try:
                text = etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True)
            finally:
                holder.remove(element)
        if not (text.startswith(before) and text.endswith(self.closing)):
            raise ValueError("an entry did not serialize after the feed's own elements")
        return text[len(before) : -len(self.closing)]

    def _context(self, empty: bytes) -> tuple[bytes, etree._Element, etree._Element]:
        """A document without entries, parsed, with the same root start tag as `empty`: what an
        entry's bytes depend on besides itself are its depth and the namespaces declared there.
        Parsed once per process (per root start tag); returns its bytes before `closing`, its
        root and the element that holds entries."""
        key = b"\n".join(empty.split(b"\n", 2)[:2])  # the XML declaration and the root start tag
        context = self._contexts.get(key)
        if context is None:
            if not empty.endswith(self.closing):
                raise ValueError(f"a feed document does not end with {self.closing!r}")
            root = etree.fromstring(empty, _PARSER)
            holder = root if self.holder is None else root.find(self.holder)
            if holder is None:
                raise ValueError(f"a feed document has no {self.holder}")
            context = self._contexts[key] = (empty[: -len(self.closing)], root, holder)
        return context
