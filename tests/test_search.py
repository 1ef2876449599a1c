"""`aggregator topics test` and `aggregator search` through the real CLI, against a real SQLite file
and a real PostgreSQL database filled by polling the bundled offline sample; then search's
candidates against the topic verdicts."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from aggregator import config as config_module
from aggregator.cli import main
from aggregator.models import Topic
from aggregator.query import parse
from aggregator.search import candidate_condition, dry_run, search
from aggregator.store import AllOf, AnyOf, CarriedBy, Contains, Store
from aggregator.topics import compile_topic

ROOT = Path(__file__).parent.parent
CONFIG = "config/sample.yaml"
SEED = "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？"
COSCUP = "COSCUP 2021 開源人年會改為線上舉行，議程涵蓋機器學習與雲端原生"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sample(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory where `aggregator -c config/sample.yaml poll` has run once, into an
    SQLite file or a PostgreSQL database (sample_database)."""
    folder = tmp_path_factory.mktemp("sample")
    shutil.copytree(ROOT / "config", folder / "config")
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgresql")
        url = cluster.database()
        request.addfinalizer(lambda: cluster.drop(url))
        config = folder / CONFIG
        config.write_text(config.read_text().replace("database: data/sample.db", f"database: {url}"))
    here = Path.cwd()
    os.chdir(folder)
    try:
        assert main(["-q", "-c", CONFIG, "poll", "--no-progress"]) == 0
    finally:
        os.chdir(here)
    return folder


@pytest.fixture
def run(sample: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """run(*args) -> (exit code, stdout, stderr) of `aggregator -c config/sample.yaml *args`."""
    monkeypatch.chdir(sample)
    capsys.readouterr()  # drop what the poll printed

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(["-c", CONFIG, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def sample_database(folder: Path) -> Path | str:
    """The database the sample's config names, as a path from here for a file."""
    database = config_module.load(folder / CONFIG).database
    return folder / database if isinstance(database, Path) else database


def verdict_lines(out: str) -> list[tuple[str, str]]:
    """(verdict, story line) for each story a `topics test` printed."""
    lines = out.splitlines()
    return [(line[:5].strip(), line[7:]) for line in lines if line.startswith(("match", "no   "))]


def test_topics_test_explains_every_story(run) -> None:
    code, out, _ = run("topics", "test", "ai", "--limit", "0")
    assert code == 0
    verdicts = verdict_lines(out)
    matched = [story for verdict, story in verdicts if verdict == "match"]
    assert f"2021-07-05  oschina,solidot  {SEED}" in matched
    assert any(COSCUP in story for story in matched)  # 機器學習 in the title, 机器学习 in the topic
    assert "none: vetoed by 招聘 (title)" in out  # the job advert says why it is out
    summary = out.splitlines()[-1]
    assert summary == f"{len(matched)} of {len(verdicts)} stories match"  # --limit 0: every story


def test_topics_test_with_a_query_keeps_the_topics_other_rules(run) -> None:
    code, out, _ = run("topics", "test", "ai", "--query", "機器學習 OR 招聘", "--limit", "0")
    assert code == 0
    assert "query: 機器學習 matched in title" in out  # the query as written, found in traditional text
    matched = [story for verdict, story in verdict_lines(out) if verdict == "match"]
    assert len(matched) == 1 and COSCUP in matched[0]  # the job advert matches the query, not `none`


def test_topics_test_query_alone(run) -> None:
    code, out, _ = run("topics", "test", "--query", "title:rust NOT source:solidot")
    assert code == 0
    matched = [story for verdict, story in verdict_lines(out) if verdict == "match"]
    assert [story.split("  ")[0] for story in matched] == ["2021-07-30", "2021-07-29", "2021-06-18"]
    assert "query: NOT source:solidot: matched in source" in out  # Rust for Linux, from Solidot
    assert out.splitlines()[-1].startswith("3 of ")


def test_topics_test_limit(run) -> None:
    code, out, _ = run("topics", "test", "rust", "--limit", "5")
    assert code == 0
    assert len(verdict_lines(out)) == 5
    _, everything, _ = run("topics", "test", "rust", "--limit", "0")
    stored = len(verdict_lines(everything))
    assert (
        out.splitlines()[-1]
        == f"2 of 5 stories match (the newest 5 of {stored} stored; --limit 0 looks at all)"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["topics", "test", "ai", "--query", "(AI OR 大模型"], "column 11: expected ')'"),
        (["topics", "test", "--query", "titel:AI"], "column 1: unknown field 'titel'"),
        (["topics", "test", "nope"], "unknown topic 'nope'"),
        (["topics", "test"], "needs a topic ID, --query, or both"),
        (["topics", "test", "ai", "--limit", "-1"], "--limit"),
        (["search", "AI OR"], "column 6: expected a term after 'OR'"),
        (["search", "AI", "--limit", "0"], "--limit"),
    ],
)
def test_invalid_command_lines_exit_2(run, args: list[str], words: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert words in err
    assert out == ""


def test_invalid_query_shows_a_caret(run) -> None:
    _, _, err = run("search", "(AI OR 大模型")
    assert err.splitlines()[1:] == ["  (AI OR 大模型", "  " + " " * 13 + "^"]


def test_search_prints_date_source_title_and_link_newest_first(run) -> None:
    code, out, _ = run("search", "rust")
    assert code == 0
    lines = out.splitlines()
    stories = lines[0:-1:2]
    links = lines[1:-1:2]
    assert lines[-1] == f"{len(stories)} stories found"
    assert len(stories) >= 3
    dates = [line.split("  ")[0] for line in stories]
    assert dates == sorted(dates, reverse=True)
    assert stories[0].startswith("2021-07-30  infoq  Rust 1.54 Allows")
    assert links[0].strip() == "https://www.infoq.com/news/2021/07/rust-1-54-released/"


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("机器学习", COSCUP),  # simplified query, traditional text: through the s2t form
        ("開源人", COSCUP),
        ("飞桨", SEED),  # two characters: below the trigram index, found with LIKE
        ("ai 蛋白质", "ＡＩ 预测的 35 万种蛋白质结构向公众开放"),  # full-width ＡＩ in the title
        ('"open source" summit', "Open Source Summit North America 2021 Will Be a Hybrid Event in Seattle"),
    ],
)
def test_search_chinese_and_english(run, query: str, title: str) -> None:
    code, out, _ = run("search", query, "--json")
    assert code == 0
    assert title in [row["title"] for row in json.loads(out)]


def test_search_json(run) -> None:
    code, out, _ = run("search", "飞桨", "--json", "--limit", "1")
    assert code == 0
    (row,) = json.loads(out)
    assert row["title"] == SEED
    assert row["published"] == "2021-07-05T23:58:00+00:00"
    assert (row["source"], row["sources"]) == ("oschina", ["oschina", "solidot"])
    assert row["link"] == "https://www.oschina.net/news/149058"


def test_search_without_an_index_term_scans_the_newest(run) -> None:
    code, out, _ = run("search", "NOT 开源 NOT /rust|linux/", "--limit", "2")
    assert code == 0
    assert "the query has no term the full-text index can use" in out.splitlines()[-1]
    assert out.count("\n") == 5  # two stories of two lines, and the summary


def test_search_limit_and_nothing_found(run) -> None:
    _, out, _ = run("search", "rust", "--limit", "2")
    assert out.splitlines()[-1] == "2 stories found (the newest; --limit N shows more)"
    _, out, _ = run("search", "量子计算机")
    assert out == "no story matches\n"


# Search narrows with the index, then decides with the topic rules: it must find exactly what a
# dry run of a topic with the same query finds, whatever the index could or could not use.
QUERIES = [
    "rust",
    "AI",
    "ai NOT 招聘",
    "机器学习 OR 開源",
    "開源 研討會",
    '"open source"',
    "title:rust OR 数据库",
    "category:资讯 漏洞",
    "category:开源中国 OR category:English",
    "source:solidot",
    "source:hn (rust OR 開源)",
    "link:oschina.net/news/14",
    "author:Priya",
    "/gpt-?j/ OR 大模型",
    "NOT 开源",
    "Kaseya VSA",
    "英文 OR English",
    "text:Copilot -GitHub",
]


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_what_the_topic_rules_take(sample: Path, query: str) -> None:
    with Store(sample_database(sample)) as store:
        found = [s.id for s in search(store, query, limit=1000).stories]
        compiled = compile_topic(Topic(id="q", title="q", query=query))
        expected = [v.story.id for v in dry_run(store, compiled, now=None) if v.matched]
    assert found == expected


@pytest.mark.parametrize(
    ("query", "condition"),
    [
        ("rust", Contains(("rust",))),
        ("NOT rust", None),
        ("/rust/", None),
        ("rust OR /go/", None),
        ("rust -招聘", Contains(("rust",))),
        ("NOT (rust OR go)", None),
        ("NOT (NOT rust)", Contains(("rust",))),
        ("source:hn", CarriedBy(("hn",))),
        ("title:rust", Contains(("rust",), ("title",))),
        ("rust OR go", AnyOf((Contains(("rust",)), Contains(("go",))))),
        ("rust go", AllOf((Contains(("rust",)), Contains(("go",))))),
        ('"open source"', AllOf((Contains(("open",)), Contains(("source",))))),
        ("author:Jane", Contains(("Jane", "jane"), ("author",))),
    ],
)
def test_candidate_condition(query: str, condition: object) -> None:
    assert _without_fullwidth(candidate_condition(parse(query))) == condition


def _without_fullwidth(condition):
    """The condition without the full-width forms search adds to ASCII terms (ＲＵＳＴ for rust)."""
    if isinstance(condition, Contains):
        strings = tuple(s for s in condition.strings if not any("\uff01" <= c <= "\uff5e" for c in s))
        return Contains(strings, condition.fields)
    if isinstance(condition, AllOf | AnyOf):
        return type(condition)(tuple(_without_fullwidth(c) for c in condition.conditions))
    return condition


def test_search_adds_full_width_forms() -> None:
    assert candidate_condition(parse("Ai")) == Contains(("Ai", "ai", "ａｉ", "ＡＩ"))


def test_search_looks_up_every_spelling_of_a_chinese_word() -> None:
    """OpenCC's s2t writes 發佈 for 发布; Taiwan writes 發布: both fold to 发布, both are looked up."""
    condition = candidate_condition(parse("category:发布"))
    assert isinstance(condition, Contains) and condition.fields == ("categories",)
    assert {"发布", "發布", "發佈", "髮布"} <= set(condition.strings)
    assert {"機器學習", "机器学习", "機器学习"} <= set(candidate_condition(parse("機器學習")).strings)


def test_a_word_with_too_many_spellings_is_looked_up_in_pieces() -> None:
    condition = candidate_condition(parse("臺灣機器學習發展報告"))
    assert isinstance(condition, AllOf)
    pieces = ["台湾机", "器学习", "发展报", "展报告"]  # three at a time, and the last three
    assert [piece in c.strings for piece, c in zip(pieces, condition.conditions, strict=True)] == [True] * 4


def test_search_checks_only_the_candidates(sample: Path) -> None:
    with Store(sample_database(sample)) as store:
        result = search(store, "kubecon", limit=10)
        assert [s.item.title[:7] for s in result.stories] == ["KubeCon"]
        assert result.checked == 1 and not result.scanned


@pytest.mark.parametrize("command", [["topics", "test"], ["search"]])
def test_help_ends_with_an_example_and_the_readme_documents_it(
    command: list[str], capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"Example: aggregator {' '.join(command)} ")
    assert f"| `aggregator {' '.join(command)} " in (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_queries_parse() -> None:
    """Every `query: '...'` the README shows is a valid query (YAML single quotes: '' is ')."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    queries = [q.replace("''", "'") for q in re.findall(r"query: '((?:[^']|'')*)'", readme)]
    assert len(queries) >= 5
    for query in queries:
        parse(query)
