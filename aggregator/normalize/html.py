"""Item HTML: sanitized once with nh3 (ammonia), and its plain text.

The allowlist keeps what an article needs to read well in any feed reader: paragraphs, headings,
links, images, lists, quotes, code, tables, figures and inline emphasis. Everything else goes:
tags that are not listed are unwrapped (their text stays), and these are removed with their
content: script, style, noscript, template, iframe, frame(set), object, embed, applet, form,
button, select, textarea, svg, math, title. No attribute outside the list survives: no event
handlers, no style, no class or id. Links get rel="noopener noreferrer".

URLs (href, src) are checked by scheme as browsers read them (tabs, newlines and case ignored,
entities decoded by the HTML parser): http, https and mailto pass, and data: only as a raster
image in <img src>. The same pass resolves relative URLs against the item's base and removes
tracking parameters (urls.strip_tracking).

Lazy-loaded images keep their real URL in data-src, data-original, data-lazy-src or
data-actualsrc and a placeholder in src. nh3 keeps those attributes (URL-checked like src) and
the first non-empty one then replaces src; the step runs only when the output has one.

Elements nest at most MAX_DEPTH deep; deeper start tags are dropped with their end tags, as
Chromium's parser stops nesting at 512 (kMaximumHTMLParserDOMTreeDepth). Before each start tag
of a block such as div, ul or blockquote, an HTML parser looks for an open <p> through the whole
stack of open elements (https://html.spec.whatwg.org/#has-an-element-in-button-scope), so a body
of 20,000 unclosed tags costs nh3 a second and 300,000 of them minutes.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import nh3

from aggregator.characters import xml_safe
from aggregator.normalize.urls import absolute_url, is_web_url, scheme_of, strip_tracking

TAGS = frozenset(
    {
        *("p", "br", "hr", "div", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("a", "img", "figure", "figcaption", "picture"),
        *("ul", "ol", "li", "dl", "dt", "dd"),
        *("blockquote", "q", "cite", "pre", "code", "kbd", "samp", "var"),
        *("table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col"),
        *("em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "small", "mark", "abbr"),
        *("time", "details", "summary", "ruby", "rt", "rp", "wbr"),
    }
)
CONTENT_REMOVED = frozenset(
    {
        *("script", "style", "noscript", "template", "iframe", "frame", "frameset", "object", "embed"),
        *("applet", "form", "button", "select", "textarea", "svg", "math", "title"),
    }
)
LAZY_ATTRIBUTES = ("data-src", "data-original", "data-lazy-src", "data-actualsrc")
URL_ATTRIBUTES = frozenset({"href", "src", *LAZY_ATTRIBUTES})
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height", *LAZY_ATTRIBUTES},  # lazy ones: see _promote_lazy
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "time": {"datetime"},
}
# nh3 checks these schemes first; safe_url() then narrows data: to raster images in <img src>.
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|jpg|webp|avif|bmp)[;,]", re.IGNORECASE)

_NH3_OPTIONS: dict[str, Any] = {
    "tags": set(TAGS),
    "clean_content_tags": set(CONTENT_REMOVED),
    "attributes": {tag: set(names) for tag, names in ATTRIBUTES.items()},
    "url_schemes": set(URL_SCHEMES),
    "link_rel": "noopener noreferrer",
    "strip_comments": True,
}

# In sanitized HTML (nh3 output: double-quoted attributes, no comments) a tag is "<...>" with
# ">" allowed inside quotes.
TAG = re.compile(r'<(?:[^>"]|"[^"]*")*>')
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|hr|h[1-6]|li|ul|ol|dl|dt|dd|blockquote|pre|table|caption|thead|tbody|tfoot|tr"
    r"|figure|figcaption|details|summary)\b(?:[^>\"]|\"[^\"]*\")*>"
)
_CELL_TAG = re.compile(r'</?(?:td|th)\b(?:[^>"]|"[^"]*")*>')
IMG_TAG = re.compile(r'<img\b(?:[^>"]|"[^"]*")*>')
TAG_ATTRIBUTE = re.compile(r'\s([\w-]+)="([^"]*)"')  # values stay escaped
_LAZY_ATTRIBUTE = re.compile(r'\sdata-(?:src|original|lazy-src|actualsrc)="')
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")  # where an HTML tokenizer opens a tag, comment or declaration
_SPACES = re.compile(r"[^\S\n]+")  # a run of whitespace within a line (\s is str.isspace())
_LINE_BREAKS = re.compile(r" ?\n[ \n]*")  # line ends, with the spaces around and blank lines after

MAX_DEPTH = 512
# Any start or end tag of untrusted HTML, roughly: "[^<>]*" stops at the next "<", so that a body
# of unclosed "<a" costs one scan, not one per "<a".
_ANY_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^<>]*>")
# Elements that never stay open around their next sibling: void ones, and those whose end tag is
# implied by the next of their kind (<p>, <li>, <td>, ...). They add no depth.
_FLAT = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track"),
        *("wbr", "param", "keygen", "frame", "basefont", "bgsound"),
        *("p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot"),
        *("colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body"),
    }
)


def sanitize_html(html: str, base: str | None) -> str:
    """Sanitize an item's HTML with the allowlist above; relative URLs resolve against `base`."""
    if not html:
        return ""

    def filter_attribute(tag: str, name: str, value: str) -> str | None:
        if name in URL_ATTRIBUTES:
            return safe_url(value, base, image=tag == "img" and name == "src")
        return value

    # nh3 takes UTF-8, which a lone surrogate cannot be; control characters XML cannot carry.
    html = xml_safe(html)
    clean = nh3.clean(limit_depth(html), attribute_filter=filter_attribute, **_NH3_OPTIONS)
    return IMG_TAG.sub(_promote_lazy, clean) if _LAZY_ATTRIBUTE.search(clean) else clean


def safe_url(url: str, base: str | None, *, image: bool = False) -> str | None:
    """`url` made absolute and stripped of tracking, or None when its scheme is not allowed or
    it is no URL (an http(s) URL without a host, or one urllib cannot read).

    `image` allows a data: URL of a raster image (for <img src>).
    """
    # Characters XML forbids go first, as the publishers would drop them: "java\\x00script:" is
    # a relative URL here but "javascript:" in a published feed.
    url = xml_safe(url)
    scheme = scheme_of(url)
    if scheme == "data":
        return url.strip() if image and _DATA_IMAGE.match(url.strip()) else None
    if scheme == "mailto":
        return url.strip()
    if scheme == "":
        # "`javascript:...`": old Internet Explorer read backticks (and stray quotes) as quotes.
        if scheme_of(url.strip().lstrip("`'\"")) not in ("", "http", "https"):
            return None
        url = absolute_url(url, base) or ""
        scheme = scheme_of(url)
        if scheme == "":  # no usable base: keep the relative URL rather than lose the link
            return url or None
    return strip_tracking(url.strip()) if is_web_url(url) else None


def html_to_text(html: str) -> str:
    """Plain text of sanitized HTML: blocks on their own lines, table cells apart, whitespace collapsed."""
    if not html:
        return ""
    html = html.replace("\r", " ").replace("\n", " ")  # source line breaks are spaces (<pre> too: for search)
    text = unescape(TAG.sub("", _CELL_TAG.sub(" ", _BLOCK_TAG.sub("\n", html))))
    # Regular expressions rather than " ".join(line.split()): that builds one string per word, 50
    # bytes each, so a 5 MB body of words would cost 50 MB at once.
    text = _LINE_BREAKS.sub("\n", _SPACES.sub(" ", text))
    return text.strip(" \n")


def html_to_line(html: str) -> str:
    """One line of plain text from untrusted HTML (a title): tags dropped, script/style content too."""
    text = unescape(nh3.clean(limit_depth(html), tags=set(), clean_content_tags={"script", "style"}))
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def plain_text(text: str, *, is_html: bool = False) -> str:
    """A title, author or category as one line of plain text that no reader can take for markup.

    Whether RSS titles (and categories, authors) hold text or HTML was never specified, and
    readers differ: some render them as HTML (RSS Best Practices Profile, "Character Data"). A
    "plain" title that reads `<img src=x onerror=...>` would run in those. So anything an HTML
    parser would open as a tag ("<" then a letter, "/", "!" or "?") is dropped, as from HTML,
    whatever type the feed declared, until none is left: unescaping `&lt;script&gt;` yields a tag
    again. "a < b" and "I <3 NY" stay as written; "the <dialog> element" loses its tag, the price
    of never publishing one. Three rounds undo any sane escaping; what still looks like a tag then
    has its "<" replaced by "‹".

    Characters XML forbids go first: the publishers drop them anyway, and "<\\x00a" is text to an
    HTML tokenizer but "<a" once the NUL is gone.
    """
    text = xml_safe(text)
    line = html_to_line(text) if is_html else _SPACES.sub(" ", text.replace("\n", " ")).strip()
    for _ in range(3):
        if not TAG_LIKE.search(line):
            return line
        line = html_to_line(line)
    return TAG_LIKE.sub(lambda match: "\u2039" + match.group(0)[1:], line)


def limit_depth(html: str) -> str:
    """`html` without the start tags nested deeper than MAX_DEPTH, and their end tags.

    Depth is counted over the tags as written, each end tag closing the innermost open element:
    exact for well-formed HTML, and an upper bound otherwise. A deeper start tag is dropped and
    so is the next end tag, which closes it.
    """
    if html.count("<") <= MAX_DEPTH:  # too few tags to nest that deep
        return html
    depth = dropped = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal depth, dropped
        if match.group(2).lower() in _FLAT:
            return match.group(0)
        if not match.group(1):  # a start tag
            if depth < MAX_DEPTH:
                depth += 1
                return match.group(0)
            dropped += 1
            return ""
        if dropped:
            dropped -= 1
            return ""
        depth = max(depth - 1, 0)
        return match.group(0)

    return _ANY_TAG.sub(keep, html)


def _promote_lazy(match: re.Match[str]) -> str:
    """Make an <img>'s lazy-loading URL its src, dropping the lazy attributes.

    Runs on nh3's output, where every attribute is double-quoted and already escaped and every
    tag is closed, so the patterns stay linear whatever the feed sent.
    """
    attributes = dict(TAG_ATTRIBUTE.findall(match.group(0)))
    lazy = next((url for url in [attributes.pop(name, "") for name in LAZY_ATTRIBUTES] if url), None)
    if lazy is not None:
        attributes = {"src": lazy, **{name: value for name, value in attributes.items() if name != "src"}}
    return "<img" + "".join(f' {name}="{value}"' for name, value in attributes.items()) + ">"
