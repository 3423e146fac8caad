"""A catalog kept current for the server, and its documents rendered once.

`LiveCatalog` loads the content folder, rescans it every few seconds on a
background thread (re-parsing only changed files) and swaps a new `Snapshot`
in with one assignment, so a request sees the old content or the new, never
a mix. Each document is rendered and compressed at most once per snapshot;
documents of feeds whose entries did not change are carried over to the next
snapshot instead of being rendered again.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from feedpub import catalog as catalogs
from feedpub import content
from feedpub import documents
from feedpub.catalog import Catalog
from feedpub.errors import ConfigError
from feedpub.model import Problem
from feedpub.model import Site

log = logging.getLogger("feedpub")

#: How many base URLs (request hosts) keep rendered documents at once: each
#: costs up to the size of the whole URL space (70 MB for 10,000 articles),
#: and Host headers are the client's to choose. Set FEEDPUB_BASE_URL and
#: there is only one.
MAX_SITES = 2


@dataclass(frozen=True)
class Rendered:
    """A document ready to serve: bytes, their gzip form, and the header
    values a response needs, all computed once."""

    body: bytes
    gzipped: bytes
    #: ``Content-Type`` value, with the charset.
    content_type: str
    #: Strong validator of `body`; the gzip form's is this with ``-gzip``.
    etag: str
    #: Time of the newest entry shown, if any.
    last_modified: datetime | None
    #: `last_modified` as an HTTP date, for the header.
    http_date: str | None

    @classmethod
    def of(cls, document: documents.Document) -> Rendered:
        """Compress and fingerprint a document, once."""
        updated = document.updated
        return cls(
            body=document.body,
            gzipped=documents.compress(document.body),
            content_type=f"{document.media_type}; charset=utf-8",
            etag=hashlib.blake2b(document.body, digest_size=16).hexdigest(),
            last_modified=updated,
            http_date=format_datetime(updated, usegmt=True) if updated else None,
        )


@dataclass(eq=False)
class Snapshot:
    """One version of the content, and the documents rendered from it."""

    catalog: Catalog
    #: Problems of the content files and of merging them.
    problems: tuple[Problem, ...]
    #: How many content files were found.
    files: int
    #: When this version was loaded (wall clock, UTC).
    loaded_at: datetime
    #: Rendered documents by base URL, then by path.
    rendered: OrderedDict[str, dict[str, Rendered]] = field(default_factory=OrderedDict)


class LiveCatalog:
    """The server's view of a content folder, kept current."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        include_unpublished: bool = False,
        max_items: int = catalogs.DEFAULT_MAX_ITEMS,
        max_bytes: int = content.MAX_FILE_BYTES,
        reload_interval: float = 2.0,
    ) -> None:
        self.root = Path(root)
        self.include_unpublished = include_unpublished
        self.max_items = max_items
        self.reload_interval = reload_interval
        self._loader = content.Loader(root, max_bytes=max_bytes)
        self._reload_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: The last reload failure (the folder vanished, say), for /healthz.
        self.reload_error: str | None = None
        # True from the moment the loader has taken in a change until a
        # snapshot of it is built: if building fails, the next refresh must
        # build again even though no file changed since.
        self._pending = False
        with _collector_paused():
            first = self._load(previous=None)
        assert first is not None  # with no previous version, there is always one
        self._snapshot = first
        # What was just loaded lives as long as the process: keep the cyclic
        # collector from walking it on every full collection, and let forked
        # workers (gunicorn --preload) share its pages.
        gc.freeze()
        # A forked worker (gunicorn --preload) has no watcher thread: let the
        # first request in the child start its own.
        os.register_at_fork(after_in_child=self._forget_thread)

    # -- the current version ------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current version; starts the watcher thread on first use."""
        if self._thread is None and self.reload_interval > 0:
            self._start_watching()
        return self._snapshot

    def refresh(self) -> bool:
        """Rescan the folder now; True if a new version was swapped in."""
        with self._reload_lock:
            old = self._snapshot
            try:
                with _collector_paused():
                    new = self._load(previous=old)
            except ConfigError as exc:
                if self.reload_error != str(exc):
                    log.error("content reload failed, still serving the previous version: %s", exc)
                self.reload_error = str(exc)
                return False
            self.reload_error = None
            if new is None:
                return False
            self._snapshot = new  # one assignment: requests see old or new
            return True

    def _load(self, previous: Snapshot | None) -> Snapshot | None:
        loaded = self._loader.load()
        if previous is not None and not self._loader.changed and not self._pending:
            return None  # nothing added, changed or removed
        self._pending = True
        catalog = catalogs.build(
            loaded.articles,
            include_unpublished=self.include_unpublished,
            max_items=self.max_items,
            previous=previous.catalog if previous is not None else None,
        )
        problems = loaded.problems + catalog.problems
        known = set(previous.problems) if previous else set()
        for problem in problems:
            if problem not in known:
                log.warning("%s", problem.format(str(self.root)))
        snapshot = Snapshot(catalog, problems, loaded.files, datetime.now(UTC))
        if previous is not None:
            # Requests may still be rendering into `previous`; its dicts must
            # not change while they are read.
            with self._render_lock:
                _carry_over(previous, snapshot)
            log.info(
                "content reloaded: %d files parsed again, %d entries, %d feeds",
                self._loader.parsed_last,
                catalog.entry_count,
                len(catalog.feeds),
            )
        self._pending = False
        return snapshot

    # -- documents ----------------------------------------------------------------

    def document(self, snapshot: Snapshot, path: str, site: Site) -> Rendered:
        """The rendered document at `path`, from memory after the first time;
        raises `FeedNotFoundError` for a path outside the URL space."""
        cached = snapshot.rendered.get(site.base_url)
        if cached is not None and path in cached:
            return cached[path]
        with self._render_lock:
            by_path = snapshot.rendered.get(site.base_url)
            if by_path is None:
                by_path = snapshot.rendered[site.base_url] = {}
                while len(snapshot.rendered) > MAX_SITES:
                    snapshot.rendered.popitem(last=False)
            if path not in by_path:
                by_path[path] = Rendered.of(documents.render(snapshot.catalog, path, site))
            return by_path[path]

    # -- watching -----------------------------------------------------------------

    def _start_watching(self) -> None:
        with self._reload_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._watch, name="feedpub-reload", daemon=True)
            self._thread.start()

    def _forget_thread(self) -> None:
        self._thread = None
        self._reload_lock = threading.Lock()
        self._render_lock = threading.Lock()

    def _watch(self) -> None:
        me = threading.current_thread()
        while self._thread is me:
            time.sleep(self.reload_interval)
            try:
                self.refresh()
            except Exception:  # the watcher must survive anything; log and go on
                log.exception("content reload failed")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading allocates hundreds of thousands of objects that all survive;
    the cyclic collector would walk them again and again for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _carry_over(old: Snapshot, new: Snapshot) -> None:
    """Reuse rendered feeds whose data did not change; the index and the OPML
    list counts of every feed, so they are rendered again."""
    old_feeds, new_feeds = old.catalog.feeds, new.catalog.feeds
    for base_url, by_path in old.rendered.items():
        kept = {}
        for path, rendered in by_path.items():
            key = path.lstrip("/").rpartition(".")[0]
            if key in new_feeds and old_feeds.get(key) == new_feeds[key]:
                kept[path] = rendered
        new.rendered[base_url] = kept
