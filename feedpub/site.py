"""The one refresh pipeline, shared by ``build``, ``check`` and every server
worker: scan → parse what changed → update the store → the documents whose
content changed → render them.

`Pipeline.refresh` brings the store up to date with the content folder in one
transaction and marks the documents to render again; `Pipeline.render` turns
documents into bytes. ``build`` then writes them into ``--out``
(`publish`), the server keeps the ones readers poll in the store
(`Pipeline.render_hot`), and ``check`` renders nothing.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import logging
import sqlite3
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from feedpub import catalog
from feedpub import content
from feedpub import ledger
from feedpub import loading
from feedpub import problems
from feedpub import reuse
from feedpub import stories
from feedpub import urlspace
from feedpub.catalog import State
from feedpub.catalog import View
from feedpub.catalog import to_micros
from feedpub.documents import FeedDocuments
from feedpub.members import Changes
from feedpub.model import Entry
from feedpub.model import FeedKind
from feedpub.model import Overview
from feedpub.model import Problem
from feedpub.model import Site
from feedpub.settings import Settings
from feedpub.store import Store
from feedpub.store import StoreLock
from feedpub.store import set_aside
from feedpub.urls import canonical_url
from feedpub.urlspace import DocumentRef

if TYPE_CHECKING:
    from feedpub import feeds

log = logging.getLogger("feedpub")

#: Tombstones of removed documents are kept this many versions, so that a
#: server a little behind still drops its copies.
_TOMBSTONE_VERSIONS = 1000
#: After a refresh touching this many entries, the WAL is folded back into
#: the store and truncated.
_CHECKPOINT_FROM = 1000


def compress(body: bytes) -> bytes:
    """The gzip form of a document: the same bytes every time (no timestamp
    in the header), as the server sends and ``feedpub build --gzip`` writes."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def etag_of(body: bytes) -> str:
    """A strong validator of a document's bytes (SHA-256 has hardware help
    on most CPUs: twice as fast here as BLAKE2b on a 150 KB feed)."""
    return hashlib.sha256(body).hexdigest()[:32]


@dataclass
class Refresh:
    """What one refresh found and did."""

    #: Content files found (refused ones included).
    files: int = 0
    #: Files parsed (the others were known).
    parsed: int = 0
    #: Whether the store changed (its version moved on).
    changed: bool = False
    #: The store's version after the refresh.
    version: int = 0
    #: Paths of the documents marked for rendering again.
    dirty: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Rendered:
    """One rendered document."""

    ref: DocumentRef
    body: bytes
    #: Latest ``updated`` it shows (µs), for ``Last-Modified``.
    updated: int | None
    #: Surrogate keys: the feed and the entries it shows.
    keys: str
    #: Strong validator of `body` (`etag_of`).
    etag: str
    #: Where its entries are (`reuse.Layout`, stored form), for a
    #: subscription document rendered with its previous bytes at hand.
    layout: str | None = None


class Pipeline:
    """The pipeline of one content folder and its store, for one set of settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.content_dir
        path = settings.store_path()
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if path is None:  # --no-cache: a store of this run only
            self._temporary = tempfile.TemporaryDirectory(prefix="feedpub-store-")
            path = Path(self._temporary.name) / "site.sqlite3"
        self.store_path = path
        self.store = Store.open(path)
        self.lock = StoreLock(path, "refresh")
        self._ledger_warned = False
        self._ledger_signature: list[int] | None = None
        self._ledger_pending = False

    def reopened(self) -> Pipeline:
        """The same pipeline with a store connection of its own: for a forked
        process, as a SQLite connection must not cross a fork."""
        copy = object.__new__(Pipeline)
        copy.__dict__.update(self.__dict__)
        copy.store = Store.open(self.store_path)
        copy._temporary = None
        return copy

    def close(self) -> None:
        self.store.close()
        if self._temporary is not None:
            self._temporary.cleanup()

    # -- refresh ----------------------------------------------------------------

    def now(self) -> datetime:
        """The instant the site is built at: ``--now``, else the clock."""
        return self.settings.now or datetime.now(UTC)

    def view(self, now: datetime) -> View:
        s = self.settings
        return View(s.unpublished, s.future, to_micros(now), s.max_items, s.feeds)

    def refresh(self, now: datetime | None = None, *, write_ledger: bool = True) -> Refresh:
        """Bring the store up to date with the content folder, in one
        transaction; raises `ConfigError` if the folder cannot be read and
        `LedgerError` if the ledger is corrupt (the store keeps its previous
        version either way). With `write_ledger` false, the ledger's file is
        left for `write_ledger` to write (``build --strict`` writes nothing
        when the content has problems). A store found damaged on the way is
        set aside, and the refresh starts again on a new one."""
        try:
            return self._refresh(now, write_ledger)
        except sqlite3.DatabaseError as exc:
            self._replace_store(exc)
            return self._refresh(now, write_ledger)

    def _replace_store(self, exc: Exception) -> None:
        log.warning("the site store %s is damaged (%s); set aside and rebuilt", self.store_path, exc)
        self.store.close()
        set_aside(self.store_path)
        self.store = Store.open(self.store_path)

    def start_afresh(self, exc: Exception) -> Refresh:
        """After `exc` showed the store damaged: set it aside and refresh a
        new one."""
        self._replace_store(exc)
        return self._refresh(None, True)

    def _refresh(self, now: datetime | None, write_ledger: bool) -> Refresh:
        moment = now or self.now()
        with _held(self.lock):
            scan = content.scan(self.root)
            report = Refresh(files=scan.count())
            # Another size limit changes what files give: read them all again.
            limit_changed = self.store.get("max_file_size") != self.settings.max_file_size
            changed, removed, listings = loading.changes(self.store, scan, every=limit_changed)
            ledger_rows = self._ledger_if_changed()
            store, view = self.store, self.view(moment)
            keys = (self.settings.derivation_key(), self.settings.rendering_key())
            stored_keys = (store.get("derivation"), store.get("rendering"))
            previous_now = store.get("now")
            timed = not view.include_future and previous_now is not None and previous_now != view.now
            shifts = bool(
                timed and store.items.shown_between(min(previous_now, view.now), max(previous_now, view.now))
            )
            unreadable = sorted(scan.unreadable.items())
            if not (
                changed
                or removed
                or ledger_rows is not None
                or keys != stored_keys
                or shifts
                or limit_changed
                or unreadable != [tuple(p) for p in store.get("unreadable", [])]
            ):
                if previous_now != view.now:
                    with store.transaction():
                        store.put("now", view.now)
                report.version = store.version
                return report
            with store.transaction():
                version = store.version + 1
                dirty, report.parsed = loading.store_files(
                    store, self.settings, changed, removed, listings, reparse=limit_changed
                )
                if keys[0] != stored_keys[0]:
                    store.clear_derived()
                    dirty = store.items.canonicals()
                if ledger_rows is not None:
                    store.ledger.replace_all(ledger_rows)
                    store.put("ledger_signature", self._ledger_signature)
                    dirty = store.items.canonicals()
                if timed:
                    dirty |= store.items.shown_between(
                        min(previous_now, view.now), max(previous_now, view.now)
                    )
                changes = Changes()
                everything = keys[0] != stored_keys[0] or ledger_rows is not None or store.version == 0
                affected = catalog.derive(store, dirty, view, changes, everything=everything)
                stories.derive(store, affected, view, changes)
                if store.ledger.drop_orphans(changes.touched, changes.touched_stories):
                    changes.ledger = True
                report.dirty = self.documents.settle(changes, version, render_all=keys[1] != stored_keys[1])
                store.put("derivation", keys[0])
                store.put("rendering", keys[1])
                store.put("now", view.now)
                store.put("unreadable", unreadable)
                store.put("max_file_size", self.settings.max_file_size)
                store.put("version", version)
                store.documents.prune(version - _TOMBSTONE_VERSIONS)
                self._ledger_pending |= changes.ledger or ledger_rows is not None
                if write_ledger:
                    self.write_ledger()
            store.announce(version)
            if len(dirty) > _CHECKPOINT_FROM:
                store.checkpoint()  # a big refresh leaves a big WAL file behind
            report.changed, report.version = True, version
            return report

    def _ledger_if_changed(self) -> list[Any] | None:
        """The ledger's lines if the file changed since the store last read or
        wrote it (a ``git pull``, an edit by hand); else None."""
        path = self.settings.ledger_path
        signature = ledger.signature(path)
        if signature == self.store.get("ledger_signature", "unknown"):
            return None
        self._ledger_signature = signature
        return ledger.read(path)

    def write_ledger(self) -> None:
        """Write the ledger's changed lines to its file (all of it when the
        file is not the one last written), if a refresh changed any."""
        path = self.settings.ledger_path
        table = self.store.ledger
        if not self.settings.writes_ledger or not self._ledger_pending:
            return
        self._ledger_pending = False
        try:
            if (
                table.changed
                and ledger.signature(path) == self.store.get("ledger_signature", "unknown")
                and path.exists()
            ):
                found = table.by_ids(table.changed)
                ledger.update(path, {entry_id: found.get(entry_id) for entry_id in table.changed})
            else:
                ledger.write(path, table.rows())
            table.changed.clear()
        except OSError as exc:
            if not self._ledger_warned:
                log.warning(
                    "cannot write the id ledger %s (%s); ids are kept in the store only", path, exc.strerror
                )
                self._ledger_warned = True
            return
        self.store.put("ledger_signature", ledger.signature(path))

    # -- what the documents show ------------------------------------------------

    @property
    def documents(self) -> FeedDocuments:
        """The feeds and their documents, as the store has them now."""
        return FeedDocuments(self.store, self.settings)

    def problems(self) -> tuple[Problem, ...]:
        """Every problem of the content, sorted by path and line."""
        return problems.collect(self.store, self.settings, self.now())

    def site(self, base_url: str | None = None) -> Site:
        """What documents need to know of the site, for `base_url` (default:
        the configured one)."""
        s = self.settings
        base = base_url or s.base_url
        assert base is not None, "a base URL is needed to render"
        return Site(base, s.title, s.description, s.language, s.icon, s.logo, s.hubs)

    def overview(self) -> Overview:
        feeds_ = self.documents.feed_list()
        everything = next((f for f in feeds_ if f.kind is FeedKind.ALL), None)
        withheld = self.store.entries.withheld()
        return Overview(
            feeds_,
            everything.total if everything else 0,
            everything.newest if everything else None,
            withheld.get(State.DRAFT, 0),
            withheld.get(State.SCHEDULED, 0),
        )

    def render(
        self,
        refs: Iterable[DocumentRef],
        site: Site,
        fragments: feeds.Fragments | None = None,
        previous: Callable[[DocumentRef], bytes | None] | None = None,
    ) -> Iterator[Rendered]:
        """Render documents; each page's data is read once for all its
        formats. With `previous` (the bytes a subscription document had, if
        at hand), the entries it showed unchanged are copied from them, and
        each such document is rendered with its layout (`reuse`)."""
        # feedgen, lxml and dateutil are a fifth of a rebuild's start-up: a
        # rebuild that renders nothing does not import them.
        from feedpub import feeds
        from feedpub import pages

        fragments = fragments or feeds.Fragments()
        now = to_micros(self.now())
        by_page: dict[tuple[str | None, int | None], list[DocumentRef]] = {}
        for ref in refs:
            by_page.setdefault((ref.feed, ref.page), []).append(ref)
        for (key, number), group in by_page.items():
            if key is None:
                overview = self.overview()
                updated = to_micros(overview.newest) if overview.newest else None
                for ref in group:
                    body = (
                        pages.index_html(overview, site)
                        if ref.format == "html"
                        else pages.feeds_opml(overview, site)
                    )
                    yield Rendered(ref, body, updated, "site", etag_of(body))
                continue
            page = self.documents.page(key, number, fragments.entries)
            if page is None:
                continue
            # Last-Modified: the latest edit shown, but never a future-dated
            # entry's (--future publishes it early).
            updated = max(
                (to_micros(e.updated) for e in page.entries if to_micros(e.published) <= now), default=None
            )
            tags = surrogate_keys(key, page.entries)
            for ref in group:
                recorder = self._recorder(ref, previous) if previous is not None and ref.is_hot else None
                with fragments.recording(recorder):
                    if ref.format == "html":
                        body = pages.feed_html(page, site, fragments)
                    else:
                        body = feeds.render(page, ref.format, site, fragments)
                etag = etag_of(body)
                layout = recorder.layout(body, etag).dumps() if recorder is not None else None
                yield Rendered(ref, body, updated, tags, etag, layout)

    def _recorder(self, ref: DocumentRef, previous: Callable[[DocumentRef], bytes | None]) -> reuse.Recorder:
        """The recorder of a subscription document, with its previous bytes
        when they are those its stored layout describes."""
        layout = reuse.Layout.loads(self.store.documents.layout(ref.path))
        if layout is None:
            return reuse.Recorder()
        body = previous(ref)
        if body is None or etag_of(body) != layout.etag:
            return reuse.Recorder()
        return reuse.Recorder(body, layout)

    def all_documents(self) -> list[DocumentRef]:
        """Every document of the URL space, index and OPML first."""
        refs = [urlspace.INDEX, urlspace.OPML]
        pages_of = {}
        for row in self.store.members.feeds():
            refs += urlspace.feed_documents(row.key, row.pages)
            pages_of[row.key] = row.pages
        # Pages covering the same stretch of time show many of the same
        # entries: rendered close together, each entry is rendered once
        # (`feeds.Fragments`). Oldest pages first, subscription documents last.
        refs.sort(key=lambda r: (r.feed is not None, r.page / (pages_of[str(r.feed)] + 1) if r.page else 1.0))
        return refs

    def document_count(self) -> int:
        """How many documents the URL space has."""
        per_page = len(urlspace.FORMATS)
        return 2 + sum(per_page * (row.pages + 1) for row in self.store.members.feeds())

    def render_hot(self) -> list[str]:
        """Render the marked documents readers poll and keep their bytes in
        the store (the server's job); the paths whose bytes changed."""
        store = self.store
        changed = []
        # Under the refresh lock, and read inside the transaction: two
        # workers starting at once render (and report) each change once.
        with _held(self.lock), store.transaction():
            refs = [
                ref
                for ref in map(urlspace.parse, store.documents.unrendered())
                if ref is not None and ref.is_hot
            ]
            # A document marked for rendering keeps its previous bytes.
            for document in self.render(refs, self.site(), previous=self._stored_body):
                row = store.documents.get(document.ref.path)
                store.documents.rendered(
                    document.ref.path,
                    document.etag,
                    document.updated,
                    document.keys,
                    document.body,
                    compress(document.body),
                    document.layout,
                )
                if row is None or row.previous != document.etag:
                    changed.append(document.ref.path)
        return changed

    def _stored_body(self, ref: DocumentRef) -> bytes | None:
        return self.store.documents.body(ref.path)

    def files(self) -> int:
        return self.store.files.count()


@contextlib.contextmanager
def _held(lock: StoreLock) -> Iterator[None]:
    """Hold the refresh lock (unless this process already does)."""
    already = lock.held
    lock.acquire()
    try:
        yield
    finally:
        if not already:
            lock.release()


def surrogate_keys(feed: str, entries: Iterable[Entry]) -> str:
    """The ``Surrogate-Key`` of a feed document: ``feed:<key with ':' for
    '/'>``, and ``entry:<key>`` for every item it shows, its entries' related
    coverage and a story's items included, so that a purge by one item's key
    reaches every document showing any part of it."""
    urls = {entry.url for entry in entries}
    urls |= {link.url for entry in entries for link in (*entry.related, *entry.coverage)}
    keys = sorted({entry_key(url) for url in urls})
    return " ".join([f"feed:{feed.replace('/', ':')}", *(f"entry:{k}" for k in keys)])


# An entry is on the pages of about four feeds, and its related links on
# those of others: most keys are asked for again soon.
@functools.lru_cache(maxsize=8192)
def entry_key(url: str) -> str:
    """An item's surrogate key: a short digest of its canonical URL."""
    return hashlib.blake2b(canonical_url(url).encode(), digest_size=6).hexdigest()
