"""The topic query language: one table of cases (story fields, query, expected), one loop, like
Miniflux's reader/filter/filter_test.go; then Chinese folding, explain(), and invalid queries with
their positions (parsed alone, compiled, and through config loading)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import pytest

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.folding import simplify
from aggregator.models import Carrier, Item, Story, Topic
from aggregator.query import And, Not, Or, QuerySyntaxError, Term, parse, pointer
from aggregator.topics import compile_topic

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def make_story(
    title: str = "",
    text: str = "",
    categories: tuple[str, ...] = (),
    source: str = "oschina",
    carriers: tuple[str, ...] = (),
    author: str | None = None,
    link: str | None = None,
) -> Story:
    """A story of one item from `source`, carried by `source` and by each of `carriers`."""
    item = Item(
        source_id=source,
        key="k1",
        link=link or f"https://{source}.example/news/1",
        url_key=f"{source}.example/news/1",
        title=title,
        author=author,
        published=NOW,
        updated=None,
        content_html="",
        text=text,
        categories=tuple(categories),
        thumbnail=None,
        content_hash="h1",
    )
    carried = [
        Carrier(s, s, f"https://{s}.example/feed", f"https://{s}.example/item/1") for s in (source, *carriers)
    ]
    return Story(id="s1", item=item, carriers=carried, first_seen=NOW)


def matches(query: str, fold_chinese: bool = True, **story: object) -> bool:
    topic = compile_topic(Topic(id="t", title="T", query=query, fold_chinese=fold_chinese))
    return topic.match(make_story(**story))  # type: ignore[arg-type]


# fmt: off
# (id, story fields, query, expected)
CASES = [
    # Words follow the keyword rules: Latin boundary, case, NFKC, CJK substrings.
    ("word", {"title": "Rust 1.54 发布"}, "rust", True),
    ("word-latin-boundary", {"title": "Zero Trust 架构"}, "rust", False),
    ("word-not-in-thailand", {"title": "Thailand banks"}, "AI", False),
    ("word-before-cjk", {"title": "国产AI芯片发布"}, "AI", True),
    ("word-cjk-substring", {"title": "开源大模型发布"}, "大模型", True),
    ("word-fullwidth-text", {"title": "ＡＩ 大会开幕"}, "ai", True),
    ("word-fullwidth-query", {"title": "AI 大会开幕"}, "ＡＩ", True),
    ("word-in-category", {"title": "芯片", "categories": ("AI",)}, "AI", True),
    ("word-not-across-fields", {"title": "关于开源", "text": "资讯"}, "开源资讯", False),
    # AND: written, lower-case, or implied by two terms side by side.
    ("implicit-and", {"title": "Rust 编译到 WebAssembly"}, "rust webassembly", True),
    ("implicit-and-one-missing", {"title": "Rust 1.80 发布"}, "rust webassembly", False),
    ("and-upper", {"title": "Rust 编译到 WebAssembly"}, "rust AND webassembly", True),
    ("and-lower", {"title": "Rust 1.80 发布"}, "rust and webassembly", False),
    ("and-across-fields", {"title": "Rust 1.80", "text": "支持 WebAssembly"}, "rust webassembly", True),
    # OR.
    ("or", {"title": "数据库发布"}, "AI OR 数据库", True),
    ("or-lower", {"title": "数据库发布"}, "AI or 数据库", True),
    ("or-neither", {"title": "芯片发布"}, "AI OR 数据库", False),
    # NOT binds tighter than AND, AND tighter than OR.
    ("not", {"title": "AI 新闻"}, "NOT 招聘", True),
    ("not-vetoes", {"title": "招聘启事"}, "NOT 招聘", False),
    ("not-lower", {"title": "AI 公司招聘"}, "ai not 招聘", False),
    ("minus-is-not", {"title": "AI 公司招聘"}, "AI -招聘", False),
    ("minus-is-not-absent", {"title": "AI 公司融资"}, "AI -招聘", True),
    ("not-not", {"title": "AI 新闻"}, "NOT NOT AI", True),
    ("not-before-or", {"title": "AI 公司招聘"}, "AI OR LLM NOT 招聘", True),
    ("parentheses-veto-both", {"title": "AI 公司招聘"}, "(AI OR LLM) NOT 招聘", False),
    ("parentheses-veto-absent", {"title": "LLM 评测"}, "(AI OR LLM) NOT 招聘", True),
    ("and-before-or-left", {"title": "数据库"}, "rust wasm OR 数据库", True),
    ("and-before-or-right", {"title": "Rust 1.80"}, "rust wasm OR 数据库", False),
    ("group-or-in-and", {"title": "Rust 编译到 WebAssembly"}, "rust (wasm OR webassembly)", True),
    ("not-group", {"title": "AI 广告"}, "AI NOT (招聘 OR 广告)", False),
    ("nested-groups", {"title": "Go 1.22 发布"}, "((rust OR go) (发布 OR release)) NOT 招聘", True),
    ("fullwidth-parentheses", {"title": "LLM 评测"}, "（AI OR LLM）", True),
    # Quoted phrases: words in order, whitespace between them is any run of whitespace.
    ("phrase", {"text": "open\n  source 软件"}, '"open source"', True),
    ("phrase-order", {"text": "source open"}, '"open source"', False),
    ("phrase-cjk", {"title": "2021 开源 大会 开幕"}, '"开源 大会"', True),
    ("phrase-cjk-needs-the-space", {"title": "开源大会开幕"}, '"开源 大会"', False),
    ("words-cjk-anywhere", {"title": "开源大会开幕"}, "开源 大会", True),
    ("phrase-chinese-quotes", {"title": "2021 开源 大会"}, "“开源 大会”", True),
    ("phrase-operator-word", {"title": "This is not a drill"}, '"not"', True),
    ("phrase-operator-word-absent", {"title": "A drill"}, '"not"', False),
    ("phrase-with-parentheses", {"title": "人工智能(AI)简史"}, '"(ai)"', True),
    ("phrase-escaped-quote", {"title": 'He said "hi"'}, r'"said \"hi\""', True),
    # Field scopes.
    ("title-scope", {"title": "AI 周报"}, "title:AI", True),
    ("title-scope-not-text", {"title": "周报", "text": "AI"}, "title:AI", False),
    ("text-scope", {"title": "周报", "text": "AI 进展"}, "text:AI", True),
    ("text-scope-not-title", {"title": "AI 周报"}, "text:AI", False),
    ("title-scope-phrase", {"title": "2021 开源 大会"}, 'title:"开源 大会"', True),
    ("scope-upper-case", {"title": "AI 周报"}, "TITLE:ai", True),
    ("scope-then-space", {"title": "AI 周报"}, "title: ai", True),
    ("scope-on-group", {"title": "人工智能周报"}, "title:(AI OR 人工智能)", True),
    ("scope-on-group-not-text", {"title": "周报", "text": "AI"}, "title:(AI OR 人工智能)", False),
    ("inner-scope-wins", {"title": "周报", "text": "大模型"}, "title:(AI OR text:大模型)", True),
    ("scope-word-is-no-operator", {"title": "Rock or roll"}, "title:or", True),
    ("category-whole", {"categories": ("AI", "硬件")}, "category:AI", True),
    ("category-not-part", {"categories": ("AI 芯片",)}, "category:AI", False),
    ("category-folded", {"categories": ("ＡＩ",)}, "category:ai", True),
    ("category-phrase", {"categories": ("AI  芯片",)}, 'category:"ai 芯片"', True),
    ("category-traditional", {"categories": ("开源",)}, "category:開源", True),
    ("category-not-title", {"title": "AI 周报"}, "category:AI", False),
    ("source-any-carrier", {"source": "oschina", "carriers": ("solidot",)}, "source:solidot", True),
    ("source-exact", {"source": "oschina"}, "source:OSChina", False),
    ("source-group", {"source": "hn"}, "source:(oschina OR hn)", True),
    ("author", {"author": "张三"}, "author:张三", True),
    ("author-phrase", {"author": "Jane   Doe"}, 'author:"jane doe"', True),
    ("author-boundary", {"author": "Doedoe"}, "author:doe", False),
    ("author-not-title", {"title": "张三 专访"}, "author:张三", False),
    ("link", {"link": "https://GitHub.com/org/repo"}, "link:github.com/org", True),
    ("link-url-word", {"link": "https://github.com/org/repo"}, "link:https://github.com", True),
    ("link-absent", {"link": "https://gitlab.com/x"}, "link:github", False),
    ("link-of-a-carrier", {"source": "oschina", "carriers": ("hn",)}, "link:hn.example/item", True),
    # Regular expressions: no boundary, case-insensitive on the folded text.
    ("regex", {"title": "GPT-4发布"}, r"/gpt-?\d/", True),
    ("regex-misses", {"title": "GPT 发布"}, r"/gpt-?\d/", False),
    ("regex-title-anchor", {"title": "Rust 1.54"}, "title:/^rust/", True),
    ("regex-title-anchor-misses", {"title": "Trust Rust"}, "title:/^rust/", False),
    ("regex-or-word", {"title": "LLMs compared"}, r"/llms?/ OR 大模型", True),
    ("regex-escaped-slash", {"title": "I/O 2024"}, r"/i\/o/", True),
    ("regex-source", {"source": "oschina"}, "source:/^os/", True),
    ("regex-category", {"categories": ("编程", "资讯")}, "category:/^编/", True),
    # Chinese folding: traditional and simplified forms match each other.
    ("traditional-query", {"title": "机器学习入门"}, "機器學習", True),
    ("traditional-text", {"title": "COSCUP 開源人年會"}, "开源", True),
    ("traditional-phrase", {"title": "開源 大會 開幕"}, '"开源 大会"', True),
    ("traditional-title-scope", {"title": "資料庫發布"}, "title:数据库 OR title:資料庫", True),
    ("traditional-not", {"title": "AI 公司徵才招聘"}, "AI NOT 招聘", False),
    ("traditional-regex", {"title": "机器学习"}, "/機器學習|深度學習/", True),
    ("traditional-mixed-query", {"title": "AI 开源峰会"}, "(ai OR 人工智慧) 開源", True),
    # Chinese folding converts characters, not vocabulary: 人工智慧 is not 人工智能.
    ("vocabulary-differs", {"title": "人工智能"}, "人工智慧", False),
    # Query and English together.
    ("mixed", {"title": "Rust 1.54 发布", "categories": ("编程",)}, 'title:"Rust 1.54" OR (数据库 NOT 招聘)', True),
    ("mixed-second-branch", {"title": "TiDB 数据库"}, 'title:"Rust 1.54" OR (数据库 NOT 招聘)', True),
    ("mixed-vetoed", {"title": "数据库招聘"}, 'title:"Rust 1.54" OR (数据库 NOT 招聘)', False),
]
# fmt: on


@pytest.mark.parametrize(("story", "query", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_query(story: dict, query: str, expected: bool) -> None:
    topic = compile_topic(Topic(id="t", title="T", query=query))
    made = make_story(**story)
    assert topic.match(made) is expected, topic.explain(made)


# fmt: off
# (id, story fields, query) matched only when Chinese folding is on
FOLDING_CASES = [
    ("keyword-traditional", {"title": "机器学习入门"}, "機器學習"),
    ("text-traditional", {"title": "開源軟體"}, "开源"),
    ("category-traditional", {"categories": ("開源",)}, "category:开源"),
    ("regex-traditional", {"title": "机器学习"}, "/機器/"),
]
# fmt: on


@pytest.mark.parametrize(("story", "query"), [pytest.param(*c[1:], id=c[0]) for c in FOLDING_CASES])
def test_fold_chinese_can_be_switched_off(story: dict, query: str) -> None:
    assert matches(query, **story)
    assert not matches(query, fold_chinese=False, **story)


@pytest.mark.parametrize(
    ("rules", "title", "expected"),
    [
        ({"any": ("機器學習",)}, "机器学习入门", True),
        ({"any": ("机器学习",)}, "機器學習入門", True),
        ({"all": ("開源", "大會")}, "开源大会", True),
        ({"none": ("招聘",)}, "某公司招聘", False),
        ({"any": ("AI",), "none": ("徵才",)}, "AI 公司征才", False),
        ({"categories": ("開源",)}, "", True),
        ({"any": ("機器學習",), "fold_chinese": False}, "机器学习入门", False),
    ],
)
def test_keyword_rules_fold_chinese_too(rules: dict, title: str, expected: bool) -> None:
    topic = compile_topic(Topic(id="t", title="T", **rules))
    assert topic.match(make_story(title, categories=("开源",))) is expected


def test_simplify_keeps_positions() -> None:
    """Joined fields are split again after the conversion: it must map one character to one."""
    text = "開源\x00機器學習\x00乾隆 乾淨 頭髮 臺灣 著名\x00AI"
    simplified = simplify(text)
    assert len(simplified) == len(text)
    assert simplified.split("\x00") == ["开源", "机器学习", "乾隆 干净 头发 台湾 著名", "AI"]
    assert simplify("plain ASCII") == "plain ASCII"


def test_query_operands_and_scopes() -> None:
    tree = parse('title:("开源 大会" OR /kube-?con/) -招聘 source:oschina')
    assert tree == And(
        (
            Or((Term("开源 大会", "phrase", "title", 7), Term("kube-?con", "regex", "title", 18))),
            Not(Term("招聘", "word", None, 32), 31),
            Term("oschina", "word", "source", 42),
        )
    )
    assert str(tree) == '(title:"开源 大会" OR title:/kube-?con/) AND NOT 招聘 AND source:oschina'


def test_query_precedence() -> None:
    assert str(parse("AI OR LLM NOT 招聘")) == "AI OR (LLM AND NOT 招聘)"
    assert str(parse("a b OR c d")) == "(a AND b) OR (c AND d)"
    assert str(parse("NOT a b")) == "NOT a AND b"
    assert str(parse("NOT (a b)")) == "NOT (a AND b)"


# fmt: off
# (id, query, column, words in the message)
INVALID = [
    ("unclosed-group", "(AI OR 大模型", 11, "expected ')' to close the '(' at column 1"),
    ("unclosed-group-inside", "title:(AI OR LLM 大会", 20, "expected ')' to close the '(' at column 7"),
    ("or-at-end", "AI OR", 6, "expected a term after 'OR'"),
    ("or-at-start", "OR AI", 1, "'OR' needs a term on each side"),
    ("and-and", "AI AND AND LLM", 8, "expected a term after 'AND'"),
    ("not-at-end", "AI NOT", 7, "expected a term after 'NOT'"),
    ("lone-minus", "AI - 招聘", 4, "expected a term right after '-'"),
    ("stray-close", "AI )", 4, "unexpected ')'"),
    ("close-first", ") AI", 1, "unexpected ')'"),
    ("empty-group", "AI ()", 5, "empty parentheses"),
    ("unclosed-quote", 'AI "开源 大会', 4, "unclosed quote"),
    ("empty-phrase", 'AI ""', 4, "empty phrase"),
    ("unclosed-regex", "AI /gpt", 4, "unclosed regex"),
    ("invalid-regex", "AI /(gpt/", 5, "invalid regex /(gpt/"),
    ("empty-regex", "//", 1, "empty regex"),
    ("regex-glued", "/usr/bin", 6, "expected a space or ')' after the regex"),
    ("unknown-field", "titel:AI", 1, "unknown field 'titel' (did you mean 'title'?)"),
    ("unknown-field-later", "AI categories:开源", 4, "did you mean 'category'?"),
    ("field-at-end", "AI title:", 10, "expected a term after 'title:'"),
    ("field-then-or", "title: OR AI", 8, "expected a term after 'title:'"),
    ("empty", "   ", 1, "the query is empty"),
]
# fmt: on


@pytest.mark.parametrize(("query", "column", "words"), [pytest.param(*c[1:], id=c[0]) for c in INVALID])
def test_invalid_query_says_where(query: str, column: int, words: str) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse(query)
    assert raised.value.column == column, str(raised.value)
    assert words in raised.value.message
    assert str(raised.value).startswith(f"column {column}: ")


def test_pointer_lines_up_under_wide_characters() -> None:
    assert pointer("(大模型 OR", 8) == "(大模型 OR\n" + " " * 10 + "^"


def test_invalid_query_is_a_config_error_when_compiled() -> None:
    with pytest.raises(ConfigError) as raised:
        compile_topic(Topic(id="ai", title="AI", query="(AI OR 大模型"))
    assert raised.value.key == "topics.ai.query"
    assert "column 11: expected ')'" in str(raised.value)


# fmt: off
# (id, story fields, topic fields, expected explain() lines)
EXPLAIN_CASES = [
    (
        "phrase-in-title",
        {"title": "2021 开源 大会 开幕"},
        {"query": 'title:"开源 大会" OR AI'},
        ['query: title:"开源 大会" matched in title'],
    ),
    (
        "not-vetoes",
        {"title": "AI 公司招聘"},
        {"query": "(AI OR 大模型) NOT 招聘"},
        ["query: NOT 招聘: matched in title"]  # the clause that failed,
    ),
    (
        "not-holds",
        {"title": "AI 周报", "text": "开源大模型"},
        {"query": "(大模型 OR AI) NOT 招聘"},
        ["query: 大模型 matched in text; NOT 招聘: not found"],
    ),
    ("nothing-found", {"title": "数据库"}, {"query": "AI OR 大模型"}, ["query: AI not found; 大模型 not found"]),
    (
        "keyword-rules-then-query",
        {"title": "Rust 1.54", "categories": ("编程",)},
        {"any": ("Rust",), "query": "category:编程"},
        ["any: Rust (title)", "query: category:编程 matched in category"],
    ),
    ("min-length-fails", {"title": "AI", "text": "短讯 AI"}, {"min_length": 10}, ["min_length: 5 characters, fewer than 10"]),
    (
        "min-length-passes",
        {"title": "AI", "text": "AI  news\n\nof  today"},
        {"min_length": 10, "query": "AI"},
        ["min_length: 16 characters", "query: AI matched in title"],
    ),
]
# fmt: on


@pytest.mark.parametrize(
    ("story", "rules", "expected"), [pytest.param(*c[1:], id=c[0]) for c in EXPLAIN_CASES]
)
def test_explain_query(story: dict, rules: dict, expected: list[str]) -> None:
    assert compile_topic(Topic(id="t", title="T", **rules)).explain(make_story(**story)) == expected


def test_explain_max_age_with_now() -> None:
    topic = compile_topic(Topic(id="t", title="T", max_age=7 * 86400, query="AI"))
    story = make_story("AI 周报")  # published NOW
    assert topic.explain(story, now=datetime(2024, 5, 3, tzinfo=UTC)) == [
        "max_age: published 2024-05-01 00:00",
        "query: AI matched in title",
    ]
    assert topic.explain(story, now=datetime(2024, 6, 1, tzinfo=UTC)) == [
        "max_age: published 2024-05-01 00:00, more than 7d ago"
    ]
    assert topic.explain(story) == ["query: AI matched in title"]  # without now, no age check


# -- through config loading -------------------------------------------------------------------------

SOURCES = """\
output:
  max_items: 30
sources:
  - id: oschina
    url: https://www.oschina.net/news/rss
topics:
"""


def load(tmp_path, topics: str):
    path = tmp_path / "aggregator.yaml"
    path.write_text(SOURCES + textwrap.indent(textwrap.dedent(topics), "  "), encoding="utf-8")
    return path, config.load(path)


def test_topic_keys_load(tmp_path) -> None:
    _, cfg = load(
        tmp_path,
        """\
        ai:
          query: '(AI OR 大模型 OR title:"开源 大会") NOT 招聘 source:oschina'
          fold_chinese: false
          max_age: 7d
          max_items: 20
          min_length: 100
        everything:
        """,
    )
    ai, everything = cfg.topics
    assert ai.query == '(AI OR 大模型 OR title:"开源 大会") NOT 招聘 source:oschina'
    assert (ai.fold_chinese, ai.max_age, ai.max_items, ai.min_length) == (False, 7 * 86400, 20, 100)
    assert (everything.query, everything.fold_chinese, everything.max_age) == ("", True, None)
    assert (everything.max_items, everything.min_length) == (None, 0)


# fmt: off
# (id, topics YAML, line, key, words)
CONFIG_ERRORS = [
    ("query", "ai:\n  any: [AI]\n  query: '(AI OR 大模型'\n", 9, "topics.ai.query", "column 11: expected ')'"),
    ("query-unknown-field", "ai:\n  query: 'titel:AI'\n", 8, "topics.ai.query", "column 1: unknown field 'titel'"),
    ("query-unknown-source", "ai:\n  query: 'AI source:nope'\n", 8, "topics.ai.query", "column 11: unknown source 'nope'"),
    ("query-not-text", "ai:\n  query: [AI]\n", 8, "topics.ai.query", "expected a string"),
    ("max-age", "ai:\n  max_age: a week\n", 8, "topics.ai.max_age", "not a duration"),
    ("max-items-zero", "ai:\n  max_items: 0\n", 8, "topics.ai.max_items", "positive whole number"),
    ("max-items-over-output", "ai:\n  max_items: 31\n", 8, "topics.ai.max_items", "more than output.max_items (30)"),
    ("min-length", "ai:\n  min_length: -5\n", 8, "topics.ai.min_length", "positive whole number"),
    ("fold-chinese", "ai:\n  fold_chinese: 'no'\n", 8, "topics.ai.fold_chinese", "expected true or false"),
    ("typo", "ai:\n  max_ages: 7d\n", 8, "topics.ai.max_ages", "did you mean 'max_age'"),
]
# fmt: on


@pytest.mark.parametrize(
    ("topics", "line", "key", "words"), [pytest.param(*c[1:], id=c[0]) for c in CONFIG_ERRORS]
)
def test_invalid_topic_keys_name_file_line_and_key(
    tmp_path, topics: str, line: int, key: str, words: str
) -> None:
    path = tmp_path / "aggregator.yaml"
    path.write_text(SOURCES + textwrap.indent(topics, "  "), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    problem = next((p for p in caught.value.problems if p.key == key), None)
    assert problem is not None, str(caught.value)
    assert (problem.file, problem.line) == (str(path), line)
    assert words in problem.message
    assert f"{path}:{line}: {key}: " in str(caught.value)
