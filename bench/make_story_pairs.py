"""Write tests/fixtures/stories/pairs.jsonl, the evaluation set for near-duplicate stories.

    python bench/make_story_pairs.py

Every article of story_articles.py is reposted the way news travels between sites: a 【转载】
tag or " | 开源中国" on the title, a copyright or "原文链接" line, full-width or half-width
punctuation, paragraphs re-flowed, trimmed or reordered, the summary alone, a rewritten title.
Pairs of an original and a repost, or of two reposts, are the same story. Pairs of different
articles, of members of one templated series (story_articles.NEAR_MISSES) and of an article and
a hard negative (another story naming the same release) are not; near-misses are also paired
through a repost, so stripping a repost's edits cannot merge them.

Each line: {"id", "lang", "kind", "same", "a": {"title", "text"}, "b": {"title", "text"}},
with text as the plain text the normalizer gives (one paragraph per line). The output is
deterministic: the same script writes the same file.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from story_articles import ALT_TITLES, ARTICLES, HARD_NEGATIVES, NEAR_MISSES

OUT = Path(__file__).parent.parent / "tests" / "fixtures" / "stories" / "pairs.jsonl"

PREFIXES = {
    "zh": ["【转载】", "[转]", "转载：", "【原创】", "（转）"],
    "en": ["[Repost] ", "Repost: ", "[Reprint] "],
}
SUFFIXES = {
    "zh": [
        " | 开源中国",
        " - 开源中国",
        "｜InfoQ",
        "_网易科技",
        " - OSCHINA - 中文开源技术交流社区",
        " | 51CTO",
    ],
    "en": [" | LWN.net", " - The Register", " | Linux Today", " – Phoronix", " | opensource.com"],
}
FOOTERS = {
    "zh": [
        "本文转载自开源中国，版权归原作者所有，如有侵权请联系删除。",
        "原文链接：https://www.oschina.net/news/{n}",
        "声明：本文为转载，仅代表作者观点，不代表本站立场。",
        "责任编辑：李明",
        "（文章来源：开源中国）",
        "版权所有 © 2021 开源技术前沿，保留所有权利。",
        "关注公众号“开源技术前沿”，获取更多资讯。",
        "推荐阅读：开源软件供应链安全的十个问题",
    ],
    "en": [
        "Copyright © 2021 The Linux Foundation. All rights reserved.",
        "This article originally appeared on the project's blog.",
        "Source: LWN.net",
        "Read the original article at https://example.com/news/{n}",
        "Reprinted with permission from opensource.com.",
        "Follow us on Twitter for more open source news.",
    ],
}
HEADERS = {
    "zh": ["作者：开源中国 来源：OSCHINA", "来源：开源中国社区", "本文来自开源中国，作者：局长"],
    "en": ["Via: Hacker News", "Originally published by the project team"],
}

# Edits applied to a repost, in order; cycled through so that every kind appears.
RECIPES = [
    ("affix", "footer"),
    ("punct", "reflow", "footer"),
    ("trim", "affix"),
    ("summary",),
    ("reorder", "header", "footer"),
    ("summary", "affix"),
    ("trim", "punct", "affix", "footer"),
    ("typo", "affix", "header"),
    ("truncate", "affix"),
]

_TO_FULL = {",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "!": "！", "?": "？"}
_TO_HALF = {v: k + " " for k, v in _TO_FULL.items()} | {"。": ". ", "、": ", "}


def repost(article: dict, recipe: tuple[str, ...], rng: random.Random) -> dict:
    """The article as another site republishes it, after the edits of `recipe`."""
    lang = article["lang"]
    title = article["title"]
    paras = list(article["paras"])
    for edit in recipe:
        if edit == "affix":
            if rng.random() < 0.5:
                title = rng.choice(PREFIXES[lang]) + title
            else:
                title = title + rng.choice(SUFFIXES[lang])
        elif edit == "retitle":
            title = ALT_TITLES.get(article["id"], title)
        elif edit == "footer":
            paras.append(rng.choice(FOOTERS[lang]).format(n=rng.randrange(140000, 160000)))
        elif edit == "header":
            paras.insert(0, rng.choice(HEADERS[lang]))
        elif edit == "punct":
            paras = [_punctuation(p, lang) for p in paras]
            title = _punctuation(title, lang)
        elif edit == "reflow":
            paras = ["".join(paras) if lang == "zh" else " ".join(paras)]
        elif edit == "trim" and len(paras) > 2:
            del paras[rng.choice([len(paras) - 1, len(paras) // 2])]
        elif edit == "reorder" and len(paras) > 2:
            i = rng.randrange(len(paras) - 1)
            paras[i], paras[i + 1] = paras[i + 1], paras[i]
        elif edit == "summary":
            paras = paras[:1]
        elif edit == "truncate":
            first = paras[0]
            paras = [first[: max(60, len(first) * 2 // 3)] + ("……" if lang == "zh" else "...")]
        elif edit == "typo":
            paras = [_typo(p, rng) for p in paras]
    return {"title": title, "text": "\n".join(paras)}


def _punctuation(text: str, lang: str) -> str:
    """Chinese sites swap half-width and full-width punctuation; English ones curl quotes."""
    if lang == "en":
        return text.replace("'", "’").replace(" - ", " — ")
    if "，" in text:
        return re.sub("[，：；（）！？。、]", lambda m: _TO_HALF[m[0]], text).strip()
    return re.sub(r"[,:;()!?]", lambda m: _TO_FULL[m[0]], text)


def _typo(text: str, rng: random.Random) -> str:
    """An editor's touch: a few characters dropped or doubled."""
    chars = list(text)
    for _ in range(max(1, len(chars) // 150)):
        i = rng.randrange(len(chars))
        if rng.random() < 0.5:
            del chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


def plain(article: dict) -> dict:
    return {"title": article["title"], "text": "\n".join(article["paras"])}


def pairs() -> list[dict]:
    rng = random.Random(20210706)
    out: list[dict] = []

    def add(kind: str, lang: str, same: bool, a: dict, b: dict, name: str) -> None:
        out.append(
            {"id": f"{len(out) + 1:03d}-{name}", "lang": lang, "kind": kind, "same": same, "a": a, "b": b}
        )

    # Same story: an original and a repost, another repost, and the two reposts.
    turn = 0
    for article in ARTICLES:
        recipes = []
        while len(recipes) < 2:
            recipe = RECIPES[turn % len(RECIPES)]
            turn += 1
            if "retitle" not in recipe:
                recipes.append(recipe)
        if article["id"] in ALT_TITLES:  # every rewritten title is used once
            recipes[1] = ("retitle", "footer") if turn % 2 else ("retitle", "punct", "trim", "footer")
        first, second = (repost(article, recipe, rng) for recipe in recipes)
        lang = article["lang"]
        add("+".join(recipes[0]), lang, True, plain(article), first, article["id"])
        add("+".join(recipes[1]), lang, True, plain(article), second, article["id"])
        add("repost-vs-repost", lang, True, first, second, article["id"])

    # Near-misses: members of one series, as published and through a repost.
    for series in NEAR_MISSES:
        members = series["members"]
        index_pairs = [(i, i + 1) for i in range(len(members) - 1)]
        if len(members) > 2:
            index_pairs.append((0, len(members) - 1))
        for i, j in index_pairs:
            a, b = members[i], {**members[j], "id": series["id"], "lang": series["lang"]}
            name = f"{series['id']}-{i}-{j}"
            add(series["kind"], series["lang"], False, plain(a), plain(b), name)
            edited = repost(b, RECIPES[(i + j) % 3], rng)
            add(series["kind"] + "+repost", series["lang"], False, plain(a), edited, name)

    # Hard negatives: another story about the same release or incident.
    by_id = {article["id"]: article for article in ARTICLES}
    for article_id, other in HARD_NEGATIVES:
        article = by_id[article_id]
        lang = article["lang"]
        add("same-subject", lang, False, plain(article), plain(other), article_id)
        edited = repost({**other, "id": "", "lang": lang}, ("affix", "footer"), rng)
        add("same-subject+repost", lang, False, plain(article), edited, article_id)

    # Unrelated stories in one language, one side reposted (its edits must not make them alike).
    for lang in ("zh", "en"):
        group = [a for a in ARTICLES if a["lang"] == lang]
        for _ in range(24 if lang == "zh" else 16):
            a, b = rng.sample(group, 2)
            edited = repost(b, RECIPES[rng.randrange(len(RECIPES))], rng)
            add("different", lang, False, plain(a), edited, f"{a['id']}-{b['id']}")
    return out


def main() -> None:
    rows = pairs()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as file:
        for row in rows:
            file.write(json.dumps(row, ensure_ascii=False) + "\n")
    same = sum(row["same"] for row in rows)
    print(f"wrote {len(rows)} pairs ({same} same story, {len(rows) - same} not) to {OUT}")


if __name__ == "__main__":
    main()
