"""Hostile documents: entity expansion, external entities and DTDs, deep nesting, broken encodings,
and documents with 100,000 items.

The first tests prove what the installed feedparser (expat through xml.sax, then its lenient
sgmllib parser) does with external entities and DTDs on its own, without our repairs; the rest go
through parse(), and one end to end through `aggregator poll`, after which the database and every
published file are searched for the contents of local files.
"""

from __future__ import annotations

import io
import json
import logging
import random
import time
import xml.sax
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
from conftest import FeedServer, Response

from aggregator.cli import main
from aggregator.errors import ParseError
from aggregator.fetch import Fetcher
from aggregator.models import Source
from aggregator.normalize import normalize
from aggregator.parse import parse
from aggregator.parse.limits import LENIENT_BYTES
from aggregator.refresh import refresh
from aggregator.store import Store

PASSWD = Path("/etc/passwd")
PASSWD_LINE = PASSWD.read_text().splitlines()[0] if PASSWD.exists() else "root:x:0:0:"
CANARY = "CANARY-7f3a9e-local-file-contents"
SECONDS = 3.0  # CPU seconds no single document may cost to parse (CPU, not wall: CI machines are busy)


@pytest.fixture
def canary(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(CANARY + "\n", encoding="utf-8")
    return path


@pytest.fixture
def dtd_server(feed_server: FeedServer) -> FeedServer:
    """Serves a DTD and an entity that must never be requested."""
    feed_server.routes["/evil.dtd"] = Response(200, b'<!ENTITY remote "REMOTE-DTD-TEXT">', {})
    feed_server.routes["/param.dtd"] = Response(200, b'<!ENTITY remote "REMOTE-DTD-TEXT">', {})
    feed_server.routes["/entity.txt"] = Response(200, b"REMOTE-ENTITY-TEXT", {})
    return feed_server


def external_documents(file_url: str, server: FeedServer) -> dict[str, str]:
    """Documents that try to read `file_url` or fetch from `server`, in the forms parsers differ on."""
    item = (
        "<item><title>x &xxe;</title><description>&xxe;</description><link>https://e.example/1</link></item>"
    )
    rss = f'<rss version="2.0"><channel><title>t &xxe;</title>{item}</channel></rss>'
    dtd = server.url("/evil.dtd")
    return {
        "file-entity-one-line": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{file_url}">]>{rss}',
        "file-entity-own-line": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{file_url}">\n]>\n{rss}',
        "file-entity-public": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe PUBLIC "-//x//y" "{file_url}">\n]>\n{rss}',
        "passwd-entity": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n{rss}',
        "passwd-path-entity": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "/etc/passwd">\n]>\n{rss}',
        "http-entity": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{server.url("/entity.txt")}">\n]>\n{rss}',
        "system-dtd": f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{dtd}">\n{rss.replace("&xxe;", "&remote;")}',
        "system-dtd-one-line": f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd}">{rss.replace("&xxe;", "&remote;")}',
        "public-dtd": f'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Evil//DTD//EN" "{dtd}">\n{rss.replace("&xxe;", "&remote;")}',
        "parameter-entity": (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY % ext SYSTEM "{server.url("/param.dtd")}">\n%ext;\n]>\n'
            + rss.replace("&xxe;", "&remote;")
        ),
        "xinclude": (
            '<?xml version="1.0"?><rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude"><channel>'
            f'<title>t</title><item><title>x</title><description><xi:include href="{file_url}" parse="text"/>'
            "</description><link>https://e.example/1</link></item></channel></rss>"
        ),
    }


def leaked(text: str) -> list[str]:
    return [word for word in (CANARY, PASSWD_LINE, "REMOTE-DTD-TEXT", "REMOTE-ENTITY-TEXT") if word in text]


# -- what the installed feedparser does on its own ---------------------------------------------------


def test_python_sax_parsers_do_not_read_external_entities_by_default():
    assert not xml.sax.make_parser().getFeature(xml.sax.handler.feature_external_ges)


def test_installed_feedparser_reads_no_local_file_and_fetches_no_dtd(canary, dtd_server):
    """feedparser 6 turns feature_external_ges off (api.py) and its lenient parser never resolves
    SYSTEM identifiers: proven here for every form, with our repairs out of the way."""
    for name, document in external_documents(canary.as_uri(), dtd_server).items():
        for data in (
            document.encode(),
            document.encode().replace(b"<?xml", b"junk<?xml", 1),
        ):  # strict, lenient
            result = feedparser.parse(
                io.BytesIO(data),
                response_headers={"content-type": "application/xml; charset=utf-8"},
                sanitize_html=False,
                resolve_relative_uris=False,
            )
            assert leaked(repr(result)) == [], name
    assert [r.path for r in dtd_server.requests] == []


def test_parse_reads_no_local_file_and_fetches_no_dtd(canary, dtd_server):
    for name, document in external_documents(canary.as_uri(), dtd_server).items():
        try:
            feed = parse(document.encode(), {"content-type": "application/rss+xml"}, "https://e.example/feed")
        except ParseError:
            continue
        items = normalize(feed, Source("s", "https://e.example/feed"), now=datetime.now(UTC))
        assert leaked(repr(feed) + repr(items)) == [], name
    assert [r.path for r in dtd_server.requests] == []


# -- entity expansion ---------------------------------------------------------------------------------


def laughs(depth: int = 10, width: int = 10, one_line: bool = True) -> str:
    sep = "" if one_line else "\n"
    entities = ['<!ENTITY l0 "lol">']
    entities += [f'<!ENTITY l{i} "{f"&l{i - 1};" * width}">' for i in range(1, depth)]
    return (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}{sep.join(entities)}{sep}]>{sep}'
        f'<rss version="2.0"><channel><title>t</title><item><title>&l{depth - 1};</title>'
        "<link>https://e.example/1</link></item></channel></rss>"
    )


def quadratic(value: int = 50_000, references: int = 50_000, junk: str = "") -> str:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"x" * value}">\n]>\n{junk}<rss version="2.0">'
        f"<channel><title>t</title><item><title>q</title><description>{'&a;' * references}</description>"
        "<link>https://e.example/1</link></item></channel></rss>"
    )


EXPANSIONS = {
    "billion-laughs-one-line": laughs(),
    "billion-laughs-lines": laughs(one_line=False),
    "billion-laughs-deep": laughs(depth=40, width=2),
    "billion-laughs-parameter": laughs().replace("<!ENTITY l0", '<!ENTITY % p "x"><!ENTITY l0'),
    "quadratic-blowup": quadratic(),
    "quadratic-blowup-junk-before-root": quadratic(junk="junk"),
    "quadratic-blowup-unclosed-subset": quadratic().replace("\n]>\n", "\n>\n"),
    "quadratic-blowup-single-quotes": quadratic().replace('"' + "x" * 50_000 + '"', "'" + "x" * 50_000 + "'"),
}


@pytest.mark.parametrize("name", list(EXPANSIONS))
def test_entity_expansion_is_defused(name):
    """Each of these expands to gigabytes if a parser lets it: feedparser's lenient parser expands
    the "safe" plain entities itself (measured before the fix: 80 s and 7 GB for quadratic-blowup)."""
    started = time.process_time()
    try:
        feed = parse(EXPANSIONS[name].encode(), {}, "https://e.example/feed")
    except ParseError:
        feed = None
    assert time.process_time() - started < SECONDS
    if feed is not None:
        assert sum(len(repr(item)) for item in feed.items) < 1_000_000


def test_plain_entities_within_reason_still_expand():
    feed = parse(quadratic(value=10, references=100).encode(), {}, "https://e.example/feed")
    assert "x" * 1000 in feed.items[0].summary


# -- nesting, encodings --------------------------------------------------------------------------------

DEEP = 50_000


def rss(items: str, title: str = "t") -> str:
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'


NESTED = {
    "elements-in-item": rss("<item><title>deep</title>" + "<a>" * DEEP + "x" + "</a>" * DEEP + "</item>"),
    "elements-in-channel": rss("<x>" * DEEP + "</x>" * DEEP + "<item><title>after</title></item>"),
    "unclosed-elements": rss("<item><title>deep</title>" + "<a>" * DEEP + "x"),
    "escaped-html": rss(
        "<item><title>deep</title><description>" + "&lt;div&gt;" * DEEP + "x</description></item>"
    ),
    "cdata-html": rss(
        "<item><title>deep</title><description><![CDATA[" + "<div>" * DEEP + "x]]></description></item>"
    ),
    "atom-xhtml": (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>deep</title>'
        '<id>urn:x</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        + "<div>" * DEEP
        + "x"
        + "</div>" * DEEP
        + "</div></content></entry></feed>"
    ),
    "json": '{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "x": '
    + "[" * DEEP
    + "]" * DEEP
    + "}]}",
}


@pytest.mark.parametrize("name", list(NESTED))
def test_50000_deep_nesting_ends_quickly(name):
    started = time.process_time()
    try:
        feed = parse(NESTED[name].encode(), {}, "https://e.example/feed")
        items = normalize(feed, Source("s", "https://e.example/feed"), now=datetime.now(UTC))
        # Whatever is kept, the published HTML nests at most 512 deep (normalize.html.MAX_DEPTH).
        assert all(item.content_html.count("<div>") <= 512 for item in items)
    except ParseError as error:
        assert str(error).startswith("parse: not a feed")
    assert time.process_time() - started < SECONDS


INVALID_UTF8 = {
    "stray-bytes": b"\xff\xfe\xfd",
    "overlong": b"\xc0\xaf\xe0\x80\xaf",
    "surrogates": b"\xed\xa0\x80\xed\xbf\xbf",
    "truncated-sequence": b"\xe4\xb8",
    "past-u10ffff": b"\xf4\x90\x80\x80",
    "nul": b"\x00",
}


@pytest.mark.parametrize("name", list(INVALID_UTF8))
def test_invalid_utf8_yields_valid_text(name):
    bad = INVALID_UTF8[name]
    body = rss(f"<item><title>A{'{}'}开源</title><description>B{'{}'}C</description></item>").encode()
    body = body.replace(b"{}", bad)
    feed = parse(body, {"content-type": "application/rss+xml; charset=utf-8"}, "https://e.example/feed")
    (item,) = normalize(feed, Source("s", "https://e.example/feed"), now=datetime.now(UTC))
    for text in (item.title, item.content_html, item.text):
        text.encode("utf-8")  # no lone surrogate survives: everything stored is valid UTF-8
        assert "\x00" not in text
    assert item.title.startswith("A") and "开源" in item.title


LONE_SURROGATES = (
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "t\\ud800", "items": [{"id": "a\\ud800", '
    b'"url": "https://e.example/\\udfff", "title": "x\\udfff<\\u0000script>", "content_html": "<p>\\ud800</p>", '
    b'"tags": ["\\ud800"], "authors": [{"name": "\\ud800"}], "date_published": "2024-01-01T00:00:00\\ud800"}]}'
)


def test_json_lone_surrogates_become_replacement_characters():
    """JSON can escape half a surrogate pair; such a string cannot be UTF-8 (nh3, SQLite and the
    published files all need UTF-8): before the fix, normalize raised UnicodeEncodeError."""
    feed = parse(LONE_SURROGATES, {}, "https://e.example/feed.json")
    (item,) = normalize(feed, Source("s", "https://e.example/feed"), now=datetime.now(UTC))
    for value in vars(item).values():
        str(value).encode("utf-8")
    assert item.title == "x\ufffd" and item.key == "a\ufffd"


TITLE = "开源中国"
BOM_CASES = {
    "utf8-bom-on-gbk-bytes": b"\xef\xbb\xbf"
    + rss(f"<item><title>{TITLE}</title></item>", TITLE).replace("utf-8", "gb2312").encode("gbk"),
    "utf16-bom-on-utf8-bytes": b"\xff\xfe" + rss(f"<item><title>{TITLE}</title></item>", TITLE).encode(),
    "utf8-bom-declaring-utf16": b"\xef\xbb\xbf"
    + rss(f"<item><title>{TITLE}</title></item>", TITLE).replace("utf-8", "utf-16").encode(),
    "utf16be-bom-on-utf16le-bytes": b"\xfe\xff"
    + rss(f"<item><title>{TITLE}</title></item>", TITLE).replace("utf-8", "utf-16").encode("utf-16-le"),
    "utf8-bom-declaring-latin1": b"\xef\xbb\xbf"
    + rss(f"<item><title>{TITLE}</title></item>", TITLE).replace("utf-8", "iso-8859-1").encode(),
}


@pytest.mark.parametrize("name", list(BOM_CASES))
def test_bom_contradicting_the_declared_encoding(name):
    """A BOM wins when the bytes after it agree with it; a BOM that lies loses to the bytes."""
    feed = parse(BOM_CASES[name], {"content-type": "application/rss+xml"}, "https://e.example/feed")
    assert feed.title == TITLE and [item.title for item in feed.items] == [TITLE]


def test_large_ill_formed_document_keeps_the_items_before_its_error():
    items = "".join(
        f"<item><guid>g{i}</guid><title>T{i}</title><description>{'y' * 300}</description></item>"
        for i in range(5000)
    )
    body = rss(items.replace("<title>T4000</title>", "<title>T4000<title>", 1)).encode()
    assert len(body) > LENIENT_BYTES
    started = time.process_time()
    feed = parse(body, {}, "https://e.example/feed", max_items=10_000)
    assert time.process_time() - started < SECONDS
    assert [item.guid for item in feed.items] == [f"g{i}" for i in range(4000)]  # g4000 is the broken one
    assert "read up to the last complete item" in feed.recovered_error


# -- 100,000 items -----------------------------------------------------------------------------------

COUNT = 100_000


def dated_items(count: int = COUNT, seed: int = 6) -> list[tuple[int, datetime]]:
    """(number, date) for `count` items in shuffled order: the newest are nowhere in particular."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    numbers = list(range(count))
    random.Random(seed).shuffle(numbers)
    return [(n, start + timedelta(minutes=n)) for n in numbers]


def rss_100k(items: list[tuple[int, datetime]]) -> bytes:
    return rss(
        "".join(
            f"<item><guid>g{n}</guid><title>t{n}</title><pubDate>{format_datetime(d)}</pubDate></item>"
            for n, d in items
        )
    ).encode()


def atom_100k(items: list[tuple[int, datetime]]) -> bytes:
    entries = "".join(
        f"<entry><id>g{n}</id><title>t{n}</title><updated>{d.isoformat()}</updated></entry>" for n, d in items
    )
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'.encode()


def json_100k(items: list[tuple[int, datetime]]) -> bytes:
    objects = [{"id": f"g{n}", "title": f"t{n}", "date_published": d.isoformat()} for n, d in items]
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": objects}
    ).encode()


@pytest.mark.parametrize("render", [rss_100k, atom_100k, json_100k], ids=["rss", "atom", "json"])
def test_100000_items_keep_the_newest_500(render):
    items = dated_items()
    body = render(items)
    started = time.process_time()
    feed = parse(body, {}, "https://e.example/feed", max_items=500)
    assert time.process_time() - started < SECONDS * 2
    newest = {f"g{n}" for n in range(COUNT - 500, COUNT)}
    assert {item.guid for item in feed.items} == newest
    assert feed.items_dropped == COUNT - 500
    # Document order is kept among the items taken.
    order = [f"g{n}" for n, _ in items if f"g{n}" in newest]
    assert [item.guid for item in feed.items] == order


def test_undated_items_come_after_dated_ones_in_document_order():
    items = "".join(f"<item><guid>u{i}</guid><title>u</title></item>" for i in range(5))
    items += "<item><guid>dated</guid><title>d</title><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>"
    feed = parse(rss(items).encode(), {}, "https://e.example/feed", max_items=3)
    assert [item.guid for item in feed.items] == ["u0", "u1", "dated"]


def test_element_flood_inside_items_is_bounded():
    """20,000 items of 30 elements each: 600,000 elements; what reaches feedparser stays under 100,000."""
    item = "<item><guid>g{}</guid><title>t</title>" + "<x/>" * 28 + "</item>"
    body = rss("".join(item.format(i) for i in range(20_000))).encode()
    started = time.process_time()
    feed = parse(body, {}, "https://e.example/feed", max_items=20_000)
    assert time.process_time() - started < SECONDS * 2
    assert 0 < len(feed.items) <= 100_000 // 30 and feed.items_dropped == 20_000 - len(feed.items)


def test_refresh_says_so_in_a_warning_with_the_source_id(feed_server, tmp_path, caplog):
    url = feed_server.serve("/big", rss_100k(dated_items(2000)))

    async def go():
        async with Fetcher(timeout=10) as fetcher:
            return await refresh(Source("big", url), fetcher, store, max_items=500)

    with Store(tmp_path / "db.sqlite") as store, caplog.at_level(logging.WARNING, "aggregator.refresh"):
        store.sync_sources([Source("big", url)])
        import asyncio

        outcome = asyncio.run(go())
        assert len(outcome.saved.new) == 500 and store.count_items() == 500
    (record,) = [r for r in caplog.records if "kept the newest" in r.getMessage()]
    assert record.levelno == logging.WARNING and record.source_id == "big"
    assert (
        record.getMessage()
        == "source big: 2000 items in one document, kept the newest 500 (polling.max_items_per_poll)"
    )


# -- end to end: nothing local leaks into the database or the published files -------------------------


def test_poll_of_hostile_documents_leaks_no_local_file(tmp_path, canary, dtd_server):
    documents = external_documents(canary.as_uri(), dtd_server)
    documents |= {name: EXPANSIONS[name] for name in ("billion-laughs-one-line", "quadratic-blowup")}
    documents["deep"] = NESTED["elements-in-item"]
    documents["items-100k"] = rss_100k(dated_items()).decode()
    documents["json-surrogates"] = LONE_SURROGATES.decode()
    sources = []
    for name, document in documents.items():
        sources.append((name, dtd_server.serve(f"/doc/{name}", document)))
    lines = [
        f"database: {tmp_path / 'data' / 'db.sqlite'}",
        f"output: {{dir: {tmp_path / 'public'}, base_url: 'http://127.0.0.1:8080/'}}",
        "polling: {timeout: 20s, max_items_per_poll: 300}",
        "sources:",
        *[f"  - {{id: {name}, url: '{url}'}}" for name, url in sources],
        "topics:",
        "  everything: {title: Everything}",
    ]
    config = tmp_path / "aggregator.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    started = time.monotonic()
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert time.monotonic() - started < 30
    assert {r.path for r in dtd_server.requests} == {f"/doc/{name}" for name in documents}
    with Store(tmp_path / "data" / "db.sqlite") as store:
        assert (
            store.db.execute("SELECT count(*) FROM item_sources WHERE source_id = 'items-100k'").fetchone()[0]
            == 300
        )
    written = [p for folder in ("data", "public") for p in (tmp_path / folder).rglob("*") if p.is_file()]
    assert any(p.name == "everything.xml" for p in written)
    for path in written:
        data = path.read_bytes()
        for secret in (CANARY, PASSWD_LINE, "REMOTE-DTD-TEXT", "REMOTE-ENTITY-TEXT"):
            assert secret.encode() not in data, (path.name, secret)
