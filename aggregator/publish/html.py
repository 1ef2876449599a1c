"""index.html: the page people read and subscribe from.

Plain HTML5 (https://html.spec.whatwg.org/), no JavaScript, readable on a phone. Every topic feed
is announced in <head> with <link rel="alternate"> so readers discover it from the page address
(https://www.rssboard.org/rss-autodiscovery). Every text is escaped: titles are plain text.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from aggregator.publish.feed import FORMATS, PublishedEntry, PublishedFeed

LATEST_ENTRIES = 5  # shown per topic

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 0 1rem; color: #222; }
a { color: #0645ad; }
section { border-top: 1px solid #ddd; padding: .5rem 0 1rem; }
h2 { margin: .5rem 0 .25rem; font-size: 1.3rem; }
.meta, .subscribe, .entry small { color: #555; font-size: .9rem; margin: .25rem 0; }
ol { list-style: none; padding: 0; margin: .5rem 0 0; }
li { display: flex; gap: .75rem; align-items: flex-start; padding: .4rem 0; }
li img { width: 96px; height: 64px; object-fit: cover; flex: none; border-radius: 4px; background: #eee; }
.entry { display: flex; flex-direction: column; min-width: 0; overflow-wrap: anywhere; }
"""


def render(feeds: list[PublishedFeed], *, site_title: str, base_url: str) -> bytes:
    """The index page listing every topic (UTF-8)."""
    title = escape(site_title)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Several image hosts (OSChina's among them) refuse hotlinked thumbnails that send a Referer.
        '<meta name="referrer" content="no-referrer">',
        f"<title>{title}</title>",
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
        f'<p>Subscribe to a topic in any feed reader, or import them all: <a href="{escape(base_url)}topics.opml"'
        ' type="text/x-opml">topics.opml</a></p>',
        "</header>",
        "<main>",
    ]
    for feed in feeds:
        lines += _topic(feed)
    lines += ["</main>", "</body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")


def _topic(feed: PublishedFeed) -> list[str]:
    count = len(feed.entries)
    lines = [
        f'<section id="topic-{escape(feed.topic_id)}">',
        f"<h2>{escape(feed.title)}</h2>",
        f"<p>{escape(feed.description)}</p>",
    ]
    if feed.entries:
        lines.append(
            f'<p class="meta">{count} {"story" if count == 1 else "stories"} · updated {_time(feed.updated)}</p>'
        )
    else:
        lines.append('<p class="meta">No stories yet.</p>')
    subscribe = " · ".join(
        f'<a href="{escape(feed.url(fmt))}" type="{fmt.media_type}">{fmt.name}</a>' for fmt in FORMATS
    )
    lines.append(f'<p class="subscribe">Subscribe: {subscribe}</p>')
    if feed.entries:
        lines.append("<ol>")
        lines += [_entry(entry) for entry in feed.entries[:LATEST_ENTRIES]]
        lines.append("</ol>")
    lines.append("</section>")
    return lines


def _entry(entry: PublishedEntry) -> str:
    image = f'<img src="{escape(entry.thumbnail)}" alt="" loading="lazy">' if entry.thumbnail else ""
    title = escape(entry.title)
    if entry.link:
        title = f'<a href="{escape(entry.link)}">{title}</a>'
    return (
        f'<li>{image}<div class="entry">{title}'
        f"<small>{escape(entry.source.title)} · {_time(entry.published)}</small></div></li>"
    )


def _time(moment: datetime) -> str:
    return f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M} UTC</time>'
