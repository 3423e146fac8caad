"""One small class per group of tables, each holding the queries on them.

Times are integer microseconds since the epoch (UTC); structured values are
compact JSON. Queries that take many keys run in chunks, as SQLite bounds
the number of parameters of one statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from typing import NamedTuple

#: Most keys in one ``IN (...)`` list.
_CHUNK = 500


def dumps(value: Any) -> str:
    """Compact JSON for the store's text columns."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _chunks(keys: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _marks(batch: list[Any]) -> str:
    return ",".join("?" * len(batch))


class _Table:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection


# -- content: folders, files, items ---------------------------------------------


class Files(_Table):
    """What the last scan saw: per folder its listing, per file its signature,
    digest and problems."""

    def folders(self) -> dict[str, bytes]:
        return dict(self.db.execute("SELECT folder, listing FROM folders"))

    def put_folder(self, folder: str, listing: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?)", (folder, listing))

    def drop_folder(self, folder: str) -> None:
        self.db.execute("DELETE FROM folders WHERE folder = ?", (folder,))

    def in_folder(self, folder: str) -> dict[str, tuple[bytes, bytes]]:
        """Per path of the folder: (signature, digest)."""
        rows = self.db.execute("SELECT path, signature, digest FROM files WHERE folder = ?", (folder,))
        return {path: (signature, digest) for path, signature, digest in rows}

    def put(self, path: str, folder: str, signature: bytes, digest: bytes, problems: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
            (path, folder, signature, digest, dumps(problems) if problems else None),
        )

    def sign(self, path: str, signature: bytes) -> None:
        self.db.execute("UPDATE files SET signature = ? WHERE path = ?", (signature, path))

    def drop(self, path: str) -> None:
        self.db.execute("DELETE FROM files WHERE path = ?", (path,))

    def problems(self) -> list[tuple[str, Any]]:
        rows = self.db.execute("SELECT path, problems FROM files WHERE problems IS NOT NULL ORDER BY path")
        return [(path, loads(problems)) for path, problems in rows]

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])


class ItemRow(NamedTuple):
    """An article (position 0) or related item (position n) of one file."""

    path: str
    position: int
    canonical: str
    published: int
    #: When it may be shown: its own time, or its article's if later.
    shown_from: int
    draft: bool
    #: Its fields, as `content` gave them (see `feedpub.catalog.item_data`).
    data: dict[str, Any]


_ITEM_COLUMNS = "path, position, canonical, published, shown_from, draft, data"


def _item(row: tuple[Any, ...]) -> ItemRow:
    return ItemRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]))


class Items(_Table):
    """The items of every file."""

    @staticmethod
    def values(row: ItemRow) -> tuple[Any, ...]:
        """A row as the table stores it (what `replace_rows` takes)."""
        return (row.path, row.position, row.canonical, row.published, row.shown_from, int(row.draft), dumps(row.data))

    def replace_rows(self, path: str, rows: list[tuple[Any, ...]]) -> list[str]:
        """Put the file's items (as `values` gives them) in place of its old
        ones; the canonical URLs of the old ones."""
        old = self.drop(path)
        self.db.executemany(f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return old

    def drop(self, path: str) -> list[str]:
        """Remove the file's items; their canonical URLs."""
        old = [row[0] for row in self.db.execute("SELECT canonical FROM items WHERE path = ?", (path,))]
        if old:
            self.db.execute("DELETE FROM items WHERE path = ?", (path,))
        return old

    def of_paths(self, paths: Iterable[str]) -> dict[str, list[ItemRow]]:
        found: dict[str, list[ItemRow]] = {}
        for batch in _chunks(paths):
            query = f"SELECT {_ITEM_COLUMNS} FROM items WHERE path IN ({_marks(batch)}) ORDER BY path, position"
            for row in self.db.execute(query, batch):
                item = _item(row)
                found.setdefault(item.path, []).append(item)
        return found

    def of_canonicals(self, canonicals: Iterable[str]) -> dict[str, list[ItemRow]]:
        found: dict[str, list[ItemRow]] = {}
        for batch in _chunks(canonicals):
            query = f"SELECT {_ITEM_COLUMNS} FROM items WHERE canonical IN ({_marks(batch)})"
            for row in self.db.execute(query, batch):
                item = _item(row)
                found.setdefault(item.canonical, []).append(item)
        return found

    def articles(self) -> int:
        """How many files hold an article."""
        return int(self.db.execute("SELECT count(*) FROM items WHERE position = 0").fetchone()[0])

    def canonicals(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT DISTINCT canonical FROM items")}

    def shown_between(self, low: int, high: int) -> set[str]:
        """Canonical URLs of items that may be shown from a time in (low, high]."""
        rows = self.db.execute(
            "SELECT canonical FROM items WHERE shown_from > ? AND shown_from <= ?", (low, high)
        )
        return {row[0] for row in rows}

    def next_shown_after(self, now: int) -> int | None:
        """The earliest time after `now` at which a withheld item may be shown."""
        row = self.db.execute("SELECT min(shown_from) FROM items WHERE shown_from > ?", (now,)).fetchone()
        return row[0]

    def later_than(self, time: int) -> list[tuple[str, int]]:
        """(path, position) of the items dated after `time`."""
        rows = self.db.execute(
            "SELECT path, position, published FROM items WHERE published > ? ORDER BY path, position", (time,)
        )
        return [(path, position) for path, position, _ in rows]


# -- derived: entries, stories, feeds and their members --------------------------


class EntryRow(NamedTuple):
    """One canonical URL and what it became."""

    canonical: str
    #: Public id (from the ledger); None while withheld or gone.
    id: str | None
    #: `feedpub.catalog.State` value.
    state: int
    published: int | None = None
    updated: int | None = None
    #: ``path#position`` of the winning item.
    winner: str | None = None
    #: [path, position] of every visible item with this URL.
    occurrences: list[list[Any]] | None = None
    #: [[kind, spelling, uses], ...] this entry adds to the name counts.
    spellings: list[list[Any]] | None = None
    #: [url, title, provider spelling, published]: how other entries link it.
    link: list[Any] | None = None
    story: str | None = None
    own_hash: str | None = None
    shown_hash: str | None = None
    feeds: list[str] | None = None
    #: What a renderer needs, as JSON text: decoded only where it is shown.
    data: str | None = None
    problems: list[list[Any]] | None = None


# Four small structured fields travel as one JSON array (one encode, one
# decode per row instead of four); `problems` is a column of its own, NULL
# for most rows, so that listing problems needs no decoding at all.
_META_FIELDS = ("occurrences", "spellings", "link", "feeds")
_ENTRY_COLUMNS = "canonical, id, state, published, updated, winner, story, own_hash, shown_hash, data, problems, meta"


def _entry(row: tuple[Any, ...]) -> EntryRow:
    canonical, id, state, published, updated, winner, story, own_hash, shown_hash, data, problems, meta = row
    occurrences, spellings, link, feeds = json.loads(meta)
    return EntryRow(canonical, id, state, published, updated, winner, occurrences, spellings, link, story,
                    own_hash, shown_hash, feeds, data, json.loads(problems) if problems else None)


def _entry_values(row: EntryRow) -> tuple[Any, ...]:
    meta = dumps([row.occurrences, row.spellings, row.link, row.feeds])
    problems = dumps(row.problems) if row.problems else None
    return (row.canonical, row.id, row.state, row.published, row.updated, row.winner, row.story, row.own_hash,
            row.shown_hash, row.data, problems, meta)


class Entries(_Table):
    def get(self, canonicals: Iterable[str]) -> dict[str, EntryRow]:
        found = {}
        for batch in _chunks(canonicals):
            query = f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE canonical IN ({_marks(batch)})"
            for row in self.db.execute(query, batch):
                entry = _entry(row)
                found[entry.canonical] = entry
        return found

    def put(self, row: EntryRow) -> None:
        self.put_many([row])

    def put_many(self, rows: list[EntryRow]) -> None:
        marks = ", ".join("?" * 12)
        self.db.executemany(
            f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}) VALUES ({marks})", [_entry_values(r) for r in rows]
        )

    def drop(self, canonical: str) -> None:
        self.db.execute("DELETE FROM entries WHERE canonical = ?", (canonical,))

    def by_ids(self, ids: list[str]) -> dict[str, EntryRow]:
        found = {}
        for batch in _chunks(ids):
            query = f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id IN ({_marks(batch)})"
            for row in self.db.execute(query, batch):
                entry = _entry(row)
                found[entry.id] = entry
        return found

    def set_stories(self, pairs: list[tuple[str, str]]) -> None:
        """Set (story, canonical) pairs."""
        self.db.executemany("UPDATE entries SET story = ? WHERE canonical = ?", pairs)

    def id_taken(self, id: str) -> bool:
        return self.db.execute("SELECT 1 FROM entries WHERE id = ?", (id,)).fetchone() is not None

    def of_stories(self, stories: Iterable[str]) -> set[str]:
        found = set()
        for batch in _chunks(stories):
            query = f"SELECT canonical FROM entries WHERE story IN ({_marks(batch)})"
            found.update(row[0] for row in self.db.execute(query, batch))
        return found

    def withheld(self) -> dict[int, int]:
        """How many entries are in each withheld state."""
        return dict(self.db.execute("SELECT state, count(*) FROM entries WHERE state != 0 GROUP BY state"))

    def problems(self) -> list[list[Any]]:
        rows = self.db.execute("SELECT problems FROM entries WHERE problems IS NOT NULL")
        return [problem for (problems,) in rows for problem in json.loads(problems)]


class StoryRow(NamedTuple):
    id: str
    published: int
    updated: int
    #: Digest of its coverage's ids, for the ledger's "updated".
    hash: str
    shown_hash: str
    feeds: list[str]
    #: What a renderer needs, as JSON text.
    data: str


class Stories(_Table):
    def get(self, ids: Iterable[str]) -> dict[str, StoryRow]:
        found = {}
        for batch in _chunks(ids):
            query = f"SELECT id, published, updated, hash, shown_hash, feeds, data FROM stories WHERE id IN ({_marks(batch)})"
            for row in self.db.execute(query, batch):
                found[row[0]] = StoryRow(*row[:5], json.loads(row[5]), row[6])
        return found

    def put_many(self, rows: list[StoryRow]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO stories (id, published, updated, hash, shown_hash, feeds, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row[:5], dumps(row.feeds), row.data) for row in rows],
        )

    def drop(self, id: str) -> None:
        self.db.execute("DELETE FROM stories WHERE id = ?", (id,))


class FeedRow(NamedTuple):
    key: str
    kind: str
    name: str
    title: str
    description: str
    total: int
    newest: int | None
    pages: int


class Members(_Table):
    """Which entries (or stories) each feed holds, in feed order: newest
    first, ties by id."""

    def add_many(self, rows: list[tuple[str, int, str]]) -> None:
        """Add (feed, published, id) members."""
        self.db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)", rows)

    def drop_many(self, rows: list[tuple[str, int, str]]) -> None:
        self.db.executemany("DELETE FROM members WHERE feed = ? AND published = ? AND id = ?", rows)

    def newer(self, feed: str, published: int, id: str, limit: int) -> int:
        """How many members are strictly before (published, id) in feed
        order, counting at most `limit`."""
        first = self.db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM members WHERE feed = ? AND published > ? LIMIT ?)",
            (feed, published, limit),
        ).fetchone()[0]
        if first >= limit:
            return int(first)
        ties = self.db.execute(
            "SELECT count(*) FROM members WHERE feed = ? AND published = ? AND id < ?", (feed, published, id)
        ).fetchone()[0]
        return int(first + ties)

    def older(self, feed: str, published: int, id: str) -> int:
        """How many members are strictly after (published, id) in feed order."""
        first = self.db.execute(
            "SELECT count(*) FROM members WHERE feed = ? AND published < ?", (feed, published)
        ).fetchone()[0]
        ties = self.db.execute(
            "SELECT count(*) FROM members WHERE feed = ? AND published = ? AND id > ?", (feed, published, id)
        ).fetchone()[0]
        return int(first + ties)

    def page(self, feed: str, offset: int, limit: int) -> list[str]:
        """Ids of `limit` members from position `offset`, in feed order."""
        rows = self.db.execute(
            "SELECT id FROM members WHERE feed = ? ORDER BY published DESC, id LIMIT ? OFFSET ?",
            (feed, limit, offset),
        )
        return [row[0] for row in rows]

    def page_from_oldest(self, feed: str, offset: int, limit: int) -> list[str]:
        """The same, counted from the oldest (cheaper for old pages), still in
        feed order."""
        rows = self.db.execute(
            "SELECT id FROM members WHERE feed = ? ORDER BY published, id DESC LIMIT ? OFFSET ?",
            (feed, limit, offset),
        )
        return [row[0] for row in rows][::-1]

    def newest(self, feed: str) -> int | None:
        row = self.db.execute("SELECT max(published) FROM members WHERE feed = ?", (feed,)).fetchone()
        return row[0]

    def count(self, feed: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM members WHERE feed = ?", (feed,)).fetchone()[0])

    # -- feeds ---------------------------------------------------------------

    def feed(self, key: str) -> FeedRow | None:
        row = self.db.execute("SELECT * FROM feeds WHERE key = ?", (key,)).fetchone()
        return FeedRow(*row) if row else None

    def feeds(self) -> list[FeedRow]:
        return [FeedRow(*row) for row in self.db.execute("SELECT * FROM feeds")]

    def put_feed(self, row: FeedRow) -> None:
        self.db.execute("INSERT OR REPLACE INTO feeds VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def drop_feed(self, key: str) -> None:
        self.db.execute("DELETE FROM feeds WHERE key = ?", (key,))


class NameRow(NamedTuple):
    kind: str
    normal: str
    display: str
    #: The slug the display name would have alone (names sharing it collide).
    base: str
    slug: str
    #: The first file using it, for the warning about a shared slug.
    first_path: str | None


class Names(_Table):
    """Topic and provider names: how often each spelling is used, which one
    is shown, and the slug of its feed."""

    def add_uses_many(self, rows: list[tuple[str, str, str, int]]) -> None:
        """Add (kind, normal, spelling, uses) to the counts of spellings."""
        self.db.executemany(
            "INSERT INTO spellings VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET uses = uses + excluded.uses", rows
        )

    def spellings(self, kind: str, normal: str) -> list[tuple[str, int]]:
        self.db.execute("DELETE FROM spellings WHERE kind = ? AND normal = ? AND uses <= 0", (kind, normal))
        rows = self.db.execute("SELECT spelling, uses FROM spellings WHERE kind = ? AND normal = ?", (kind, normal))
        return list(rows)

    def get(self, kind: str, normal: str) -> NameRow | None:
        row = self.db.execute("SELECT * FROM names WHERE kind = ? AND normal = ?", (kind, normal)).fetchone()
        return NameRow(*row) if row else None

    def all(self, kind: str) -> dict[str, NameRow]:
        return {row[1]: NameRow(*row) for row in self.db.execute("SELECT * FROM names WHERE kind = ?", (kind,))}

    def by_slug(self, kind: str, slug: str) -> NameRow | None:
        row = self.db.execute("SELECT * FROM names WHERE kind = ? AND slug = ?", (kind, slug)).fetchone()
        return NameRow(*row) if row else None

    def with_base(self, kind: str, base: str) -> list[NameRow]:
        rows = self.db.execute("SELECT * FROM names WHERE kind = ? AND base = ?", (kind, base))
        return [NameRow(*row) for row in rows]

    def slugs_taken(self, kind: str, slugs: list[str]) -> set[str]:
        query = f"SELECT slug FROM names WHERE kind = ? AND slug IN ({_marks(slugs)})"
        return {row[0] for row in self.db.execute(query, [kind, *slugs])}

    def put(self, row: NameRow) -> None:
        self.db.execute("INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?, ?, ?)", row)

    def drop(self, kind: str, normal: str) -> None:
        self.db.execute("DELETE FROM names WHERE kind = ? AND normal = ?", (kind, normal))

    def moved(self) -> list[NameRow]:
        """Names whose slug is not their base slug (another name had it)."""
        return [NameRow(*row) for row in self.db.execute("SELECT * FROM names WHERE slug != base AND base != ''")]


class LedgerRow(NamedTuple):
    """One line of the id ledger."""

    id: str
    #: The canonical URL the entry has now.
    canonical: str
    #: The URL it links to now.
    link: str
    #: ``path#position`` of the item it was last seen as.
    origin: str
    provider: str
    #: A short digest of its title.
    title: str
    #: A digest of what it shows.
    hash: str
    #: When `hash` was first seen (ISO 8601), or ``-``: as published.
    updated: str
    #: The tag URI of its story.
    story: str


class Ledger(_Table):
    """The id ledger's lines; `changed` collects the ids whose line was
    written or removed since it was last cleared, so that the file can be
    updated line by line."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self.changed: set[str] = set()

    def by_ids(self, ids: Iterable[str]) -> dict[str, LedgerRow]:
        found = {}
        for batch in _chunks(ids):
            for row in self.db.execute(f"SELECT * FROM ledger WHERE id IN ({_marks(batch)})", batch):
                found[row[0]] = LedgerRow(*row)
        return found

    def by_canonical(self, canonical: str) -> LedgerRow | None:
        row = self.db.execute("SELECT * FROM ledger WHERE canonical = ?", (canonical,)).fetchone()
        return LedgerRow(*row) if row else None

    def by_canonicals(self, canonicals: Iterable[str]) -> dict[str, LedgerRow]:
        found = {}
        for batch in _chunks(canonicals):
            for row in self.db.execute(f"SELECT * FROM ledger WHERE canonical IN ({_marks(batch)})", batch):
                found[row[1]] = LedgerRow(*row)
        return found

    def orphans_at(self, origin: str) -> list[LedgerRow]:
        """Lines recorded for `origin` whose URL no file has any more: the
        entry there may have had its URL edited."""
        rows = self.db.execute(
            "SELECT * FROM ledger WHERE origin = ? AND NOT EXISTS "
            "(SELECT 1 FROM items WHERE items.canonical = ledger.canonical) ORDER BY id",
            (origin,),
        )
        return [LedgerRow(*row) for row in rows]

    def set_stories(self, pairs: list[tuple[str, str]]) -> None:
        """Set (story, id) pairs."""
        self.db.executemany("UPDATE ledger SET story = ? WHERE id = ?", pairs)
        self.changed.update(id for _, id in pairs)

    def has_orphans(self) -> bool:
        """Whether any entry's line has a URL no file has any more."""
        row = self.db.execute(
            "SELECT 1 FROM ledger WHERE origin != '-' AND NOT EXISTS "
            "(SELECT 1 FROM items WHERE items.canonical = ledger.canonical) LIMIT 1"
        ).fetchone()
        return row is not None

    def has_id(self, id: str) -> bool:
        return self.db.execute("SELECT 1 FROM ledger WHERE id = ?", (id,)).fetchone() is not None

    def put(self, row: LedgerRow) -> None:
        self.put_many([row])

    def put_many(self, rows: list[LedgerRow]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.changed.update(row.id for row in rows)

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` some line has."""
        found: set[str] = set()
        for batch in _chunks(ids):
            query = f"SELECT id FROM ledger WHERE id IN ({_marks(batch)})"
            found.update(row[0] for row in self.db.execute(query, batch))
        return found

    def drop_orphans(self) -> int:
        """Forget the lines of entries no file has any more, and of stories
        no entry is part of; how many."""
        orphans = [row[0] for row in self.db.execute(
            "SELECT id FROM ledger WHERE origin != '-' AND NOT EXISTS "
            "(SELECT 1 FROM items WHERE items.canonical = ledger.canonical)"
        )]
        self._drop(orphans)
        stories = [row[0] for row in self.db.execute(
            "SELECT id FROM ledger WHERE origin = '-' AND NOT EXISTS "
            "(SELECT 1 FROM ledger AS entry WHERE entry.story = ledger.id AND entry.origin != '-')"
        )]
        self._drop(stories)
        return len(orphans) + len(stories)

    def _drop(self, ids: list[str]) -> None:
        for batch in _chunks(ids):
            self.db.execute(f"DELETE FROM ledger WHERE id IN ({_marks(batch)})", batch)
        self.changed.update(ids)

    def rows(self) -> Iterator[LedgerRow]:
        for row in self.db.execute("SELECT * FROM ledger ORDER BY id"):
            yield LedgerRow(*row)

    def replace_all(self, rows: Iterable[LedgerRow]) -> None:
        """The lines of a ledger file just read: the file and the table agree."""
        self.db.execute("DELETE FROM ledger")
        self.db.executemany("INSERT OR REPLACE INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.changed.clear()


# -- documents ---------------------------------------------------------------------


class DocumentRow(NamedTuple):
    path: str
    version: int
    #: Strong validator of the bytes; None until rendered again.
    etag: str | None
    #: The ETag before the last change, to tell WebSub what changed.
    previous: str | None
    #: ``Last-Modified`` (µs), if any.
    updated: int | None
    #: Surrogate keys: the feeds and entries it shows.
    keys: str | None
    #: The bytes and their gzip form, for documents readers poll.
    body: bytes | None
    gzip: bytes | None
    removed: bool


class Documents(_Table):
    def get(self, path: str) -> DocumentRow | None:
        row = self.db.execute(
            "SELECT path, version, etag, previous, updated, keys, body, gzip, removed FROM documents WHERE path = ?",
            (path,),
        ).fetchone()
        return DocumentRow(*row[:8], bool(row[8])) if row else None

    def mark(self, paths: Iterable[str], version: int) -> None:
        """To be rendered again (a change touched what they show)."""
        self.db.executemany(
            "INSERT INTO documents (path, version) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET "
            "version = excluded.version, previous = coalesce(etag, previous), etag = NULL, body = NULL, "
            "gzip = NULL, removed = 0",
            [(path, version) for path in paths],
        )

    def remove(self, paths: Iterable[str], version: int) -> None:
        """Gone from the URL space; kept as a tombstone so that servers drop
        their copies."""
        self.db.executemany(
            "UPDATE documents SET version = ?, previous = coalesce(etag, previous), etag = NULL, body = NULL, "
            "gzip = NULL, removed = 1 WHERE path = ?",
            [(version, path) for path in paths],
        )

    def rendered(
        self, path: str, etag: str, updated: int | None, keys: str, body: bytes | None, gzip: bytes | None
    ) -> None:
        self.db.execute(
            "UPDATE documents SET etag = ?, updated = ?, keys = ?, body = ?, gzip = ? WHERE path = ?",
            (etag, updated, keys, body, gzip, path),
        )

    def unrendered(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT path FROM documents WHERE etag IS NULL AND removed = 0")]

    def etags(self) -> dict[str, str | None]:
        return dict(self.db.execute("SELECT path, etag FROM documents WHERE removed = 0"))

    def changed_since(self, version: int) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT path FROM documents WHERE version > ?", (version,))]

    def prune(self, before: int) -> None:
        self.db.execute("DELETE FROM documents WHERE removed = 1 AND version < ?", (before,))

    def outputs(self, out: str) -> dict[str, str]:
        return dict(self.db.execute("SELECT path, etag FROM outputs WHERE out = ?", (out,)))

    def put_outputs(self, out: str, written: Iterable[tuple[str, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", [(out, p, e) for p, e in written])

    def drop_outputs(self, out: str, paths: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM outputs WHERE out = ? AND path = ?", [(out, p) for p in paths])
