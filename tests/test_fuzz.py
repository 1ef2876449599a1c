"""Property-based tests: no input makes parse, normalize, the sanitizer, the publishers or the topic
query parser raise anything but their own errors, and what comes out is always inert
(tests/active_content.py).

CI runs 200 examples per property (fewer for the heavier end-to-end ones); longer runs:

    python -m pytest tests/test_fuzz.py --hypothesis-profile fuzz-long    # 5,000 each
    python -m pytest tests/test_fuzz.py --hypothesis-profile fuzz-soak    # 50,000 each
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import pytest
from active_content import TAG_LIKE, fragment_problems, json_feed_problems, page_problems, rss_problems
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from xss_vectors import SCRIPT_URLS, TEXT_FIELD_VECTORS, VECTORS

from aggregator.errors import ConfigError, ParseError
from aggregator.models import Item, ParsedFeed, RawItem, Source, Story, Topic
from aggregator.normalize import normalize
from aggregator.normalize.html import sanitize_html
from aggregator.normalize.urls import is_web_url, scheme_of
from aggregator.parse import parse
from aggregator.publish import atom, html, jsonfeed, rss
from aggregator.publish.feed import build_feed

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
SAMPLES = Path(__file__).parent.parent / "config" / "samples"
CORPUS = sorted(
    path.read_bytes()
    for folder in (FIXTURES, SAMPLES)
    if folder.exists()
    for path in folder.rglob("*")
    if path.is_file()
)
EXAMPLES = max(200, settings.default.max_examples)  # raised by --hypothesis-profile fuzz-long
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
HEAVY = settings(FUZZ, max_examples=max(50, EXAMPLES // 4))
# pytest-timeout's 120 s per test (pyproject.toml) fits the CI example counts; longer profiles
# get time in proportion (a few ms per example, up to 100 ms for the heaviest).
pytestmark = pytest.mark.timeout(max(120, EXAMPLES // 5))
NOW = datetime(2024, 3, 1, tzinfo=UTC)
SOURCE = Source("fuzz", "https://fuzz.example/feed", "Fuzz", categories=("Fuzz",))

# -- strategies -------------------------------------------------------------------------------------

TAGS = [
    *("p", "a", "img", "div", "span", "b", "i", "ul", "ol", "li", "table", "tr", "td", "th", "pre", "code"),
    *("script", "style", "noscript", "iframe", "object", "embed", "form", "input", "button", "svg", "math"),
    *("meta", "base", "link", "template", "textarea", "title", "xmp", "noembed", "plaintext", "select"),
    *("mglyph", "mtext", "foreignObject", "annotation-xml", "desc", "details", "video", "source", "picture"),
    *("xss:script", "x", "body", "html", "head", "frameset", "applet", "marquee", "isindex", "keygen"),
]
ATTRIBUTES = [
    *("href", "src", "srcset", "data-src", "data-original", "action", "formaction", "data", "background"),
    *(
        "style",
        "onerror",
        "onload",
        "onclick",
        "onmouseover",
        "ontoggle",
        "onfocus",
        "autofocus",
        "xlink:href",
    ),
    *("title", "alt", "class", "id", "width", "height", "colspan", "lang", "dir", "srcdoc", "poster", "name"),
]
URLS = [
    *SCRIPT_URLS.values(),
    *("https://e.example/a.png", "/relative/path", "//protocol.relative/x", "mailto:a@e.example"),
    *("data:image/png;base64,iVBORw0KGgo=", "#fragment", "?q=1&utm_source=x", "http://[oops", ""),
]
TEXTS = st.lists(
    st.sampled_from(
        [*"ab 开源<>&;#\"'=/\\`\t\n\r\x00\x0c-:!?[]()", "&lt;", "&#106;", "&colon;", "]]>", "<!--", "-->"]
    ),
    max_size=30,
).map("".join)


@st.composite
def attribute(draw) -> str:
    name = draw(st.sampled_from(ATTRIBUTES))
    value = draw(st.one_of(st.sampled_from(URLS), TEXTS, st.just("alert(1)")))
    quote = draw(st.sampled_from(['"', "'", "", "`"]))
    if quote == "":
        value = "".join(value.split()) or "x"
    separator = draw(st.sampled_from([" ", "/", "\n", "\t", "\x0c"]))
    return f"{separator}{name}={quote}{value}{quote}"


@st.composite
def markup(draw, depth: int = 0) -> str:
    """Random HTML: known-hostile vectors, tags with random attributes, broken tags, comments, text."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            parts.append(draw(st.sampled_from(VECTORS))[1])
        elif kind <= 4:
            tag = draw(st.sampled_from(TAGS))
            attributes = "".join(draw(st.lists(attribute(), max_size=3)))
            inner = draw(markup(depth + 1)) if depth < 3 else draw(TEXTS)
            close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag}", "</p>"]))
            parts.append(f"<{draw(st.sampled_from([tag, tag.upper()]))}{attributes}>{inner}{close}")
        elif kind == 5:
            parts.append(
                draw(
                    st.sampled_from(
                        ["<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE html>", "<?xml ?>", "</", "<", "<<"]
                    )
                )
            )
        else:
            parts.append(draw(TEXTS))
    return "".join(parts)


# What the publishers drop (XML 1.0 forbids it), to see fields as readers will.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def inert(item: Item) -> None:
    """What every normalised item must be, whatever the document said."""
    assert fragment_problems(item.content_html) == [], item.content_html
    for text in (item.title, item.author or "", *item.categories):
        assert not TAG_LIKE.search(NOT_XML.sub("", text)), text
        text.encode("utf-8")  # no lone surrogate
    for text in (item.content_html, item.text, item.link or "", item.thumbnail or ""):
        text.encode("utf-8")
    if item.link:
        assert scheme_of(NOT_XML.sub("", item.link)) in ("", "http", "https", "mailto"), item.link
    if item.thumbnail:
        assert is_web_url(item.thumbnail), item.thumbnail


def parse_or_refuse(body: bytes, headers: dict[str, str]) -> ParsedFeed | None:
    try:
        return parse(body, headers, "https://fuzz.example/feed", max_items=50)
    except ParseError as error:
        assert str(error).startswith("parse: not a feed"), error
        return None


# -- parse and normalize ----------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        [
            "",
            "application/rss+xml",
            "text/xml; charset=gb2312",
            "application/json",
            "text/html; charset=utf-16",
        ]
    ),
)
def test_parse_random_bytes(body, content_type):
    feed = parse_or_refuse(body, {"Content-Type": content_type})
    if feed is not None:
        for item in normalize(feed, SOURCE, now=NOW):
            inert(item)


MUTATION_SNIPPETS = [
    b"<",
    b">",
    b"&",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"&#0;",
    b"&#xD800;",
    b'<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    b"&a;&b;",
    b'<!ENTITY x SYSTEM "file:///etc/passwd">',
    b"<item>",
    b"</item>",
    b"<entry>",
    b"<script>alert(1)</script>",
    b'<a href="javascript:alert(1)">',
    b"<img src=x onerror=alert(1)>",
    b"&lt;script&gt;",
    b"<div>" * 50,
    b'encoding="utf-16"',
    b"<?xml version='1.0'?>",
]


@st.composite
def mutated_feed(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data)))
        operation = draw(st.integers(0, 4))
        if operation == 0:  # flip a byte
            if at < len(data):
                data[at] = draw(st.integers(0, 255))
        elif operation == 1:  # insert a hostile snippet
            data[at:at] = draw(st.sampled_from(MUTATION_SNIPPETS))
        elif operation == 2:  # delete a range
            del data[at : at + draw(st.integers(1, 200))]
        elif operation == 3:  # duplicate a range
            data[at:at] = data[at : at + draw(st.integers(1, 500))]
        else:  # truncate
            del data[at:]
    return bytes(data)


@FUZZ
@given(
    body=mutated_feed(),
    content_type=st.sampled_from(["", "application/rss+xml", "application/atom+xml; charset=iso-8859-1"]),
)
def test_parse_mutated_real_feeds(body, content_type):
    feed = parse_or_refuse(body, {"Content-Type": content_type})
    if feed is not None:
        assert len(feed.items) <= 50
        for item in normalize(feed, SOURCE, now=NOW):
            inert(item)


any_text = st.text(alphabet=st.characters(codec=None, categories=["L", "N", "P", "S", "Z", "C"]), max_size=40)


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(any_text, markup(), st.sampled_from(URLS))
            for name in (
                "id",
                "url",
                "title",
                "content_html",
                "content_text",
                "summary",
                "image",
                "date_published",
            )
        },
    ),
    tags=st.lists(any_text, max_size=3),
)
def test_json_feed_with_any_strings(fields, tags):
    """Any string JSON can escape, lone surrogates ("\\ud800") and control characters included."""
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{**fields, "tags": tags}],
    }
    feed = parse_or_refuse(json.dumps(document).encode(), {"Content-Type": "application/feed+json"})
    assert feed is not None
    for item in normalize(feed, SOURCE, now=NOW):
        inert(item)
        item.key.encode("utf-8")


@FUZZ
@given(html_=markup(), base=st.sampled_from([None, "https://fuzz.example/a/b", "http://[oops"]))
def test_sanitizer_output_is_always_inert(html_, base):
    clean = sanitize_html(html_, base)
    assert fragment_problems(clean) == [], clean


@FUZZ
@given(html_=st.text(max_size=300))
def test_sanitizer_on_any_text(html_):
    assert fragment_problems(sanitize_html(html_, "https://fuzz.example/")) == []


@st.composite
def raw_item(draw) -> RawItem:
    # Shallow markup and ready-made vectors: deep random markup costs more to draw than to check.
    html_ = st.one_of(st.sampled_from([vector for _, vector in VECTORS]), markup(depth=2))
    text = st.one_of(TEXTS, st.sampled_from(TEXT_FIELD_VECTORS), html_, st.text(max_size=50))
    url = st.one_of(st.sampled_from(URLS), st.text(max_size=30))
    return RawItem(
        guid=draw(st.one_of(st.none(), text)),
        link=draw(st.one_of(st.none(), url)),
        title=draw(st.one_of(st.none(), text)),
        title_is_html=draw(st.booleans()),
        content=draw(st.one_of(st.none(), html_)),
        summary=draw(st.one_of(st.none(), html_)),
        base=draw(st.one_of(st.none(), url)),
        author=draw(st.one_of(st.none(), text)),
        tags=draw(st.lists(text, max_size=3)),
        media_thumbnails=draw(st.lists(url, max_size=2)),
        enclosures=draw(
            st.lists(st.tuples(url, st.sampled_from(["image/png", "", "text/html"])), max_size=2)
        ),
        itunes_image=draw(st.one_of(st.none(), url)),
    )


@FUZZ
@given(raws=st.lists(raw_item(), min_size=1, max_size=5))
def test_normalize_random_items(raws):
    for item in normalize(ParsedFeed("rss20", link="https://fuzz.example/", items=raws), SOURCE, now=NOW):
        inert(item)


# -- publish ---------------------------------------------------------------------------------------


@HEAVY
@given(raws=st.lists(raw_item(), min_size=1, max_size=6))
def test_published_files_are_inert(raws):
    """Random items, normalised, rendered by every publisher: valid documents, nothing active."""
    items = normalize(ParsedFeed("rss20", link="https://fuzz.example/", items=raws), SOURCE, now=NOW)
    stories = [Story(id=f"s{i}", item=item, carriers=[], first_seen=NOW) for i, item in enumerate(items)]
    feed = build_feed(
        Topic("t", "T"), stories, base_url="http://127.0.0.1:8080/", site_title="Fuzz", max_items=50
    )
    assert rss_problems(rss.render(feed)) == []
    lxml.etree.fromstring(atom.render(feed))  # well-formed
    assert json_feed_problems(jsonfeed.render(feed)) == []
    json.loads(jsonfeed.render(feed))
    page = html.render([feed], site_title="Fuzz", base_url="http://127.0.0.1:8080/")
    assert page_problems(page.decode("utf-8")) == []


# -- the topic query language ------------------------------------------------------------------------

query_language = pytest.importorskip("aggregator.query", reason="aggregator/query.py is not there yet")

QUERY_PIECES = [
    *(
        "AI",
        "LLM",
        "开源",
        "大会",
        "招聘",
        "and",
        "or",
        "not",
        "AND",
        "OR",
        "NOT",
        "-",
        "(",
        ")",
        '"',
        "“",
        "”",
    ),
    *("（", "）", "：", "title:", "text:", "category:", "source:", "author:", "link:", "titel:", "/", "/a+/"),
    *("/(/", "\\", '\\"', "https://e.example/x", " ", "\u3000", ":", "*", "?", "a:b", "-招聘", '"开源 大会"'),
]


def _shape(node):
    """A tree without source positions, to compare parses of different spellings."""
    if isinstance(node, query_language.Term):
        return ("term", node.value, node.kind, node.field)
    if isinstance(node, query_language.Not):
        return ("not", _shape(node.operand))
    return (type(node).__name__, tuple(_shape(operand) for operand in node.operands))


queries = st.one_of(
    st.lists(st.sampled_from(QUERY_PIECES), max_size=12).map(lambda pieces: " ".join(pieces)),
    st.lists(st.sampled_from(QUERY_PIECES), max_size=12).map("".join),
    st.text(max_size=40),
)


@FUZZ
@given(text=queries)
def test_query_parser_raises_only_its_own_error(text):
    try:
        tree = query_language.parse(text)
    except query_language.QuerySyntaxError as error:
        assert 0 <= error.position <= len(text), (text, error.position)
        str(error)
        query_language.pointer(text, error.position)
        return
    # What the tree prints parses back to the same tree.
    assert _shape(query_language.parse(str(tree))) == _shape(tree), (text, str(tree))


@FUZZ
@given(text=queries, title=st.one_of(TEXTS, st.text(max_size=30)))
# A term that folds to nothing (found by this test; see topics.keywords.Plain).
@example(text="\x00", title="")
def test_topic_queries_compile_or_fail_as_config_errors_and_match_without_raising(text, title):
    from aggregator.topics import compile_topics

    try:
        (compiled,) = compile_topics([Topic("fuzz", "Fuzz", query=text)])
    except ConfigError:  # an invalid query (or regex) is the config's problem, said with its location
        return
    item = normalize(
        ParsedFeed("rss20", items=[RawItem(guid="g", title=title, content=title)]), SOURCE, now=NOW
    )[0]
    compiled.match(Story(id="s", item=item, carriers=[], first_seen=NOW))
