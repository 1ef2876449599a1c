"""Characters XML 1.0 and PostgreSQL refuse, from a hostile server, on both engines.

PostgreSQL's text cannot hold NUL, and no UTF-8 (so neither psycopg nor SQLite's driver) can
hold a lone surrogate, which aiohttp makes of a header's invalid UTF-8 bytes; XML 1.0 refuses
both and the other C0 controls but tab, LF and CR. Here an RSS, an Atom (1.0, and 0.3 with
base64 text constructs, which feedparser decodes to any bytes) and a JSON Feed document carry
them in every field, and the response headers that reach the database (ETag, Last-Modified, a
Link naming a WebSub hub and self URL) carry them too. Polled end to end through `aggregator
poll` into each engine (conftest's `database` fixture), every source is stored, with those
characters gone and the same values on both, and its topics are published. The next poll finds
an entry again whose key differed only by them, and sends the ETag back as it was stored.
`aggregator migrate` copies an SQLite database that holds such characters from before.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import FeedServer, Response
from hostile_server import FEED, HostileServer, canned, garbage
from test_migrate import migrate, polled  # noqa: F401 - the polled fixture

from aggregator.cli import main
from aggregator.store import Store

# Each "|" of a field becomes NUL, other C0 controls, DEL and a non-character XML excludes: all
# removed. Each "~" becomes the same with a vertical tab and a form feed, whitespace: one space.
GONE = "\x00\x01\x08\x1b\x1f\x7f\ufffe"
SPACE = GONE + "\x0b\x0c"
REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
DATE = "2024-05-01T08:00:00Z"
TABLES = ("sources", "items", "item_sources", "stories", "websub_subscriptions")


def b(text: str) -> str:
    """`text` with the refused characters in place of its "|" and "~"."""
    return text.replace("|", GONE).replace("~", SPACE)


def rss(hostile_keys: bool = True) -> bytes:
    guid = "rss-|guid-{}" if hostile_keys else "rss-guid-{}"
    items = "".join(
        f"""<item><title>{b("RSS|~title")} {n}</title><link>{b(f"https://e.example/|rss/{n}")}</link>
        <guid isPermaLink="false">{b(guid.format(n))}</guid>
        <description>{b("&lt;p&gt;RSS|~body&lt;/p&gt;")} {n}</description>
        <author>{b("rss|@example.com (RSS~author)")}</author><category>{b("RSS~|category")}</category>
        <enclosure url="{b(f"https://e.example/rss/|{n}.jpg")}" type="{b("image/|jpeg")}" length="1"/>
        <pubDate>Wed, 01 May 2024 08:00:0{n} GMT</pubDate></item>"""
        for n in (1, 2)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>{b('RSS~feed|')}</title><link>{b('https://e.example/|')}</link>"
        f'<atom:link rel="hub" href="{b("https://hub.example/|rss")}"/>'
        f'<atom:link rel="self" href="{b("https://e.example/rss|.xml")}"/>{items}</channel></rss>'
    ).encode()


def atom() -> bytes:
    entries = "".join(
        f"""<entry><title type="html">{b("Atom|~title")} {n}</title><id>{b(f"urn:atom:|{n}")}</id>
        <link rel="alternate" href="{b(f"https://e.example/atom/|{n}")}"/>
        <link rel="enclosure" href="{b(f"https://e.example/atom/{n}|.png")}" type="image/png"/>
        <author><name>{b("Atom~author|")}</name></author><category term="{b("Atom~category")}"/>
        <content type="html">{b("&lt;p&gt;Atom|~body&lt;/p&gt;")} {n}</content>
        <updated>2024-05-01T08:00:0{n}Z</updated></entry>"""
        for n in (1, 2)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{b('Atom~feed')}</title><id>urn:atom</id><updated>{DATE}</updated>{entries}</feed>"
    ).encode()


def atom03() -> bytes:
    """Atom 0.3 text constructs in base64 mode: feedparser decodes them to whatever bytes they hold."""
    title = base64.b64encode(b("Old|~title").encode()).decode()
    body = base64.b64encode(b("<p>Old|~body</p>").encode()).decode()
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">'
        f'<title mode="base64" type="text/plain">{title}</title>'
        '<link rel="alternate" type="text/html" href="https://e.example/"/>'
        f'<entry><title mode="base64" type="text/plain">{title}</title><id>urn:old:1</id>'
        '<link rel="alternate" type="text/html" href="https://e.example/old/1"/>'
        f'<content mode="base64" type="text/html">{body}</content><issued>{DATE}</issued></entry></feed>'
    ).encode()


def json_feed(hostile_keys: bool = True) -> bytes:
    """JSON escapes any character, a lone surrogate too (which jsonfeed.py reads as U+FFFD)."""

    def item(n: int) -> dict:
        return {
            "id": b(f"json-|id-{n}\ud800") if hostile_keys else f"json-id-{n}\ufffd",
            "url": b(f"https://e.example/json/|{n}"),
            "external_url": b("https://elsewhere.example/|"),
            "title": b(f"JSON|~title {n}\ud800"),
            "content_html": b(f"<p>JSON|~body {n}</p>"),
            "summary": b("JSON|~summary"),
            "image": b(f"https://e.example/json/{n}|.png"),
            "banner_image": b(f"https://e.example/json/{n}-banner|.png"),
            "date_published": f"2024-05-01T08:00:0{n}Z",
            "authors": [{"name": b("JSON~author|"), "url": b("https://e.example/|me")}],
            "tags": [b("JSON~tag|"), "\x00"],
            "attachments": [{"url": b(f"https://e.example/json/|{n}.mp3"), "mime_type": b("audio/|mpeg")}],
        }

    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": b("JSON~feed|"),
            "home_page_url": b("https://e.example/|"),
            "feed_url": b("https://e.example/feed|.json"),
            "hubs": [{"type": "WebSub", "url": b("https://hub.example/|json")}],
            "items": [item(1), item(2)],
        }
    ).encode()


# Header values go out as Latin-1 (http.server): "\xff" is the byte 0xFF, invalid UTF-8, which
# aiohttp decodes to a lone surrogate. NUL it refuses outright (the fetch fails, nothing is stored).
ETAG = 'W/"e\x01t\xffag\x7f"'
LAST_MODIFIED = "Wed, 01 May 2024 08:00:00 GMT\x1b\xff"
LINK = '<https://hub.example/link\xff\x01hub>; rel="hub", <https://e.example/atom\x01\xff.xml>; rel="self"'


def serve(server: FeedServer, *, hostile_keys: bool = True) -> dict[str, str]:
    """Serve the four documents; source id -> URL."""
    documents = {
        "rss": (rss(hostile_keys), "application/rss+xml", {"ETag": ETAG, "Last-Modified": LAST_MODIFIED}),
        "atom": (atom(), "application/atom+xml", {"Link": LINK}),
        "atom03": (atom03(), "application/atom+xml", {}),
        "json": (json_feed(hostile_keys), "application/feed+json", {}),
    }
    for name, (body, content_type, headers) in documents.items():
        server.routes[f"/{name}"] = Response(200, body, {"Content-Type": content_type, **headers})
    return {name: server.url(f"/{name}") for name in documents}


def write_config(folder: Path, database: Path | str, urls: dict[str, str]) -> Path:
    config = folder / "aggregator.yaml"
    lines = [
        f"database: {database}",
        f"output: {{dir: {folder / 'public'}, base_url: 'http://127.0.0.1:8080/'}}",
        "sources:",
        *[f"  - {{id: {name}, url: '{url}'}}" for name, url in urls.items()],
        "topics:",
        "  everything: {title: Everything}",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def poll(config: Path, capsys: pytest.CaptureFixture) -> str:
    capsys.readouterr()
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert " 0 failed" in out and "  failed  " not in out, out
    return out


def refused(store: Store) -> list[tuple[str, str]]:
    """(table, value) of every stored string that holds a refused character."""
    found = []
    for table in TABLES:
        for row in store.db.execute(f"SELECT * FROM {table}").fetchall():
            found += [(table, v) for v in row if isinstance(v, str) and REFUSED.search(v)]
    return found


def stored(store: Store) -> dict[str, list[tuple]]:
    """source id -> (key, title, author, link, categories, thumbnail) of the items it carries,
    sorted here (the engines' collations differ)."""
    rows = store.db.execute(
        "SELECT s.source_id, s.key, i.title, i.author, i.link, i.categories, i.thumbnail "
        "FROM item_sources s JOIN items i ON i.id = s.item_id"
    ).fetchall()
    found: dict[str, list[tuple]] = {}
    for source_id, key, title, author, link, categories, thumbnail in rows:
        found.setdefault(source_id, []).append(
            (key, title, author, link, tuple(json.loads(categories)), thumbnail)
        )
    return {source_id: sorted(found[source_id]) for source_id in sorted(found)}


# What each engine must store: the words, without the refused characters.
EXPECTED = {
    "atom": [
        ("urn:atom:1", "Atom title 1", "Atom author", "https://e.example/atom/1", ("Atom category",),
         "https://e.example/atom/1.png"),
        ("urn:atom:2", "Atom title 2", "Atom author", "https://e.example/atom/2", ("Atom category",),
         "https://e.example/atom/2.png"),
    ],
    "atom03": [("urn:old:1", "Old title", None, "https://e.example/old/1", (), None)],
    "json": [
        ("json-id-1\ufffd", "JSON title 1\ufffd", "JSON author", "https://e.example/json/1", ("JSON tag",),
         "https://e.example/json/1.png"),
        ("json-id-2\ufffd", "JSON title 2\ufffd", "JSON author", "https://e.example/json/2", ("JSON tag",),
         "https://e.example/json/2.png"),
    ],
    "rss": [
        ("rss-guid-1", "RSS title 1", "RSS author", "https://e.example/rss/1", ("RSS category",),
         "https://e.example/rss/1.jpg"),
        ("rss-guid-2", "RSS title 2", "RSS author", "https://e.example/rss/2", ("RSS category",),
         "https://e.example/rss/2.jpg"),
    ],
}  # fmt: skip


def test_hostile_characters_are_stored_without_them(
    database: Path | str, feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = write_config(tmp_path, database, serve(feed_server))
    poll(config, capsys)

    with Store(database) as store:
        assert refused(store) == []
        assert stored(store) == EXPECTED
        assert store.db.execute(
            "SELECT id, etag, last_modified FROM sources WHERE id = 'rss'"
        ).fetchone() == (
            "rss",
            'W/"etag"',
            "Wed, 01 May 2024 08:00:00 GMT",
        )
        hubs = store.db.execute(
            "SELECT source_id, hub, topic FROM websub_subscriptions ORDER BY source_id"
        ).fetchall()
        assert [tuple(row) for row in hubs] == [
            ("atom", "https://hub.example/linkhub", "https://e.example/atom.xml"),
            ("json", "https://hub.example/json", "https://e.example/feed.json"),
            ("rss", "https://hub.example/rss", "https://e.example/rss.xml"),
        ]

    # Published: well-formed XML, and every item in it.
    public = tmp_path / "public"
    titles = [e.text for e in ET.parse(public / "everything.xml").getroot().iter("title")]
    assert {"RSS title 1", "Atom title 2", "Old title", "JSON title 1\ufffd"} <= set(titles)
    ET.parse(public / "everything.atom")
    assert len(json.loads((public / "everything.json").read_text())["items"]) == 7

    # The next poll: the ETag goes back as stored, and entries whose keys differed only by the
    # refused characters are the same entries.
    serve(feed_server, hostile_keys=False)
    out = poll(config, capsys)
    assert "items: 0 new, 0 updated" in out
    (second,) = feed_server.requests_to("/rss")[1:]
    assert second.headers["if-none-match"] == 'W/"etag"'
    with Store(database) as store:
        assert stored(store) == EXPECTED and refused(store) == []


def test_migrate_cleans_what_sqlite_stored_before(
    polled: Path,  # noqa: F811 - the fixture
    postgresql_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """An SQLite database filled before the rule held NUL and other refused characters wherever a
    feed put them: the copy cleans them as a poll now would, says how many rows it cleaned, and
    an entry whose key lost them is found again by the next poll into PostgreSQL."""
    with Store(polled / "data/sample.db") as lite:
        keys = lite.db.execute(
            "SELECT key FROM item_sources WHERE source_id = 'oschina' ORDER BY key"
        ).fetchall()
        for (key,) in keys[:3]:
            hostile = key[:8] + "\x00\x01" + key[8:]
            lite.db.execute("UPDATE items SET entry_key = ? WHERE entry_key = ?", [hostile, key])
            lite.db.execute("UPDATE item_sources SET key = ? WHERE key = ?", [hostile, key])
        lite.db.execute(
            "UPDATE items SET title = title || ?, author = ? WHERE source_id = 'oschina'", ["\x00", "a\x1fb"]
        )
        # No validator and no document hash: the next poll reads every entry again.
        lite.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, body_hash = NULL", ['"e\x00"', "\x00"]
        )
        before = stored(lite)
        (owned,) = lite.db.execute("SELECT count(*) FROM items WHERE source_id = 'oschina'").fetchone()
    code, out, err = migrate(polled, postgresql_url, capsys)
    assert code == 0, err
    assert (
        out.split("  items ")[1]
        .split("\n")[0]
        .endswith(f"({owned} cleaned of characters XML and PostgreSQL refuse)")
    )
    assert (
        "(3 cleaned of characters XML and PostgreSQL refuse)"
        in out.split("  item_sources ")[1].split("\n")[0]
    )
    with Store(postgresql_url) as pg:
        assert refused(pg) == []
        assert [tuple(row) for row in pg.db.execute("SELECT DISTINCT etag, last_modified FROM sources")] == [
            ('"e"', "")
        ]
        after = stored(pg)
    assert after == {
        source_id: sorted(tuple(_without("\x00\x01\x1f", value) for value in row) for row in rows)
        for source_id, rows in before.items()
    }
    assert "ab" in {row[2] for row in after["oschina"]}

    config = polled / "config/sample.yaml"
    config.write_text(config.read_text().replace("database: data/sample.db", f"database: {postgresql_url}"))
    out = poll(config, capsys)
    assert "4 ok" in out and "items: 0 new" in out


def _without(characters: str, value: object) -> object:
    return value.translate(dict.fromkeys(map(ord, characters))) if isinstance(value, str) else value


def test_hostile_failures_and_moves_are_recorded_without_them(
    database: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """What a failed poll records (last_error quotes the server: a reason phrase, a feed URL an
    HTML page names) and a permanent redirect's target (the source's new URL) lose them too."""
    server = HostileServer().start()
    try:
        server.routes["/reason"] = garbage(b"HTTP/1.1 500 Bad\x00\x01\xff thing\r\nContent-Length: 0\r\n\r\n")
        page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/f\x00e\x01ed"></head></html>'
        server.routes["/page"] = canned(200, page, "text/html")
        server.routes["/moved"] = canned(301, b"", "text/plain", Location="/feed\x01\xff")
        server.routes["/feed"] = canned(200, FEED)
        urls = {name: server.url(f"/{name}") for name in ("reason", "page", "moved")}
        config = write_config(tmp_path, database, urls)
        capsys.readouterr()
        assert main(["-c", str(config), "poll", "--no-progress"]) == 0
        assert "1 ok, 0 not modified, 2 failed" in capsys.readouterr().out
    finally:
        server.stop()
    with Store(database) as store:
        assert refused(store) == []
        found = dict(
            store.db.execute("SELECT id, last_error FROM sources WHERE last_error IS NOT NULL").fetchall()
        )
        assert found == {
            "reason": f"fetch: HTTP 500 Bad thing at {urls['reason']}",
            "page": f"parse: not a feed: got an HTML page (it names a feed at {server.url('/feed')})",
        }
        moved = store.db.execute("SELECT url FROM sources WHERE id = 'moved'").fetchone()[0]
        assert moved == server.url("/feed") and store.count_items() == 1
