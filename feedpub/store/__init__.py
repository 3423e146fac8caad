"""The SQLite site store: schema, version, transactions and queries. Nothing
else in feedpub touches SQL.

One file in WAL mode holds what the pipeline knows of one content folder
(``_schema`` lists the tables). Each refresh is one write transaction, so a
process killed at any point leaves the previous version whole; readers (the
server's workers) see one committed version or the next, never a mix. A file
that is not a SQLite database, not ours, from another schema version or
written by another version of feedpub is set aside (renamed ``*.broken``)
and a new store started: it is a cache, never trusted over the content.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedpub.errors import StoreError
from feedpub.store._content import Files
from feedpub.store._content import ItemRow
from feedpub.store._content import Items
from feedpub.store._derived import Entries
from feedpub.store._derived import EntryRow
from feedpub.store._derived import FeedRow
from feedpub.store._derived import Members
from feedpub.store._derived import NameRow
from feedpub.store._derived import Names
from feedpub.store._derived import Stories
from feedpub.store._derived import StoryRow
from feedpub.store._records import DocumentRow
from feedpub.store._records import Documents
from feedpub.store._records import Ledger
from feedpub.store._records import LedgerRow
from feedpub.store._schema import APPLICATION_ID
from feedpub.store._schema import SCHEMA
from feedpub.store._schema import SCHEMA_VERSION
from feedpub.store._tables import dumps
from feedpub.store._tables import loads

__all__ = [
    "DocumentRow",
    "EntryRow",
    "FeedRow",
    "ItemRow",
    "LedgerRow",
    "NameRow",
    "Store",
    "StoreLock",
    "StoryRow",
    "code_version",
    "dumps",
    "loads",
]


def code_version() -> str:
    """A digest of feedpub's own code and feedgen's version: what the store
    holds was computed by this code, and another code may compute it
    differently, so a store of another code is rebuilt."""
    from feedgen import version as feedgen_version  # a tiny module: feedgen itself is not imported

    digest = hashlib.blake2b(feedgen_version.version_str.encode(), digest_size=16)
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_CODE_VERSION: str | None = None


def _code() -> str:
    global _CODE_VERSION
    if _CODE_VERSION is None:
        _CODE_VERSION = code_version()
    return _CODE_VERSION


class Store:
    """One connection to a site store, with a handle per table."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        #: Serialises the threads sharing this connection (a server worker's
        #: request threads); the refresher has a connection of its own.
        self.lock = threading.RLock()
        self.files = Files(connection)
        self.items = Items(connection)
        self.entries = Entries(connection)
        self.stories = Stories(connection)
        self.members = Members(connection)
        self.names = Names(connection)
        self.ledger = Ledger(connection)
        self.documents = Documents(connection)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open the store at `path`, creating it, or setting aside and
        replacing one that cannot be trusted. Raises `StoreError` only when
        no store can be made there at all."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store's folder {str(path.parent)!r}: {exc.strerror}"
            ) from None
        # Two workers starting at once must not both create the store (the
        # second would find the first's half-made tables and set them aside).
        opening = StoreLock(path, "open")
        try:
            opening.acquire()
        except OSError as exc:
            raise StoreError(f"cannot open the store {str(path)!r}: {exc.strerror}") from None
        try:
            for attempt in range(2):
                connection = None
                try:
                    connection = _connect(path)
                    if _is_current(connection):
                        return cls(connection, path)
                    if _is_empty(connection):
                        _create(connection)
                        return cls(connection, path)
                except sqlite3.DatabaseError:
                    pass  # not a database, or a damaged one
                except OSError as exc:
                    raise StoreError(f"cannot open the store {str(path)!r}: {exc.strerror}") from None
                if connection is not None:
                    connection.close()
                if attempt == 0:
                    set_aside(path)
            raise StoreError(f"cannot create a store at {str(path)!r}")
        finally:
            opening.release()

    def close(self) -> None:
        self.connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: everything inside commits together or not
        at all."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every query inside sees one version."""
        with self.lock:
            self.connection.execute("BEGIN")
            try:
                yield
            finally:
                self.connection.execute("COMMIT")

    def get(self, key: str, default: Any = None) -> Any:
        """A value of the ``meta`` table."""
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        self.connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, dumps(value)))

    @property
    def mark(self) -> Path:
        """A small file beside the store, replaced at each new version: a
        server's workers look at it (a ``stat``, far cheaper than a query)
        to notice a new version."""
        return Path(f"{self.path}.version")

    def announce(self, version: int) -> None:
        """Replace the version mark, after a refresh committed `version`."""
        temp = Path(f"{self.mark}.{os.getpid()}.tmp")
        try:
            temp.write_text(f"{version}\n")
            os.replace(temp, self.mark)
        except OSError:  # the store's folder is not writable: workers then query
            with contextlib.suppress(OSError):
                temp.unlink()

    def hold_pages(self, kib: int) -> None:
        """Keep at most `kib` KiB of database pages in this connection's cache."""
        self.connection.execute(f"PRAGMA cache_size = -{int(kib)}")

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and truncate it
        (readers in other processes may keep it from finishing; then later)."""
        with self.lock:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def version(self) -> int:
        """The store's version: it counts the refreshes that changed anything."""
        return int(self.get("version", 0))

    def clear_derived(self) -> None:
        """Forget everything derived from the items (a settings change): the
        next refresh derives every entry again, without parsing."""
        derived = ("entries", "stories", "members", "member_spans", "feeds", "spellings", "names", "outputs")
        for table in derived:
            self.connection.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        self.connection.execute("UPDATE documents SET previous = etag, etag = NULL, body = NULL, gzip = NULL")


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA temp_store = MEMORY")
    connection.execute("PRAGMA cache_size = -16000")  # 16 MB of pages per connection
    connection.execute("PRAGMA journal_size_limit = 67108864")  # keep at most 64 MB of WAL file
    return connection


def _is_current(connection: sqlite3.Connection) -> bool:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    user_version = connection.execute("PRAGMA user_version").fetchone()[0]
    if application_id != APPLICATION_ID or user_version != SCHEMA_VERSION:
        return False
    row = connection.execute("SELECT value FROM meta WHERE key = 'code'").fetchone()
    return row is not None and loads(row[0]) == _code()


def _is_empty(connection: sqlite3.Connection) -> bool:
    return bool(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0)


def _create(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")
    # Statement by statement, inside this transaction (executescript would
    # commit first); a trigger's body has semicolons of its own.
    statement = ""
    for part in SCHEMA.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip("\n ;"):
                connection.execute(statement)
            statement = ""
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    connection.execute("INSERT INTO meta VALUES ('code', ?)", (dumps(_code()),))
    connection.execute("INSERT INTO meta VALUES ('version', '0')")
    connection.execute("COMMIT")


def set_aside(path: Path) -> None:
    """Move a store that cannot be trusted out of the way (kept once, as
    ``*.broken``, for a look), with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(source, Path(f"{path}.broken{suffix}"))


class StoreLock:
    """An advisory lock beside the store (``flock`` on ``STORE.NAME.lock``):
    at most one refresh at a time, whichever process runs it. The kernel
    releases it when its process dies, so a killed refresh never leaves it
    held."""

    def __init__(self, store_path: Path, name: str) -> None:
        self.path = Path(f"{store_path}.{name}.lock")
        self._handle: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; without `blocking`, False at once if another has it."""
        if self._handle is not None:
            return True
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(handle)
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)  # closing the descriptor releases the lock
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def forget(self) -> None:
        """In a forked child: the parent's lock is not the child's to release."""
        self._handle = None
