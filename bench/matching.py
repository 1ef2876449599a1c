"""What topic matching costs: folding, the Chinese conversion, and matching one story per topic.

    python bench/matching.py

Folds 5 KB of simplified, traditional and English text (NFKC + casefold, then OpenCC t2s), then
matches one 5 KB Chinese story against the sample config's topics plus three queries, with one
PreparedStory shared by every topic (as publish.selection.select does) and without. Prints
medians in microseconds. The text is the seed article (../shared/seeds), repeated.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aggregator import config
from aggregator.folding import fold, simplify
from aggregator.models import Carrier, Item, Story, Topic
from aggregator.topics import PreparedStory, compile_topics

ROOT = Path(__file__).parent.parent
SEED = ROOT.parent / "shared" / "seeds" / "000_815ec370a438c5bf.txt"


def median_us(work: Callable[[], object], runs: int = 300) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def first_bytes(text: str, size: int = 5000) -> str:
    """The longest prefix of `text` that is at most `size` bytes of UTF-8."""
    return text.encode("utf-8")[:size].decode("utf-8", errors="ignore")


def main() -> None:
    import opencc

    seed = SEED.read_text(encoding="utf-8") * 10
    texts = {
        "simplified": first_bytes(seed),
        "traditional": first_bytes(opencc.OpenCC("s2t.json").convert(seed)),
        "english": first_bytes("The quick brown fox jumps over the lazy dog. AI-powered tools. " * 100),
    }
    for name, text in texts.items():
        folded = fold(text)
        print(
            f"{name:12} {len(text.encode()):5} bytes {len(text):5} chars: "
            f"fold {median_us(lambda t=text: fold(t)):6.1f} us, "
            f"t2s {median_us(lambda f=folded: simplify(f)):6.1f} us"
        )

    topics = [
        *config.load(ROOT / "config" / "sample.yaml").topics,
        Topic(id="q-ai", title="q", query='(AI OR 大模型 OR title:"开源 大会") NOT 招聘'),
        Topic(id="q-releases", title="q", query="title:(rust OR go) (发布 OR release) -source:solidot"),
        Topic(id="q-mixed", title="q", query=r"/gpt-?\d/ OR category:人工智能 OR link:github.com"),
    ]
    compiled = compile_topics(topics)
    now = datetime.now(UTC)
    item = Item(
        "oschina", "k", "https://x.example/1", "x.example/1", "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
        "开源中国", now, None, "", texts["simplified"], ("编程", "开源中国", "资讯"), None, "h",
    )  # fmt: skip
    story = Story("s", item, [Carrier("oschina", "开源中国", "https://x.example/rss", item.link)], now)

    def shared() -> None:
        prepared = PreparedStory(story)
        for topic in compiled:
            topic.match(prepared)

    def prepare() -> None:
        PreparedStory(story).folded(True)

    def unshared() -> None:
        for topic in compiled:
            topic.match(story)

    total, prepared = median_us(shared), median_us(prepare)
    print(
        f"{len(compiled)} topics, one 5 KB story: {total:.1f} us with one PreparedStory "
        f"(prepare {prepared:.1f} us, then {(total - prepared) / len(compiled):.1f} us a topic); "
        f"{median_us(unshared):.1f} us folding it for each topic"
    )
    ready = PreparedStory(story)
    ready.folded(True), ready.folded(False)
    for topic in compiled:
        print(f"  {topic.topic.id:12} {median_us(lambda t=topic: t.match(ready)):6.1f} us")


if __name__ == "__main__":
    main()
