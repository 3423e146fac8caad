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
import gzip
import hashlib
import logging
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from feedpub import catalog
from feedpub import content
from feedpub import feeds
from feedpub import ledger
from feedpub import output
from feedpub import pages
from feedpub import paging
from feedpub import parallel
from feedpub import stories
from feedpub import urlspace
from feedpub.catalog import Changes
from feedpub.catalog import State
from feedpub.catalog import View
from feedpub.catalog import normal
from feedpub.catalog import to_datetime
from feedpub.catalog import to_micros
from feedpub.errors import OutputError
from feedpub.model import Entry
from feedpub.model import Feed
from feedpub.model import FeedKind
from feedpub.model import Image
from feedpub.model import Link
from feedpub.model import Overview
from feedpub.model import Page
from feedpub.model import Problem
from feedpub.model import Provider
from feedpub.model import Severity
from feedpub.model import Site
from feedpub.settings import Settings
from feedpub.store import Store
from feedpub.store import StoreLock
from feedpub.store import loads
from feedpub.store import set_aside
from feedpub.store._tables import FeedRow
from feedpub.store._tables import Items
from feedpub.urls import canonical_url
from feedpub.urlspace import DocumentRef

log = logging.getLogger("feedpub")

#: From this many files to parse on, parsing is spread over processes.
PARALLEL_FROM = 200
#: Tombstones of removed documents are kept this many versions, so that a
#: server a little behind still drops its copies.
_TOMBSTONE_VERSIONS = 1000
_KINDS = {kind.value: kind for kind in FeedKind}
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

    @property
    def etag(self) -> str:
        return etag_of(self.body)


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
            report = Refresh(files=sum(len(found) for found in scan.folders.values()))
            # Another size limit changes what files give: read them all again.
            limit_changed = self.store.get("max_file_size") != self.settings.max_file_size
            changed, removed, listings = self._diff(scan, every=limit_changed)
            ledger_rows = self._ledger_if_changed()
            store, view = self.store, self.view(moment)
            keys = (self.settings.derivation_key(), self.settings.rendering_key())
            stored_keys = (store.get("derivation"), store.get("rendering"))
            previous_now = store.get("now")
            timed = not view.include_future and previous_now is not None and previous_now != view.now
            shifts = bool(timed and store.items.shown_between(min(previous_now, view.now), max(previous_now, view.now)))
            unreadable = sorted(scan.unreadable.items())
            if not (changed or removed or ledger_rows is not None or keys != stored_keys or shifts or limit_changed
                    or unreadable != [tuple(p) for p in store.get("unreadable", [])]):
                if previous_now != view.now:
                    with store.transaction():
                        store.put("now", view.now)
                report.version = store.version
                return report
            with store.transaction():
                version = store.version + 1
                dirty, report.parsed = self._store_files(changed, removed, listings, reparse=limit_changed)
                if keys[0] != stored_keys[0]:
                    store.clear_derived()
                    dirty = store.items.canonicals()
                if ledger_rows is not None:
                    store.ledger.replace_all(ledger_rows)
                    store.put("ledger_signature", self._ledger_signature)
                    dirty = store.items.canonicals()
                if timed:
                    dirty |= store.items.shown_between(min(previous_now, view.now), max(previous_now, view.now))
                changes = Changes()
                affected = catalog.derive(store, dirty, view, changes)
                stories.derive(store, affected, view, changes)
                if store.ledger.drop_orphans():
                    changes.ledger = True
                report.dirty = self._settle_feeds(changes, version, render_all=keys[1] != stored_keys[1])
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

    def _diff(
        self, scan: content.Scan, every: bool = False
    ) -> tuple[dict[str, content.FoundFile], set[str], dict[str, bytes | None]]:
        """Files added or touched (`every` file), files removed, and the
        folder listings to record: folders whose listing is unchanged are not
        looked into."""
        stored = {} if every else self.store.files.folders()
        changed: dict[str, content.FoundFile] = {}
        removed: set[str] = set()
        listings: dict[str, bytes | None] = {}
        for folder, found in scan.folders.items():
            listing = scan.listing(folder)
            if stored.get(folder) == listing:
                continue
            known = self.store.files.in_folder(folder)
            for file in found:
                if every or file.refusal or known.get(file.path, (None,))[0] != file.signature:
                    changed[file.path] = file
            removed |= known.keys() - {file.path for file in found}
            listings[folder] = listing
        for folder in (self.store.files.folders() if every else stored).keys() - scan.folders.keys():
            removed |= self.store.files.in_folder(folder).keys()
            listings[folder] = None
        return changed, removed, listings

    def _store_files(
        self, changed: dict[str, content.FoundFile], removed: set[str], listings: dict[str, bytes | None],
        reparse: bool,
    ) -> tuple[set[str], int]:
        """Parse what changed into the store; the canonical URLs touched and
        how many files were parsed."""
        store = self.store
        dirty: set[str] = set()
        for path in removed:
            dirty.update(store.items.drop(path))
            store.files.drop(path)
        known = {}
        for folder in {path.rpartition("/")[0] for path in changed}:
            known.update(store.files.in_folder(folder))
        to_read = [path for path, file in changed.items() if not file.refusal]
        for path, file in changed.items():
            if file.refusal:
                dirty.update(store.items.drop(path))
                store.files.put(path, _folder(path), file.signature, b"", [[None, "error", file.refusal]])
        parsed = 0
        digests = {} if reparse else {p: known[p][1] for p in to_read if p in known}
        for path, digest, parsed_file in self._read(to_read, digests):
            file = changed[path]
            if parsed_file is None:  # touched, same bytes
                store.files.sign(path, file.signature)
                continue
            parsed += 1
            problems, rows = parsed_file
            dirty.update(store.items.replace_rows(path, rows))
            dirty.update(row[2] for row in rows)
            store.files.put(path, _folder(path), file.signature, digest, problems)
        for folder, listing in listings.items():
            if listing is None:
                store.files.drop_folder(folder)
            else:
                store.files.put_folder(folder, listing)
        return dirty, parsed

    def _read(self, paths: list[str], known: dict[str, bytes]) -> Iterator[tuple[str, bytes, Any]]:
        jobs = self.settings.jobs if len(paths) >= PARALLEL_FROM else 1
        shared = (self.root, self.settings.max_file_size, known)
        return parallel.map_chunks(_read_files, paths, jobs, shared)

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
            if table.changed and ledger.signature(path) == self.store.get("ledger_signature", "unknown") and path.exists():
                found = table.by_ids(table.changed)
                ledger.update(path, {entry_id: found.get(entry_id) for entry_id in table.changed})
            else:
                ledger.write(path, table.rows())
            table.changed.clear()
        except OSError as exc:
            if not self._ledger_warned:
                log.warning("cannot write the id ledger %s (%s); ids are kept in the store only", path, exc.strerror)
                self._ledger_warned = True
            return
        self.store.put("ledger_signature", ledger.signature(path))

    # -- feeds and which documents changed ------------------------------------

    def _settle_feeds(self, changes: Changes, version: int, render_all: bool) -> set[str]:
        """Update every feed the derive touched, and mark the documents whose
        content changed; the paths marked."""
        store, size = self.store, self.settings.max_items
        marked: set[str] = set()
        removed: set[str] = set()
        overview_changed = render_all
        fixed = {"all", "stories", *(urlspace.feed_key(FeedKind.CURATED, f.name) for f in self.settings.feeds)}
        keys = set(changes.feeds) | {key for key in fixed if store.members.feed(key) is None}
        if render_all:
            keys |= {row.key for row in store.members.feeds()}
        for key in sorted(keys):
            change = changes.feeds.get(key, catalog.FeedChange())
            old = store.members.feed(key)
            total = (old.total if old else 0) + change.added - change.removed
            kind, name = self._identify(key)
            if total <= 0 and key not in fixed:
                if old is not None:
                    store.members.drop_feed(key)
                    removed |= {ref.path for ref in urlspace.feed_documents(key, old.pages)}
                    overview_changed = True
                continue
            title, description = self._texts(kind, name)
            newest = store.members.newest(key) if total else None
            row = FeedRow(key, kind.value, name, title, description, total, newest, paging.pages(total, size))
            if row != old:
                store.members.put_feed(row)
                overview_changed |= old is None or (old.title, old.total, old.newest) != (title, total, newest)
            if old is None or render_all or (old.kind, old.name, old.title, old.description) != row[1:5]:
                numbers: set[int | None] = {None, *range(1, row.pages + 1)}
            else:
                numbers = self._dirty_pages(key, change, old.total, total)
            marked |= {urlspace.feed_path(key, fmt, n) for n in numbers for fmt in urlspace.FORMATS}
            if old is not None and old.pages > row.pages:
                removed |= {urlspace.feed_path(key, fmt, n) for n in range(row.pages + 1, old.pages + 1)
                            for fmt in urlspace.FORMATS}
        withheld = store.entries.withheld()
        if withheld != {int(k): v for k, v in store.get("withheld", {}).items()}:
            store.put("withheld", withheld)
            overview_changed = True
        if overview_changed:
            marked |= {urlspace.INDEX_PATH, urlspace.OPML_PATH}
        store.documents.mark(sorted(marked), version)
        store.documents.remove(sorted(removed - marked), version)
        return marked

    def _dirty_pages(self, key: str, change: catalog.FeedChange, old_total: int, total: int) -> set[int | None]:
        """The documents of one feed showing what changed: from the oldest
        entry added, removed or moved on, each page (the newer pages shift);
        each page holding an entry edited in place."""
        size = self.settings.max_items
        numbers: set[int | None] = set()
        lowest = None
        for published, entry_id in change.moved:
            older = self._older(key, published, entry_id, total)
            lowest = older if lowest is None else min(lowest, older)
        if old_total != total:
            # The archive grew by the entries that left the subscription
            # document, from the first of them on; or it shrank, and its
            # newest page lost entries at its end.
            boundary = max(0, min(old_total, total) - size - (1 if total < old_total else 0))
            lowest = boundary if lowest is None else min(lowest, boundary)
        if lowest is not None:
            first = paging.page_of(lowest, total, size)
            numbers.add(None)
            if first is not None:
                numbers |= set(range(first, paging.pages(total, size) + 1))
        for published, entry_id in change.edited:
            numbers.add(paging.page_of(self._older(key, published, entry_id, total), total, size))
        return numbers

    def _older(self, key: str, published: int, entry_id: str, total: int) -> int:
        """How many members of the feed are older than (published, id): cheap
        for the newest entries, which most changes touch."""
        limit = 3 * self.settings.max_items
        newer = self.store.members.newer(key, published, entry_id, limit)
        if newer >= limit:
            return self.store.members.older(key, published, entry_id)
        present = self.store.connection.execute(
            "SELECT 1 FROM members WHERE feed = ? AND published = ? AND id = ?", (key, published, entry_id)
        ).fetchone()
        return total - newer - (1 if present else 0)

    def _identify(self, key: str) -> tuple[FeedKind, str]:
        """A feed's kind and display name, from its key."""
        if key in ("all", "stories"):
            return (FeedKind.ALL if key == "all" else FeedKind.STORIES), ""
        folder, _, slug = key.partition("/")
        if folder == "feeds":
            return FeedKind.CURATED, slug
        if folder == "providers":
            row = self.store.names.by_slug("provider", slug)
            return FeedKind.PROVIDER, row.display if row else slug
        slug, _, stories_part = slug.partition("/")
        row = self.store.names.by_slug("topic", slug)
        return (FeedKind.TOPIC_STORIES if stories_part else FeedKind.TOPIC), row.display if row else slug

    def _texts(self, kind: FeedKind, name: str) -> tuple[str, str]:
        """A feed's title and description: from ``feedpub.toml`` if given there."""
        s = self.settings
        site = s.title
        if kind is FeedKind.ALL:
            return f"{site}: all entries", s.description
        if kind is FeedKind.STORIES:
            return f"{site}: stories", "Each story once, with every outlet's coverage of it"
        if kind is FeedKind.CURATED:
            curated = next(f for f in s.feeds if f.name == name)
            return curated.title or f"{site}: {name}", curated.description or f"A selection of {site}'s stories"
        table = s.providers if kind is FeedKind.PROVIDER else s.topics
        configured = next((text for key, text in table.items() if normal(key) == normal(name)), None)
        if kind is FeedKind.TOPIC_STORIES:
            return f"{site}: {name} stories", f"Each story about {name} once, with every outlet's coverage of it"
        default_description = (f"Stories from {name}" if kind is FeedKind.PROVIDER
                               else f"Stories about {name} and their coverage across outlets")
        title = (configured.title if configured else "") or f"{site}: {name}"
        return title, (configured.description if configured else "") or default_description

    # -- what the documents show ------------------------------------------------

    def site(self, base_url: str | None = None) -> Site:
        """What documents need to know of the site, for `base_url` (default:
        the configured one)."""
        s = self.settings
        base = base_url or s.base_url
        assert base is not None, "a base URL is needed to render"
        return Site(base, s.title, s.description, s.language, s.icon, s.logo, s.hubs)

    def feed_list(self) -> tuple[Feed, ...]:
        """Every feed, in the index's order."""
        order = {kind: rank for rank, (kinds, _) in enumerate(pages.SECTIONS) for kind in kinds}
        found = [_feed(row) for row in self.store.members.feeds()]
        found.sort(key=lambda f: (order[f.kind], f.kind is FeedKind.TOPIC_STORIES, f.key))
        return tuple(found)

    def overview(self) -> Overview:
        feeds_ = self.feed_list()
        everything = next((f for f in feeds_ if f.kind is FeedKind.ALL), None)
        withheld = self.store.entries.withheld()
        return Overview(
            feeds_, everything.total if everything else 0, everything.newest if everything else None,
            withheld.get(State.DRAFT, 0), withheld.get(State.SCHEDULED, 0),
        )

    def page(self, key: str, number: int | None) -> Page | None:
        """What one document of feed `key` shows, or None if there is no such
        document."""
        row = self.store.members.feed(key)
        if row is None or (number is not None and not 1 <= number <= row.pages):
            return None
        feed = _feed(row)
        span = paging.span(row.total, self.settings.max_items, number)
        if span.offset > row.total // 2:
            ids = self.store.members.page_from_oldest(key, row.total - span.offset - span.limit, span.limit)
        else:
            ids = self.store.members.page(key, span.offset, span.limit)
        if feed.kind.shows_stories:
            found = self.store.stories.get(ids)
            entries = tuple(_entry(i, found[i].published, found[i].updated, loads(found[i].data)) for i in ids)
        else:
            rows = self.store.entries.by_ids(ids)
            entries = tuple(_entry(i, rows[i].published, rows[i].updated, loads(rows[i].data)) for i in ids)
        return Page(feed, number, row.pages, entries)

    def render(self, refs: Iterable[DocumentRef], site: Site, fragments: feeds.Fragments | None = None,
               ) -> Iterator[Rendered]:
        """Render documents; each page's data is read once for all its formats."""
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
                    body = pages.index_html(overview, site) if ref.format == "html" else pages.feeds_opml(overview, site)
                    yield Rendered(ref, body, updated, "site")
                continue
            page = self.page(key, number)
            if page is None:
                continue
            # Last-Modified: the latest edit shown, but never a future-dated
            # entry's (--future publishes it early).
            updated = max((to_micros(e.updated) for e in page.entries if to_micros(e.published) <= now),
                          default=None)
            tags = surrogate_keys(key, page.entries)
            for ref in group:
                if ref.format == "html":
                    body = pages.feed_html(page, site, fragments)
                else:
                    body = feeds.render(page, ref.format, site, fragments)
                yield Rendered(ref, body, updated, tags)

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
        refs.sort(key=lambda r: (r.feed is not None, (r.page / (pages_of[r.feed] + 1)) if r.page else 1.0))
        return refs

    def render_hot(self) -> list[str]:
        """Render the marked documents readers poll and keep their bytes in
        the store (the server's job); the paths whose bytes changed."""
        store = self.store
        changed = []
        # Under the refresh lock, and read inside the transaction: two
        # workers starting at once render (and report) each change once.
        with _held(self.lock), store.transaction():
            refs = [ref for ref in map(urlspace.parse, store.documents.unrendered()) if ref is not None and ref.is_hot]
            for document in self.render(refs, self.site()):
                row = store.documents.get(document.ref.path)
                store.documents.rendered(document.ref.path, document.etag, document.updated, document.keys,
                                         document.body, compress(document.body))
                if row is None or row.previous != document.etag:
                    changed.append(document.ref.path)
        return changed

    # -- problems ---------------------------------------------------------------

    def problems(self) -> tuple[Problem, ...]:
        """Every problem of the content, sorted by path and line."""
        store = self.store
        found: list[Problem] = []
        for path, problems in store.files.problems():
            found += [Problem(path, line, message, Severity(severity)) for line, severity, message in problems]
        for path, reason in store.get("unreadable", []):
            found.append(Problem(path, None, reason))
        for path, line, severity, message in store.entries.problems():
            found.append(Problem(path, line, message, Severity(severity)))
        for row in store.names.moved():
            what = "topic" if row.kind == "topic" else "provider"
            key = urlspace.feed_key(FeedKind.TOPIC if what == "topic" else FeedKind.PROVIDER, row.slug)
            found.append(Problem(self._first_path(key), None,
                                 f"{what} {row.display!r} shares the slug {row.base!r} with another {what}; "
                                 f"its feed is {row.slug}", Severity.WARNING))
        ahead = to_micros(self.now() + timedelta(days=365))
        for path, position in store.items.later_than(ahead):
            field_name = "publishedDateTime" if position == 0 else f"related[{position - 1}].publishedDateTime"
            found.append(Problem(path, None, f"{field_name} is more than a year ahead; it is withheld until then "
                                             "(a typo in the year?)", Severity.WARNING))
        config = str(self.settings.config) if self.settings.config else "feedpub.toml"
        for feed_ in self.feed_list():
            if feed_.kind is FeedKind.CURATED and feed_.total == 0:
                found.append(Problem(config, None, f"[feeds.{feed_.name}] matches no entry; its feed is empty",
                                     Severity.WARNING))
        return tuple(sorted(set(found), key=lambda p: (p.path, p.line or 0, p.message)))

    def _first_path(self, key: str) -> str:
        ids = self.store.members.page(key, 0, 1 << 30)
        paths = [str(path) for row in self.store.entries.by_ids(ids).values() for path, _ in row.occurrences or ()]
        return min(paths, default="")

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


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def _read_files(paths: list[str], shared: tuple[Path, int, dict[str, bytes]]) -> list[tuple[str, bytes, Any]]:
    """Read and parse files (in a worker process when there are many): for
    each, its digest and what the store keeps of it (its problems and its
    item rows, ready to insert), or None if its bytes are the known ones."""
    root, max_bytes, known = shared
    results: list[tuple[str, bytes, Any]] = []
    for path in paths:
        digest, parsed = content.read(root, path, max_bytes, known.get(path))
        if parsed is None:
            results.append((path, digest, None))
            continue
        problems = [[p.line, p.severity.value, p.message] for p in parsed.problems]
        rows = [Items.values(row) for row in catalog.item_rows(parsed.article)] if parsed.article else []
        results.append((path, digest, (problems, rows)))
    return results


def _feed(row: FeedRow) -> Feed:
    newest = to_datetime(row.newest) if row.newest is not None else None
    return Feed(row.key, _KINDS[row.kind], row.name, row.title, row.description, row.total, newest)


def _entry(entry_id: str, published: Any, updated: Any, data: dict[str, Any]) -> Entry:
    return Entry(
        id=entry_id, url=data["url"], title=data["title"], published=to_datetime(published),
        updated=to_datetime(updated), provider=Provider(*data["provider"]), provider_feed=data["provider_feed"],
        excerpt=data["excerpt"], topics=tuple(data["topics"]),
        images=tuple(Image(*image) for image in data["images"]),
        related=tuple(Link(*link) for link in data.get("related", ())),
        body=data.get("body", ""),
        coverage=tuple(Link(url, title, provider, to_datetime(published_))
                       for url, title, provider, published_ in data.get("coverage", ())),
    )


def surrogate_keys(feed: str, entries: Iterable[Entry]) -> str:
    """The ``Surrogate-Key`` of a feed document: ``feed:<key with ':' for
    '/'>``, and ``entry:<key>`` for every item it shows, its entries' related
    coverage and a story's items included, so that a purge by one item's key
    reaches every document showing any part of it."""
    urls = {link.url for entry in entries for link in (entry, *entry.related, *entry.coverage)}
    keys = sorted({entry_key(url) for url in urls})
    return " ".join([f"feed:{feed.replace('/', ':')}", *(f"entry:{k}" for k in keys)])


def entry_key(url: str) -> str:
    """An item's surrogate key: a short digest of its canonical URL."""
    return hashlib.blake2b(canonical_url(url).encode(), digest_size=6).hexdigest()


# -- building into a folder -------------------------------------------------------


@dataclass
class Publication:
    """What `publish` wrote."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    #: Paths of the subscription feeds whose bytes changed (for WebSub).
    changed_feeds: list[str] = field(default_factory=list)


def publish(pipeline: Pipeline, out: Path, *, gzipped: bool = False) -> Publication:
    """Write into `out` every document it does not hold as the store has it
    (see `_publish`). A store found damaged on the way is set aside, and the
    refresh and publication start again on a new one."""
    try:
        return _publish(pipeline, out, gzipped)
    except sqlite3.DatabaseError as exc:
        pipeline.start_afresh(exc)
        return _publish(pipeline, out, gzipped)


def _publish(pipeline: Pipeline, out: Path, gzipped: bool) -> Publication:
    """Write into `out` every document it does not hold as the store has it:
    the marked ones, and any the folder lacks (a new folder, a deleted
    file); remove the files of documents that left the URL space.

    The store records what it wrote into `out`, and leaves a token in a
    marker file of the folder beside the stores (``outputs/`` in the cache
    folder, one per output folder): when another store wrote the folder since
    (a preview with ``--unpublished``, other settings), the token differs and
    every document is compared, every stale file removed. (Not in `out`: a
    build writes nothing there but the URL space.)"""
    store = pipeline.store
    real_out = output.prepare(out)
    key = str(real_out)
    record = store.documents.outputs(key)
    etags = store.documents.etags()
    mode_key = f"out:{key}"
    # [gzip forms?, finished?, token] of the last build into `out` from this store
    state = store.get(mode_key) or [None, False, None]
    token = state[2] or secrets.token_hex(8)
    # A new folder, another writer since, gzip forms (not) wanted any more: write all.
    marker = _marker(pipeline.settings, real_out)
    rewrite = not record or state[0] != gzipped or marker is None or output.read_token(marker) != state[2]
    # ... and a build killed midway may have left temporary files and stale feeds.
    sweep = rewrite or not state[1]
    refs = pipeline.all_documents()
    wanted = {ref.path for ref in refs}
    present = output.survey(out)
    todo = [
        ref for ref in refs
        if rewrite or etags.get(ref.path) is None or record.get(ref.path) != etags.get(ref.path)
        or ref.path not in present or (gzipped and ref.path + output.GZIP_SUFFIX not in present)
    ]
    with store.transaction():
        store.put(mode_key, [gzipped, False, token])
    report = Publication()
    written: list[tuple[str, str, int | None, str]] = []
    jobs = pipeline.settings.jobs if len(todo) >= 64 else 1
    shared = (pipeline, os.getpid(), out, real_out, gzipped)
    for path, etag, updated, keys, did_write in parallel.map_chunks(_render_chunk, todo, jobs, shared):
        written.append((path, etag, updated, keys))
        if did_write:
            report.written += 1
            ref = urlspace.parse(path)
            if ref is not None and ref.feed is not None and ref.page is None and ref.format != "html":
                report.changed_feeds.append(path)
        else:
            report.unchanged += 1
    report.unchanged += len(refs) - len(todo)
    gone = [path for path in record if path not in wanted]
    report.removed = output.remove(out, gone)
    if sweep:
        report.removed += output.sweep(out, wanted)
    with store.transaction():
        for path, etag, updated, keys in written:
            if etags.get(path) != etag:
                store.documents.rendered(path, etag, updated, keys, None, None)
        store.documents.put_outputs(key, [(path, etag) for path, etag, _, _ in written])
        store.documents.drop_outputs(key, gone)
        store.put(mode_key, [gzipped, True, token])
    if marker is not None:
        output.write_token(marker, token)
    return report


def refuse_store_inside(settings: Settings, out: Path) -> None:
    """Raise `OutputError` if the store would be inside `out`: the output is
    published, and the store holds drafts."""
    store = settings.store_path()
    for place in (store, store and store.parent / "outputs"):
        if place is not None and place.resolve().is_relative_to(out.resolve()):
            raise OutputError(f"the site store {store} would be inside --out {out}, which is published, "
                              "and it holds drafts: choose a --store or --cache-dir outside it")


def _marker(settings: Settings, real_out: Path) -> Path | None:
    """Where the token of the last store to write `real_out` is kept; None
    with ``--no-cache``, which keeps nothing outside --out."""
    if settings.no_cache:
        return None
    name = hashlib.blake2b(str(real_out).encode(), digest_size=10).hexdigest()
    return settings.cache_dir / "outputs" / name


# The pipeline of a forked worker of `publish`, with a connection of its own.
_WORKER_PIPELINE: Pipeline | None = None


def _render_chunk(refs: list[DocumentRef], shared: tuple[Any, ...]) -> list[tuple[str, str, int | None, str, bool]]:
    global _WORKER_PIPELINE
    pipeline, parent, out, real_out, gzipped = shared
    if os.getpid() != parent:
        if _WORKER_PIPELINE is None:
            _WORKER_PIPELINE = pipeline.reopened()
        pipeline = _WORKER_PIPELINE
    results = []
    with pipeline.store.snapshot():
        for document in pipeline.render(refs, pipeline.site()):
            body = document.body
            did_write = output.write(out, real_out, document.ref.path, body, compress(body) if gzipped else None)
            results.append((document.ref.path, document.etag, document.updated, document.keys, did_write))
    return results


