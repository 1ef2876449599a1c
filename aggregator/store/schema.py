"""The database schema, as the list of migrations that build it: a database that has had the
first n (`PRAGMA user_version` = n) gets the rest, in order, when it is opened. A migration is
never edited once released; a change is a new one at the end.

Tables:

    sources        one row per configured source: URL, title, and the poll state (validators,
                   last status and error, error streak, next check)
    items          one row per distinct article, stored once: the normalised fields
    item_sources   one row per (source, entry key) that carried an item; a story's carriers
    items_fts      FTS5 trigram index over items' title and text (trigram splits Chinese,
                   unicode61 would not), without positions (migration 12)
    items_fts_pending  items not yet in items_fts: they are indexed in batches (migration 11)
    stories        one row per story: its representative item (earliest, then richest), its
                   date span, members and sources; items.story_id says which story an item is in
    story_bands    the LSH index of near-duplicate detection: (bucket, published, item) for each
                   of an item's buckets (dedup/near.py), so finding a new item's story reads a few
                   index entries inside the time window, never the items table
    websub_subscriptions  the WebSub subscriptions of sources whose feeds name a hub: callback
                   token, secret, state and lease (store/websub.py)
    websub_pings   published feeds whose WebSub hub is still to be told that they changed
    full_texts     one row per (source, entry key) whose article page was tried (aggregator/
                   fulltext.py): the extracted HTML and text, or why the feed's content stays,
                   and when to try again after a transient failure
    webhook_topics     per topic with a webhook: its receiver's URL (aggregator/webhooks.py)
    webhook_sources    the sources whose backlog (first items) was seen, and passed over
    webhook_announced  per topic, the stories already announced or passed over, so that each
                       story is announced once
    webhook_deliveries the outbox: one row per POST to make, kept until delivered or given up,
                       with its attempts and when to try next
    topic_rules    one row per set of topic rules whose membership is kept (topics/__init__.py's digest),
                   with the rules themselves, so that any process can keep it up to date,
                   and when a publish last used it
    topic_stories  membership: (rules, story published, story) for every story the rules take,
                   so a topic's newest stories are one index range (store/membership.py)
    topic_stale    stories changed since their membership was last decided, filled by triggers
                   on stories, items and item_sources, whichever code path wrote them
    published_feeds  the fingerprint of what each topic's files were last written from
                   (store/published.py)
"""

_V1 = [
    """CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,             -- where to poll: config_url, or where a 301/308 moved it
        config_url TEXT NOT NULL,      -- the URL the config gives
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        last_status INTEGER,
        last_error TEXT,
        error_streak INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT,
        gone INTEGER NOT NULL DEFAULT 0,
        last_checked_at TEXT,
        last_success_at TEXT,
        last_full_at TEXT,
        ttl REAL,                      -- seconds the feed asks between polls (RSS <ttl>)
        next_check_at TEXT
    )""",
    "CREATE INDEX sources_next_check_at ON sources (next_check_at)",
    """CREATE TABLE items (
        id TEXT PRIMARY KEY,
        url_key TEXT,
        link TEXT,
        title TEXT NOT NULL,
        author TEXT,
        published TEXT NOT NULL,
        updated TEXT,
        content_html TEXT NOT NULL,
        text TEXT NOT NULL,
        categories TEXT NOT NULL,      -- JSON list, order kept
        thumbnail TEXT,
        content_hash TEXT NOT NULL,
        source_id TEXT NOT NULL,       -- the source whose version is stored
        entry_key TEXT NOT NULL,       -- that source's key for it
        first_seen TEXT NOT NULL,
        story_id TEXT,                 -- the story it belongs to (stories.id), set when first stored
        story_similarity REAL,         -- to the look-alike it joined through; NULL: it began the story
        story_buckets BLOB             -- its story_bands buckets, little-endian int64s, to remove them
    )""",
    "CREATE INDEX items_url_key ON items (url_key)",
    "CREATE INDEX items_story_id ON items (story_id)",
    "CREATE INDEX items_published ON items (published)",
    "CREATE INDEX items_first_seen ON items (first_seen)",
    "CREATE INDEX items_source_published ON items (source_id, published)",
    """CREATE TABLE item_sources (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        item_id TEXT NOT NULL REFERENCES items (id),
        link TEXT,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (source_id, key)
    )""",
    "CREATE INDEX item_sources_item_id ON item_sources (item_id)",
    # Items whose topics are not yet published (see save_poll and mark_published).
    "CREATE TABLE unpublished (item_id TEXT PRIMARY KEY)",
    # A pruned item's identity, so it is not stored again while a source still carries it.
    """CREATE TABLE tombstones (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        url_key TEXT,
        pruned_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,       -- last poll that still carried it
        PRIMARY KEY (source_id, key)
    )""",
    "CREATE INDEX tombstones_url_key ON tombstones (url_key)",
    # One row per story; its items point here with items.story_id. Feeds list stories by `published`.
    """CREATE TABLE stories (
        id TEXT PRIMARY KEY,           -- the id of its first item: stable while items join
        item_id TEXT NOT NULL,         -- the representative: the earliest item, then the richest
        published TEXT NOT NULL,       -- the representative's (the earliest) published date
        last_published TEXT NOT NULL,  -- the latest item's: with `published`, the span the window bounds
        first_seen TEXT NOT NULL,      -- when its first item was stored
        members INTEGER NOT NULL,      -- its items
        sources INTEGER NOT NULL       -- distinct sources that carried them
    )""",
    "CREATE INDEX stories_published ON stories (published)",
    # The LSH index (dedup/near.py): each item's buckets, with its published time so that a lookup
    # is a range scan of the window inside each bucket.
    """CREATE TABLE story_bands (
        bucket INTEGER NOT NULL,
        published INTEGER NOT NULL,    -- the item's published time, seconds since 1970 UTC
        item_id TEXT NOT NULL,
        PRIMARY KEY (bucket, published, item_id)
    ) WITHOUT ROWID""",
    # Named as sqlite-utils names them, so `sqlite-utils search data/aggregator.db items ...` works.
    """CREATE VIRTUAL TABLE items_fts USING FTS5 (title, text, tokenize='trigram', content=items)""",
    """CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
        INSERT INTO items_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END""",
    """CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
    END""",
    # Only a change of the indexed columns touches the index.
    """CREATE TRIGGER items_au AFTER UPDATE OF title, text ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
        INSERT INTO items_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END""",
]

# What a poll needs to skip unchanged work: the hash of the document last parsed (whole documents
# are skipped) and, per carrier, the hash of the entry last stored (normalize.Entry.raw_hash).
_V2_UNCHANGED = [
    "ALTER TABLE sources ADD COLUMN body_hash TEXT",
    "ALTER TABLE item_sources ADD COLUMN raw_hash TEXT",
]

# WebSub (https://www.w3.org/TR/websub/), both sides; the rows are read and written by store/websub.py.
_V3_WEBSUB = [
    # One row per subscription we hold, asked for or are ending at a hub. A source has at most one
    # that is not being ended; an old one is kept, state 'unsubscribing', until the hub confirms.
    """CREATE TABLE websub_subscriptions (
        token TEXT PRIMARY KEY,        -- the unguessable last segment of the callback URL
        source_id TEXT NOT NULL,
        hub TEXT NOT NULL,
        topic TEXT NOT NULL,           -- the feed's self URL; '' when it names a hub but no self link
        callback TEXT NOT NULL,        -- server.public_url + 'websub/' + token ('' while we have none)
        secret TEXT NOT NULL,          -- hub.secret: the key of the X-Hub-Signature HMAC
        state TEXT NOT NULL,           -- pending, active, denied, off, unsubscribing
        reason TEXT,                   -- why the state: a hub's denial, why 'off', the last failure
        lease_seconds INTEGER,         -- as the hub granted it in its verification
        expires_at TEXT,               -- end of the lease
        next_attempt_at TEXT,          -- when to send the next (un)subscribe request; NULL: none due
        attempts INTEGER NOT NULL DEFAULT 0,  -- requests since the hub last verified one (backoff)
        requested_at TEXT,             -- when the last request was sent
        verified_at TEXT               -- when the hub last verified our intent
    )""",
    "CREATE INDEX websub_subscriptions_source_id ON websub_subscriptions (source_id)",
    "CREATE INDEX websub_subscriptions_next_attempt_at ON websub_subscriptions (next_attempt_at)",
    # Publisher side: a published feed that changed and whose hub has not yet been told (pinged).
    """CREATE TABLE websub_pings (
        url TEXT PRIMARY KEY,          -- the feed's public URL, its WebSub topic
        queued_at TEXT NOT NULL,       -- when it changed (the latest change, if several)
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT
    )""",
]


# Full text of summary-only sources (aggregator/fulltext.py). Keyed like item_sources, so a
# page is tried once per entry; the row goes when the entry is pruned.
_V4_FULL_TEXTS = [
    """CREATE TABLE full_texts (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,             -- the entry key in that source (item_sources.key)
        link TEXT NOT NULL,            -- the page fetched
        status TEXT NOT NULL,          -- ok, kept (the feed's content stays), retry, failed
        content_html TEXT,             -- sanitized article HTML, when ok
        text TEXT,                     -- its plain text, when ok
        attempts INTEGER NOT NULL,
        error TEXT,                    -- why not ok
        tried_at TEXT NOT NULL,
        next_try_at TEXT,              -- when status is retry
        PRIMARY KEY (source_id, key)
    )""",
    """CREATE TRIGGER full_texts_pruned AFTER DELETE ON item_sources BEGIN
        DELETE FROM full_texts WHERE source_id = old.source_id AND key = old.key;
    END""",
]

# Webhooks per topic (aggregator/webhooks.py, store/webhooks.py).
_V5_WEBHOOKS = [
    """CREATE TABLE webhook_topics (
        topic_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,             -- the receiver this row is for; another URL starts anew
        since TEXT NOT NULL            -- when this receiver was first seen
    )""",
    # Sources whose first items (their backlog) have been seen: those are never announced.
    "CREATE TABLE webhook_sources (source_id TEXT PRIMARY KEY, since TEXT NOT NULL)",
    """CREATE TABLE webhook_announced (
        topic_id TEXT NOT NULL,
        story_id TEXT NOT NULL,
        announced_at TEXT NOT NULL,
        delivery_id TEXT,              -- NULL: passed over (in the topic before its receiver, or backlog)
        PRIMARY KEY (topic_id, story_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX webhook_announced_story_id ON webhook_announced (story_id)",
    """CREATE TRIGGER webhook_announced_gone AFTER DELETE ON stories BEGIN
        DELETE FROM webhook_announced WHERE story_id = old.id;
    END""",
    """CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,           -- the delivery id, the same on every attempt
        topic_id TEXT NOT NULL,
        story_id TEXT NOT NULL,
        url TEXT NOT NULL,
        payload TEXT NOT NULL,         -- JSON of topic and story; id and timestamp are added when sent
        status TEXT NOT NULL,          -- pending, delivered, failed (gave up), dropped (no receiver now)
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        lease_until TEXT,              -- being sent until then (a sender killed meanwhile: sent again)
        last_error TEXT,
        finished_at TEXT
    )""",
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
]


# Topic membership (store/membership.py). Whatever changes what a story is matched on (its
# representative item, any member's fields, its carriers) or where it sorts (published) writes one
# of stories, items and item_sources, so triggers there queue the story, whichever code wrote it:
# over-marking costs one re-evaluation, a missed mark would leave a feed wrong. While no
# membership is kept (topic_rules is empty) they do nothing. They test for a queued story instead
# of saying INSERT OR IGNORE: inside a trigger, the outer statement's conflict policy wins, and an
# upsert's is ABORT.
_V6_MEMBERSHIP = [
    """CREATE TABLE topic_rules (
        id INTEGER PRIMARY KEY,          -- what topic_stories refers to
        digest TEXT NOT NULL UNIQUE,     -- topics.CompiledTopic.digest
        rules TEXT NOT NULL,             -- topics.CompiledTopic.rules as JSON
        built INTEGER NOT NULL DEFAULT 0 -- 1 once every story has been evaluated
    )""",
    """CREATE TABLE topic_stories (
        rules_id INTEGER NOT NULL,
        published TEXT NOT NULL,         -- the story's, so rows sort as Store.stories() does
        story_id TEXT NOT NULL,
        PRIMARY KEY (rules_id, published DESC, story_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX topic_stories_story_id ON topic_stories (story_id)",
    "CREATE TABLE topic_stale (story_id TEXT PRIMARY KEY) WITHOUT ROWID",
    """CREATE TRIGGER topic_stale_story_new AFTER INSERT ON stories
        WHEN EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT new.id
            WHERE NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = new.id);
    END""",
    """CREATE TRIGGER topic_stale_story_changed AFTER UPDATE ON stories
        WHEN (old.item_id IS NOT new.item_id OR old.published IS NOT new.published)
        AND EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT new.id
            WHERE NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = new.id);
    END""",
    """CREATE TRIGGER topic_stale_story_gone AFTER DELETE ON stories
        WHEN EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT old.id
            WHERE NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = old.id);
    END""",
    """CREATE TRIGGER topic_stale_item_new AFTER INSERT ON items
        WHEN new.story_id IS NOT NULL AND EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT new.story_id
            WHERE NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = new.story_id);
    END""",
    """CREATE TRIGGER topic_stale_item_changed
        AFTER UPDATE OF title, text, categories, author, link, source_id, published, story_id ON items
        WHEN EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT changed.id FROM (
            SELECT new.story_id AS id UNION SELECT old.story_id
        ) AS changed WHERE changed.id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = changed.id);
    END""",
    """CREATE TRIGGER topic_stale_item_gone AFTER DELETE ON items
        WHEN old.story_id IS NOT NULL AND EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT old.story_id
            WHERE NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = old.story_id);
    END""",
    """CREATE TRIGGER topic_stale_carrier_new AFTER INSERT ON item_sources
        WHEN EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT i.story_id FROM items i WHERE i.id = new.item_id
            AND i.story_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = i.story_id);
    END""",
    # Not on raw_hash: a poll rewrites it for entries whose bytes changed but not what they say.
    """CREATE TRIGGER topic_stale_carrier_changed AFTER UPDATE OF source_id, key, item_id, link ON item_sources
        WHEN EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT DISTINCT i.story_id FROM items i
            WHERE i.id IN (new.item_id, old.item_id) AND i.story_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = i.story_id);
    END""",
    """CREATE TRIGGER topic_stale_carrier_gone AFTER DELETE ON item_sources
        WHEN EXISTS (SELECT 1 FROM topic_rules) BEGIN
        INSERT INTO topic_stale (story_id) SELECT i.story_id FROM items i WHERE i.id = old.item_id
            AND i.story_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM topic_stale WHERE story_id = i.story_id);
    END""",
    """CREATE TABLE published_feeds (
        path TEXT PRIMARY KEY,           -- the output folder / topic id, absolute
        fingerprint TEXT NOT NULL        -- publish.feed.fingerprint() of the feed last written there
    )""",
]

# Each item's body shingles (dedup.near.Fingerprint.body), so that comparing a new item with a
# stored look-alike does not make them again from the text (a millisecond each); NULL for items
# stored before, which are fingerprinted from their text as before.
_V7_SHINGLES = ["ALTER TABLE items ADD COLUMN story_shingles BLOB"]

# When a process last published with each kept rules set: rules that no process has used for a
# while are dropped (publish.selection.forget_unused_rules); NULL (kept before this) counts as now.
_V8_RULES_USED = [
    "ALTER TABLE topic_rules ADD COLUMN used_at TEXT",
]

# What a story look-up reads of each look-alike, from the index alone: those columns lie after
# the content and text in the row, so reading them from the table walks its overflow pages
# (store cost of a new 50-item document after 10k items: 141 -> 121 ms).
_V9_LOOK_ALIKES = ["CREATE INDEX items_look_alike ON items (id, story_id, content_hash, published)"]

# Leases of `aggregator worker` processes sharing a PostgreSQL database (store/leases.py): who
# polls a source now, a fencing token that grows with each claim, and until when. Unused here (one
# daemon polls an SQLite file), kept so both engines have the same tables and columns. `retired`:
# the source is in the database but no longer in the config (sync_sources), so no worker claims it.
# `unpublished.changes` counts the saves that listed an item since its last publish, so a publish
# forgets only the changes it saw (Store.mark_published), not one saved while it ran.
_V10_LEASES = [
    "ALTER TABLE sources ADD COLUMN lease_owner TEXT",
    "ALTER TABLE sources ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sources ADD COLUMN lease_until TEXT",
    "ALTER TABLE sources ADD COLUMN retired INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE unpublished ADD COLUMN changes INTEGER NOT NULL DEFAULT 0",
]

# Full-text indexing in batches (SQLite.index_pending): a new item's rowid waits in
# items_fts_pending until SEARCH_BATCH of them do, then they are indexed in one statement. FTS5
# writes a segment per transaction and merges segments later, so indexing each poll's 50 items
# on its own cost a new item as much as the rest of storing it; in batches of a thousand, a
# third. Search reads the waiting items with LIKE meanwhile (SQLite.search, contains): nothing
# stored is ever missing from it. An item edited or deleted while it waits has nothing to take
# out of the index.
_V11_SEARCH_BATCHES = [
    "CREATE TABLE items_fts_pending (item_rowid INTEGER PRIMARY KEY)",
    "DROP TRIGGER items_ai",
    "DROP TRIGGER items_au",
    "DROP TRIGGER items_ad",
    """CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
        INSERT INTO items_fts_pending (item_rowid) VALUES (new.rowid);
    END""",
    """CREATE TRIGGER items_au AFTER UPDATE OF title, text ON items
        WHEN NOT EXISTS (SELECT 1 FROM items_fts_pending WHERE item_rowid = old.rowid) BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
        INSERT INTO items_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END""",
    """CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text) SELECT 'delete', old.rowid, old.title, old.text
            WHERE NOT EXISTS (SELECT 1 FROM items_fts_pending WHERE item_rowid = old.rowid);
        DELETE FROM items_fts_pending WHERE item_rowid = old.rowid;
    END""",
]

# The full-text index without positions or columns (detail=none): search uses it only to narrow
# the items it then checks exactly (SQLite.contains), and an item holding every trigram of a
# string is where the string may be. On the benchmark's 3-6 KB articles a new item costs the
# index 0.13 ms and 0.5 KB instead of 0.38 ms and 6.4 KB (detail=column: 0.19 ms, 1.5 KB). The
# table is made anew (FTS5 cannot change its detail) from every item, those waiting in
# items_fts_pending included, so none waits any more; the triggers of migration 11 name the
# table and go on as they are. About 2 s per 10,000 items; the old index's pages stay
# in the file for new rows (VACUUM gives them back). By hand (`sqlite-utils search`, migration 1),
# a string of four characters or more is now asked for as its trigrams: "深度学" AND "度学习".
_V12_SEARCH_TRIGRAMS = [
    "DROP TABLE items_fts",
    """CREATE VIRTUAL TABLE items_fts USING FTS5 (
        title, text, tokenize='trigram', content=items, detail=none
    )""",
    "INSERT INTO items_fts (items_fts) VALUES ('rebuild')",
    "DELETE FROM items_fts_pending",
]

# The numbers each item's cleaned title names (dedup.near.title_numbers, space-separated), so a
# look-up turns away a look-alike whose title names other numbers from the index alone, without
# reading its title and shingles and cleaning the title again (a templated series' other issues
# are most look-alikes). NULL for items stored before: their title is cleaned as before.
_V13_TITLE_NUMBERS = [
    "ALTER TABLE items ADD COLUMN story_numbers TEXT",
    "DROP INDEX items_look_alike",
    "CREATE INDEX items_look_alike ON items (id, story_id, content_hash, published, story_numbers)",
]

MIGRATIONS: list[list[str]] = [
    _V1,
    _V2_UNCHANGED,
    _V3_WEBSUB,
    _V4_FULL_TEXTS,
    _V5_WEBHOOKS,
    _V6_MEMBERSHIP,
    _V7_SHINGLES,
    _V8_RULES_USED,
    _V9_LOOK_ALIKES,
    _V10_LEASES,
    _V11_SEARCH_BATCHES,
    _V12_SEARCH_TRIGRAMS,
    _V13_TITLE_NUMBERS,
]
VERSION = len(MIGRATIONS)
