"""feedparser's strict parser (parsers/strict.py with mixin.py's handlers) fed by pyexpat directly.

Reader subclasses feedparser's own mixin, so every `_start_*`/`_end_*` handler (RSS, Atom, RDF,
Dublin Core, Media RSS, iTunes...) is feedparser's, and replaces only the generic hot methods,
with equivalents that skip work whose result cannot differ:

- start and end tags: the names feedparser makes of an expat name, and the handler they call,
  are worked out once per name and namespace set; the xml:base arithmetic is memoised;
- text comes from expat buffered, one piece per run of text (xml.sax gives feedparser one per
  line and per reference), which changes no joined value;
- pop(): C1 characters are translated and text re-decoded as mis-labelled UTF-8 only where the
  document has characters U+0080-U+00BF at all; entries are dicts that rename keys as
  FeedParserDict does but read at a dict's speed;
- dates stay text (DateText) until xmlfeed needs feedparser's reading of them.

It raises Unsure for what it leaves to feedparser (fast.py says what).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from dataclasses import dataclass
from typing import Any

from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict

from aggregator.parse.limits import MAX_ELEMENTS
from aggregator.parse.repair import MAX_ATTRIBUTES

__all__ = ["DateText", "Reader", "Unsure"]

_C1 = re.compile("[\x80-\x9f]")  # what feedparser's _cp1252 table translates
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")
# FeedParserDict.__setitem__'s renaming of keys ("description" is stored as "summary").
_KEYMAP = {
    key: (value[0] if isinstance(value, list) else value) for key, value in FeedParserDict.keymap.items()
}
_AMPERSAND_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
_HANDLERS = frozenset(name for name in dir(_FeedParserMixin) if name.startswith(("_start_", "_end_")))
_ITEMS = frozenset({"item", "entry"})
_XLINK = "http://www.w3.org/1999/xlink"
_SPECIAL = frozenset({"math", "svg"})
_XHTML = "application/xhtml+xml"


class DateText(str):
    """A date's text where feedparser keeps its parsed value (`*_parsed`); xmlfeed parses it with
    feedparser's date parser only when dates.py cannot read it."""


class Unsure(Exception):
    """The document holds something feedparser reads in a way Reader does not follow."""


class _Entry(dict):
    """A FeedParserDict as feedparser's handlers use it, without its cost on every read: keys are
    renamed on the way in, as FeedParserDict.__setitem__ renames them ("description" becomes
    "summary"). No handler and nothing in xmlfeed.py reads a renamed or computed key ("category",
    "enclosures", "license", "updated" falling back to "published"), so reads are a dict's."""

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, _KEYMAP.get(key, key), value)

    def setdefault(self, key: str, default: Any) -> Any:
        key = _KEYMAP.get(key, key)
        if key not in self:
            dict.__setitem__(self, key, default)
            return default
        return self[key]


@dataclass(frozen=True)
class _Name:
    """What feedparser makes of one expat element name, with the namespaces in use."""

    start_tag: str  # as startElementNS passes it to unknown_starttag
    start_method: str  # "_start_" + prefix + suffix, as unknown_starttag looks it up
    unknown_tag: str  # the key of an element without a handler
    unprefixed: bool
    end_tag: str  # as endElementNS passes it to unknown_endtag
    end_method: str
    end_unknown_tag: str
    item: bool  # an RSS item or Atom entry, as limits.py counts them


class Reader(_FeedParserMixin):
    """feedparser's strict parser (parsers/strict.py and mixin.py) fed by pyexpat directly."""

    def __init__(self, max_items: int | None, latin1: bool) -> None:
        self.lang = None  # xml:lang is not tracked: nothing xmlfeed reads depends on it
        self.baseuri = ""
        self.encoding = "utf-8"
        self.decls: dict[str, str] = {}
        self.resolve_relative_uris = False
        self.sanitize_html = False
        self.guidislink = 0
        super().__init__()
        self.feeddata = _Entry()
        self.contentparams = {}
        self.root: str | None = None
        self.max_items = max_items
        self.latin1 = latin1
        self.items = 0
        self.elements = 0
        self.decoded_base64 = False  # fast.py: base64 text may hold any character
        self.content_depth = 0  # the depth of the text construct being read
        self._names: dict[str, _Name] = {}  # by expat name; emptied when the namespaces change
        self._bases: dict[tuple[str, str], str] = {}  # (base, xml:base) -> feedparser's new base
        self._depths: tuple[Any, dict[str, int]] = (None, {})  # property_depth_map of the last entry

    # -- parsers/strict.py, for pyexpat's callbacks --------------------------------------------

    def track_namespace(self, prefix: str | None, uri: str) -> None:
        super().track_namespace(prefix, uri)
        self._names.clear()  # element names and handlers depend on the namespaces in use

    def start_namespace(self, prefix: str | None, uri: str) -> None:
        if not uri:
            return
        self.track_namespace(prefix or None, uri)
        if prefix and uri == _XLINK:
            self.decls["xmlns:" + prefix] = uri

    def _name(self, name: str) -> _Name:
        """startElementNS's and endElementNS's reading of an expat name, then unknown_starttag's
        and unknown_endtag's (their handler names)."""
        namespace, _, local = name.rpartition(" ")
        if " " in namespace:  # xml.sax would split such a namespace URI at its spaces
            raise Unsure
        if local.lower() in _SPECIAL:
            raise Unsure
        start_namespace = namespace
        if "backend.userland.com/rss" in namespace.lower():
            start_namespace = "http://backend.userland.com/rss"
        tags = []
        for uri, default in ((start_namespace, None), (namespace, "")):
            prefix = self._matchnamespaces.get(uri.lower(), default)
            tag = local
            if prefix:
                tag = prefix + ":" + local
            elif uri:
                for known, value in self.namespaces_in_use.items():
                    if known and value == uri:
                        tag = known + ":" + local
                        break
            tags.append(tag.lower())
        start_prefix, start_suffix = self._handler_key(tags[0])
        end_prefix, end_suffix = self._handler_key(tags[1])
        info = _Name(
            start_tag=tags[0],
            start_method="_start_" + start_prefix + start_suffix,
            unknown_tag=start_prefix + start_suffix,
            unprefixed=not start_prefix,
            end_tag=tags[1],
            end_method="_end_" + end_prefix + end_suffix,
            end_unknown_tag=end_prefix + end_suffix,
            item=local in _ITEMS,
        )
        self._names[name] = info
        return info

    def _handler_key(self, tag: str) -> tuple[str, str]:
        """unknown_starttag's prefix ("dc_", "" for RSS and Atom) and suffix of a tag."""
        prefix, colon, suffix = tag.partition(":")
        if not colon:
            prefix, suffix = "", tag
        prefix = self.namespacemap.get(prefix, prefix)
        return (prefix + "_" if prefix else ""), suffix

    def _attributes(self, attributes: list[str]) -> list[tuple[str, str]]:
        """startElementNS's attributes (with the xlink declarations), as unknown_starttag
        normalises them: names lower-cased, and the values of rel and type."""
        if len(attributes) > 2 * MAX_ATTRIBUTES:
            raise Unsure
        attrs, self.decls = self.decls, {}
        first: dict[str, str] = {}
        locals_ = []
        for i in range(0, len(attributes), 2):
            namespace, _, local = attributes[i].rpartition(" ")
            if " " in namespace:
                raise Unsure
            value = attributes[i + 1]
            prefix = self._matchnamespaces.get(namespace.lower(), "") if namespace else ""
            attrs[(prefix + ":" + local if prefix else local).lower()] = value
            first.setdefault(local, value)
            locals_.append(local)
        for local in locals_:  # AttributesNSImpl.getValueByQName: the first of that qname
            attrs[local.lower()] = first[local]
        return [(key, value.lower() if key in ("rel", "type") else value) for key, value in attrs.items()]

    def start_element(self, name: str, attributes: list[str]) -> None:
        info = self._names.get(name) or self._name(name)
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise Unsure
        if info.item:
            self.items += 1
            if self.max_items is not None and self.items > self.max_items:
                raise Unsure
        if self.root is None:
            self.root = info.start_tag
        attrs = self._attributes(attributes) if attributes or self.decls else []

        # mixin.unknown_starttag from here on
        self.depth += 1
        attrs_d = dict(attrs)
        base = self.baseuri
        if attrs:
            base = attrs_d.get("xml:base", attrs_d.get("base")) or base
        if base or self.baseuri:
            key = (self.baseuri, base)
            resolved = self._bases.get(key)
            if resolved is None:
                if self.baseuri:
                    resolved = make_safe_absolute_uri(self.baseuri, base) or self.baseuri
                else:
                    resolved = _urljoin(self.baseuri, base)
                self._bases[key] = resolved
            self.baseuri = resolved
        self.basestack.append(self.baseuri)
        for prefix, uri in attrs:
            if prefix.startswith("xmlns:"):
                self.track_namespace(prefix[6:], uri)
            elif prefix == "xmlns":
                self.track_namespace(None, uri)

        tag = info.start_tag
        if self.incontent:
            content_type = self.contentparams.get("type", "xml")
            if not content_type.endswith("xml"):
                if tag in ("xhtml:div", "div"):
                    return  # typepad does this 10/2007
                self.contentparams["type"] = content_type = _XHTML
            if content_type == _XHTML:
                self.handle_data(f"<{tag.split(':', 1)[-1]}{self.strattrs(attrs)}>", escape=0)
                return

        if info.unprefixed:
            if tag not in ("title", "link", "description", "name"):
                self.intextinput = 0
            if tag not in ("title", "link", "description", "url", "href", "width", "height"):
                self.inimage = 0
        try:
            method = getattr(self, info.start_method)
            method(attrs_d)
        except AttributeError:
            if not attrs_d:
                self.push(info.unknown_tag, 1)
            else:
                self._get_context()[info.unknown_tag] = attrs_d

    def end_element(self, name: str) -> None:
        info = self._names.get(name) or self._name(name)
        # mixin.unknown_endtag
        if self.incontent and self.depth != self.content_depth and info.end_method in _HANDLERS:
            # An element inside a text construct whose end feedparser handles as a feed element
            # (<title> or <body> in inline XHTML): feedparser then closes the construct early.
            raise Unsure
        try:
            method = getattr(self, info.end_method)
            method()
        except AttributeError:
            self.pop(info.end_unknown_tag)

        if self.incontent:
            tag = info.end_tag
            content_type = self.contentparams.get("type", "xml")
            if not content_type.endswith("xml"):
                if tag in ("xhtml:div", "div"):
                    return  # as feedparser: no end of scope for this element's base and depth
                self.contentparams["type"] = content_type = _XHTML
            if content_type == _XHTML:
                self.handle_data(f"</{tag.rpartition(':')[2]}>", escape=0)

        basestack = self.basestack
        if basestack:
            basestack.pop()
            if basestack and basestack[-1]:
                self.baseuri = basestack[-1]
        self.depth -= 1

    # -- mixin.py's generic methods, without the work whose result cannot differ ----------------

    def handle_data(self, text: str, escape: int = 1) -> None:
        if not self.elementstack:
            return
        if escape and self.contentparams.get("type") == _XHTML:
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.elementstack[-1][2].append(text)

    def push_content(
        self, tag: str, attrs_d: dict[str, str], default_content_type: str, expecting_text: Any
    ) -> None:
        self.incontent += 1
        self.content_depth = self.depth
        self.contentparams = {
            "type": self.map_content_type(attrs_d.get("type", default_content_type)),
            "language": self.lang,
            "base": self.baseuri,
        }
        self.contentparams["base64"] = self._is_base64(attrs_d, self.contentparams)
        self.push(tag, expecting_text)

    def pop(self, element: str, strip_whitespace: int = 1) -> str | None:
        if not self.elementstack or self.elementstack[-1][0] != element:
            return None
        element, expecting_text, pieces = self.elementstack.pop()
        contentparams = self.contentparams
        if self.version == "atom10" and contentparams.get("type", "text") == _XHTML:
            pieces = _unwrap_div(pieces)
        output = "".join(pieces)
        if strip_whitespace:
            output = output.strip()
        if not expecting_text:
            return output
        if contentparams.get("base64", 0):
            self.decoded_base64 = True
            with contextlib.suppress(binascii.Error, binascii.Incomplete, UnicodeDecodeError):
                output = base64.decodebytes(output.encode("utf8")).decode("utf8")
        if element in self.can_be_relative_uri and output and (element != "id" or self.guidislink):
            output = self.resolve_uri(output)
        if (
            contentparams.get("type") == "text/plain"
            and not self.version.startswith("atom")
            and self.looks_like_html(output)
        ):
            contentparams["type"] = "text/html"
        contentparams.pop("mode", None)
        contentparams.pop("base64", None)
        if self.latin1 and not output.isascii():
            # feedparser: "address common error where people take data that is already utf-8,
            # presume that it is iso-8859-1, and re-encode it"; then Windows-1252's C1 characters.
            if not _BEYOND_LATIN1.search(output):
                with contextlib.suppress(UnicodeDecodeError):
                    output = output.encode("iso-8859-1").decode("utf-8")
            if _C1.search(output):
                output = output.translate(_cp1252)

        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        if self.inentry and not self.insource:
            entry = self.entries[-1]
            if element == "content":
                entry.setdefault(element, [])
                entry[element].append({**contentparams, "value": output})
            elif element == "link":
                if not self.inimage:
                    if "&" in output:
                        output = _AMPERSAND_REFERENCE.sub(r"&\g<1>", output.replace("&amp;", "&"))
                    entry[element] = output
                    if output:
                        entry["links"][-1]["href"] = output
            else:
                if element == "description":
                    element = "summary"
                depth_entry, depths = self._depths  # mixin: property_depth_map[entry]
                if depth_entry is not entry:
                    depths = {}
                    self._depths = (entry, depths)
                old_depth = depths.get(element)
                if old_depth is None or self.depth <= old_depth:
                    depths[element] = self.depth
                    entry[element] = output
                if self.incontent:
                    entry[element + "_detail"] = {**contentparams, "value": output}
        elif self.infeed or self.insource:
            context = self._get_context()
            if element == "description":
                element = "subtitle"
            context[element] = output
            if element == "link":
                output = _AMPERSAND_REFERENCE.sub(r"&\g<1>", output)
                context[element] = output
                context["links"][-1]["href"] = output
            elif self.incontent:
                context[element + "_detail"] = {**contentparams, "value": output}
        return output

    def _start_item(self, attrs_d: dict[str, str]) -> None:
        super()._start_item(attrs_d)
        entry = self.entries[-1]
        self.entries[-1] = _Entry(entry)
        if self._depths[0] is entry:  # _start_item stored values through pop() (CDF attributes)
            self._depths = (self.entries[-1], self._depths[1])

    _start_entry = _start_item

    # -- dates: kept as text, parsed only if xmlfeed needs feedparser's reading -----------------

    def _end_published(self) -> None:
        self._save("published_parsed", _date_text(self.pop("published")), overwrite=True)

    def _end_updated(self) -> None:
        self._save("updated_parsed", _date_text(self.pop("updated")), overwrite=True)

    def _end_created(self) -> None:
        self._save("created_parsed", _date_text(self.pop("created")), overwrite=True)

    # The mixin's aliases name its own functions, not these.
    _end_issued = _end_pubdate = _end_published
    _end_modified = _end_lastbuilddate = _end_updated


def _date_text(value: str | None) -> DateText | None:
    return DateText(value) if value else None


def _unwrap_div(pieces: list[str]) -> list[str]:
    """mixin.pop() for Atom 1.0 XHTML: the enclosing <div> goes when all the rest is inside it."""
    pieces = list(pieces)
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    return pieces
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        return pieces[1:-1]
    return pieces
