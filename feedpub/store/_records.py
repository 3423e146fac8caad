"""The tables that record what was published: the id ledger, the documents
and what was written into each output folder."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from collections.abc import Iterator
from typing import NamedTuple

from feedpub.store._tables import Table
from feedpub.store._tables import chunks
from feedpub.store._tables import marks


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


class Ledger(Table):
    """The id ledger's lines; `changed` collects the ids whose line was
    written or removed since it was last cleared, so that the file can be
    updated line by line."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self.changed: set[str] = set()

    def by_ids(self, ids: Iterable[str]) -> dict[str, LedgerRow]:
        found = {}
        for batch in chunks(ids):
            for row in self.db.execute(f"SELECT * FROM ledger WHERE id IN ({marks(batch)})", batch):
                found[row[0]] = LedgerRow(*row)
        return found

    def by_canonical(self, canonical: str) -> LedgerRow | None:
        row = self.db.execute("SELECT * FROM ledger WHERE canonical = ?", (canonical,)).fetchone()
        return LedgerRow(*row) if row else None

    def by_canonicals(self, canonicals: Iterable[str]) -> dict[str, LedgerRow]:
        found = {}
        for batch in chunks(canonicals):
            for row in self.db.execute(f"SELECT * FROM ledger WHERE canonical IN ({marks(batch)})", batch):
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

    def has_orphans(self, canonicals: Iterable[str] | None = None) -> bool:
        """Whether any entry's line (of `canonicals`, or of all) has a URL no
        file has any more."""
        return bool(self._orphans(canonicals, limit=True))

    def _orphans(self, canonicals: Iterable[str] | None, limit: bool = False) -> list[str]:
        query = (
            "SELECT id FROM ledger WHERE origin != '-' {among} AND NOT EXISTS "
            "(SELECT 1 FROM items WHERE items.canonical = ledger.canonical)" + (" LIMIT 1" if limit else "")
        )
        if canonicals is None:
            return [row[0] for row in self.db.execute(query.format(among=""))]
        found: list[str] = []
        for batch in chunks(canonicals):
            among = f"AND canonical IN ({marks(batch)})"
            found += [row[0] for row in self.db.execute(query.format(among=among), batch)]
            if limit and found:
                break
        return found

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
        for batch in chunks(ids):
            query = f"SELECT id FROM ledger WHERE id IN ({marks(batch)})"
            found.update(row[0] for row in self.db.execute(query, batch))
        return found

    def drop_orphans(
        self, canonicals: Iterable[str] | None = None, stories: Iterable[str] | None = None
    ) -> int:
        """Forget the lines of entries no file has any more, and of stories
        no entry is part of (among `canonicals` and `stories` when given: what
        a refresh touched; else all); how many."""
        orphans = self._orphans(canonicals)
        self._drop(orphans)
        query = (
            "SELECT id FROM ledger WHERE origin = '-' {among} AND NOT EXISTS "
            "(SELECT 1 FROM ledger AS entry WHERE entry.story = ledger.id AND entry.origin != '-')"
        )
        if stories is None:
            lonely = [row[0] for row in self.db.execute(query.format(among=""))]
        else:
            lonely = []
            for batch in chunks(stories):
                lonely += [
                    row[0]
                    for row in self.db.execute(query.format(among=f"AND id IN ({marks(batch)})"), batch)
                ]
        self._drop(lonely)
        return len(orphans) + len(lonely)

    def _drop(self, ids: list[str]) -> None:
        for batch in chunks(ids):
            self.db.execute(f"DELETE FROM ledger WHERE id IN ({marks(batch)})", batch)
        self.changed.update(ids)

    def rows(self) -> Iterator[LedgerRow]:
        for row in self.db.execute("SELECT * FROM ledger ORDER BY id"):
            yield LedgerRow(*row)

    def replace_all(self, rows: Iterable[LedgerRow]) -> None:
        """The lines of a ledger file just read: the file and the table agree."""
        self.db.execute("DELETE FROM ledger")
        self.db.executemany("INSERT OR REPLACE INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.changed.clear()


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


class Documents(Table):
    def get(self, path: str) -> DocumentRow | None:
        row = self.db.execute(
            "SELECT path, version, etag, previous, updated, keys, body, gzip, removed"
            " FROM documents WHERE path = ?",
            (path,),
        ).fetchone()
        if row is None:
            return None
        path, version, etag, previous, updated, keys, body, gzip, removed = row
        return DocumentRow(path, version, etag, previous, updated, keys, body, gzip, bool(removed))

    def mark(self, paths: Iterable[str], version: int) -> None:
        """To be rendered again (a change touched what they show). The bytes
        stay until then: the unchanged entries are copied from them."""
        self.db.executemany(
            "INSERT INTO documents (path, version) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET "
            "version = excluded.version, previous = coalesce(etag, previous), etag = NULL, "
            "gzip = NULL, removed = 0",
            [(path, version) for path in paths],
        )

    def remove(self, paths: Iterable[str], version: int) -> None:
        """Gone from the URL space; kept as a tombstone so that servers drop
        their copies."""
        self.db.executemany(
            "UPDATE documents SET version = ?, previous = coalesce(etag, previous), etag = NULL,"
            " body = NULL, gzip = NULL, layout = NULL, removed = 1 WHERE path = ?",
            [(version, path) for path in paths],
        )

    def rendered(
        self,
        path: str,
        etag: str,
        updated: int | None,
        keys: str,
        body: bytes | None,
        gzip: bytes | None,
        layout: str | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE documents SET etag = ?, updated = ?, keys = ?, body = ?, gzip = ?, layout = ?"
            " WHERE path = ?",
            (etag, updated, keys, body, gzip, layout, path),
        )

    def body(self, path: str) -> bytes | None:
        """The bytes kept of the document, rendered or waiting to be again."""
        row = self.db.execute("SELECT body FROM documents WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def layout(self, path: str) -> str | None:
        """Where the entries are in the document's last rendering (`feedpub.reuse`)."""
        row = self.db.execute("SELECT layout FROM documents WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def unrendered(self) -> list[str]:
        return [
            row[0] for row in self.db.execute("SELECT path FROM documents WHERE etag IS NULL AND removed = 0")
        ]

    def etags(self) -> dict[str, str | None]:
        return dict(self.db.execute("SELECT path, etag FROM documents WHERE removed = 0"))

    def changes_since(self, version: int) -> dict[str, bool]:
        """Per document marked since `version`: whether it left the URL space."""
        rows = self.db.execute("SELECT path, removed FROM documents WHERE version > ?", (version,))
        return {path: bool(removed) for path, removed in rows}

    def etags_of(self, paths: Iterable[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for batch in chunks(paths):
            query = f"SELECT path, etag FROM documents WHERE removed = 0 AND path IN ({marks(batch)})"
            found.update(self.db.execute(query, batch))
        return found

    def outputs_of(self, out: str, paths: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for batch in chunks(paths):
            query = f"SELECT path, etag FROM outputs WHERE out = ? AND path IN ({marks(batch)})"
            found.update(self.db.execute(query, [out, *batch]))
        return found

    def changed_since(self, version: int) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT path FROM documents WHERE version > ?", (version,))]

    def prune(self, before: int) -> None:
        self.db.execute("DELETE FROM documents WHERE removed = 1 AND version < ?", (before,))

    def outputs(self, out: str) -> dict[str, str]:
        return dict(self.db.execute("SELECT path, etag FROM outputs WHERE out = ?", (out,)))

    def put_outputs(self, out: str, written: Iterable[tuple[str, str]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", [(out, p, e) for p, e in written]
        )

    def drop_outputs(self, out: str, paths: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM outputs WHERE out = ? AND path = ?", [(out, p) for p in paths])
