"""The one definition of "active content", shared by the XSS, fuzzing and end-to-end tests.

`fragment_problems(html)` lists everything in an HTML fragment (an item's content, as a reader
renders it) that could run code, load resources or act on the page: script-like elements, event
handler attributes, style (attributes or elements), forms, meta/base/link, plug-ins, svg and
math, comments a browser could read as conditional code, and URLs whose scheme is not http(s),
mailto or a raster image in <img src>. The fragment is read by two parsers that recover
differently from broken markup (lxml's libxml2 HTML parser and Python's html.parser tokenizer),
and each finding is reported once.

`page_problems(html)` does the same for a whole page, allowing only what our own index.html
template writes in <head>. `plain_text_problems(text)` says whether a title, author or category
would be read as markup by a reader that renders such fields as HTML. `output_problems(folder)`
applies the right check to every published file: each feed format's HTML fields as fragments,
their text fields as plain text, their URL fields by scheme.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import lxml.etree
import lxml.html

# Elements that must never reach a reader from an item.
FORBIDDEN = frozenset(
    {
        *("script", "noscript", "style", "template", "iframe", "frame", "frameset", "object", "embed"),
        *("applet", "param", "form", "input", "button", "select", "textarea", "option", "isindex"),
        *("meta", "base", "link", "svg", "math", "xml", "xss", "bgsound", "layer", "ilayer", "import"),
        *("portal", "fencedframe", "audio", "video", "source", "track", "set", "animate", "handler"),
    }
)
URL_ATTRIBUTES = frozenset(
    {
        *("href", "src", "action", "formaction", "data", "codebase", "background", "lowsrc", "dynsrc"),
        *("poster", "cite", "longdesc", "usemap", "manifest", "icon", "profile", "ping", "xlink:href"),
        *("srcset", "imagesrcset", "archive", "classid", "datasrc", "to", "values", "from", "by"),
        *("data-src", "data-original", "data-lazy-src", "data-actualsrc"),
    }
)
SAFE_SCHEMES = ("http", "https", "mailto")
DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|jpg|webp|avif|bmp)[;,]", re.I)
# What a URL parser strips or ignores before reading the scheme (WHATWG URL: leading C0 and space,
# tab and newline anywhere).
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")
_CSS_ACTIVE = re.compile(r"url\s*\(|expression\s*\(|@import|javascript:|behavior\s*:|-moz-binding", re.I)


def url_problem(value: str, *, element: str = "", attribute: str = "") -> str | None:
    """Why `value` is not a safe URL for element.attribute, or None."""
    cleaned = _URL_NOISE.sub("", value)
    match = _SCHEME.match(cleaned)
    if re.match(r"[`'\"]*(?:java|vb|live)script:", cleaned, re.I):  # old IE read these through quotes
        return f"script URL in <{element} {attribute}>: {value[:80]!r}"
    if match is None:
        # No scheme here; a percent-encoded one is no scheme to a browser, but say so if a
        # decoded form would be a script URL anyway (a reader that unquotes would be wrong, but
        # nothing we publish should invite it).
        decoded = _URL_NOISE.sub("", unquote(value)).lower()
        return f"encoded script URL {value!r}" if decoded.startswith(("javascript:", "vbscript:")) else None
    scheme = match.group(1).lower()
    if scheme in SAFE_SCHEMES:
        return None
    if scheme == "data" and element == "img" and attribute == "src" and DATA_IMAGE.match(cleaned):
        return None
    return f"{scheme}: URL in <{element} {attribute}>: {value[:80]!r}"


def _attribute_problems(element: str, name: str, value: str) -> list[str]:
    name = name.lower()
    if name.startswith("on"):
        return [f"event handler <{element} {name}>"]
    if name == "style":
        return [f"style attribute on <{element}>"]
    if name in ("srcdoc", "formaction", "xmlns:xlink") or name.endswith(":href"):
        return [f"<{element} {name}>"]
    if name in ("srcset", "imagesrcset"):
        urls = [candidate.strip().split(" ")[0] for candidate in value.split(",") if candidate.strip()]
        return [p for url in urls if (p := url_problem(url, element=element, attribute=name))]
    if name in URL_ATTRIBUTES:
        problem = url_problem(value, element=element, attribute=name)
        return [problem] if problem else []
    if name in ("http-equiv", "content") and element == "meta":
        return [f"<meta {name}>"]
    return []


def _element_problems(element: str) -> list[str]:
    local = element.lower().rpartition(":")[2]
    if element.lower() in FORBIDDEN or local in FORBIDDEN or ":" in element:
        return [f"<{element}> element"]
    return []


class _Tokens(HTMLParser):
    """Python's html.parser, as a second reading of the same markup."""

    def __init__(self, page: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.problems: list[str] = []
        self.in_head = False
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self.in_head = True
        if tag == "body":
            self.in_head = False
        allowed = self.page and self.in_head and _allowed_in_head(tag, dict(attrs))
        if not allowed:
            self.problems += _element_problems(tag)
        for name, value in attrs:
            if allowed and name in ("href", "content", "http-equiv"):
                continue
            self.problems += _attribute_problems(tag, name, value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        if "[if" in data.lower() or "<" in data:
            self.problems.append(f"comment that may be code: {data[:60]!r}")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction {data[:60]!r}")

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style" and self.page and _CSS_ACTIVE.search(data):
            self.problems.append(f"active CSS {data[:60]!r}")


def _allowed_in_head(tag: str, attributes: dict[str, str | None]) -> bool:
    """What our own index.html template writes in <head>: charset, viewport, referrer and colour
    scheme metadata, a Content-Security-Policy (it only takes powers away), feed autodiscovery
    links, an icon (an image: an SVG one runs no script), the title and its own style sheet."""
    if tag == "meta":
        equiv = (attributes.get("http-equiv") or "").lower()
        return set(attributes) <= {"charset", "name", "content", "http-equiv"} and equiv in (
            "",
            "content-security-policy",
        )
    if tag == "link":
        rel = (attributes.get("rel") or "").lower()
        href = attributes.get("href") or ""
        if rel == "icon" and re.match(r"data:image/", href, re.I):
            return True
        return rel in ("alternate", "icon") and url_problem(href, element="link", attribute="href") is None
    return tag in ("style", "title")


def _lxml_problems(html: str, page: bool) -> list[str]:
    problems: list[str] = []
    try:
        if page:
            root = lxml.html.document_fromstring(html)
        else:
            root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return problems  # nothing an HTML parser reads as elements
    for node in root.iter():
        if not isinstance(node.tag, str):
            text = str(node.text or "")
            if node.tag is lxml.etree.Comment and ("[if" in text.lower() or "<" in text):
                problems.append(f"comment that may be code: {text[:60]!r}")
            continue
        in_head = page and any(a.tag == "head" for a in node.iterancestors())
        allowed = in_head and _allowed_in_head(node.tag, dict(node.attrib))
        if allowed:
            if node.tag == "style" and _CSS_ACTIVE.search(node.text or ""):
                problems.append(f"active CSS {node.text[:60]!r}")
            problems += [
                f"event handler <{node.tag} {name}>" for name in node.attrib if name.lower().startswith("on")
            ]
            continue
        problems += _element_problems(node.tag)
        for name, value in node.attrib.items():
            problems += _attribute_problems(node.tag, name, value)
    return problems


def fragment_problems(html: str) -> list[str]:
    """Active content in an HTML fragment (see the module docstring); [] when there is none."""
    if not html:
        return []
    tokens = _Tokens(page=False)
    tokens.feed(html)
    tokens.close()
    return list(dict.fromkeys(tokens.problems + _lxml_problems(html, page=False)))


def page_problems(html: str) -> list[str]:
    """Active content in a whole page; our template's meta, alternate links and style are allowed."""
    tokens = _Tokens(page=True)
    tokens.feed(html)
    tokens.close()
    return list(dict.fromkeys(tokens.problems + _lxml_problems(html, page=True)))


def plain_text_problems(text: str | None, where: str) -> list[str]:
    """A text field (title, author, category) that a reader rendering it as HTML would read as markup."""
    if text and TAG_LIKE.search(text):
        return [f"{where}: markup in a plain-text field: {text[:80]!r}"]
    return []


def _url_field(value: str | None, where: str) -> list[str]:
    if not value:
        return []
    cleaned = _URL_NOISE.sub("", value)
    match = _SCHEME.match(cleaned)
    if match and match.group(1).lower() in ("http", "https", "urn", "tag", "mailto"):
        return []
    return [f"{where}: URL {value[:80]!r}"] if match else []


# -- published files ----------------------------------------------------------------------------

_XML_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_ATOM = "{http://www.w3.org/2005/Atom}"
_MEDIA = "{http://search.yahoo.com/mrss/}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def rss_problems(data: bytes) -> list[str]:
    root = lxml.etree.fromstring(data, _XML_PARSER)
    problems = []
    for item in root.iter("item"):
        where = f"RSS item {item.findtext('guid')}"
        problems += [f"{where}: {p}" for p in fragment_problems(item.findtext("description") or "")]
        problems += [f"{where}: {p}" for p in fragment_problems(item.findtext(f"{_CONTENT}encoded") or "")]
        problems += plain_text_problems(item.findtext("title"), f"{where} title")
        problems += plain_text_problems(item.findtext(f"{_DC}creator"), f"{where} author")
        for category in item.iter("category"):
            problems += plain_text_problems(category.text, f"{where} category")
        problems += _url_field(item.findtext("link"), f"{where} link")
        for element in item.iter("enclosure", f"{_MEDIA}thumbnail", f"{_MEDIA}content", "source"):
            problems += _url_field(element.get("url"), f"{where} <{element.tag}>")
    for title in root.iter("title"):
        problems += plain_text_problems(title.text, "RSS title")
    return problems


def atom_problems(data: bytes) -> list[str]:
    root = lxml.etree.fromstring(data, _XML_PARSER)
    problems = []
    for entry in root.iter(f"{_ATOM}entry"):
        where = f"Atom entry {entry.findtext(f'{_ATOM}id')}"
        for name in ("content", "summary", "title"):
            for element in entry.iter(f"{_ATOM}{name}"):
                kind = element.get("type", "text")
                if kind == "xhtml":
                    problems.append(f"{where}: xhtml {name} (we publish html)")
                elif kind == "html":
                    problems += [f"{where} {name}: {p}" for p in fragment_problems(element.text or "")]
                else:
                    problems += plain_text_problems(element.text, f"{where} {name}")
        for element in entry.iter(f"{_ATOM}name", f"{_ATOM}category"):
            problems += plain_text_problems(element.text or element.get("term"), f"{where} {element.tag}")
        for element in entry.iter(f"{_ATOM}link", f"{_MEDIA}thumbnail", f"{_MEDIA}content"):
            problems += _url_field(element.get("href") or element.get("url"), f"{where} {element.tag}")
    return problems


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for member in value.values():
            yield from _strings(member)
    elif isinstance(value, list):
        for member in value:
            yield from _strings(member)


def json_feed_problems(data: bytes) -> list[str]:
    document = json.loads(data)
    if not (isinstance(document, dict) and "jsonfeed.org" in str(document.get("version"))):
        # Some other JSON export: no string in it may carry active HTML.
        return [p for text in _strings(document) for p in fragment_problems(text)]
    problems = plain_text_problems(document.get("title"), "JSON Feed title")
    for item in document.get("items", []):
        where = f"JSON item {item.get('id')}"
        problems += [f"{where}: {p}" for p in fragment_problems(item.get("content_html") or "")]
        problems += plain_text_problems(item.get("title"), f"{where} title")
        for author in item.get("authors", []):
            problems += plain_text_problems(author.get("name"), f"{where} author")
        for tag in item.get("tags", []):
            problems += plain_text_problems(tag, f"{where} tag")
        for key in ("url", "external_url", "image", "banner_image"):
            problems += _url_field(item.get(key), f"{where} {key}")
        for source in item.get("_aggregator", {}).get("sources", []):
            problems += _url_field(source.get("link"), f"{where} source link")
            problems += plain_text_problems(source.get("title"), f"{where} source title")
    return problems


def opml_problems(data: bytes) -> list[str]:
    root = lxml.etree.fromstring(data, _XML_PARSER)
    problems = []
    for outline in root.iter("outline"):
        for name in ("text", "title", "description"):
            problems += plain_text_problems(outline.get(name), f"OPML {name}")
        for name in ("xmlUrl", "htmlUrl", "url"):
            problems += _url_field(outline.get(name), f"OPML {name}")
    return problems


_MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)")


def output_problems(folder: Path) -> dict[str, list[str]]:
    """file name -> its problems, for every published file in `folder` (dotfiles are never served)."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        data = path.read_bytes()
        suffix = path.suffix.lower()
        if suffix in (".xml", ".rss"):
            problems = rss_problems(data) if b"<rss" in data[:500] else atom_problems(data)
        elif suffix == ".atom":
            problems = atom_problems(data)
        elif suffix == ".json":
            problems = json_feed_problems(data)
        elif suffix == ".opml":
            problems = opml_problems(data)
        elif suffix in (".html", ".htm"):
            problems = page_problems(data.decode("utf-8"))
        else:  # exports in text formats (Markdown, ...): raw HTML and link targets inside them
            text = data.decode("utf-8", "replace")
            problems = fragment_problems(text)
            problems += [
                p
                for url in _MARKDOWN_LINK.findall(text)
                if (p := url_problem(url, element="a", attribute="href"))
            ]
        if problems:
            found[str(path.relative_to(folder))] = problems
    return found
