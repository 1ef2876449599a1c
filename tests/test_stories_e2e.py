"""End to end: three loopback sources carry one story under three URLs with a repost's usual edits,
and a near-miss (the next release, same template); every published topic feed lists each story once
and names the other sources that carried it."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser

from aggregator.cli import main

PARAGRAPHS = [
    "Rust 团队发布了 Rust {v} 稳定版。Rust 是一门赋予每个人构建可靠且高效软件能力的编程语言。",
    "如果你已经通过 rustup 安装了旧版本的 Rust，可以通过运行 rustup update stable 命令升级到 Rust {v}。"
    "如果你还没有安装 rustup，可以从官网的安装页面获取。",
    "{highlights}",
    "完整的变更内容请查阅 Rust、Cargo 和 Clippy 的详细发布说明。感谢所有为 Rust {v} 作出贡献的开发者，"
    "没有大家的共同努力，就没有这个版本。",
]
HIGHLIGHTS = {
    "1.54": "本次更新的亮点包括：属性中现在可以调用类似函数的宏，例如使用 include_str 将 README 作为文档注释；"
    "wasm32 平台新增了一批 target_feature 内联函数；增量编译在修复了已知问题后重新默认启用。",
    "1.55": "本次更新的亮点包括：Cargo 会对编译器输出中重复的错误进行去重；浮点数解析改用 Eisel-Lemire 算法，"
    "速度更快也更准确；std::io::ErrorKind 的未分类错误有了新的变体；范围模式现在支持开区间。",
}


def paragraphs(version: str) -> list[str]:
    return [p.format(v=version, highlights=HIGHLIGHTS[version]) for p in PARAGRAPHS]


def html(paras: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paras)


def rss(title: str, *items: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.com/</link><description>news</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def rss_item(guid: str, title: str, link: str, body: str, date: str) -> str:
    return (
        f"<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>"
        f"<description><![CDATA[{body}]]></description><pubDate>{date}</pubDate></item>"
    )


OSCHINA = rss(
    "开源中国-综合资讯",
    rss_item(
        "https://www.oschina.net/news/149100",
        "Rust 1.54 发布",
        "https://www.oschina.net/news/149100",
        html(paragraphs("1.54")),
        "Thu, 29 Jul 2021 08:00:00 GMT",
    ),
    rss_item(
        "https://www.oschina.net/news/149058",
        "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
        "https://www.oschina.net/news/149058",
        "<p>2016年，百度 PaddlePaddle 作为国产深度学习框架开源的先行者，正式对外开放。截至今年 5 月，飞桨已凝聚 320 万开发者。</p>",
        "Thu, 29 Jul 2021 06:00:00 GMT",
    ),
)
# A repost: tagged title with the site's name, full-width punctuation, a copyright line, its own URL.
REPOSTED = [p.replace(",", "，").replace(":", "：") for p in paragraphs("1.54")]
MIRROR = rss(
    "Tech Mirror",
    rss_item(
        "mirror-20210729-0042",
        "【转载】Rust 1.54 发布 | 开源中国",
        "https://mirror.example.com/2021/07/29/rust-154.html",
        html([*REPOSTED, "本文转载自开源中国，版权归原作者所有，如有侵权请联系删除。"]),
        "Thu, 29 Jul 2021 10:30:00 GMT",
    ),
)
# A digest that carries only the first paragraph, and the next release: a near-miss, same template.
DIGEST = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Dev Digest</title><id>urn:digest</id><updated>2021-09-09T12:00:00Z</updated>
  <entry>
    <id>urn:digest:rust-154</id><title>Rust 1.54 发布</title>
    <link href="https://digest.example.org/rust-1-54"/>
    <updated>2021-07-29T09:15:00Z</updated>
    <summary type="html">{html(paragraphs("1.54")[:1]).replace("<", "&lt;")}</summary>
  </entry>
  <entry>
    <id>urn:digest:rust-155</id><title>Rust 1.55 发布</title>
    <link href="https://digest.example.org/rust-1-55"/>
    <updated>2021-07-30T09:15:00Z</updated>
    <content type="html">{html(paragraphs("1.55")).replace("<", "&lt;")}</content>
  </entry>
</feed>"""


def write_config(tmp_path: Path, sources: dict[str, str]) -> Path:
    lines = [
        f"database: {tmp_path / 'data' / 'test.db'}",
        "output:",
        f"  dir: {tmp_path / 'public'}",
        "  base_url: http://127.0.0.1:8080/",
        "polling:",
        "  timeout: 5s",
        "stories:",
        "  window: 3d",
        "  threshold: 0.6",
        "sources:",
    ]
    for source_id, url in sources.items():
        lines += [f"  - id: {source_id}", f"    title: Source {source_id}", f"    url: {url}"]
    lines += ["topics:", "  rust:", "    title: Rust", "    any: [Rust]", "  everything:", "    title: 全部"]
    path = tmp_path / "aggregator.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_each_story_is_published_once_with_every_source_that_carried_it(tmp_path, feed_server, capsys):
    config = write_config(
        tmp_path,
        {
            "oschina": feed_server.serve("/oschina", OSCHINA),
            "mirror": feed_server.serve("/mirror", MIRROR),
            "digest": feed_server.serve("/digest", DIGEST, "application/atom+xml"),
        },
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert "items: 5 new" in capsys.readouterr().out
    public = tmp_path / "public"
    expected = {
        "rust": ["Rust 1.55 发布", "Rust 1.54 发布"],
        "everything": [
            "Rust 1.55 发布",
            "Rust 1.54 发布",
            "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
        ],
    }
    for topic, titles in expected.items():
        for suffix in (".xml", ".atom"):
            entries = feedparser.parse((public / f"{topic}{suffix}").read_bytes()).entries
            assert [e.title for e in entries] == titles, (topic, suffix)
            assert len({e.id for e in entries}) == len(entries)
        feed = json.loads((public / f"{topic}.json").read_text(encoding="utf-8"))
        assert [item["title"] for item in feed["items"]] == titles

    feed = json.loads((public / "rust.json").read_text(encoding="utf-8"))
    story = next(item for item in feed["items"] if item["title"] == "Rust 1.54 发布")
    assert story["url"] == "https://www.oschina.net/news/149100"  # the earliest item is published
    sources = [(s["id"], s["link"]) for s in story["_aggregator"]["sources"]]
    assert sources[0] == ("oschina", "https://www.oschina.net/news/149100")  # the published item's
    assert set(sources[1:]) == {
        ("digest", "https://digest.example.org/rust-1-54"),
        ("mirror", "https://mirror.example.com/2021/07/29/rust-154.html"),
    }
    assert "Also reported by:" in story["content_html"]
    assert 'href="https://mirror.example.com/2021/07/29/rust-154.html"' in story["content_html"]
    near_miss = next(item for item in feed["items"] if item["title"] == "Rust 1.55 发布")
    assert [s["id"] for s in near_miss["_aggregator"]["sources"]] == ["digest"]

    # Polling again stores nothing and rewrites nothing.
    before = {path.name: path.read_bytes() for path in public.iterdir()}
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert "items: 0 new, 0 updated" in capsys.readouterr().out
    assert {path.name: path.read_bytes() for path in public.iterdir()} == before

    # `aggregator stories` lists the story carried by several sources, with its members.
    assert main(["-c", str(config), "stories", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["title"] == "Rust 1.54 发布"
    assert [m["source"] for m in listed["members"]] == ["oschina", "digest", "mirror"]  # by date
    # The sources were polled concurrently: whichever item was stored first began the story.
    scores = sorted((m["similarity"] for m in listed["members"]), key=lambda s: -1 if s is None else s)
    assert scores[0] is None and all(s >= 0.6 for s in scores[1:])
    assert main(["-c", str(config), "stories", "--topic", "rust"]) == 0
    out = capsys.readouterr().out
    assert "Rust 1.54 发布" in out and "Rust 1.55" not in out and "1 multi-source story" in out
    assert main(["-c", str(config), "stories", "--topic", "nope"]) == 2


def test_stories_help_ends_with_an_example(capsys):
    try:
        main(["stories", "--help"])
    except SystemExit as stop:
        assert stop.code == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("Example: aggregator stories")
