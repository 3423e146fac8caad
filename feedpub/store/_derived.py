"""The tables derived from the items: entries, stories, feeds, members, names."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterable
from typing import Any
from typing import NamedTuple

from feedpub.store._schema import MEMBER_SPAN_BITS
from feedpub.store._tables import Table
from feedpub.store._tables import chunks
from feedpub.store._tables import dumps
from feedpub.store._tables import marks


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
_ENTRY_COLUMNS = (
    "canonical, id, state, published, updated, winner, story, own_hash, shown_hash, data, problems, meta"
)


def _entry(row: tuple[Any, ...]) -> EntryRow:
    canonical, id, state, published, updated, winner, story, own_hash, shown_hash, data, problems, meta = row
    occurrences, spellings, link, feeds = json.loads(meta)
    return EntryRow(
        sys.intern(canonical),  # see `Items.canonicals`
        id,
        state,
        published,
        updated,
        winner,
        occurrences,
        spellings,
        link,
        story,
        own_hash,
        shown_hash,
        feeds,
        data,
        json.loads(problems) if problems else None,
    )


def _entry_values(row: EntryRow) -> tuple[Any, ...]:
    meta = dumps([row.occurrences, row.spellings, row.link, row.feeds])
    problems = dumps(row.problems) if row.problems else None
    return (
        row.canonical,
        row.id,
        row.state,
        row.published,
        row.updated,
        row.winner,
        row.story,
        row.own_hash,
        row.shown_hash,
        row.data,
        problems,
        meta,
    )


class Entries(Table):
    def get(self, canonicals: Iterable[str], *, data: bool = True) -> dict[str, EntryRow]:
        """The rows of `canonicals`; without `data`, with no renderer's data
        (lighter, for walking stories)."""
        columns = _ENTRY_COLUMNS if data else _ENTRY_COLUMNS.replace("data,", "NULL,")
        found = {}
        for batch in chunks(canonicals):
            query = f"SELECT {columns} FROM entries WHERE canonical IN ({marks(batch)})"
            for row in self.db.execute(query, batch):
                entry = _entry(row)
                found[entry.canonical] = entry
        return found

    def put(self, row: EntryRow) -> None:
        self.put_many([row])

    def put_many(self, rows: list[EntryRow]) -> None:
        marks = ", ".join("?" * 12)
        self.db.executemany(
            f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}) VALUES ({marks})",
            [_entry_values(r) for r in rows],
        )

    def drop(self, canonical: str) -> None:
        self.db.execute("DELETE FROM entries WHERE canonical = ?", (canonical,))

    def by_ids(self, ids: list[str], *, data: bool = True) -> dict[str, EntryRow]:
        columns = _ENTRY_COLUMNS if data else _ENTRY_COLUMNS.replace("data,", "NULL,")
        found = {}
        for batch in chunks(ids):
            query = f"SELECT {columns} FROM entries WHERE id IN ({marks(batch)})"
            for row in self.db.execute(query, batch):
                entry = _entry(row)
                found[str(entry.id)] = entry
        return found

    def shown(self, ids: list[str]) -> dict[str, tuple[int, int, str]]:
        """(published, updated, data) by id: what a document shows of these
        entries, without the columns only the derive reads (their `meta`
        alone takes longer to decode than `data`)."""
        return _shown(self.db, "entries", ids)

    def set_stories(self, pairs: list[tuple[str, str]]) -> None:
        """Set (story, canonical) pairs."""
        self.db.executemany("UPDATE entries SET story = ? WHERE canonical = ?", pairs)

    def id_taken(self, id: str) -> bool:
        return self.db.execute("SELECT 1 FROM entries WHERE id = ?", (id,)).fetchone() is not None

    def stories_of(self, canonicals: Iterable[str]) -> set[str]:
        """The stories the entries of `canonicals` are in."""
        found: set[str] = set()
        for batch in chunks(canonicals):
            query = (
                "SELECT DISTINCT story FROM entries WHERE story IS NOT NULL"
                f" AND canonical IN ({marks(batch)})"
            )
            found.update(row[0] for row in self.db.execute(query, batch))
        return found

    def of_stories(self, stories: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for batch in chunks(stories):
            query = f"SELECT canonical FROM entries WHERE story IN ({marks(batch)})"
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


_STORY_COLUMNS = "id, published, updated, hash, shown_hash, feeds, data"


class Stories(Table):
    def get(self, ids: Iterable[str], *, data: bool = True) -> dict[str, StoryRow]:
        columns = _STORY_COLUMNS if data else _STORY_COLUMNS.replace(", data", ", NULL")
        found = {}
        for batch in chunks(ids):
            query = f"SELECT {columns} FROM stories WHERE id IN ({marks(batch)})"
            for row in self.db.execute(query, batch):
                story_id, published, updated, digest, shown, feeds, text = row
                found[story_id] = StoryRow(
                    story_id, published, updated, digest, shown, json.loads(feeds), text
                )
        return found

    def shown(self, ids: list[str]) -> dict[str, tuple[int, int, str]]:
        """(published, updated, data) by id, as `Entries.shown`."""
        return _shown(self.db, "stories", ids)

    def put_many(self, rows: list[StoryRow]) -> None:
        self.db.executemany(
            f"INSERT OR REPLACE INTO stories ({_STORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
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


class Members(Table):
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
        """How many members are strictly after (published, id) in feed order:
        those of the earlier spans of time, counted by span, and the older
        ones of its own span (at 100,000 articles, counting the members of
        ``all`` one by one took 86 ms)."""
        span = published >> MEMBER_SPAN_BITS
        spans = self.db.execute(
            "SELECT coalesce(sum(count), 0) FROM member_spans WHERE feed = ? AND span < ?", (feed, span)
        ).fetchone()[0]
        within = self.db.execute(
            "SELECT count(*) FROM members WHERE feed = ? AND published >= ? AND published < ?",
            (feed, span << MEMBER_SPAN_BITS, published),
        ).fetchone()[0]
        first = spans + within
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
        return None if row[0] is None else int(row[0])

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


class Names(Table):
    """Topic and provider names: how often each spelling is used, which one
    is shown, and the slug of its feed."""

    def add_uses_many(self, rows: list[tuple[str, str, str, int]]) -> None:
        """Add (kind, normal, spelling, uses) to the counts of spellings."""
        self.db.executemany(
            "INSERT INTO spellings VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET uses = uses + excluded.uses",
            rows,
        )

    def spellings(self, kind: str, normal: str) -> list[tuple[str, int]]:
        self.db.execute("DELETE FROM spellings WHERE kind = ? AND normal = ? AND uses <= 0", (kind, normal))
        rows = self.db.execute(
            "SELECT spelling, uses FROM spellings WHERE kind = ? AND normal = ?", (kind, normal)
        )
        return list(rows)

    def get(self, kind: str, normal: str) -> NameRow | None:
        row = self.db.execute("SELECT * FROM names WHERE kind = ? AND normal = ?", (kind, normal)).fetchone()
        return NameRow(*row) if row else None

    def all(self, kind: str) -> dict[str, NameRow]:
        return {
            row[1]: NameRow(*row) for row in self.db.execute("SELECT * FROM names WHERE kind = ?", (kind,))
        }

    def by_slug(self, kind: str, slug: str) -> NameRow | None:
        row = self.db.execute("SELECT * FROM names WHERE kind = ? AND slug = ?", (kind, slug)).fetchone()
        return NameRow(*row) if row else None

    def with_base(self, kind: str, base: str) -> list[NameRow]:
        rows = self.db.execute("SELECT * FROM names WHERE kind = ? AND base = ?", (kind, base))
        return [NameRow(*row) for row in rows]

    def slugs_taken(self, kind: str, slugs: list[str]) -> set[str]:
        query = f"SELECT slug FROM names WHERE kind = ? AND slug IN ({marks(slugs)})"
        return {row[0] for row in self.db.execute(query, [kind, *slugs])}

    def put(self, row: NameRow) -> None:
        self.db.execute("INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?, ?, ?)", row)

    def drop(self, kind: str, normal: str) -> None:
        self.db.execute("DELETE FROM names WHERE kind = ? AND normal = ?", (kind, normal))

    def moved(self) -> list[NameRow]:
        """Names whose slug is not their base slug (another name had it)."""
        return [
            NameRow(*row) for row in self.db.execute("SELECT * FROM names WHERE slug != base AND base != ''")
        ]


def _shown(db: sqlite3.Connection, table: str, ids: list[str]) -> dict[str, tuple[int, int, str]]:
    found = {}
    for batch in chunks(ids):
        query = f"SELECT id, published, updated, data FROM {table} WHERE id IN ({marks(batch)})"
        for id, published, updated, data in db.execute(query, batch):
            found[id] = (published, updated, data)
    return found
