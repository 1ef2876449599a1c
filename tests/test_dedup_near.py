"""Near-duplicate rules, table-driven: what a repost's edits are undone to, which title numbers
keep templated posts apart, and the MinHash and band pieces the store's index relies on."""

from __future__ import annotations

import time

import pytest

from aggregator.dedup import minhash, near
from aggregator.dedup.text import clean_body, clean_title, title_numbers, tokens

# (title as a site wrote it, title once its repost wrapping is removed)
TITLES = [
    ("【转载】Rust 1.54 发布", "rust 1.54 发布"),
    ("[转] Rust 1.54 发布", "rust 1.54 发布"),
    ("（转载）Rust 1.54 发布", "rust 1.54 发布"),
    ("转载：Rust 1.54 发布", "rust 1.54 发布"),
    ("原创 | Rust 1.54 发布", "rust 1.54 发布"),
    ("Rust 1.54 发布 | 开源中国", "rust 1.54 发布"),
    ("Rust 1.54 发布｜开源中国", "rust 1.54 发布"),
    ("Rust 1.54 发布 - OSCHINA - 中文开源技术交流社区", "rust 1.54 发布"),
    ("Rust 1.54 发布_网易科技", "rust 1.54 发布"),
    ("每日一博 | Rust 1.54 发布", "rust 1.54 发布"),
    ("Ｒｕｓｔ　１．５４ 发布", "rust 1.54 发布"),  # full-width letters, digits and space
    ("Fedora 34 released | LWN.net", "fedora 34 released"),
    ("[Repost] Fedora 34 released – Phoronix", "fedora 34 released"),
    ("GNOME 41 released | 51CTO", "gnome 41 released"),  # digits inside a site name: still a suffix
    # Kept: a number standing alone is content, not a site name; a tag with digits is content too.
    ("Rust 1.54 发布 - 性能提升 30%", "rust 1.54 发布 - 性能提升 30%"),
    ("【第 100 期】开源周刊", "【第 100 期】开源周刊"),
    ("Linux 5.14 | 36氪", "linux 5.14 | 36氪"),
]


@pytest.mark.parametrize(("title", "cleaned"), TITLES, ids=[t for t, _ in TITLES])
def test_clean_title(title, cleaned):
    assert clean_title(title) == cleaned


# (title, the numbers it names)
NUMBERS = [
    ("Rust 1.54 发布", {"1.54"}),
    ("Rust 1.54.0 发布", {"1.54"}),  # trailing .0 does not count
    ("Linux 5.14-rc2 发布", {"5.14", "rc2"}),
    ("Linux 5.14 RC 2", {"5.14", "rc2"}),
    ("Python 3.10.0rc1 is available", {"3.10", "rc1"}),
    ("开源周刊第 100 期", {"100"}),
    ("开源周刊第一百零一期", {"101"}),
    ("开源周刊第十二期", {"12"}),
    ("第 01 期", {"1"}),
    ("飞桨开源 5 年，汇聚 320 万开发者", {"5", "320"}),
    ("华为发布鸿蒙操作系统", set()),
]


@pytest.mark.parametrize(("title", "numbers"), NUMBERS, ids=[t for t, _ in NUMBERS])
def test_title_numbers(title, numbers):
    assert title_numbers(clean_title(title)) == numbers


# (numbers of one title, of another, whether they say different stories)
CONFLICTS = [
    ({"1.54"}, {"1.54"}, False),
    ({"1.54"}, {"1.55"}, True),  # consecutive releases
    ({"100"}, {"101"}, True),  # numbered digests
    ({"5.14", "rc1"}, {"5.14", "rc2"}, True),  # release candidates
    ({"5.14", "rc2"}, {"5.14"}, True),  # a candidate and the release
    ({"5.13"}, {"5.14"}, True),
    ({"4"}, {"4", "2040"}, False),  # a rewritten title that adds a number
    (set(), {"86"}, False),
    ({"5", "320"}, {"320", "2016"}, True),
]


@pytest.mark.parametrize(("a", "b", "conflict"), CONFLICTS)
def test_numbers_conflict(a, b, conflict):
    assert near.numbers_conflict(frozenset(a), frozenset(b)) is conflict
    assert near.numbers_conflict(frozenset(b), frozenset(a)) is conflict


def test_clean_body_drops_short_source_and_copyright_lines_only():
    text = "\n".join(
        [
            "作者：局长 来源：开源中国",
            "Rust 团队发布了 Rust 1.54 稳定版。",
            "本文转载自开源中国，版权归原作者所有，如有侵权请联系删除。",
            "原文链接：https://www.oschina.net/news/149100",
            "Copyright © 2021 The Linux Foundation. All rights reserved.",
            "This article originally appeared on the project's blog.",
            "来源" + "：很长的一段正文恰好以来源二字开头，" * 10,  # long: content, kept
        ]
    )
    kept = clean_body(text).split("\n")
    assert kept[0] == "rust 团队发布了 rust 1.54 稳定版。"
    assert len(kept) == 2 and kept[1].startswith("来源:很长的一段正文")


def test_tokens_are_cjk_characters_and_latin_words():
    assert tokens("rust 1.54 发布，node.js 的 it's") == ["rust", "1.54", "发", "布", "node.js", "的", "it's"]


def test_repost_edits_do_not_change_the_fingerprint():
    text = "Rust 团队发布了 Rust 1.54 稳定版, 带来了更快的增量编译 (默认启用)!\n感谢所有贡献者。"
    a = near.fingerprint("Rust 1.54 发布", text)
    reposted = text.replace(",", "，").replace("(", "（").replace(")", "）").replace("!", "！")
    b = near.fingerprint(
        "【转载】Rust 1.54 发布 | 开源中国", reposted + "\n本文转载自开源中国，版权归原作者所有。"
    )
    assert a == b
    assert near.similarity(a, b) == 1.0


def test_a_summary_is_the_story_of_its_full_text_only_under_the_same_title():
    full = "\n".join(
        ["第一段：龙芯中科发布自主指令系统架构 LoongArch，近 2000 条指令。"]
        + [f"第 {i} 段正文，介绍生态适配的进展。" * 3 for i in range(2, 8)]
    )
    summary = full.split("\n")[0]
    assert (
        near.similarity(
            near.fingerprint("龙芯发布 LoongArch", full), near.fingerprint("龙芯发布 LoongArch", summary)
        )
        == 1.0
    )
    other_title = near.fingerprint("龙芯的生态之路", summary)
    assert near.similarity(near.fingerprint("龙芯发布 LoongArch", full), other_title) < 0.6


def test_signature_estimates_jaccard_and_densifies_short_sets():
    a = set(range(0, 3000))
    b = set(range(1000, 4000))  # Jaccard 0.5
    sig_a, sig_b = minhash.signature(a, 128), minhash.signature(b, 128)
    agree = sum(x == y for x, y in zip(sig_a, sig_b, strict=True)) / 128
    assert 0.35 < agree < 0.65
    short = minhash.signature({12345, 67890}, 16)
    assert len(short) == 16 and len(set(short)) >= 2  # every bin filled, from the two values
    assert minhash.signature(set(), 16) == []
    with pytest.raises(ValueError):
        minhash.signature(a, 12)


def test_buckets_are_stable_signed_64_bit_and_separate_views():
    minima = list(range(16))
    assert minhash.buckets(minima, 1, 4) == minhash.buckets(list(minima), 1, 4)
    assert set(minhash.buckets(minima, 1, 4)).isdisjoint(minhash.buckets(minima, 2, 4))
    assert all(-(2**63) <= b < 2**63 for b in minhash.buckets(minima, 1, 4))
    # Known values: a changed hash or band layout would orphan every stored index entry.
    assert minhash.bucket("0:rust\x1f1.54") == -7064228222644874073
    assert near.fingerprint("Rust 1.54 发布", "").buckets == (
        -1737717513140162570,
        -3111226542494040767,
        3979688383630226826,
        5940931679696807777,
        3598758300246033814,
    )


def test_a_huge_entry_is_judged_on_its_beginning_at_a_bounded_cost():
    body = "\n".join(f"第 {i} 段：这是一篇很长的文章中的一个段落，内容各不相同。" for i in range(100_000))
    started = time.perf_counter()
    found = near.fingerprint("标题" * 100_000, body)
    assert time.perf_counter() - started < 1.0
    assert found == near.fingerprint("标题" * 250, body[: near.MAX_BODY_CHARS])
