"""The site store's tables. Bump `SCHEMA_VERSION` with any change: a store of
another version is set aside and rebuilt, never migrated in place (it is a
cache of the content folder, which can always be read again).

- ``folders``, ``files``: what the last scan saw (signatures, digests) and
  each file's problems: the scan compares against them.
- ``items``: every article and related item as parsed, one row each.
- ``entries``: one row per canonical URL: its winning item, state, id, the
  data a renderer needs, and the feeds it is in.
- ``stories``: one row per story: its data and feeds.
- ``members``: (feed, publication time, id) for every entry or story a feed
  holds, so that "the newest N entries of feed F" and an archive page are
  one range of one index; ``member_spans``: how many per feed and span of
  time, for positions deep in a long feed.
- ``feeds``, ``spellings``, ``names``: the feeds and their counts; the
  spellings of each topic and provider name and which is shown.
- ``ledger``: the id ledger as last read or written.
- ``documents``: per path, its ETag (None: to be rendered again) and, for
  the documents readers poll, the bytes the server sends (kept while the
  document waits to be rendered again) and where each entry is in the
  bytes last rendered (`feedpub.reuse`).
- ``outputs``: per output folder and path, what was written there.
"""

from __future__ import annotations

#: Version of this schema; also in ``PRAGMA user_version``.
SCHEMA_VERSION = 4
#: The span of `member_spans`: 2**37 microseconds, about 38 hours.
MEMBER_SPAN_BITS = 37
#: ``PRAGMA application_id``: "fpub". A SQLite file without it is not ours.
APPLICATION_ID = 0x66707562

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;

CREATE TABLE folders (folder TEXT PRIMARY KEY, listing BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE files (
    path TEXT PRIMARY KEY, folder TEXT NOT NULL, signature BLOB NOT NULL,
    digest BLOB NOT NULL, problems TEXT
) WITHOUT ROWID;
CREATE INDEX files_folder ON files (folder);
CREATE INDEX files_with_problems ON files (path) WHERE problems IS NOT NULL;

CREATE TABLE items (
    path TEXT NOT NULL, position INTEGER NOT NULL, canonical TEXT NOT NULL,
    published INTEGER NOT NULL, shown_from INTEGER NOT NULL, draft INTEGER NOT NULL,
    data TEXT NOT NULL, UNIQUE (path, position)
);
CREATE INDEX items_canonical ON items (canonical);
CREATE INDEX items_shown_from ON items (shown_from);
CREATE INDEX items_articles ON items (path) WHERE position = 0;
-- Items dated far ahead (a typo in the year) are reported by every build:
-- without it, that is a scan of every item.
CREATE INDEX items_published ON items (published);

CREATE TABLE entries (
    canonical TEXT NOT NULL UNIQUE, id TEXT UNIQUE, state INTEGER NOT NULL,
    published INTEGER, updated INTEGER, winner TEXT, story TEXT, own_hash TEXT, shown_hash TEXT,
    data TEXT, problems TEXT, meta TEXT NOT NULL
);
CREATE INDEX entries_story ON entries (story);
CREATE INDEX entries_withheld ON entries (state) WHERE state != 0;
CREATE INDEX entries_with_problems ON entries (canonical) WHERE problems IS NOT NULL;

CREATE TABLE stories (
    id TEXT NOT NULL UNIQUE, published INTEGER, updated INTEGER, hash TEXT,
    shown_hash TEXT, feeds TEXT, data TEXT
);

CREATE TABLE members (
    feed TEXT NOT NULL, published INTEGER NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (feed, published DESC, id)
) WITHOUT ROWID;

-- How many members each feed has per span of publication times (the time
-- in microseconds shifted right by MEMBER_SPAN_BITS), kept by the triggers
-- on every member added or dropped: an entry's position in a long feed is
-- then counted in the spans before its own and the members of its own,
-- not member by member.
CREATE TABLE member_spans (
    feed TEXT NOT NULL, span INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (feed, span)
) WITHOUT ROWID;
CREATE TRIGGER members_added AFTER INSERT ON members BEGIN
    INSERT INTO member_spans VALUES (new.feed, new.published >> {MEMBER_SPAN_BITS}, 1)
    ON CONFLICT (feed, span) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER members_dropped AFTER DELETE ON members BEGIN
    UPDATE member_spans SET count = count - 1
    WHERE feed = old.feed AND span = old.published >> {MEMBER_SPAN_BITS};
END;

CREATE TABLE feeds (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, title TEXT NOT NULL,
    description TEXT NOT NULL, total INTEGER NOT NULL, newest INTEGER, pages INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE spellings (
    kind TEXT NOT NULL, normal TEXT NOT NULL, spelling TEXT NOT NULL, uses INTEGER NOT NULL,
    PRIMARY KEY (kind, normal, spelling)
) WITHOUT ROWID;
CREATE TABLE names (
    kind TEXT NOT NULL, normal TEXT NOT NULL, display TEXT NOT NULL, base TEXT NOT NULL,
    slug TEXT NOT NULL, first_path TEXT, PRIMARY KEY (kind, normal)
) WITHOUT ROWID;
CREATE INDEX names_base ON names (kind, base);

CREATE TABLE ledger (
    id TEXT PRIMARY KEY, canonical TEXT NOT NULL, link TEXT NOT NULL, origin TEXT NOT NULL,
    provider TEXT NOT NULL, title TEXT NOT NULL, hash TEXT NOT NULL, updated TEXT NOT NULL,
    story TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ledger_canonical ON ledger (canonical);
CREATE INDEX ledger_origin ON ledger (origin);
CREATE INDEX ledger_story ON ledger (story);

CREATE TABLE documents (
    path TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, etag TEXT, previous TEXT,
    updated INTEGER, keys TEXT, body BLOB, gzip BLOB, removed INTEGER NOT NULL DEFAULT 0,
    layout TEXT
);
CREATE INDEX documents_version ON documents (version);
CREATE INDEX documents_unrendered ON documents (path) WHERE etag IS NULL;

CREATE TABLE outputs (
    out TEXT NOT NULL, path TEXT NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (out, path)
) WITHOUT ROWID;
"""
