"""The synthetic world: N sources of M tech-news items each, as deterministic feed documents.

Source `s` at version `v` lists items k = v .. v+M-1, newest (highest k) first. Changing a source
bumps its version: one new item appears on top and the oldest drops out, while every other item
stays byte-identical, as on a real news site. An item's words depend only on (s, k), so the
benchmark process and the server process build the same bytes from the same `epoch`.

Sources mix the shapes seen in the wild: three in five are Chinese, the rest English; four in five
are RSS 2.0 (full article HTML in <description>, or a short description plus <content:encoded>),
one in five Atom 1.0. Articles are 3-6 KB of HTML with paragraphs, headings, lists, images (some
lazy-loaded), links (some relative, some with tracking parameters) and inline emphasis. About 5%
of the items a source starts with (and of its history, k < 0) link to a story another source also
carries, through URL variants (http/https, utm_source), so the store's cross-source dedup has work
to do. An item added by a change always has its own link: each change is one new story, which the
daemon latency looks for by that link.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from xml.sax.saxutils import escape, quoteattr

import vocabulary as v

_TAG = re.compile(r"<[^>]*>")
STEP = 600  # seconds between two consecutive items of one source
SHARED_STORY_SHARE = 0.05

_FILLERS = {
    "company": lambda r: r.choice(v.COMPANIES_ZH + v.COMPANIES_EN[:10]),
    "company_en": lambda r: r.choice(v.COMPANIES_EN),
    "product": lambda r: r.choice(v.PRODUCTS),
    "version": lambda r: f"{r.randint(1, 19)}.{r.randint(0, 12)}",
    "feature_zh": lambda r: r.choice(v.FEATURES_ZH),
    "feature_en": lambda r: r.choice(v.FEATURES_EN),
    "area_zh": lambda r: r.choice(v.AREAS_ZH),
    "area_en": lambda r: r.choice(v.AREAS_EN),
    "percent": lambda r: r.randint(5, 300),
    "small_percent": lambda r: r.randint(5, 60),
    "count": lambda r: r.randint(12, 980),
    "count2": lambda r: r.randint(2, 60),
    "month": lambda r: r.randint(1, 12),
    "month_name": lambda r: r.choice(v.MONTH_NAMES),
    "day": lambda r: r.randint(1, 28),
    "year": lambda r: r.randint(2021, 2025),
    "cve": lambda r: r.randint(1000, 49999),
    "category_zh": lambda r: r.choice(v.CATEGORIES_ZH),
    "person_zh": lambda r: r.choice(v.PEOPLE_ZH),
    "person_en": lambda r: r.choice(v.PEOPLE_EN),
    "title_zh": lambda r: r.choice(v.TITLES_ZH),
    "title_en": lambda r: r.choice(v.TITLES_EN),
    "event_zh": lambda r: r.choice(v.EVENTS_ZH),
    "event_en": lambda r: r.choice(v.EVENTS_EN),
    "city_zh": lambda r: r.choice(v.CITIES_ZH),
    "city_en": lambda r: r.choice(v.CITIES_EN),
    "security_zh": lambda r: r.choice(v.SECURITY_ZH),
    "security_en": lambda r: r.choice(v.SECURITY_EN),
}


# Slots an article keeps to a few values of, so that it is about something: two products, one
# company, one event... (the others take a fresh value each time).
_FOCUSED = {
    "company": 2,
    "company_en": 1,
    "product": 2,
    "person_zh": 1,
    "person_en": 1,
    "event_zh": 1,
    "event_en": 1,
    "city_zh": 1,
    "city_en": 1,
    "security_zh": 1,
    "security_en": 1,
}
TEMPLATES_PER_ARTICLE = 4
HIRING_SHARE = 0.03


class _Slots(dict):
    """Fills a template's {slots} lazily: focused slots from the article's few values, others fresh."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.focus: dict[str, list[object]] = {}

    def __missing__(self, key: str) -> object:
        count = _FOCUSED.get(key)
        if count is None:
            return _FILLERS[key](self.rng)
        values = self.focus.get(key)
        if values is None:
            values = self.focus[key] = [_FILLERS[key](self.rng) for _ in range(count)]
        return self.rng.choice(values)


class _Writer:
    """Writes the sentences of one article: a few templates, about a few things."""

    def __init__(self, rng: random.Random, zh: bool) -> None:
        self.rng = rng
        self.slots = _Slots(rng)
        self.templates = rng.sample(v.SENTENCES_ZH if zh else v.SENTENCES_EN, TEMPLATES_PER_ARTICLE)

    def sentence(self) -> str:
        return self.rng.choice(self.templates).format_map(self.slots)


@dataclass(frozen=True)
class Article:
    """One item as a source publishes it."""

    title: str
    link: str
    guid: str
    permalink: bool
    author: str
    categories: tuple[str, ...]
    html: str
    thumbnail: str | None
    published: float


def is_chinese(source: int) -> bool:
    return source % 5 < 3


def is_atom(source: int) -> bool:
    return source % 5 == 4


def starting_epoch(items: int, now: float) -> float:
    """An epoch that dates every initial item in the past, the newest one STEP seconds ago or more."""
    return now - (items + 1) * STEP


def feed_path(source: int) -> str:
    """The URL path of a source's feed on the world's server."""
    return f"/feeds/{source}.{'atom' if is_atom(source) else 'xml'}"


def source_title(source: int) -> str:
    return f"科技资讯 {source}" if is_chinese(source) else f"Tech Daily {source}"


@dataclass
class World:
    """Every source's current version, and the documents they serve."""

    sources: int
    items: int
    epoch: float  # when item 0 of every source appeared; see starting_epoch()
    versions: list[int] = field(init=False)
    born: dict[tuple[int, int], float] = field(default_factory=dict)  # items added by change()
    changed_at: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.versions = [0] * self.sources
        self.changed_at = [self.epoch] * self.sources

    def etag(self, source: int) -> str:
        return f'"{source}-{self.versions[source]}"'

    def change(self, sources: list[int], now: float) -> None:
        """Publish one new item on each of `sources`, dated `now` (so it is the newest anywhere)."""
        for s in sources:
            self.versions[s] += 1
            self.born[(s, self.versions[s] + self.items - 1)] = now
            self.changed_at[s] = now

    def newest_link(self, source: int) -> str:
        return self.article(source, self.versions[source] + self.items - 1).link

    def article(self, source: int, k: int) -> Article:
        """Item k of a source: its words depend only on (source, k). k < 0 is older than item 0."""
        rng = random.Random(f"{source}/{k}")
        zh = is_chinese(source)
        writer = _Writer(rng, zh)
        title = writer.sentence().rstrip("。.")
        html, first_image = _article_html(writer, zh, rng.randint(3000, 6000))
        link = f"https://site{source}.example.com/news/{k}.html"
        if rng.random() < SHARED_STORY_SHARE and k < self.items:
            scheme = rng.choice(("https", "http"))
            tracking = rng.choice(("", "?utm_source=rss&utm_medium=feed"))
            link = f"{scheme}://www.oschina.net/news/{k * 16 + source % 16}{tracking}"
        permalink = rng.random() < 0.5
        return Article(
            title=title,
            link=link,
            guid=link if permalink else f"site{source}-{k}",
            permalink=permalink,
            author=rng.choice(v.AUTHORS),
            categories=tuple(rng.sample(v.CATEGORIES_ZH if zh else v.CATEGORIES_EN, rng.randint(1, 3))),
            html=html,
            thumbnail=first_image if rng.random() < 0.5 else None,
            published=self.born.get((source, k), self.epoch + k * STEP + source % STEP),
        )

    def document(self, source: int) -> bytes:
        """The source's feed document at its current version, UTF-8."""
        first = self.versions[source]
        articles = [self.article(source, k) for k in reversed(range(first, first + self.items))]
        if is_atom(source):
            return _atom(source, articles, self.changed_at[source])
        return _rss(source, articles, self.changed_at[source])


def _image(rng: random.Random) -> str:
    return f"https://oscimg.oschina.net/oscnet/up-{rng.getrandbits(96):024x}.png"


def _article_html(writer: _Writer, zh: bool, size: int) -> tuple[str, str | None]:
    """About `size` bytes of article HTML, and the URL of its first image."""
    rng = writer.rng
    parts = ['<div class="content">\n']
    first_image = None
    total = 0
    while total < size:
        roll = rng.random()
        if roll < 0.1:
            url = _image(rng)
            first_image = first_image or url
            if rng.random() < 0.3:
                block = f'<p><img data-src="{url}" src="/img/loading.gif" alt="" referrerpolicy="no-referrer"></p>'
            else:
                block = f'<p><img alt src="{url}" referrerpolicy="no-referrer"></p>'
        elif roll < 0.18:
            items = "".join(f"\n <li>{escape(writer.sentence())}</li>" for _ in range(rng.randint(2, 4)))
            block = f"<ul>{items}\n</ul>"
        elif roll < 0.24:
            block = f"<h2>{rng.choice(v.HEADINGS_ZH if zh else v.HEADINGS_EN)}</h2>"
        elif roll < 0.27:
            block = "<hr>"
        else:
            sentences = [escape(writer.sentence()) for _ in range(rng.randint(2, 4))]
            decoration = rng.random()
            if decoration < 0.15:
                sentences[-1] = f'<span style="color:#27ae60"><strong>{sentences[-1]}</strong></span>'
            elif decoration < 0.3:
                href = rng.choice(
                    (
                        f"/news/{rng.randint(1, 99999)}",
                        f"https://github.com/example/repo{rng.randint(1, 999)}",
                    )
                )
                sentences[0] = f"<a href={quoteattr(href)}>{sentences[0]}</a>"
            block = f"<p>{''.join(sentences) if zh else ' '.join(sentences)}</p>"
        parts.append(block + " \n")
        total += len(block.encode("utf-8")) + 2
    if rng.random() < HIRING_SHARE:
        parts.append(
            f"<p>{escape(rng.choice(v.HIRING_ZH if zh else v.HIRING_EN).format_map(writer.slots))}</p>\n"
        )
    parts.append("</div>")
    return "".join(parts), first_image


def _rss(source: int, articles: list[Article], updated: float) -> bytes:
    zh = is_chinese(source)
    full_content = source % 2 == 0  # the other half: a short description plus content:encoded
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f"<channel>\n<title>{source_title(source)}</title>\n"
        f"<link>https://site{source}.example.com/</link>\n"
        f"<description>{source_title(source)} - {'最新科技资讯' if zh else 'latest tech news'}</description>\n"
        f"<language>{'zh-CN' if zh else 'en'}</language>\n"
        f"<lastBuildDate>{formatdate(updated, usegmt=True)}</lastBuildDate>\n"
    ]
    for a in articles:
        guid = f'<guid isPermaLink="{"true" if a.permalink else "false"}">{escape(a.guid)}</guid>'
        categories = "".join(f"<category>{escape(c)}</category>" for c in a.categories)
        thumbnail = f'<media:thumbnail url="{a.thumbnail}"/>' if a.thumbnail else ""
        if full_content:
            body = f"<description><![CDATA[{a.html}]]></description>"
        else:
            summary = escape(_TAG.sub("", a.html).strip()[:120])
            body = f"<description>{summary}</description>\n<content:encoded><![CDATA[{a.html}]]></content:encoded>"
        out.append(
            f"<item>\n<title>{escape(a.title)}</title>\n<link>{escape(a.link)}</link>\n{guid}\n"
            f"<pubDate>{formatdate(a.published, usegmt=True)}</pubDate>\n"
            f"<dc:creator>{escape(a.author)}</dc:creator>\n{categories}{thumbnail}\n{body}\n</item>\n"
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode("utf-8")


def _rfc3339(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _atom(source: int, articles: list[Article], updated: float) -> bytes:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">\n'
        f"<title>{source_title(source)}</title>\n<id>tag:site{source}.example.com,2024:feed</id>\n"
        f'<link rel="alternate" href="https://site{source}.example.com/"/>\n'
        f"<updated>{_rfc3339(updated)}</updated>\n"
    ]
    for a in articles:
        categories = "".join(f"<category term={quoteattr(c)}/>" for c in a.categories)
        thumbnail = f'<media:thumbnail url="{a.thumbnail}"/>' if a.thumbnail else ""
        out.append(
            f"<entry>\n<title>{escape(a.title)}</title>\n<id>tag:site{source}.example.com,2024:news/"
            f'{escape(a.guid)}</id>\n<link rel="alternate" href={quoteattr(a.link)}/>\n'
            f"<published>{_rfc3339(a.published)}</published>\n<updated>{_rfc3339(a.published)}</updated>\n"
            f"<author><name>{escape(a.author)}</name></author>\n{categories}{thumbnail}\n"
            f'<content type="html">{escape(a.html)}</content>\n</entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out).encode("utf-8")
