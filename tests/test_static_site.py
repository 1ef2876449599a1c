"""Static-site export end to end: `aggregator export hexo|hugo DIR`, and `output.static_site` kept
current by `publish`, `poll` and the daemon, against real SQLite files and loopback feeds."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, FeedServer
from markdown_it import MarkdownIt
from ruamel.yaml import YAML
from test_daemon import Daemon, daemons, rss, wait_for  # noqa: F401 - daemons is a fixture

from aggregator.cli import main
from aggregator.publish.static_site import MANIFEST, post_name

ROOT = Path(__file__).parent.parent
SEED_TITLE = "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？"
# The seed article as a Hexo post, front matter only (from the OSChina article in shared/seeds).
SEED_FRONT_MATTER = FIXTURES / "static_site" / "oschina-seed-front-matter.yaml"


def front_matter(path: Path) -> tuple[list[str], dict]:
    """(the front matter's lines, its YAML loaded back) of a post."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    head, _, _ = text[4:].partition("\n---\n")
    return head.split("\n"), YAML(typ="safe", pure=True).load(head)


def body_of(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n---\n\n", 1)[1]


def blocks(lines: list[str]) -> dict[str, list[str]]:
    """Each top-level key with its lines (the key line and its ` - ` items), in order."""
    out: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith(" "):
            out[list(out)[-1]].append(line)
        else:
            out[line.split(":", 1)[0]] = [line]
    return out


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """name -> (inode, mtime_ns) of every file, hidden ones included."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def posts(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.glob("*.md")}


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """run(*args) -> (exit code, stdout, stderr) of `aggregator -c config/sample.yaml *args`,
    in a working directory where the offline sample has been polled once."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "-c", "config/sample.yaml", "poll", "--no-progress"]) == 0
    capsys.readouterr()

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(["-c", "config/sample.yaml", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def feed_ids(public: Path, topics: list[str]) -> dict[str, list[str]]:
    """story id -> the topics whose published JSON Feed lists it."""
    found: dict[str, list[str]] = {}
    for topic in topics:
        for item in json.loads((public / f"{topic}.json").read_text(encoding="utf-8"))["items"]:
            found.setdefault(item["id"], []).append(topic)
    return found


def post_of(tmp_path: Path, title: str) -> str:
    """The post file name of the story published with this title (its id is in the JSON Feed)."""
    items = json.loads((tmp_path / "public/everything.json").read_text(encoding="utf-8"))["items"]
    return post_name(next(item["id"] for item in items if item["title"] == title))


SAMPLE_TOPICS = ["ai", "oss-events", "rust", "database", "security", "everything"]


def test_sample_export_is_one_post_per_story_of_the_feeds(sample, tmp_path):
    code, out, _ = sample("export", "hexo", "blog/source/_posts")
    assert code == 0
    folder = tmp_path / "blog/source/_posts"
    expected = feed_ids(tmp_path / "public", SAMPLE_TOPICS)
    assert set(posts(folder)) == {post_name(story_id) for story_id in expected}
    assert out.strip() == (
        f"exported {len(expected)} stories to blog/source/_posts as hexo posts: "
        f"{len(expected)} written, 0 unchanged, 0 removed"
    )
    for story_id, topics in expected.items():
        _, data = front_matter(folder / post_name(story_id))
        assert data["topics"] == topics  # a story in several topics is one post listing them all
        assert data["comments"] is False and data["title"] and data["sources"]
        # marked (Hexo's Markdown) passes the body on as one raw HTML block, untouched.
        body = body_of(folder / post_name(story_id))
        assert [t.type for t in MarkdownIt("commonmark").parse(body)] == ["html_block"]
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == "hexo" and set(manifest["posts"]) == set(posts(folder))


def test_seed_post_has_the_seed_front_matter_key_by_key(sample, tmp_path):
    """The seed article (the first item of the bundled OSChina sample) exported as a Hexo post has
    the seed's keys in the seed's order with the seed's value styles, then our own keys."""
    assert sample("export", "hexo", "posts")[0] == 0
    [post] = [p for p in posts(tmp_path / "posts").values() if front_matter(p)[1]["title"] == SEED_TITLE]
    seed_lines = SEED_FRONT_MATTER.read_text(encoding="utf-8").strip("\n").split("\n")
    assert seed_lines[0] == seed_lines[-1] == "---"
    seed, exported = blocks(seed_lines[1:-1]), blocks(front_matter(post)[0])
    assert list(exported)[: len(seed)] == list(seed)  # same keys, same order, first
    for key, lines in seed.items():
        assert exported[key] == lines, key  # byte for byte: quotes, list layout, date format
    assert list(exported)[len(seed) :] == ["updated", "tags", "topics", "link", "sources"]
    data = front_matter(post)[1]
    assert data["link"] == "https://www.oschina.net/news/149058"
    assert data["tags"] == ["AI 人工智能", "开源活动 / Open-source events", "数据库 / Databases", "全部"]
    # Solidot carried the same story through a URL variant: both sources are listed.
    assert [s["title"] for s in data["sources"]] == ["开源中国", "Solidot"]
    body = body_of(post)
    assert "<p>2016年，百度PaddlePaddle作为国产深度学习框架开源的先行者" in body


def test_hugo_export_has_iso_dates_and_a_markdown_body(sample, tmp_path):
    assert sample("export", "hugo", "content/news", "--topic", "ai")[0] == 0
    [post] = [
        p for p in posts(tmp_path / "content/news").values() if front_matter(p)[1]["title"] == SEED_TITLE
    ]
    lines, data = front_matter(post)
    assert "date: 2021-07-05T23:58:00Z" in lines and "lastmod: 2021-07-05T23:58:00Z" in lines
    assert data["topics"] == ["ai"] and data["tags"] == ["AI 人工智能"]
    body = body_of(post)
    assert "<p>" not in body and "- 开发便捷提升效率" in body
    assert "![](https://oscimg.oschina.net/oscnet/up-2e007b852c41ac7858c6b9f47d0179d3fd0.png)" in body
    for path in posts(tmp_path / "content/news").values():  # nothing goldmark would omit by default
        tokens = MarkdownIt("commonmark").parse(body_of(path))
        kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
        assert not kinds & {"html_block", "html_inline"}, path


def test_second_export_rewrites_nothing(sample, tmp_path):
    assert sample("export", "hexo", "posts")[0] == 0
    before = snapshot(tmp_path / "posts")
    code, out, _ = sample("export", "hexo", "posts")
    assert code == 0 and f"0 written, {len(before) - 1} unchanged, 0 removed" in out
    assert snapshot(tmp_path / "posts") == before  # same inodes and mtimes, manifest included


def test_topic_option_limits_the_export(sample, tmp_path):
    assert sample("export", "hexo", "posts", "--topic", "rust", "--topic", "database")[0] == 0
    expected = feed_ids(tmp_path / "public", ["rust", "database"])
    assert set(posts(tmp_path / "posts")) == {post_name(i) for i in expected}
    assert len(expected) < len(feed_ids(tmp_path / "public", SAMPLE_TOPICS))
    for story_id, topics in expected.items():
        assert front_matter(tmp_path / "posts" / post_name(story_id))[1]["topics"] == topics
    # Narrowing the export later deletes what is no longer chosen.
    code, out, _ = sample("export", "hexo", "posts", "--topic", "rust")
    assert code == 0 and set(posts(tmp_path / "posts")) == {
        post_name(i) for i in feed_ids(tmp_path / "public", ["rust"])
    }
    assert f"{len(expected) - len(posts(tmp_path / 'posts'))} removed" in out


def test_unknown_topic_is_refused(sample, tmp_path):
    code, _, err = sample("export", "hugo", "out", "--topic", "nope")
    assert code == 2 and "unknown topic nope" in err and "ai" in err
    assert not (tmp_path / "out").exists()


# -- a feed that changes ------------------------------------------------------------------------


def news_feed(*items: tuple[str, str, str]) -> str:
    """RSS with (guid, title, pubDate day) items."""
    entries = "".join(
        f"<item><guid>https://news.example.com/{guid}</guid><title>{title}</title>"
        f"<link>https://news.example.com/{guid}</link><pubDate>{day} Jul 2021 08:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;{title} 正文&lt;/p&gt;</description></item>"
        for guid, title, day in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>n</title>{entries}</channel></rss>'


def write_config(tmp_path: Path, url: str, static_site: str = "", max_items: int = 50) -> Path:
    config = tmp_path / "aggregator.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            database: {tmp_path / "db.sqlite"}
            output:
              dir: {tmp_path / "public"}
              max_items: {max_items}
            """
        )
        + textwrap.indent(static_site, "  ")
        + textwrap.dedent(
            f"""\
            sources:
              - {{id: news, title: News, url: '{url}'}}
            topics:
              ai: {{title: AI, any: [AI]}}
              everything: {{title: Everything}}
            """
        ),
        encoding="utf-8",
    )
    return config


def test_changed_story_rewrites_only_its_post_and_leaving_stories_are_deleted(
    tmp_path, feed_server: FeedServer, capsys
):
    feed_server.serve(
        "/news", news_feed(("a", "AI one", "01"), ("b", "AI two", "02"), ("c", "AI three", "03"))
    )
    config = write_config(tmp_path, feed_server.url("/news"), max_items=3)
    blog = tmp_path / "blog"
    export = ["-c", str(config), "export", "hexo", str(blog)]
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0 and main(export) == 0
    foreign = {"my-own-post.md": "---\ntitle: mine\n---\n", "0123456789abcdef.md": "not ours either\n"}
    for name, text in foreign.items():
        (blog / name).write_text(text, encoding="utf-8")
    first = snapshot(blog)
    one, two, three = (post_of(tmp_path, title) for title in ("AI one", "AI two", "AI three"))
    assert {one, two, three} <= set(first)

    # An edited title: the same file (named after the story, not its title), rewritten alone.
    feed_server.serve(
        "/news", news_feed(("a", "AI one", "01"), ("b", "AI two: 更新", "02"), ("c", "AI three", "03"))
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(export) == 0
    assert "1 written, 2 unchanged, 0 removed" in capsys.readouterr().out
    second = snapshot(blog)
    assert front_matter(blog / two)[1]["title"] == "AI two: 更新"
    assert second[two] != first[two]
    assert {n: v for n, v in second.items() if n not in (two, MANIFEST)} == {
        n: v for n, v in first.items() if n not in (two, MANIFEST)
    }

    # A fourth story pushes the oldest out of every 3-story feed: its post goes, nothing else.
    feed_server.serve(
        "/news",
        news_feed(
            ("a", "AI one", "01"),
            ("b", "AI two: 更新", "02"),
            ("c", "AI three", "03"),
            ("d", "AI four", "04"),
        ),
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(export) == 0
    assert "1 written, 2 unchanged, 1 removed" in capsys.readouterr().out
    assert not (blog / one).exists()
    for name, text in foreign.items():  # the user's files stay, even one named like a post
        assert (blog / name).read_text(encoding="utf-8") == text


def test_a_tampered_manifest_cannot_delete_other_files(tmp_path, feed_server: FeedServer, capsys):
    feed_server.serve("/news", news_feed(("a", "AI one", "01")))
    config = write_config(tmp_path, feed_server.url("/news"))
    blog = tmp_path / "blog"
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    (blog / "sub").mkdir(parents=True)
    (tmp_path / "outside.md").write_text("x", encoding="utf-8")
    (blog / "mine.md").write_text("x", encoding="utf-8")
    names = ["mine.md", "../outside.md", "sub", "/etc/passwd", "fedcba9876543210.md\n"]
    (blog / MANIFEST).write_text(json.dumps({"posts": names}), encoding="utf-8")
    assert main(["-c", str(config), "export", "hugo", str(blog)]) == 0
    assert "0 removed" in capsys.readouterr().out
    assert (blog / "mine.md").exists() and (tmp_path / "outside.md").exists() and (blog / "sub").is_dir()
    (blog / MANIFEST).write_text("{not json", encoding="utf-8")
    assert main(["-c", str(config), "export", "hugo", str(blog)]) == 0  # unreadable: claims nothing
    assert json.loads((blog / MANIFEST).read_text(encoding="utf-8"))["posts"] == [post_of(tmp_path, "AI one")]


# -- output.static_site -------------------------------------------------------------------------


SITES = """\
static_site:
  - format: hexo
    dir: {blog}
  - {{format: hugo, dir: '{hugo}', topics: [ai]}}
"""


def test_publish_and_poll_keep_the_configured_sites_current(tmp_path, feed_server: FeedServer, capsys):
    blog, hugo = tmp_path / "hexo/source/_posts", tmp_path / "hugo/content/news"
    feed_server.serve("/news", news_feed(("a", "AI one", "01"), ("b", "other", "02")))
    config = write_config(tmp_path, feed_server.url("/news"), SITES.format(blog=blog, hugo=hugo))

    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"exported 2 stories to {blog} as hexo posts: 2 written" in out
    assert f"exported 1 story to {hugo} as hugo posts: 1 written" in out
    assert set(posts(hugo)) == {post_of(tmp_path, "AI one")}

    # Nothing new: the poll exports nothing and touches nothing.
    before = snapshot(blog), snapshot(hugo)
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert "exported" not in capsys.readouterr().out
    assert (snapshot(blog), snapshot(hugo)) == before

    # A new story: the next poll brings it to the blog.
    feed_server.serve(
        "/news", news_feed(("a", "AI one", "01"), ("b", "other", "02"), ("c", "AI three", "03"))
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"exported 3 stories to {blog} as hexo posts: 1 written, 2 unchanged, 0 removed" in out
    assert f"exported 2 stories to {hugo} as hugo posts: 1 written, 1 unchanged, 0 removed" in out

    # `publish` regenerates everything, and a post deleted by hand comes back.
    (blog / post_of(tmp_path, "other")).unlink()
    assert main(["-c", str(config), "publish"]) == 0
    out = capsys.readouterr().out
    assert f"exported 3 stories to {blog} as hexo posts: 1 written, 2 unchanged, 0 removed" in out
    assert f"exported 2 stories to {hugo} as hugo posts: 0 written, 2 unchanged, 0 removed" in out


def test_a_new_site_is_exported_by_the_next_poll_even_without_news(tmp_path, feed_server: FeedServer, capsys):
    feed_server.serve("/news", news_feed(("a", "AI one", "01")))
    config = write_config(tmp_path, feed_server.url("/news"))
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    blog = tmp_path / "blog"
    config = write_config(
        tmp_path, feed_server.url("/news"), f"static_site: [{{format: hexo, dir: '{blog}'}}]\n"
    )
    capsys.readouterr()
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert "1 written" in capsys.readouterr().out and len(posts(blog)) == 1


def test_daemon_keeps_the_blog_current(tmp_path, feed_server: FeedServer, daemons):  # noqa: F811
    blog = tmp_path / "blog"

    class BlogDaemon(Daemon):
        def write_config(self, sources: dict[str, str]) -> None:
            super().write_config(sources)
            text = self.config.read_text(encoding="utf-8")
            site = f"static_site: [{{format: hexo, dir: '{blog}'}}], "
            self.config.write_text(text.replace("output: {", "output: {" + site, 1), encoding="utf-8")

    feed_server.serve("/feed", rss("AI one"))
    daemon = BlogDaemon(tmp_path, {"news": feed_server.url("/feed")}).start()
    daemons.append(daemon)
    wait_for(lambda: len(posts(blog)) == 1, what="the first post")
    feed_server.serve("/feed", rss("AI two", "AI one"))
    wait_for(lambda: len(posts(blog)) == 2, what="the second post")
    titles = sorted(front_matter(path)[1]["title"] for path in posts(blog).values())
    assert titles == ["AI one", "AI two"]
    assert daemon.stop() == 0


@pytest.mark.parametrize(
    ("static_site", "line", "key", "words"),
    [
        ("static_site: {format: hexo}\n", 5, "output.static_site", "expected a list"),
        ("static_site:\n  - {format: jekyll, dir: b}\n", 6, "output.static_site[0].format", "hexo, hugo"),
        ("static_site:\n  - {format: hexo}\n", 6, "output.static_site[0]", "missing required key 'dir'"),
        (
            "static_site:\n  - {format: hexo, dir: b, topic: [ai]}\n",
            6,
            "output.static_site[0].topic",
            "did you mean 'topics'",
        ),
        (
            "static_site:\n  - format: hexo\n    dir: b\n    topics: [ai, nope]\n",
            8,
            "output.static_site[0].topics[1]",
            "unknown topic 'nope'",
        ),
        (
            "static_site:\n  - {format: hexo, dir: b, topics: []}\n",
            6,
            "output.static_site[0].topics",
            "exports nothing",
        ),
        (
            "static_site:\n  - {format: hexo, dir: b}\n  - {format: hugo, dir: b}\n",
            7,
            "output.static_site[1].dir",
            "line 6",
        ),
        ("static_site:\n  -\n", 6, "output.static_site[0]", "empty static site entry"),
    ],
)
def test_config_errors_are_located(tmp_path, capsys, static_site, line, key, words):
    config = write_config(tmp_path, "https://news.example.com/feed", static_site)
    assert main(["-c", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"{config}:{line}: {key}: " in err and words in err, err


def test_the_commented_example_in_the_default_config_is_valid(tmp_path, monkeypatch):
    """Uncommenting `static_site:` in config/aggregator.yaml gives a config that loads."""
    lines = (ROOT / "config/aggregator.yaml").read_text(encoding="utf-8").split("\n")
    start = lines.index(next(line for line in lines if line.startswith("  # static_site:")))
    end = start + 1
    while lines[end].startswith("  #   "):
        end += 1
    lines[start:end] = [line.replace("# ", "", 1) for line in lines[start:end]]
    (tmp_path / "config").mkdir()
    (tmp_path / "config/aggregator.yaml").write_text("\n".join(lines), encoding="utf-8")
    shutil.copytree(ROOT / "config/samples", tmp_path / "config/samples")
    monkeypatch.chdir(tmp_path)
    from aggregator import config as config_module

    [site] = config_module.load("config/aggregator.yaml").output.static_site
    assert site.format == "hexo" and site.topics == ("ai",)
