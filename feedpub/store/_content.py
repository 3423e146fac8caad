"""The tables of what the content folder holds: folders, files and items."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from typing import NamedTuple

from feedpub.store._tables import Table
from feedpub.store._tables import chunks
from feedpub.store._tables import dumps
from feedpub.store._tables import loads
from feedpub.store._tables import marks


class Files(Table):
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
    data = json.loads(row[6]) if row[6] else {}
    # One string however many rows and sets hold it (see `canonicals`).
    return ItemRow(row[0], row[1], sys.intern(row[2]), row[3], row[4], bool(row[5]), data)


class Items(Table):
    """The items of every file."""

    @staticmethod
    def values(row: ItemRow) -> tuple[Any, ...]:
        """A row as the table stores it (what `replace_rows` takes)."""
        return (
            row.path,
            row.position,
            row.canonical,
            row.published,
            row.shown_from,
            int(row.draft),
            dumps(row.data),
        )

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

    def of_paths(self, paths: Iterable[str], *, data: bool = True) -> dict[str, list[ItemRow]]:
        """The items of the files at `paths`; without `data`, with empty data
        (lighter: which URLs each file shows)."""
        columns = _ITEM_COLUMNS if data else _ITEM_COLUMNS.replace(", data", ", NULL")
        found: dict[str, list[ItemRow]] = {}
        for batch in chunks(paths):
            query = f"SELECT {columns} FROM items WHERE path IN ({marks(batch)}) ORDER BY path, position"
            for row in self.db.execute(query, batch):
                item = _item(row)
                found.setdefault(item.path, []).append(item)
        return found

    def of_canonicals(self, canonicals: Iterable[str]) -> dict[str, list[ItemRow]]:
        found: dict[str, list[ItemRow]] = {}
        for batch in chunks(canonicals):
            query = f"SELECT {_ITEM_COLUMNS} FROM items WHERE canonical IN ({marks(batch)})"
            for row in self.db.execute(query, batch):
                item = _item(row)
                found.setdefault(item.canonical, []).append(item)
        return found

    def in_file_order(self) -> Iterator[str]:
        """Every item's canonical URL, file by file (by path, then position)."""
        for (canonical,) in self.db.execute("SELECT canonical FROM items ORDER BY path, position"):
            yield canonical

    def articles(self) -> int:
        """How many files hold an article."""
        return int(self.db.execute("SELECT count(*) FROM items WHERE position = 0").fetchone()[0])

    def canonicals(self) -> set[str]:
        """Every canonical URL. A refresh of everything holds several sets
        of them at once, and rows read on the way: interned, each URL is
        one string object in all of them (at 100,000 articles, 400,000 URLs
        of about 100 bytes)."""
        return {sys.intern(row[0]) for row in self.db.execute("SELECT DISTINCT canonical FROM items")}

    def shown_between(self, low: int, high: int) -> set[str]:
        """Canonical URLs of items that may be shown from a time in (low, high]."""
        rows = self.db.execute(
            "SELECT canonical FROM items WHERE shown_from > ? AND shown_from <= ?", (low, high)
        )
        return {row[0] for row in rows}

    def next_shown_after(self, now: int) -> int | None:
        """The earliest time after `now` at which a withheld item may be shown."""
        row = self.db.execute("SELECT min(shown_from) FROM items WHERE shown_from > ?", (now,)).fetchone()
        return None if row[0] is None else int(row[0])

    def later_than(self, time: int) -> list[tuple[str, int]]:
        """(path, position) of the items dated after `time`."""
        # Sorted here, not by SQLite: asked to order by path, it would walk
        # every item in that order rather than the few the date index finds.
        rows = self.db.execute("SELECT path, position FROM items WHERE published > ?", (time,))
        return sorted(rows)
