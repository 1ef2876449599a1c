"""`aggregator sources import` and `export`: OPML subscription lists in and out of the YAML config.

Imports run on a copy of the bundled config/aggregator.yaml, so "the rest of the file is kept"
is checked against the real file with all its comments, blank lines and wrapped flow lists.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from lxml import etree

from aggregator import config as config_module
from aggregator.cli import build_parser, cmd_sources, cmd_sources_export, cmd_sources_import, main
from aggregator.config import edit as config_edit
from aggregator.errors import ConfigError, ParseError
from aggregator.models import Source
from aggregator.publish.opml import render_sources
from aggregator.subscriptions import make_id, plan_import, read_opml, safe_parser

ROOT = Path(__file__).parent.parent
BUNDLED_CONFIG = ROOT / "config" / "aggregator.yaml"
OPML = Path(__file__).parent / "fixtures" / "opml"


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    path = tmp_path / "aggregator.yaml"
    shutil.copyfile(BUNDLED_CONFIG, path)
    return path


def run(*argv: str | Path) -> int:
    return main([str(arg) for arg in argv])


# -- reading OPML -----------------------------------------------------------------------------------

READ_CASES = [
    # (fixture, [(url, title, site, categories)], [(url, reason)])
    (
        "feedly_folders.opml",
        [
            (
                "http://www.oschina.net/news/rss?utm_source=feedly",
                "开源中国",
                "https://www.oschina.net/",
                ("科技资讯",),
            ),
            ("https://36kr.com/feed", "36氪", "https://36kr.com/", ("科技资讯",)),
            ("https://www.ifanr.com/feed", "爱范儿", "https://www.ifanr.com", ("科技资讯",)),
            (
                "https://news.ycombinator.com/rss",
                "Hacker News",
                "https://news.ycombinator.com/",
                ("科技资讯", "Programming"),
            ),
            ("https://go.dev/blog/feed.atom", "The Go Blog", "https://go.dev/blog/", ("Programming",)),
        ],
        [("file:///etc/passwd", "not an http(s) URL")],
    ),
    (
        "inoreader_nested.opml",
        [
            ("https://www.jiqizhixin.com/rss", "机器之心", "https://www.jiqizhixin.com/", ("Tech", "AI")),
            (
                "https://export.arxiv.org/rss/cs.AI",
                "Research & Papers",
                "https://arxiv.org/list/cs.AI/recent",
                ("Tech", "AI", "Science", "ML", "preprints"),
            ),
            (
                "https://cafe-dev.example.fr/feed.xml",
                "Café Développeurs",
                "https://cafe-dev.example.fr/",
                ("Tech",),
            ),
        ],
        [],
    ),
    (
        "netnewswire_flat.opml",
        [
            ("https://daringfireball.net/feeds/main", "Daring Fireball", "https://daringfireball.net/", ()),
            ("https://lwn.net/headlines/rss", "LWN.net", "https://lwn.net", ()),
            ("http://www.solidot.org/index.rss", "Solidot 奇客", None, ()),
        ],
        [("https://example.org/friends.opml", "an included OPML list (type=include) is not followed")],
    ),
]


@pytest.mark.parametrize(("fixture", "feeds", "skipped"), READ_CASES, ids=[case[0] for case in READ_CASES])
def test_read_opml(fixture: str, feeds: list, skipped: list) -> None:
    listing = read_opml((OPML / fixture).read_bytes(), name=fixture)

    assert [(f.url, f.title, f.site, f.categories) for f in listing.feeds] == feeds
    assert [(s.url, s.reason) for s in listing.skipped] == skipped


ID_CASES = [
    # (title, url, ids already taken, expected id)
    ("Hacker News", "https://news.ycombinator.com/rss", set(), "hacker-news"),
    ("Café Développeurs", "https://cafe.example.fr/feed", set(), "cafe-developpeurs"),
    ("IT之家", "https://www.ithome.com/rss/", set(), "ithome.com"),
    ("36氪", "https://36kr.com/feed", set(), "36kr.com"),
    ("Хабр", "https://habr.com/ru/rss/all/", set(), "habr.com"),
    ("", "https://feeds.feedburner.com/example", set(), "feedburner.com"),
    ("", "https://rss.com/feed", set(), "rss.com"),  # a prefix is kept when it is the whole name
    ("  Rust Blog!!  ", "https://blog.rust-lang.org/feed.xml", set(), "rust-blog"),
    ("Hacker News", "https://hnrss.org/frontpage", {"hacker-news"}, "hacker-news-2"),
    ("Hacker News", "https://hnrss.org/newest", {"Hacker-News", "hacker-news-2"}, "hacker-news-3"),
    ("开源中国", "https://例子.中国/rss", set(), "xn--fsqu00a.xn--fiqs8s"),
    ("A" * 80, "https://example.org/", set(), "a" * 48),
    ("Words " * 12, "https://example.org/", set(), "words-words-words-words-words-words-words-words"),
]


@pytest.mark.parametrize(("title", "url", "taken", "expected"), ID_CASES)
def test_make_id(title: str, url: str, taken: set[str], expected: str) -> None:
    assert make_id(title, url, taken) == expected
    assert config_module._ID.match(expected)


def test_plan_skips_configured_urls_and_gives_unique_ids() -> None:
    configured = [
        Source(id="oschina", url="https://www.oschina.net/news/rss"),
        Source(id="hacker-news", url="https://hnrss.org/frontpage"),
        Source(id="local", url="/srv/feeds/local.xml"),
    ]
    listing = read_opml((OPML / "feedly_folders.opml").read_bytes())

    plan = plan_import(listing, configured)

    assert [(s.id, s.url) for s in plan.sources] == [
        ("36kr.com", "https://36kr.com/feed"),
        ("ifanr.com", "https://www.ifanr.com/feed"),
        ("hacker-news-2", "https://news.ycombinator.com/rss"),
        ("the-go-blog", "https://go.dev/blog/feed.atom"),
    ]
    assert [(s.url, s.reason) for s in plan.skipped] == [
        ("file:///etc/passwd", "not an http(s) URL"),
        ("http://www.oschina.net/news/rss?utm_source=feedly", "already configured as oschina"),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "not a well-formed OPML file"),
        (b"<opml><body><outline text='x'></body></opml>", "not a well-formed OPML file"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", r"not an OPML file \(.* is <rss>\)"),
    ],
)
def test_not_opml(document: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        read_opml(document, name="in.opml")


def test_an_external_entity_reads_no_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    document = (OPML / "external_entity.opml").read_bytes().replace(b"SECRET_PATH", str(secret).encode())

    with pytest.raises(ParseError, match="declares XML entities") as raised:
        read_opml(document, name="evil.opml")
    assert "TOP-SECRET" not in str(raised.value)
    # The parser itself never reads the file, refusal or not.
    root = etree.fromstring(document, safe_parser())
    assert "TOP-SECRET" not in etree.tostring(root, encoding="unicode")


def test_entity_expansion_is_refused() -> None:
    with pytest.raises(ParseError, match="declares XML entities"):
        read_opml((OPML / "entity_expansion.opml").read_bytes())


# -- importing into the YAML config -------------------------------------------------------------------


def test_import_appends_the_new_sources_and_keeps_the_rest_of_the_file(
    config_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = config_copy.read_text(encoding="utf-8")
    old_ids = [s.id for s in config_module.load(config_copy).sources]

    assert run("-c", config_copy, "sources", "import", OPML / "feedly_folders.opml") == 0

    # Byte for byte the old file, with the new entries right after the last source (and before
    # the blank line and the comment that open the topics).
    last_source = "    url: config/samples/hn-like.json\n    categories: [English, 社区]\n"
    assert before.count(last_source) == 1
    inserted = (
        "\n"
        "  # Imported from feedly_folders.opml\n"
        "  - id: 36kr.com\n"
        "    title: 36氪\n"
        "    url: https://36kr.com/feed\n"
        "    site: https://36kr.com/\n"
        "    categories: [科技资讯]\n"
        "\n"
        "  - id: ifanr.com\n"
        "    title: 爱范儿\n"
        "    url: https://www.ifanr.com/feed\n"
        "    site: https://www.ifanr.com\n"
        "    categories: [科技资讯]\n"
        "\n"
        "  - id: hacker-news\n"
        "    title: Hacker News\n"
        "    url: https://news.ycombinator.com/rss\n"
        "    site: https://news.ycombinator.com/\n"
        "    categories: [科技资讯, Programming]\n"
        "\n"
        "  - id: the-go-blog\n"
        "    title: The Go Blog\n"
        "    url: https://go.dev/blog/feed.atom\n"
        "    site: https://go.dev/blog/\n"
        "    categories: [Programming]\n"
    )
    assert config_copy.read_text(encoding="utf-8") == before.replace(last_source, last_source + inserted)
    config = config_module.load(config_copy)
    assert [s.id for s in config.sources] == [*old_ids, "36kr.com", "ifanr.com", "hacker-news", "the-go-blog"]
    hacker_news = config.sources[-2]
    assert hacker_news.categories == ("科技资讯", "Programming")
    assert hacker_news.site == "https://news.ycombinator.com/"
    out = capsys.readouterr().out
    assert f"added 4 sources to {config_copy}:" in out
    assert "+ hacker-news  " in out
    assert "- file:///etc/passwd (My notes): not an http(s) URL" in out
    assert "(开源中国): already configured as oschina" in out


def test_importing_again_adds_nothing(config_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fixture in ("feedly_folders.opml", "inoreader_nested.opml", "netnewswire_flat.opml"):
        assert run("-c", config_copy, "sources", "import", OPML / fixture) == 0
    imported = config_copy.read_bytes()
    mtime = config_copy.stat().st_mtime_ns
    capsys.readouterr()

    for fixture in ("feedly_folders.opml", "inoreader_nested.opml", "netnewswire_flat.opml"):
        assert run("-c", config_copy, "sources", "import", OPML / fixture) == 0
        assert f"added 0 sources to {config_copy}\n" in capsys.readouterr().out
    assert config_copy.read_bytes() == imported
    assert config_copy.stat().st_mtime_ns == mtime


def test_dry_run_shows_the_change_and_writes_nothing(
    config_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = config_copy.read_bytes()

    assert run("-c", config_copy, "sources", "import", "--dry-run", OPML / "inoreader_nested.opml") == 0

    assert config_copy.read_bytes() == before
    out = capsys.readouterr().out
    assert f"would add 3 sources to {config_copy}:" in out
    assert "+ research-papers    Research & Papers  https://export.arxiv.org/rss/cs.AI" in out
    assert "+  # Imported from inoreader_nested.opml\n+  - id: jiqizhixin.com\n" in out
    assert "+    categories: [Tech, AI, Science, ML, preprints]\n" in out


def test_import_reads_standard_input(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Stdin:
        buffer = (OPML / "netnewswire_flat.opml").open("rb")

    monkeypatch.setattr("sys.stdin", Stdin)
    try:
        assert run("-c", config_copy, "sources", "import", "-") == 0
    finally:
        Stdin.buffer.close()

    assert [s.id for s in config_module.load(config_copy).sources][-1] == "daring-fireball"
    assert "# Imported from <stdin>" in config_copy.read_text(encoding="utf-8")


@pytest.mark.parametrize("fixture", ["external_entity.opml", "entity_expansion.opml"])
def test_a_refused_file_changes_nothing(
    config_copy: Path, fixture: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = config_copy.read_bytes()

    assert run("-c", config_copy, "sources", "import", OPML / fixture) == 2

    assert config_copy.read_bytes() == before
    assert "declares XML entities" in capsys.readouterr().err


def test_a_missing_file_is_a_usage_error(config_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-c", config_copy, "sources", "import", config_copy.parent / "none.opml") == 2
    assert "cannot read" in capsys.readouterr().err


def test_import_keeps_permissions_and_symlinks(tmp_path: Path, config_copy: Path) -> None:
    config_copy.chmod(0o600)
    link = tmp_path / "link.yaml"
    link.symlink_to(config_copy)

    assert run("-c", link, "sources", "import", OPML / "netnewswire_flat.opml") == 0

    assert link.is_symlink()
    assert "daring-fireball" in config_copy.read_text(encoding="utf-8")
    assert config_copy.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aggregator.yaml", "link.yaml"]  # no temp files


NEW = [Source(id="new", url="https://new.example/feed", title="New: a #1 feed", categories=("Tech", "a, b"))]

APPEND_CASES = [
    # (config text, expected text after adding NEW)
    (
        "database: db.sqlite\n",
        "database: db.sqlite\n\nsources:\n  - id: new\n    title: 'New: a #1 feed'\n"
        "    url: https://new.example/feed\n    categories: [Tech, 'a, b']\n",
    ),
    (
        "sources:   # none yet\ntopics:\n  all:\n",
        "sources:   # none yet\n  - id: new\n    title: 'New: a #1 feed'\n"
        "    url: https://new.example/feed\n    categories: [Tech, 'a, b']\ntopics:\n  all:\n",
    ),
    (
        "sources: []  # none yet\ntopics:\n  all:\n",
        "sources:  # none yet\n  - id: new\n    title: 'New: a #1 feed'\n"
        "    url: https://new.example/feed\n    categories: [Tech, 'a, b']\ntopics:\n  all:\n",
    ),
    (  # no blank line between entries, indentless list, a comment of the next section
        "sources:\n- id: a\n  url: http://a.example/\n# the topics\ntopics: {}\n",
        "sources:\n- id: a\n  url: http://a.example/\n- id: new\n  title: 'New: a #1 feed'\n"
        "  url: https://new.example/feed\n  categories: [Tech, 'a, b']\n# the topics\ntopics: {}\n",
    ),
    (  # a commented-out key inside the last entry stays with it
        "sources:\n    -   id: a\n        url: http://a.example/\n        # interval: 1h\n\ntopics:\n",
        "sources:\n    -   id: a\n        url: http://a.example/\n        # interval: 1h\n"
        "    -   id: new\n        title: 'New: a #1 feed'\n        url: https://new.example/feed\n"
        "        categories: [Tech, 'a, b']\n\ntopics:\n",
    ),
    (  # Windows line ends, no newline at the end
        "sources:\r\n  - id: a\r\n    url: http://a.example/",
        "sources:\r\n  - id: a\r\n    url: http://a.example/\r\n  - id: new\r\n    title: 'New: a #1 feed'\r\n"
        "    url: https://new.example/feed\r\n    categories: [Tech, 'a, b']\r\n",
    ),
]


@pytest.mark.parametrize(("text", "expected"), APPEND_CASES)
def test_with_sources(text: str, expected: str) -> None:
    result = config_edit.with_sources(text, NEW, path=Path("c.yaml"))

    assert result == expected


@pytest.mark.parametrize(
    ("text", "sources", "message"),
    [
        ("sources: [{id: a, url: 'http://a.example/'}]\n", NEW, "sources is written on one line"),
        (
            "sources:\n  - id: new\n    url: http://a.example/\n",
            NEW,
            r"sources\[1\]\.id: duplicate source id 'new'",
        ),
        (
            "sources:\n  - id: a\n    url: http://a.example/\n",
            [Source(id="bad id!", url="http://b/")],
            "not a valid id",
        ),
        ("sources: 3\n", NEW, "expected a list of sources"),
    ],
)
def test_with_sources_refuses(text: str, sources: list[Source], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_edit.with_sources(text, sources, path=Path("c.yaml"))


def test_add_sources_leaves_an_invalid_result_unwritten(config_copy: Path) -> None:
    before = config_copy.read_bytes()

    with pytest.raises(ConfigError, match="duplicate source id 'oschina'"):
        config_edit.add_sources(config_copy, [Source(id="oschina", url="https://elsewhere.example/rss")])
    assert config_copy.read_bytes() == before
    assert os.listdir(config_copy.parent) == ["aggregator.yaml"]


# -- export -------------------------------------------------------------------------------------------


def test_export_lists_every_web_source(config_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-c", config_copy, "sources", "import", OPML / "inoreader_nested.opml") == 0
    capsys.readouterr()
    config = config_module.load(config_copy)

    assert run("-c", config_copy, "sources", "export") == 0

    captured = capsys.readouterr()
    opml = etree.fromstring(captured.out.encode("utf-8"))
    assert opml.get("version") == "2.0"
    assert opml.findtext("head/title") == "技术资讯聚合: sources"
    feeds = {o.get("xmlUrl"): o for o in opml.iter("outline") if o.get("xmlUrl")}
    web = [s for s in config.sources if s.url.startswith(("http://", "https://"))]
    assert sorted(feeds) == sorted(s.url for s in web)
    for source in web:
        outline = feeds[source.url]
        assert outline.get("type") == "rss"
        assert outline.get("text") == outline.get("title") == source.title
        assert outline.get("category") == ",".join(source.categories)
        assert outline.getparent().get("text") == source.categories[0]  # the folder
        assert outline.get("htmlUrl") == source.site
    assert "4 local file sources left out" in captured.err
    assert not any("config/samples" in url for url in feeds)


def test_export_to_a_file_and_import_it_back(tmp_path: Path, config_copy: Path) -> None:
    exported = tmp_path / "subscriptions.opml"
    assert run("-c", config_copy, "sources", "import", OPML / "feedly_folders.opml") == 0
    assert run("-c", config_copy, "sources", "export", "-o", exported) == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\ndatabase: db.sqlite\n", encoding="utf-8")

    assert run("-c", empty, "sources", "import", exported) == 0

    original = {s.url: (s.title, s.categories, s.site) for s in config_module.load(config_copy).sources}
    again = config_module.load(empty).sources
    assert {s.url: (s.title, s.categories, s.site) for s in again} == {
        url: value for url, value in original.items() if url.startswith("https://")
    }
    assert len({s.id for s in again}) == len(again) == 12


def test_render_sources_without_categories_or_sites() -> None:
    sources = [Source(id="a", url="https://a.example/feed", title="A & B"), Source(id="b", url="/srv/b.xml")]

    opml = etree.fromstring(render_sources(sources, title="Mine"))

    assert [o.attrib for o in opml.find("body")] == [
        {"type": "rss", "text": "A & B", "title": "A & B", "xmlUrl": "https://a.example/feed"}
    ]
    assert opml.findtext("head/docs") == "http://opml.org/spec2.opml"


# -- the command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["sources"], cmd_sources),
        (["sources", "--json"], cmd_sources),
        (["sources", "import", "feeds.opml"], cmd_sources_import),
        (["sources", "import", "--dry-run", "feeds.opml"], cmd_sources_import),
        (["sources", "export"], cmd_sources_export),
        (["sources", "export", "-o", "out.opml"], cmd_sources_export),
    ],
)
def test_sources_subcommands(argv: list[str], handler: object) -> None:
    assert build_parser().parse_args(argv).handler is handler


@pytest.mark.parametrize("name", ["import", "export"])
def test_help_ends_with_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sources", name, "--help"])

    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith(f"Example: aggregator sources {name}")
