"""Plain text as HTML, for bodies a feed marks as text (Atom type="text", JSON Feed content_text).

RawItem content is always HTML, so text must be escaped before it gets there: "a <b> tag" in a
text body is five words, not markup.
"""

from __future__ import annotations

import re
from html import escape

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def text_to_html(text: str) -> str:
    """Escape `text`; blank lines separate <p> paragraphs and single newlines become <br>."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = (part.strip() for part in _PARAGRAPH_BREAK.split(text))
    return "".join(
        f"<p>{escape(part, quote=False).replace(chr(10), '<br>')}</p>" for part in paragraphs if part
    )
