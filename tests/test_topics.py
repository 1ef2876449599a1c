"""Topic rules: one table of cases (title, text, categories, rules, expected), one loop, like
Miniflux's reader/filter/filter_test.go; then explain(), errors, and folding."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.errors import ConfigError
from aggregator.models import Carrier, Item, Story, Topic
from aggregator.topics import compile_topic, compile_topics, fold, prepared

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def make_story(
    title: str = "",
    text: str = "",
    categories: tuple[str, ...] = (),
    source: str = "oschina",
    carriers: tuple[str, ...] = (),
) -> Story:
    """A story of one item from `source`, carried by `source` and by each of `carriers`."""
    item = Item(
        source_id=source,
        key="k1",
        link=f"https://{source}.example/news/1",
        url_key=f"{source}.example/news/1",
        title=title,
        author=None,
        published=NOW,
        updated=None,
        content_html="",
        text=text,
        categories=tuple(categories),
        thumbnail=None,
        content_hash="h1",
    )
    carried = [Carrier(s, s, f"https://{s}.example/feed", None) for s in (source, *carriers)]
    return Story(id="s1", item=item, carriers=carried, first_seen=NOW)


# (id, title, text, categories, Topic keyword arguments, expected)
CASES = [
    # Latin boundary: "AI" stands alone, or next to CJK, punctuation or spaces.
    ("ai-before-cjk", "国产AI芯片发布", "", (), {"any": ("AI",)}, True),
    ("ai-hyphen", "AI-powered search", "", (), {"any": ("AI",)}, True),
    ("ai-lowercase-space-cjk", "ai 辅助编程", "", (), {"any": ("AI",)}, True),
    ("ai-parentheses", "人工智能(AI)简史", "", (), {"any": ("AI",)}, True),
    ("ai-full-stop", "We need more AI.", "", (), {"any": ("AI",)}, True),
    ("ai-not-in-maintain", "How to maintain a fork", "", (), {"any": ("AI",)}, False),
    ("ai-not-in-thailand", "Thailand launches portal", "", (), {"any": ("AI",)}, False),
    ("ai-not-in-aix", "IBM AIX 7.3 released", "", (), {"any": ("AI",)}, False),
    ("ai-not-in-said", "He Said No", "", (), {"any": ("AI",)}, False),
    ("fullwidth-text", "ＡＩ 大会开幕", "", (), {"any": ("AI",)}, True),
    ("fullwidth-keyword", "AI 大会开幕", "", (), {"any": ("ＡＩ",)}, True),
    ("rust-version", "Rust 1.54 发布", "", (), {"any": ("Rust",)}, True),
    ("rust-not-in-trust", "Zero Trust 架构", "", (), {"any": ("Rust",)}, False),
    # "LLM" does not match "LLMs": the s is a Latin letter joined to the M. Plurals need a regex.
    ("llm-not-in-llms", "Open LLMs compared", "", (), {"any": ("LLM",)}, False),
    ("llm-alone", "本地运行 LLM 的方法", "", (), {"any": ("LLM",)}, True),
    ("llms-regex", "Open LLMs compared", "", (), {"any": ("/llms?/",)}, True),
    # Digits join like letters: "15G" is not "5G", and neither is "5GHz".
    ("5g-not-in-15g", "15G 流量套餐", "", (), {"any": ("5G",)}, False),
    ("5g-not-in-5ghz", "5GHz Wi-Fi", "", (), {"any": ("5G",)}, False),
    ("5g-before-cjk", "5G网络覆盖全国", "", (), {"any": ("5G",)}, True),
    ("5g-after-cjk", "新手机支持5G", "", (), {"any": ("5G",)}, True),
    ("go-version", "Go 1.22 发布", "", (), {"any": ("Go",)}, True),
    ("go-before-cjk", "Go语言入门", "", (), {"any": ("Go",)}, True),
    ("go-not-in-google", "Google I/O 2024", "", (), {"any": ("Go",)}, False),
    ("go-not-in-golang", "golang tips", "", (), {"any": ("Go",)}, False),
    ("go-not-in-ago", "Released two years ago", "", (), {"any": ("Go",)}, False),
    # Only Latin ends are checked: "C++" on the left, ".NET" on the right, "GPT-4" on both.
    ("cpp", "C++ 26 新特性", "", (), {"any": ("C++",)}, True),
    ("cpp-not-in-abc", "ABC++ parser", "", (), {"any": ("C++",)}, False),
    ("dotnet", ".NET 8 发布", "", (), {"any": (".NET",)}, True),
    ("dotnet-in-aspnet", "ASP.NET Core 更新", "", (), {"any": (".NET",)}, True),
    ("dotnet-not-in-dotnetty", ".Netty 4.2", "", (), {"any": (".NET",)}, False),
    ("gpt4", "GPT-4发布", "", (), {"any": ("GPT-4",)}, True),
    ("gpt4-not-in-gpt4o", "GPT-4o 发布", "", (), {"any": ("GPT-4",)}, False),
    # A mixed keyword checks only its Latin end.
    ("mixed-keyword", "国产AI芯片发布", "", (), {"any": ("AI芯片",)}, True),
    ("mixed-keyword-right-end-free", "AI芯片组", "", (), {"any": ("AI芯片",)}, True),
    ("mixed-keyword-left-end-joined", "MAI芯片", "", (), {"any": ("AI芯片",)}, False),
    # CJK keywords are substrings.
    ("cjk-substring", "开源大模型发布", "", (), {"any": ("大模型",)}, True),
    ("cjk-in-text-only", "深度学习框架更新", "百度飞桨发布 3.0 版本", (), {"any": ("飞桨",)}, True),
    ("cjk-missing", "深度学习框架更新", "PyTorch 2.3", (), {"any": ("飞桨",)}, False),
    # Categories are searched one by one, never across two.
    ("keyword-in-category-only", "芯片新闻", "国产芯片", ("AI", "硬件"), {"any": ("AI",)}, True),
    ("keyword-not-across-categories", "新闻", "", ("开源", "资讯"), {"any": ("开源资讯",)}, False),
    ("keyword-not-across-title-and-text", "关于开源", "资讯一则", (), {"any": ("开源资讯",)}, False),
    # Latin-1 and Latin Extended letters join too; casefold folds ß to ss.
    ("latin1-joins", "Les cafés de Paris", "", (), {"any": ("café",)}, False),
    ("latin1-alone", "Un café, s'il vous plaît", "", (), {"any": ("Café",)}, True),
    ("eszett-casefold", "Die Straße", "", (), {"any": ("STRASSE",)}, True),
    ("space-matches-any-whitespace", "", "open\n  source 软件", (), {"any": ("Open Source",)}, True),
    # all / any / none.
    ("all-both", "Rust 编译到 WebAssembly", "", (), {"all": ("Rust", "WebAssembly")}, True),
    ("all-one-missing", "Rust 1.80 发布", "", (), {"all": ("Rust", "WebAssembly")}, False),
    ("any-none-matches", "数据库发布", "", (), {"any": ("AI", "大模型")}, False),
    ("none-vetoes", "AI 公司招聘", "", (), {"any": ("AI",), "none": ("招聘",)}, False),
    ("none-absent", "AI 公司融资", "", (), {"any": ("AI",), "none": ("招聘",)}, True),
    ("none-only", "数据库发布", "", (), {"none": ("招聘",)}, True),
    ("none-in-category", "AI 新闻", "", ("招聘",), {"any": ("AI",), "none": ("招聘",)}, False),
    # Regular expressions: no boundary, case-insensitive on the folded text.
    ("regex", "Rust 1.54 发布", "", (), {"any": (r"/rust\s*1\.\d+/",)}, True),
    ("regex-no-space", "RUST1.70 changelog", "", (), {"any": (r"/rust\s*1\.\d+/",)}, True),
    ("regex-misses", "Rust 发布", "", (), {"any": (r"/rust\s*1\.\d+/",)}, False),
    ("regex-fullwidth-text", "Ｒｕｓｔ　１．５４", "", (), {"any": (r"/rust\s*1\.\d+/",)}, True),
    # Empty and whitespace-only keywords are ignored: this `any` is empty, so it takes everything.
    ("blank-keywords-ignored", "数据库发布", "", (), {"any": ("", "  ", "//")}, True),
    ("empty-topic-takes-everything", "", "", (), {}, True),
    # categories: whole categories, after folding.
    ("categories-listed", "新闻", "", ("开源", "资讯"), {"categories": ("开源",)}, True),
    ("categories-whole-only", "新闻", "", ("开源中国", "资讯"), {"categories": ("开源",)}, False),
    ("categories-folded", "新闻", "", ("ＡＩ",), {"categories": ("ai",)}, True),
    ("categories-none-on-item", "新闻", "", (), {"categories": ("开源",)}, False),
    ("categories-then-keywords", "AI 新闻", "", ("资讯",), {"categories": ("资讯",), "any": ("AI",)}, True),
    (
        "categories-pass-keywords-fail",
        "新闻",
        "",
        ("资讯",),
        {"categories": ("资讯",), "any": ("AI",)},
        False,
    ),
]


@pytest.mark.parametrize(
    ("title", "text", "categories", "rules", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_match(title: str, text: str, categories: tuple[str, ...], rules: dict, expected: bool) -> None:
    topic = compile_topic(Topic(id="t", title="T", **rules))
    story = make_story(title, text, categories)
    assert topic.match(story) is expected, topic.explain(story)


# (id, item source, other carriers, listed sources, expected)
SOURCE_CASES = [
    ("item-source-listed", "oschina", (), ("oschina",), True),
    ("second-carrier-listed", "oschina", ("solidot",), ("solidot",), True),
    ("no-carrier-listed", "oschina", ("36kr",), ("solidot",), False),
    ("ids-compare-exactly", "oschina", (), ("OSChina",), False),
]


@pytest.mark.parametrize(
    ("source", "carriers", "sources", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in SOURCE_CASES],
)
def test_sources_limit(
    source: str, carriers: tuple[str, ...], sources: tuple[str, ...], expected: bool
) -> None:
    topic = compile_topic(Topic(id="t", title="T", sources=sources, any=("AI",)))
    assert topic.match(make_story("AI 新闻", source=source, carriers=carriers)) is expected


# (id, Topic keyword arguments, story keyword arguments, expected lines)
EXPLAIN_CASES = [
    (
        "any-and-none-pass",
        {"any": ("大模型", "AI"), "none": ("招聘",)},
        {"title": "AI 周报", "text": "开源大模型发布"},
        ["any: 大模型 (text)", "none: —"],
    ),
    (
        "none-vetoes",
        {"any": ("AI",), "none": ("招聘",)},
        {"title": "AI 周报", "text": "某公司招聘"},
        ["any: AI (title)", "none: vetoed by 招聘 (text)"],
    ),
    (
        "stops-at-first-failure",
        {"all": ("Rust", "WebAssembly"), "any": ("AI",)},
        {"title": "Rust 1.80"},
        ["all: missing WebAssembly"],
    ),
    (
        "every-rule",
        {"sources": ("solidot",), "categories": ("资讯",), "all": ("Rust",), "any": (r"/rust\s*1\.\d+/",)},
        {"title": "Rust 1.80", "categories": ("编程", "资讯"), "carriers": ("solidot",)},
        ["sources: solidot", "categories: 资讯", "all: Rust (title)", r"any: /rust\s*1\.\d+/ (title)"],
    ),
    ("keyword-in-category", {"any": ("AI",)}, {"categories": ("编程", "AI")}, ["any: AI (category)"]),
    ("no-source", {"sources": ("solidot",)}, {}, ["sources: no listed source carried it (oschina)"]),
    (
        "no-category",
        {"categories": ("开源",)},
        {"categories": ("资讯",)},
        ["categories: no listed category (资讯)"],
    ),
    ("no-keyword", {"any": ("AI",)}, {"title": "数据库"}, ["any: no keyword matched"]),
    ("no-rules", {}, {}, ["no rules: takes every story"]),
]


@pytest.mark.parametrize(
    ("rules", "story", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in EXPLAIN_CASES],
)
def test_explain(rules: dict, story: dict, expected: list[str]) -> None:
    assert compile_topic(Topic(id="t", title="T", **rules)).explain(make_story(**story)) == expected


def test_invalid_regex_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        compile_topic(Topic(id="ai", title="AI", none=("/(unclosed/",)))
    assert raised.value.key == "topics.ai.none"
    assert "/(unclosed/" in str(raised.value)


def test_compile_topics_keeps_order() -> None:
    compiled = compile_topics([Topic(id="a", title="A"), Topic(id="b", title="B", any=("AI",))])
    assert [c.topic.id for c in compiled] == ["a", "b"]


def test_match_folds_the_story_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding is the costly part of matching Chinese text: once per match(), not once per keyword."""
    calls: list[str] = []

    def counting_fold(text: str) -> str:
        calls.append(text)
        return fold(text)

    topic = compile_topic(
        Topic(
            id="t",
            title="T",
            all=("开源", "模型"),
            any=("AI", "大模型", "LLM", "/llms?/"),
            none=("招聘", "广告"),
        )
    )
    monkeypatch.setattr(prepared, "fold", counting_fold)  # after compiling: count only match()
    assert topic.match(make_story("开源大模型", "AI 与 LLM 的新进展", ("资讯", "AI")))
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＡＩ", "ai"),
        ("Straße", "strasse"),
        ("开源，中国！", "开源,中国!"),
        ("ＧＰＴ－４　发布", "gpt-4 发布"),
        ("e\u0301", "é"),
        ("开源\u00a0中国", "开源 中国"),  # a no-break space (&nbsp;) is a space
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


# Mostly CJK, full-width forms, Latin with combining accents and compatibility characters.
_TEXT = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x24F),
        st.characters(min_codepoint=0x300, max_codepoint=0x36F),
        st.characters(min_codepoint=0x3000, max_codepoint=0x303F),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
        st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
        st.characters(),
    )
)


@given(_TEXT)
def test_fold_is_nfkc_then_casefold(text: str) -> None:
    """fold() takes a shortcut for full-width forms; it must equal the plain definition."""
    assert fold(text) == unicodedata.normalize("NFKC", text).casefold()


_PIECES = st.sampled_from(
    ["ai", "go", "é", "k8s", "1.5", "大模型", "芯片", " ", "-", ".", "ß", "\u0301", "x"]
)


@settings(max_examples=500)
@given(
    st.lists(_PIECES, min_size=1, max_size=3),
    st.lists(st.lists(_PIECES, max_size=12), min_size=2, max_size=4),
)
def test_keyword_shortcuts_agree_with_the_boundary_regex(
    keyword_parts: list[str], fields: list[list[str]]
) -> None:
    """A one-word Latin keyword is looked up among the text's whole Latin runs, a keyword with no
    Latin end is found with a substring search; both must say what the boundary regex says."""
    from aggregator.topics.keywords import Plain, fold_keyword

    folded = fold_keyword("".join(keyword_parts), chinese=False)
    if not folded:
        return
    keyword = Plain(folded, folded)
    story = make_story("t", "", ())
    text = prepared.FoldedStory(story, prepared.SEP.join(fold("".join(f)) for f in fields), chinese=False)
    found = keyword.pattern.search(text.joined)
    assert keyword.field_found(text) == (None if found is None else text.field_of(found.start()))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("GPT-?\\d", ("gpt",)),  # lowercased: the text it is searched in is casefolded
        ("cve-\\d{4}-\\d{4,5}", ("cve-",)),
        ("gpu|nvidia|昇腾", ("gpu", "nvidia", "昇腾")),
        ("(?:open)+ ?source", ("source",)),  # the longest of the parts every match holds
        ("开源|open[- ]?source", ("source", "开源")),
        ("llms?", ("llm",)),
        ("é+tude", ("tude",)),  # a cased non-ASCII letter matches others: no needle holds it
        ("x*|y", None),  # a branch that may match nothing names nothing
        ("\\d+", None),
    ],
)
def test_regex_needles(source: str, expected: tuple[str, ...] | None) -> None:
    """The strings every match of a regex keyword holds, tested with `in` before the regex runs."""
    import re

    from aggregator.topics.literals import needles

    assert needles(re.compile(source, re.IGNORECASE)) == expected


# Pattern atoms and text characters chosen for case folding's traps: ı (DOTLESS I) survives
# folding and matches "i"; K (KELVIN SIGN), ſ (LONG S), İ and ß fold to other letters.
_ATOMS = st.sampled_from(
    ["a", "i", "I", "K", "s", "S", "ß", "é", "É", "大", "ı", "İ", "\\d", "[ab]", ".", "x?", "(?:ab|ı)",
     "(?:K|é)+", "(?-i:B)", "(?:s|大)"]
)  # fmt: skip
_CHARS = st.sampled_from(
    ["a", "b", "i", "I", "ı", "İ", "k", "K", "\u212a", "s", "S", "ſ", "ß", "é", "É", "大", "1", "x", " "]
)


@settings(max_examples=500)
@example([["i"]], [["ı"], []])  # the one letter folding leaves that an ASCII letter matches
@given(
    st.lists(st.lists(_ATOMS, min_size=1, max_size=4), min_size=1, max_size=3),
    st.lists(st.lists(_CHARS, max_size=10), min_size=2, max_size=3),
)
def test_regex_needles_never_hide_a_match(branches: list[list[str]], fields: list[list[str]]) -> None:
    """A regex keyword skipped because its needles are absent must be one that finds nothing."""
    from aggregator.topics.keywords import Regex, compile_regex

    pattern = compile_regex("|".join("".join(branch) for branch in branches), chinese=False)
    regex = Regex(pattern.pattern, pattern)
    story = make_story("t", "", ())
    text = prepared.FoldedStory(story, prepared.SEP.join(fold("".join(f)) for f in fields), chinese=False)
    expected = next((index for index, field in enumerate(text.fields) if pattern.search(field)), None)
    assert regex.field_found(text) == expected
