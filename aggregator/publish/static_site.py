"""Static-site export: the stories of the topic feeds as Hexo or Hugo posts in a blog's folder.

Each story the topic feeds show (`selection.select`, the same choice as the feeds) becomes one
post, `HASH.md`, named after the story id so that a story whose title is edited keeps its file
(and its URL on the blog). A story in several topics is one post listing them all. The front
matter has the keys, order and value styles of a real OSChina article published as a Hexo post
(title, categories, headimg, author, comments, date, thumbnail), then updated/lastmod, tags (the
topics' titles), topics (their ids), link (the original article) and sources (every source that
carried the story, the published one first).

The body differs by generator, because each must render it untouched in a default site:
- Hexo renders `.md` posts with marked, which passes raw HTML through, so the body is the
  stored (nh3-sanitized) HTML. Three things would still read it as markup: Nunjucks, which Hexo
  runs over a post first (`{{`, `{%`, `{#`); its backtick_code_block filter (lines of three
  backticks or tildes, even inside HTML); and Markdown itself, for which raw HTML is one block
  only up to the next blank line (CommonMark 4.6) and after it plain text again, where `*` and
  `[x](y)` make markup. So those characters are written as character references (the same text
  to a browser) and the HTML is wrapped in one <div> with no blank line inside it.
- Hugo omits raw HTML from Markdown by default (goldmark `markup.goldmark.renderer.unsafe` is
  false) and since v0.162.0 refuses to build a site with `.html` content files unless
  `security.allowContent` allows text/html. What renders in a default Hugo site is Markdown, so
  the body is the stored HTML converted to Markdown, every Markdown character of the text
  escaped, and Hugo's shortcode delimiters (`{{<`, `{{%`) left in code made inert.

A folder is shared with the user's own posts: the manifest (MANIFEST, a hidden file Hexo and
Hugo skip) lists the posts this export wrote, and only those are ever deleted, when their story
leaves the selection. Files are replaced atomically and only when their bytes change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from ..config import OutputConfig
from ..config.static_site import StaticSiteConfig
from ..errors import PublishError
from ..models import Story, Topic
from ..store import Store
from ..topics import CompiledTopic
from . import _remove_stale_temporaries, write_atomic
from .feed import PublishedEntry, build_feed
from .frontmatter import document, quoted, records, scalar, sequence
from .selection import select

log = logging.getLogger(__name__)

MANIFEST = ".aggregator-static-site.json"
_POST_NAME = re.compile(r"[0-9a-f]{16}\.md")  # the only names this export writes or deletes

# Hexo: what its template engine and code-block filter would read in a post (see the docstring).
_TEMPLATE_TAG = re.compile(r"\{(?=[{%#])")
_FENCE = re.compile(r"`{3,}|~{3,}")
# Hugo: a shortcode call, or what is left of one, in the Markdown (only code can still hold it).
_SHORTCODE = re.compile(r"\{\{([<%])(.*?)([>%])\}\}|\{\{(?=[<%])", re.DOTALL)
# html_to_markdown's ConversionOptions; the library is imported by _hugo_body, so that only a Hugo
# export loads it, not every publish (see aggregator/cli).
_MARKDOWN = {
    "escape_misc": True,  # text stays text: \< \[ \# \- ... are escaped, so no tag, link or heading appears
    "escape_asterisks": True,
    "escape_underscores": True,
    "newline_style": "backslash",  # <br> as "\" + newline: trailing spaces get lost in editors
    "extract_metadata": False,
}


@dataclass
class ExportReport:
    """What one export did to one folder."""

    dir: Path
    format: str
    stories: int = 0
    written: list[str] = field(default_factory=list)  # post file names created or rewritten
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)  # posts of stories that left the selection

    def summary(self) -> str:
        return (
            f"exported {self.stories} {'story' if self.stories == 1 else 'stories'} to {self.dir} "
            f"as {self.format} posts: "
            f"{len(self.written)} written, {self.unchanged} unchanged, {len(self.removed)} removed"
        )


@dataclass
class _Post:
    entry: PublishedEntry
    story: Story
    topics: list[Topic]


def export(
    store: Store,
    topics: list[CompiledTopic],
    sites: tuple[StaticSiteConfig, ...],
    max_items: int,
    processes: int | None = None,
) -> list[ExportReport]:
    """Bring each site's folder in line with what the topic feeds show now.

    `max_items` is output.max_items, the cap of every feed; a site with `topics` takes only
    those topics' stories. One selection serves every site (select(): `processes` for a build).
    """
    chosen = select(store, topics, max_items, processes=processes)
    reports = []
    for site in sites:
        picked = [t.topic for t in topics if not site.topics or t.topic.id in site.topics]
        posts = build_posts(site.format, picked, chosen, max_items)
        report = _sync(Path(site.dir), site.format, posts)
        if report.written or report.removed:
            log.info(
                "static site %s: %d written, %d removed",
                site.dir,
                len(report.written),
                len(report.removed),
                extra={"dir": str(site.dir), "files_written": len(report.written)},
            )
        reports.append(report)
    return reports


def export_after_publish(
    store: Store,
    topics: list[CompiledTopic],
    output: OutputConfig,
    changed: Collection[str] | None,
    processes: int | None = None,
) -> list[ExportReport]:
    """The publish hook of `output.static_site`: export again after a publish that may have changed
    something. `changed` is what the publish was given: None (everything), or the changed story
    ids; with none, only a site folder that has no manifest yet (a new site) needs an export.

    Call it before the changed ids are marked published, so that a failed export is tried again.
    `processes` is PublishSettings.processes: a publish that found nothing to do selected nothing,
    so the selection here may be the one that builds a topic's membership.
    """
    sites = output.static_site
    if not sites:
        return []
    if changed is not None and not changed and all((Path(s.dir) / MANIFEST).exists() for s in sites):
        return []
    return export(store, topics, sites, output.max_items, processes)


def build_posts(
    site_format: str, topics: list[Topic], chosen: dict[str, list[Story]], max_items: int
) -> dict[str, bytes]:
    """File name -> bytes of every post: the stories `chosen` (select()'s answer) for `topics`."""
    posts: dict[str, _Post] = {}
    for topic in topics:
        stories = chosen.get(topic.id, [])
        by_id = {story.id: story for story in stories}
        # build_feed decides, once for every output, the title, link, dates and carriers of an entry.
        for entry in build_feed(topic, stories, base_url="", site_title="", max_items=max_items).entries:
            posts.setdefault(entry.id, _Post(entry, by_id[entry.id], [])).topics.append(topic)
    return {
        post_name(story_id): render_post(site_format, post.entry, post.story.item.content_html, post.topics)
        for story_id, post in posts.items()
    }


def post_name(story_id: str) -> str:
    """The story's file name: stable for the story's life, whatever its title becomes."""
    return hashlib.sha256(story_id.encode("utf-8")).hexdigest()[:16] + ".md"


def render_post(site_format: str, entry: PublishedEntry, content_html: str, topics: list[Topic]) -> bytes:
    """One post: YAML front matter in the seed's shape, then the body for `site_format`."""
    hexo = site_format == "hexo"
    date = _rfc1123 if hexo else _iso8601  # as the seed Hexo post; Hugo wants ISO 8601
    lines = [f"title: {quoted(entry.title)}", *sequence("categories", entry.categories)]
    if entry.thumbnail:
        lines.append(f"headimg: {quoted(entry.thumbnail)}")
    lines.append(f"author: {scalar(entry.author or entry.source.title)}")
    lines.append("comments: false")
    lines.append(f"date: {date(entry.published)}")
    if entry.thumbnail:
        lines.append(f"thumbnail: {quoted(entry.thumbnail)}")
    lines.append(f"{'updated' if hexo else 'lastmod'}: {date(entry.updated)}")
    lines += sequence("tags", [topic.title.strip() or topic.id for topic in topics])
    lines += sequence("topics", [topic.id for topic in topics])
    if entry.link:
        lines.append(f"link: {quoted(entry.link)}")
    carriers = [{"title": ref.title, **({"link": ref.link} if ref.link else {})} for ref in entry.sources]
    lines += records("sources", carriers)
    return document(lines, _hexo_body(content_html) if hexo else _hugo_body(content_html))


def _hexo_body(html: str) -> str:
    html = _TEMPLATE_TAG.sub("&#123;", html.strip())
    html = _FENCE.sub(lambda match: "".join(f"&#{ord(ch)};" for ch in match.group()), html)
    # No blank line may end the HTML block: a whitespace-only line's newline becomes &#10;, which
    # joins it to the next line and is still that newline to the browser (inside <pre> too).
    lines = html.split("\n")
    joined = "".join(
        line + ("" if n == len(lines) - 1 else "&#10;" if not line.strip() else "\n")
        for n, line in enumerate(lines)
    )
    return f"<div>\n{joined}\n</div>\n"


def _hugo_body(html: str) -> str:
    import html_to_markdown

    try:
        options = html_to_markdown.ConversionOptions(**_MARKDOWN)  # some microseconds
        markdown = html_to_markdown.convert(html, options).content
    except html_to_markdown.ConversionError as error:
        raise PublishError(f"cannot convert a story's HTML to Markdown: {error}") from error
    # A complete shortcode in code gets Hugo's own escape, {{</* x */>}}, which renders as written;
    # a lone delimiter is split by a zero-width space.
    markdown = _SHORTCODE.sub(lambda m: f"{{{{{m[1]}/*{m[2]}*/{m[3]}}}}}" if m[1] else "{\u200b{", markdown)
    return markdown.strip() + "\n"


def _rfc1123(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _iso8601(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the folder ------------------------------------------------------------------------------------


def _sync(directory: Path, site_format: str, posts: dict[str, bytes]) -> ExportReport:
    """Write `posts` into `directory`, delete the posts of an earlier export that are not among
    them, and keep the manifest. The manifest first grows to hold every name about to be
    written, so a crash at any point never leaves a post of ours that the manifest does not list.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublishError(f"cannot create {directory}: {error.strerror or error}") from error
    report = ExportReport(directory, site_format, stories=len(posts))
    previous = _read_manifest(directory)
    _remove_stale_temporaries(directory, [MANIFEST, *posts])
    if set(posts) - previous:
        write_atomic(directory / MANIFEST, _manifest(site_format, previous | set(posts)))
    for name, data in sorted(posts.items()):
        if write_atomic(directory / name, data):
            report.written.append(name)
        else:
            report.unchanged += 1
    for name in sorted(previous - set(posts)):
        try:
            (directory / name).unlink()
        except FileNotFoundError:
            continue  # the user deleted it already
        except OSError as error:
            raise PublishError(f"cannot remove {directory / name}: {error.strerror or error}") from error
        report.removed.append(name)
    write_atomic(directory / MANIFEST, _manifest(site_format, set(posts)))
    return report


def _manifest(site_format: str, names: set[str]) -> bytes:
    document = {
        "about": "Posts written by feed-aggregator's static-site export. They are rewritten and "
        "deleted as the topic feeds change; every other file in this folder is left alone.",
        "format": site_format,
        "posts": sorted(names),
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _read_manifest(directory: Path) -> set[str]:
    """The posts an earlier export wrote here. A manifest that cannot be read claims nothing (the
    old posts then stay, never a user's file is lost); a name that is not a post name is ignored,
    so an edited manifest cannot make the export delete anything else."""
    path = directory / MANIFEST
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["posts"]
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring the unreadable manifest %s: %s", path, error)
        return set()
    if not isinstance(names, list):
        log.warning("ignoring the manifest %s: its posts are not a list", path)
        return set()
    return {name for name in names if isinstance(name, str) and _POST_NAME.fullmatch(name)}
