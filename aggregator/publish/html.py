"""index.html: the page people read and subscribe from.

Plain HTML5 (https://html.spec.whatwg.org/) and CSS, no JavaScript: every topic with its
description, story count, last update and subscribe buttons, then its latest entries. Each topic
feed is also announced in <head> with <link rel="alternate"> so a reader given the page address
finds the feeds itself (https://www.rssboard.org/rss-autodiscovery).

The page must read well on a 375 px phone as on a desktop: one column at most 48rem wide, text
that wraps anywhere (long URLs and unbroken CJK runs included), fixed-size thumbnails, and
subscribe buttons at least 44 px tall, the touch-target size WCAG 2.5.5 asks for. Light and dark
colours follow the reader's system setting (prefers-color-scheme).

Every text is escaped: titles and descriptions are plain text. Like every output the page is
deterministic (no clock, fixed order), so an unchanged site is not rewritten.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from urllib.parse import quote

from aggregator.publish.feed import FORMATS, PublishedEntry, PublishedFeed

LATEST_ENTRIES = 5  # shown per topic
OPML_NAME = "topics.opml"
THUMB_WIDTH, THUMB_HEIGHT = 96, 64  # CSS pixels; the image is cropped to fill the box

_STYLE = """
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --link: #0a58ca; --line: #d8dee4;
  --card: #f6f8fa; --button: #eef3fc; --button-border: #b6c8ec; --thumb: #e6e9ed;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9aa5b1; --link: #7cb1ff; --line: #30363d;
    --card: #161b22; --button: #172238; --button-border: #2f4a78; --thumb: #21262d;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0 auto; max-width: 48rem; padding: 0 1rem 2rem;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei",
    "Noto Sans CJK SC", sans-serif;
  color: var(--fg); background: var(--bg); overflow-wrap: anywhere;
}
a { color: var(--link); }
a:focus-visible { outline: 2px solid var(--link); outline-offset: 2px; }
header { padding: 1.25rem 0 .5rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .5rem; }
h2 { font-size: 1.3rem; line-height: 1.3; margin: 0 0 .25rem; }
h2 a { color: inherit; text-decoration: none; }
p { margin: .25rem 0; }
.muted, .meta, .entry small { color: var(--muted); }
.meta, .entry small { font-size: .875rem; }
nav ul { list-style: none; margin: .75rem 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
nav a {
  display: inline-flex; align-items: center; min-height: 44px; padding: .25rem .9rem;
  border: 1px solid var(--line); border-radius: 22px; background: var(--card); text-decoration: none;
}
nav a span { color: var(--muted); margin-left: .4rem; font-size: .875rem; }
section { border-top: 1px solid var(--line); padding: 1.25rem 0 .75rem; }
.subscribe { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }
.button {
  display: inline-flex; align-items: center; justify-content: center; min-height: 44px; min-width: 44px;
  padding: .4rem 1rem; border: 1px solid var(--button-border); border-radius: 8px;
  background: var(--button); font-weight: 600; text-decoration: none;
}
.entries { list-style: none; margin: 0; padding: 0; }
.entries li { display: flex; gap: .75rem; align-items: flex-start; padding: .6rem 0; }
.entries li + li { border-top: 1px dashed var(--line); }
.entries img, .thumb {
  flex: none; width: 96px; height: 64px; max-width: 30%; object-fit: cover;
  border-radius: 6px; background: var(--thumb);
}
.thumb { display: grid; place-items: center; color: var(--muted); font-size: 1.5rem; font-weight: 600; }
.entry { display: flex; flex-direction: column; min-width: 0; }
.entry a { font-weight: 500; text-decoration: none; }
.entry a:hover { text-decoration: underline; }
footer { border-top: 1px solid var(--line); margin-top: 1rem; padding-top: 1rem; font-size: .875rem; }
@media (max-width: 30rem) {
  body { padding: 0 .75rem 1.5rem; }
  h1 { font-size: 1.35rem; }
  .entries img, .thumb { width: 72px; height: 48px; font-size: 1.25rem; }
}
"""

# The page runs no script and loads nothing but its thumbnails: the policy says so, so that even a
# title that slipped through escaping could not run code. The inline style is allowed by its hash.
_CSP = "; ".join(
    [
        "default-src 'none'",
        "img-src http: https: data:",
        f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)
# A feed icon inline, so browsers do not ask the server for /favicon.ico (a 404 in every log).
_ICON = "data:image/svg+xml," + quote(
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
    "<rect width='16' height='16' rx='3' fill='#e8772e'/><circle cx='4.5' cy='11.5' r='1.6' fill='#fff'/>"
    "<path d='M3 7.2a5.8 5.8 0 0 1 5.8 5.8M3 3a10 10 0 0 1 10 10' stroke='#fff' stroke-width='2'"
    " fill='none'/></svg>",
    safe=" '=/:.",
)


def render(feeds: list[PublishedFeed], *, site_title: str, base_url: str) -> bytes:
    """The index page listing every topic (UTF-8)."""
    title = escape(site_title)
    opml_url = escape(base_url + OPML_NAME)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        # Several image hosts (OSChina's among them) refuse hotlinked thumbnails that send a Referer;
        # each <img> also says so, for browsers that ignore the page-wide policy.
        '<meta name="referrer" content="no-referrer">',
        f"<title>{title}</title>",
        f'<link rel="icon" type="image/svg+xml" href="{_ICON}">',
    ]
    for feed in feeds:
        for fmt in FORMATS:
            lines.append(
                f'<link rel="alternate" type="{fmt.media_type}" href="{escape(feed.url(fmt))}"'
                f' title="{escape(f"{feed.title} ({fmt.name})")}">'
            )
    lines += [
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{title}</h1>",
        '<p class="muted">Subscribe to a topic in any feed reader with its RSS, Atom or JSON Feed link,'
        " or import every topic at once:</p>",
        f'<p class="subscribe"><a class="button" href="{opml_url}" type="text/x-opml">'
        f"All topics ({OPML_NAME})</a></p>",
    ]
    if len(feeds) > 1:
        lines += _contents(feeds)
    lines += ["</header>", "<main>"]
    for feed in feeds:
        lines += _topic(feed)
    lines += [
        "</main>",
        "<footer>",
        f'<p class="muted">{len(feeds)} {_plural(len(feeds), "topic")} · '
        f'<a href="{opml_url}" type="text/x-opml">{OPML_NAME}</a> (OPML, every topic feed)</p>',
        "</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _contents(feeds: list[PublishedFeed]) -> list[str]:
    links = [
        f'<li><a href="#{_anchor(feed)}">{escape(feed.title)}<span>{len(feed.entries)}</span></a></li>'
        for feed in feeds
    ]
    return ['<nav aria-label="Topics">', "<ul>", *links, "</ul>", "</nav>"]


def _topic(feed: PublishedFeed) -> list[str]:
    count = len(feed.entries)
    anchor = _anchor(feed)
    lines = [
        f'<section id="{anchor}" aria-labelledby="{anchor}-title">',
        f'<h2 id="{anchor}-title"><a href="#{anchor}">{escape(feed.title)}</a></h2>',
        f"<p>{escape(feed.description)}</p>",
    ]
    if feed.entries:
        lines.append(
            f'<p class="meta">{count} {_plural(count, "story", "stories")} · updated {_time(feed.updated)}</p>'
        )
    else:
        lines.append('<p class="meta">No stories yet.</p>')
    buttons = "".join(
        f'<a class="button" href="{escape(feed.url(fmt))}" type="{fmt.media_type}"'
        f' title="{escape(f"{feed.title}: {fmt.name}")}">{fmt.name}</a>'
        for fmt in FORMATS
    )
    lines.append(f'<p class="subscribe">{buttons}</p>')
    if feed.entries:
        lines.append('<ol class="entries">')
        lines += [_entry(entry) for entry in feed.entries[:LATEST_ENTRIES]]
        lines.append("</ol>")
    lines.append("</section>")
    return lines


def _entry(entry: PublishedEntry) -> str:
    if entry.thumbnail:
        image = (
            f'<img src="{escape(entry.thumbnail)}" alt="" width="{THUMB_WIDTH}" height="{THUMB_HEIGHT}"'
            ' loading="lazy" decoding="async" referrerpolicy="no-referrer">'
        )
    else:  # the source's initial in the thumbnail's place keeps the titles in one column
        image = f'<span class="thumb" aria-hidden="true">{escape(entry.source.title[:1])}</span>'
    title = escape(entry.title)
    if entry.link:
        title = f'<a href="{escape(entry.link)}">{title}</a>'
    return (
        f'<li>{image}<div class="entry">{title}'
        f"<small>{escape(entry.source.title)} · {_time(entry.published)}</small></div></li>"
    )


def _anchor(feed: PublishedFeed) -> str:
    # Topic ids are letters, digits, ".", "_" and "-" (config.py), so they are valid fragment ids.
    return f"topic-{escape(feed.topic_id)}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else many or one + "s"


def _time(moment: datetime) -> str:
    return f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M} UTC</time>'
