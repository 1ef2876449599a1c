"""WebSub discovery: the hub and self (topic) URLs of a document.

Spec: https://www.w3.org/TR/websub/#discovery. A subscriber checks the HTTP Link headers first
(RFC 8288, https://www.rfc-editor.org/rfc/rfc8288#section-3) and only in their absence the links
embedded in the document (Atom <link>, RSS <atom:link>, JSON Feed `hubs` and `feed_url`, which
xmlfeed.py and jsonfeed.py read). Relative references resolve against the document's URL.
"""

from __future__ import annotations

import re

from aggregator.parse.urls import resolve_url

# One link-value: "<" URI-Reference ">" then ";"-separated parameters (RFC 8288 section 3). A
# parameter value is a token or a quoted string, which may hold "," and ";".
_LINK_VALUE = re.compile(r'<([^>]*)>((?:\s*;\s*[^\s;,=]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,]*))?)*)')
_PARAMETER = re.compile(r'\s*;\s*([^\s;,=]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?')


def websub_links(
    link_header: str | None, url: str, document_hubs: tuple[str, ...], document_self: str | None
) -> tuple[tuple[str, ...], str | None]:
    """(hubs, self URL) of a document: from its Link header when that names a hub, else its own.

    `link_header` is the value of the response's Link header field(s), joined with ","; `url`
    is the document's URL.
    """
    hubs: list[str] = []
    selves: list[str] = []
    for target, rels in _links(link_header or ""):
        resolved = resolve_url(url, target)
        if resolved is None:
            continue
        if "hub" in rels:
            hubs.append(resolved)
        if "self" in rels:
            selves.append(resolved)
    if not hubs:
        return document_hubs, document_self
    return tuple(dict.fromkeys(hubs)), selves[0] if selves else document_self


def _links(value: str) -> list[tuple[str, set[str]]]:
    """(target, relation types) of each link-value of a Link field value."""
    found = []
    for match in _LINK_VALUE.finditer(value):
        rels: set[str] = set()
        for name, raw in _PARAMETER.findall(match.group(2)):
            if name.lower() == "rel" and not rels:  # a second rel parameter is ignored (3.3)
                text = raw[1:-1] if raw.startswith('"') else raw
                rels = {rel.lower() for rel in text.split()}
        found.append((match.group(1).strip(), rels))
    return found
