"""The pipeline kept current for a server: every worker serves the store's
version, and one of them keeps it current.

- One worker per store holds the *watch* lock (``flock`` beside the store;
  the kernel frees it when the worker dies, and another takes it within a
  second). It watches the content folder with the kernel's notifications
  (watchfiles; polling where they are unavailable), runs the pipeline's
  refresh when something changes or a scheduled article's time comes,
  renders the documents readers poll into the store, and pings WebSub hubs
  for the feeds whose bytes changed. Content is parsed once per change,
  whatever the number of workers.
- Every worker sleeps until the store's version mark (a file beside the
  store, replaced at each new version) is replaced, and switches to the new
  version at once, dropping the documents it changed; a worker starting on
  a current store serves without parsing anything. An idle worker wakes
  only for the watcher's notifier.
- Documents come from the worker's memory, else from the store, else are
  rendered from the store (archive pages, and every document when no base
  URL is configured and self links follow the request's host).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from feedpub import urlspace
from feedpub import websub
from feedpub.catalog import to_datetime
from feedpub.catalog import to_micros
from feedpub.errors import FeedpubError
from feedpub.filewatch import FileWatch
from feedpub.model import Site
from feedpub.settings import Settings
from feedpub.site import Pipeline
from feedpub.site import compress
from feedpub.store import StoreLock
from feedpub.urlspace import DocumentRef

log = logging.getLogger("feedpub")

#: Seconds between two looks at the store's version where the kernel cannot
#: tell of the mark's replacement.
VERSION_POLL = 0.25
#: Without a version mark, the store itself is asked every this many polls.
MARKLESS_POLLS = 8
#: Seconds a follower sleeps at most before it looks at the mark anyway.
FOLLOW_SAFETY = 30.0
#: Seconds before trying again to take a watch lock that could not be opened.
ROLE_RETRY = 1.0
#: Bytes of documents a worker keeps in memory (plain and gzip forms). The
#: rest come from the store, whose file the kernel keeps in its page cache,
#: shared by every worker; this is for the feeds polled most.
CACHE_BYTES = 48 << 20
#: KiB of database pages the request threads' connection keeps. Documents are
#: read by key, and their bodies (overflow pages) would only push out the
#: index pages; the refresher's connection keeps the default.
READER_PAGES_KIB = 4000


@dataclass
class Served:
    """A document ready to send: its bytes, gzip form and validators,
    computed once per version."""

    ref: DocumentRef
    body: bytes
    gzipped: bytes
    etag: str
    #: ``Last-Modified`` (UTC), if the document shows any entry.
    last_modified: datetime | None
    #: Surrogate keys: the feed and entries it shows.
    keys: str
    #: Header lists, built once by the web layer (plain, gzip).
    headers: Any = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped)

    @property
    def http_date(self) -> str | None:
        return format_datetime(self.last_modified, usegmt=True) if self.last_modified else None


def _mark(path: Any) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns)


def _identity(folder: str | os.PathLike[str]) -> tuple[int, int]:
    """Which folder is at a path (raises FileNotFoundError if none)."""
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise FileNotFoundError(f"the content folder {folder} is gone")
    return (info.st_dev, info.st_ino)


class _Cache:
    """Served documents by (base URL, path), least recently used out first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[tuple[str, str], Served] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Served | None:
        found = self._items.get(key)
        if found is not None:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], served: Served) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self.size += served.size - (old.size if old else 0)
            self._items[key] = served
            while self.size > self.limit and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self.size -= dropped.size

    def drop(self, paths: set[str], archives: bool) -> None:
        """Forget the documents at `paths` (for every base URL), and with
        `archives` every archive page too."""
        with self._lock:
            for key in [
                k for k, v in self._items.items() if k[1] in paths or (archives and not v.ref.is_hot)
            ]:
                self.size -= self._items.pop(key).size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


class Live:
    """A server's view of one content folder, kept current."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: The refresher's pipeline; requests read through `reader`.
        self.pipeline = Pipeline(settings)
        self.reader = self._reader()
        self.pinger = websub.Pinger(settings.hubs)
        self.role = StoreLock(self.pipeline.store_path, "watch")
        self.cache = _Cache(CACHE_BYTES)
        #: The last refresh failure seen by this process (the folder vanished).
        self.error: str | None = None
        self._stop = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._mark_watch: FileWatch | None = None
        self._next_due: int | None = None
        self._pid = os.getpid()
        #: The store version this process serves.
        self.version = 0
        self.refresh()
        self.version = self._store_version()

    # -- keeping current ----------------------------------------------------------

    def refresh(self) -> bool:
        """Refresh the store from the folder now (waiting for any other
        refresh), render what readers poll, ping hubs; True if the store
        changed. A failure is recorded for /healthz, never raised: the
        previous version keeps being served."""
        try:
            report = self.pipeline.refresh()
            changed = self.pipeline.render_hot() if self.settings.base_url else []
            self._next_due = self.pipeline.store.items.next_shown_after(to_micros(datetime.now(UTC)))
        except FeedpubError as exc:
            if self.error != str(exc):
                log.error("content refresh failed, still serving the previous version: %s", exc)
            self._record(str(exc))
            return False
        if self.error is not None:
            log.info("content refresh works again")
        self._record(None)
        if report.changed:
            log.info("content refreshed: %d files parsed again, version %d", report.parsed, report.version)
            self.catch_up()  # this process serves the new version at once
        feeds = [
            path for path in changed if (ref := urlspace.parse(path)) and ref.feed and ref.format != "html"
        ]
        if feeds and self.settings.base_url:
            self.pinger.publish(self.settings.base_url + path for path in feeds)
        return report.changed

    def _record(self, error: str | None) -> None:
        self.error = error
        state = {"at": datetime.now(UTC).isoformat(), "error": error}
        try:
            with self.pipeline.store.transaction():
                self.pipeline.store.put("refresh", state)
        except Exception:  # the store itself failing is reported by the refresh next time
            log.exception("cannot record the refresh's state")

    def start(self) -> None:
        """Start this process's threads (once): one follows the store's
        versions, one waits for the watch lock and then watches."""
        self._own_process()
        if self._started or self.settings.reload_interval <= 0:
            return
        with self._start_lock:
            if self._started:
                return
            self._started = True
            self._mark_watch = FileWatch.open(self.reader.store.mark)
            threading.Thread(target=self._follow, name="feedpub-version", daemon=True).start()
            threading.Thread(target=self._claim, name="feedpub-watch", daemon=True).start()

    def stop(self) -> None:
        """Stop this process's threads and pings (a server shutting down)."""
        self._stop.set()
        self.pinger.stop()
        if self._mark_watch is not None:
            self._mark_watch.interrupt()
        self.role.release()

    def _own_process(self) -> None:
        """In a process forked since (a gunicorn --preload worker), threads,
        connections and locks are the parent's: start afresh with this
        process's own, on first use (not in a fork hook: unrelated forks, such
        as a build's worker processes, must not pay for it)."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        self._started = False
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._mark_watch = None  # the parent's: its thread is not here
        self.role.forget()
        self.pipeline.lock.forget()
        self.pipeline = self.pipeline.reopened()
        self.reader = self._reader()
        self.pinger.forget()
        self.cache = _Cache(self.cache.limit)

    def _reader(self) -> Pipeline:
        reader = self.pipeline.reopened()
        reader.store.hold_pages(READER_PAGES_KIB)
        return reader

    def _follow(self) -> None:
        """Switch to each new version as soon as the mark beside the store is
        replaced: asleep in the kernel until then (`FileWatch`), or looking
        at the mark every VERSION_POLL seconds where that is unavailable."""
        watch = self._mark_watch
        last_mark: tuple[int, int] | None = None
        polls = 0
        while not self._stop.is_set():
            try:
                polls += 1
                mark = _mark(self.reader.store.mark)
                # Without a mark (a store folder that cannot be written), the
                # store itself is asked every few seconds.
                if mark != last_mark or (mark is None and (watch is not None or polls % MARKLESS_POLLS == 0)):
                    last_mark = mark
                    self.catch_up()
                if watch is not None and watch.working:
                    watch.wait(FOLLOW_SAFETY if mark is not None else VERSION_POLL * MARKLESS_POLLS)
                    continue
            except Exception:  # the follower must survive anything; log and go on
                log.exception("checking the store's version failed")
            self._stop.wait(VERSION_POLL)
        if watch is not None:
            watch.close()

    def _claim(self) -> None:
        """Wait (in the kernel) for the watch lock, then be the watcher. The
        lock's holder dying frees it, and one waiting worker takes over."""
        while not self._stop.is_set():
            try:
                self.role.acquire(blocking=True)
            except OSError:  # the store's folder cannot be written: try again later
                log.exception("cannot take the watch lock")
                self._stop.wait(ROLE_RETRY)
                continue
            if self._stop.is_set():
                self.role.release()
                return
            self._watch()
            return

    def _store_version(self) -> int:
        with self.reader.store.lock:
            return self.reader.store.version

    def catch_up(self) -> None:
        """Switch to the store's current version if it moved on."""
        version = self._store_version()
        if version != self.version:
            with self.reader.store.snapshot():
                changed = set(self.reader.store.documents.changed_since(self.version))
            self.cache.drop(changed, archives=True)
            self.version = version

    def _watch(self) -> None:
        """The watch lock's holder: refresh on every change, and when a
        scheduled article's time comes."""
        interval = self.settings.reload_interval
        while not self._stop.is_set():
            try:
                self._watch_with_notifications(interval)
            except Exception as exc:  # no inotify, too many watches, the folder gone: poll
                log.info("watching %s by polling every %g s (%s)", self.settings.content_dir, interval, exc)
                for _ in range(30):
                    if self._stop.wait(interval):
                        return
                    self.refresh()

    def _watch_with_notifications(self, interval: float) -> None:
        """Refresh on every change under the content folder, until the
        folder goes (raises) or another folder takes its path (returns:
        the caller watches again, the new folder this time)."""
        root = os.path.realpath(self.settings.content_dir)
        # Held open, the watched folder keeps its inode number even when it
        # is deleted, so a new folder at its path cannot look like it. The
        # configured path is compared, as a symlink swapped to a new release
        # moves it.
        try:
            handle = os.open(self.settings.content_dir, os.O_RDONLY | os.O_DIRECTORY)
        except NotADirectoryError as exc:
            raise FileNotFoundError(f"the content folder {root} is not a folder") from exc
        try:
            self._watch_folder(root, handle, interval)
        finally:
            os.close(handle)

    def _watch_folder(self, root: str, handle: int, interval: float) -> None:
        from watchfiles import watch

        opened = os.fstat(handle)
        watched = (opened.st_dev, opened.st_ino)

        def relevant(change: Any, path: str) -> bool:
            relative = os.path.relpath(path, root)
            return not any(part.startswith(".") for part in relative.split(os.sep))

        # Whatever changed while nobody watched is refreshed at the first
        # yield, once the notifier watches: a refresh before it would miss
        # changes made while the notifier starts.
        missed = True
        for changes in watch(
            root,
            watch_filter=relevant,
            # The notifier's thread wakes every `step` ms (and takes the GIL
            # to look at the stop event), tens of µs of CPU each time; it
            # yields a change after two quiet steps. 250 ms keeps the
            # watching worker's idle CPU near nothing and still refreshes
            # within half a second of an edit.
            debounce=200,
            step=250,
            rust_timeout=int(interval * 1000),
            yield_on_timeout=True,
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            due = self._next_due is not None and to_micros(datetime.now(UTC)) >= self._next_due
            if changes or due or missed:
                missed = False
                self.refresh()
            # Another folder at the path: the notifier still watches the old one.
            if _identity(self.settings.content_dir) != watched:
                log.info("the content folder %s was replaced: watching the new one", root)
                return

    # -- documents ------------------------------------------------------------

    def document(self, path: str, base_url: str) -> Served | None:
        """The document at `path` for `base_url`, or None if there is none."""
        ref = urlspace.parse(path)
        if ref is None:
            return None
        if os.getpid() != self._pid:
            self._own_process()
        key = (base_url, ref.path)
        served = self.cache.get(key)
        if served is not None:
            return served
        reader = self.reader
        with reader.store.snapshot():
            version = reader.store.version
            if version != self.version:
                changed = set(reader.store.documents.changed_since(self.version))
                self.cache.drop(changed, archives=True)
                self.version = version
            row = reader.store.documents.get(ref.path) if base_url == self.settings.base_url else None
            if row is not None and row.body is not None and row.etag is not None and not row.removed:
                updated = to_datetime(row.updated) if row.updated is not None else None
                served = Served(
                    ref, row.body, row.gzip or compress(row.body), row.etag, updated, row.keys or ""
                )
            else:
                rendered = next(iter(reader.render([ref], self.site(base_url))), None)
                if rendered is None:
                    return None
                updated = to_datetime(rendered.updated) if rendered.updated is not None else None
                served = Served(
                    ref,
                    rendered.body,
                    compress(rendered.body),
                    rendered.etag,
                    updated,
                    rendered.keys,
                )
        self.cache.put(key, served)
        return served

    def site(self, base_url: str) -> Site:
        return self.reader.site(base_url)

    def feeds(self) -> tuple[Any, ...]:
        self._own_process()
        with self.reader.store.snapshot():
            return self.reader.documents.feed_list()

    # -- health -------------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of /healthz: 503 with a reason when the
        content folder cannot be read or the last refresh failed."""
        self._own_process()
        reader = self.reader
        with reader.store.snapshot():
            state = reader.store.get("refresh", {}) or {}
            overview = reader.overview()
            problems = reader.problems()
            files = reader.files()
            version = reader.store.version
        root = self.settings.content_dir
        reason = None
        if not root.is_dir():
            reason = f"content folder {str(root)!r} does not exist or is not a folder"
        elif not os.access(root, os.R_OK | os.X_OK):
            reason = f"content folder {str(root)!r} cannot be read"
        elif state.get("error"):
            reason = f"the last refresh failed: {state['error']}"
        body = {
            "status": "ok" if reason is None else "failing",
            "reason": reason,
            "version": version,
            "files": files,
            "entries": overview.entries,
            "feeds": len(overview.feeds),
            "withheld": overview.drafts,
            "scheduled": overview.scheduled,
            "problems": [
                {"path": p.path, "line": p.line, "severity": p.severity.value, "message": p.message}
                for p in problems
            ],
            "last_refresh": state.get("at"),
            "refresh_error": state.get("error"),
        }
        return (200 if reason is None else 503), body
