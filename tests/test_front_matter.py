"""Static-site posts from hostile stories: the YAML front matter reads back exactly as written
(YAML 1.2 and 1.1 readers), no value escapes its line, and each generator's Markdown reader sees
the body as we mean it (one raw HTML block for Hexo; plain Markdown without raw HTML for Hugo)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import html as lxml_html
from markdown_it import MarkdownIt
from ruamel.yaml import YAML
from test_publish import make_story

from aggregator.models import Carrier, Topic
from aggregator.publish.feed import build_feed
from aggregator.publish.frontmatter import quoted, records, scalar, sequence
from aggregator.publish.static_site import render_post

HOSTILE = [
    "a: b",
    "key: value # not a comment",
    "'single'",
    '"double"',
    "it's",
    "#hash",
    "- leading dash",
    "-",
    "---",
    "...",
    "? question",
    ": colon",
    "【转载】开源：中国“新闻”，《标题》！",
    "全角　空格",
    "line one\nline two",
    "x\n---\ninjected: true",
    "tab\there",
    "yes",
    "No",
    "off",
    "null",
    "~",
    "true",
    "1.5",
    "0x1F",
    "2021-07-05",
    "1:20",
    "@at",
    "`tick`",
    "%percent",
    "!tag",
    "&anchor",
    "*alias",
    "[list]",
    "{map}",
    "|",
    ">",
    " leading space",
    "trailing space ",
    "",
    "line\u2028separator",
    "next\x85line",
    "\ufeffbom",
    "nul\x00byte",
    "del\x7f",
    "bell\x07",
    "back\\slash",
    "emoji 😀",
    "\u202eright-to-left",
    "<script>alert(1)</script>",
    "{{ nunjucks }} {% tag %}",
]


def load(text: str, version: str = "1.2") -> object:
    """Load with a YAML 1.2 reader (js-yaml's and Go YAML v3's defaults) or a 1.1 one (Go YAML v2)."""
    return YAML(typ="safe", pure=True).load(f"%YAML {version}\n---\n{text}")


def test_the_yaml_11_reader_is_really_11():
    assert load("k: yes", "1.1") == {"k": True} and load("k: yes") == {"k": "yes"}


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("write", [quoted, scalar])
@pytest.mark.parametrize("version", ["1.2", "1.1"])
def test_values_read_back_as_written(text, write, version):
    written = write(text)
    assert "\n" not in written and "\r" not in written
    assert load(f"k: {written}\nafter: 1", version) == {"k": text, "after": 1}


def test_styles_follow_the_seed():
    assert (
        quoted("开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？")
        == "'开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？'"
    )
    assert quoted("it's") == "'it''s'"
    assert quoted("a\nb") == '"a\\nb"'
    assert scalar("开源中国") == "开源中国" and scalar("AI 人工智能") == "AI 人工智能"
    assert scalar("yes") == "'yes'" and scalar("1984") == "'1984'" and scalar("a: b") == "'a: b'"
    assert sequence("categories", ["编程", "资讯"]) == ["categories: ", " - 编程", " - 资讯"]
    assert sequence("categories", []) == ["categories: []"]
    assert records("sources", [{"title": "a", "link": "b"}]) == ["sources: ", " - title: 'a'", "   link: 'b'"]


@given(st.text())
def test_any_text_reads_back(text):
    for write in (quoted, scalar):
        assert load(f"- {write(text)}\n- end") == [text, "end"]


def test_lone_surrogates_become_replacement_characters():
    written = quoted("a\ud800b")
    assert load(f"k: {written}") == {"k": "a\ufffdb"}


# -- whole posts ----------------------------------------------------------------------------------


def post(site_format: str, html: str = "<p>正文</p>", **story: object) -> tuple[dict, str, str]:
    """(front matter loaded back, front matter text, body) of one story rendered as a post."""
    defaults = {
        "title": "标题",
        "content_html": html,
        "published": datetime(2021, 7, 5, 23, 58, tzinfo=UTC),
        "categories": ("编程",),
    }
    made = make_story("s1", **{**defaults, **story})
    topics = [Topic("ai", "AI: 人工智能 #1"), Topic("n0", "yes")]
    [entry] = build_feed(topics[0], [made], base_url="", site_title="", max_items=10).entries
    text = render_post(site_format, entry, made.item.content_html, topics).decode("utf-8")
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    return load(head), head, body.removeprefix("\n")


@pytest.mark.parametrize("site_format", ["hexo", "hugo"])
def test_hostile_values_cannot_leave_their_keys(site_format):
    title = "x\n---\nlayout: evil\n#: 1"
    categories = ("- a", "b: c", "#d", "'e'", "【f】", "\n---\n", "yes")
    link = "https://e.com/?q='1'&x=\"2\"#frag"
    carrier = Carrier("oschina", "开源: 中国\n---", "https://www.oschina.net/news/rss", link)
    data, head, _ = post(site_format, title=title, categories=categories, author="null", carriers=(carrier,))
    date_key = "updated" if site_format == "hexo" else "lastmod"
    assert list(data) == [
        *("title", "categories", "author", "comments", "date", date_key),
        *("tags", "topics", "link", "sources"),
    ]
    assert (
        data["title"] == title
        and data["categories"] == [c.strip() for c in categories]
        and data["author"] == "null"
    )
    assert data["link"] == link and data["sources"] == [{"title": "开源: 中国\n---", "link": link}]
    assert data["tags"] == ["AI: 人工智能 #1", "yes"] and data["topics"] == ["ai", "n0"]
    assert data["comments"] is False
    assert all(re.match(r"[a-z]+: |[a-z]+:$| - |   [a-z]+: ", line) for line in head.split("\n")), head


def test_dates_by_generator():
    hexo, _, _ = post("hexo", updated=datetime(2021, 7, 6, 8, 0, tzinfo=UTC))
    hugo, _, _ = post("hugo", updated=datetime(2021, 7, 6, 8, 0, tzinfo=UTC))
    assert (
        hexo["date"] == "Mon, 05 Jul 2021 23:58:00 GMT" and hexo["updated"] == "Tue, 06 Jul 2021 08:00:00 GMT"
    )
    # Hugo reads ISO 8601; a YAML 1.2 reader gives a timestamp.
    assert hugo["date"] == datetime(2021, 7, 5, 23, 58, tzinfo=UTC)
    assert hugo["lastmod"] == datetime(2021, 7, 6, 8, 0, tzinfo=UTC)


TRICKY_HTML = (
    "plain *text* first, then [a link](javascript:alert(1)) and &lt;b&gt;\n"
    "<div>\n   \n\n<p>{{ user }} {% raw %} {# note #} {{&lt; shortcode &gt;}} {{% x %}}</p>\n\n\n"
    '<pre><code class="lang">```js\n\nlet a = 1; // ~~~\n```\n~~~\n\n  {{&lt; figure src="x" &gt;}}\n</code></pre>\n'
    '<p><a href="https://e.com/{{x}}" title="a\n\nb">link</a> &lt;!--more--&gt; # not a heading</p>\n'
    "<ul>\n<li>one</li>\n\n<li>two</li>\n</ul>\n</div>\n"
)


def dom(markup: str) -> list[tuple]:
    """Every element's tag, attributes, text and tail: what a browser makes of the markup."""
    root = lxml_html.fragment_fromstring(markup, create_parent="section")
    return [(el.tag, dict(el.attrib), el.text, el.tail) for el in root.iter()]


def test_hexo_body_is_one_raw_html_block_with_the_same_meaning():
    _, _, body = post("hexo", TRICKY_HTML)
    tokens = MarkdownIt("commonmark").parse(body)
    assert [t.type for t in tokens] == ["html_block"] and tokens[0].content == body
    assert dom(body) == dom(f"<div>\n{TRICKY_HTML.strip()}\n</div>\n")
    assert not re.search(r"\{[{%#]", body)  # nothing for Nunjucks
    assert not re.search(r"^\s*(```|~~~)", body, re.MULTILINE)  # nothing for backtick_code_block


def test_hugo_body_is_markdown_without_raw_html():
    # (A link title holding a blank line is no Markdown link title: no such title here.)
    _, _, body = post("hugo", TRICKY_HTML.replace('title="a\n\nb"', 'title="a b"'))
    tokens = MarkdownIt("commonmark").parse(body)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not kinds & {"html_block", "html_inline"}  # goldmark's default would omit them
    hrefs = [c.attrs["href"] for t in tokens for c in t.children or [] if c.type == "link_open"]
    assert hrefs == ["https://e.com/%7B%7Bx%7D%7D"]  # the one real link; the text's stays text
    # Hugo sees no shortcode: a complete one in code is commented out, a lone delimiter split.
    assert not re.search(r"\{\{[<%](?!/\*)", body)
    assert '{{</* figure src="x" */>}}' in body
    text = MarkdownIt("commonmark").render(body)
    for words in (
        "plain *text* first",
        "[a link](javascript:alert(1))",
        "<b>",
        "{{ user }}",
        "let a = 1;",
        "two",
    ):
        assert words in lxml_html.fromstring(text).text_content(), words
