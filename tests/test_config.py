"""Config loading: valid shapes resolve, every invalid shape is refused with file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from aggregator import config
from aggregator.cli import main
from aggregator.errors import ConfigError

VALID = """\
database: data/test.db
output:
  dir: out
  base_url: http://127.0.0.1:9000/feeds
  max_items: 20
server:
  host: 0.0.0.0
  port: 9000
polling:
  interval: 15m
  timeout: 10s
  max_body: 2MB
sources:
  - id: oschina
    title: 开源中国
    url: https://www.oschina.net/news/rss
    categories: [编程, 开源中国, 资讯]
    interval: 1h
  - id: local
    url: samples/feed.xml
topics:
  ai:
    title: AI 人工智能
    any: [AI, 人工智能, /GPT-?\\d/]
    none: [招聘]
  everything:
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aggregator.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_config_resolves(tmp_path):
    cfg = config.load(write(tmp_path, VALID))
    assert cfg.database == Path("data/test.db")
    assert cfg.output.base_url == "http://127.0.0.1:9000/feeds/"
    assert cfg.output.max_items == 20
    assert cfg.server.port == 9000
    assert cfg.polling.interval == 900
    assert cfg.polling.timeout == 10
    assert cfg.polling.max_body == 2_000_000
    oschina, local = cfg.sources
    assert oschina.categories == ("编程", "开源中国", "资讯")
    assert oschina.interval == 3600
    assert local.interval == 900  # polling.interval is the default
    assert Path(local.url).is_absolute()  # paths resolve against the working directory
    assert local.title == "local"
    ai, everything = cfg.topics
    assert ai.any == ("AI", "人工智能", "/GPT-?\\d/")
    assert ai.none == ("招聘",)
    assert everything.id == "everything" and not everything.any


def test_defaults_for_the_smallest_config(tmp_path):
    cfg = config.load(write(tmp_path, "sources: []\n"))
    assert cfg.database == Path("data/aggregator.db")
    assert cfg.output.dir == Path("public")
    assert cfg.polling.interval == 1800
    assert cfg.polling.max_body == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ("output:\n  max_items: many\n", 2, "output.max_items", "positive whole number"),
        ("polling:\n  intervall: 5m\n", 2, "polling.intervall", "did you mean 'interval'"),
        ("polling:\n  interval: 5 minutes\n", 2, "polling.interval", "not a duration"),
        ("sources:\n  - id: a\n    title: A\n", 2, "sources[0]", "missing required key 'url'"),
        (
            "sources:\n  - id: a\n    url: http://x/1\n  - id: a\n    url: http://x/2\n",
            4,
            "sources[1].id",
            "duplicate source id 'a'",
        ),
        ("sources:\n  - id: a\n    url: gopher://x/\n", 3, "sources[0].url", "unsupported URL scheme"),
        (
            "sources:\n  - id: a\n    url: http://x/\n    interval: -5m\n",
            4,
            "sources[a].interval",
            "not a duration",
        ),
        ("topics:\n  ai:\n    any: [AI, '/(unclosed/']\n", 3, "topics.ai.any[1]", "invalid regex"),
        ("topics:\n  ai:\n    any: AI\n    tittle: x\n", 4, "topics.ai.tittle", "unknown key"),
        ("topics:\n  ai:\n    sources: [nope]\n", 3, "topics.ai.sources[0]", "unknown source 'nope'"),
        ("topics:\n  'bad/id':\n    any: [x]\n", 2, "topics.bad/id", "topic id"),
        ("server:\n  port: 70000\n", 2, "server.port", "not a TCP port"),
        ("output:\n  base_url: ftp://x/\n", 2, "output.base_url", "not an http(s) URL"),
        ("sources: {id: a}\n", 1, "sources", "expected a list"),
        ("databse: x.db\n", 1, "databse", "did you mean 'database'"),
    ],
)
def test_invalid_config_names_file_line_and_key(tmp_path, text, line, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    problem = next((p for p in caught.value.problems if p.key == key), None)
    assert problem is not None, str(caught.value)
    assert problem.line == line
    assert problem.file == str(path)
    assert words in problem.message
    assert f"{path}:{line}: {key}:" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "polling:\n  interval: soon\nsources:\n  - id: a\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert len(caught.value.problems) == 2


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = write(tmp_path, "sources:\n  - id: a\n   url: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.line is not None
    assert "invalid YAML" in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (45, 45)]
)
def test_durations(text, seconds):
    assert config.parse_duration(text) == seconds


def test_config_check_command(tmp_path, capsys):
    good = write(tmp_path, VALID)
    assert main(["-c", str(good), "config", "check"]) == 0
    assert "OK" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text("polling:\n  interval: soon\n", encoding="utf-8")
    assert main(["-c", str(bad), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: polling.interval:" in err


def test_bundled_configs_are_valid():
    root = Path(__file__).parent.parent
    for name in ("aggregator.yaml", "sample.yaml"):
        cfg = config.load(root / "config" / name)
        assert cfg.sources and cfg.topics


@pytest.mark.parametrize("name", ["aggregator.yaml", "sample.yaml"])
def test_the_quick_reader_and_the_positional_reader_give_one_config(name):
    path = Path(__file__).parent.parent / "config" / name
    checker = config._Checker(str(path))
    positional = checker.config(YAML(typ="rt").load(path.read_text(encoding="utf-8")), path)
    assert not checker.problems
    assert config.load(path) == positional


@pytest.mark.parametrize(("setting", "processes"), [("", None), ("  workers: 0\n", 0), ("  workers: 3\n", 3)])
def test_publish_settings_take_the_worker_processes_from_polling(tmp_path, setting: str, processes) -> None:
    """polling.workers also bounds the processes a large membership build starts (0: none)."""
    from aggregator.republish import settings_for

    cfg = config.load(write(tmp_path, VALID.replace("  interval: 15m\n", "  interval: 15m\n" + setting)))
    assert settings_for(cfg).processes == processes
    assert settings_for(cfg).max_items == 20
