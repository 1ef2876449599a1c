"""Choose an item's thumbnail.

Order, first usable wins: media:thumbnail, an image media:content, an image enclosure,
itunes:image, then the first real image of the (sanitized) content. "Real" skips data: URIs,
1x1 or 0-sized trackers and obvious placeholders (blank.gif, spacer.gif, "placeholder", known
tracking pixels); lazy-loading placeholders are already replaced by the real URL when the
content is sanitized. Every candidate is made absolute and must be http(s).
"""

from __future__ import annotations

import re
from html import unescape
from itertools import chain

from aggregator.models import RawItem
from aggregator.normalize.html import IMG_TAG, TAG_ATTRIBUTE
from aggregator.normalize.urls import absolute_url, is_web_url
from aggregator.parse.urls import url_path
from aggregator.parse.xmlfeed import IMAGE_EXTENSIONS

_PLACEHOLDER = re.compile(
    r"blank\.gif|spacer\.gif|pixel\.gif|transparent\.(?:gif|png)|placeholder|\b1x1\b"
    r"|feeds\.feedburner\.com/~r/|pixel\.wp\.com|stats\.wordpress\.com",
    re.IGNORECASE,
)


def choose_thumbnail(raw: RawItem, content_html: str, base: str | None) -> str | None:
    """The item's thumbnail URL, absolute, or None. `content_html` is the sanitized content."""
    enclosed_images = (url for url, mime_type in raw.enclosures if is_image(url, mime_type))
    for candidate in chain(raw.media_thumbnails, raw.media_images, enclosed_images, [raw.itunes_image]):
        url = absolute_url(candidate, base)
        if url and is_web_url(url):
            return url
    return first_content_image(content_html)


def is_image(url: str, mime_type: str | None) -> bool:
    """Whether an enclosure is an image: by type, or by file name when untyped."""
    mime_type = (mime_type or "").lower()
    if mime_type.startswith("image/"):
        return True
    untyped = mime_type in ("", "application/octet-stream")
    return untyped and url_path(url).lower().endswith(IMAGE_EXTENSIONS)


def first_content_image(html: str) -> str | None:
    """The src of the first <img> in sanitized HTML that is not a tracker or placeholder."""
    if "<img" not in html:
        return None
    for tag in IMG_TAG.finditer(html):
        attributes = {name: unescape(value) for name, value in TAG_ATTRIBUTE.findall(tag.group(0))}
        src = attributes.get("src", "").strip()
        if not is_web_url(src) or _PLACEHOLDER.search(src):
            continue
        if attributes.get("width", "").strip() in ("0", "1") or attributes.get("height", "").strip() in (
            "0",
            "1",
        ):
            continue
        return src
    return None
