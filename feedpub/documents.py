"""The feeds of the site and their documents: each feed's row (kind, name,
title, description, size, newest date, archive pages), and which of its
documents a derive touched, worked out from positions (`feedpub.paging`)
so that a change costs what it touches, not the archive."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from feedpub import paging
from feedpub import urlspace
from feedpub.catalog import to_datetime
from feedpub.members import Changes
from feedpub.members import FeedChange
from feedpub.model import SECTIONS
from feedpub.model import Entry
from feedpub.model import Feed
from feedpub.model import FeedKind
from feedpub.model import Image
from feedpub.model import Link
from feedpub.model import Page
from feedpub.model import Provider
from feedpub.names import normal
from feedpub.settings import Settings
from feedpub.store import FeedRow
from feedpub.store import Store
from feedpub.store import loads

_KINDS = {kind.value: kind for kind in FeedKind}


class FeedDocuments:
    """The feeds of one store, for one set of settings."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def settle(self, changes: Changes, version: int, render_all: bool) -> set[str]:
        """Update every feed the derive touched, and mark the documents whose
        content changed; the paths marked."""
        store, size = self.store, self.settings.max_items
        marked: set[str] = set()
        removed: set[str] = set()
        overview_changed = render_all
        fixed = {
            "all",
            "stories",
            *(urlspace.feed_key(FeedKind.CURATED, f.name) for f in self.settings.feeds),
        }
        keys = set(changes.feeds) | {key for key in fixed if store.members.feed(key) is None}
        if render_all:
            keys |= {row.key for row in store.members.feeds()}
        for key in sorted(keys):
            change = changes.feeds.get(key, FeedChange())
            old = store.members.feed(key)
            total = (old.total if old else 0) + change.added - change.removed
            kind, name = self.identify(key)
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
                overview_changed |= old is None or (old.title, old.total, old.newest) != (
                    title,
                    total,
                    newest,
                )
            if old is None or render_all or (old.kind, old.name, old.title, old.description) != row[1:5]:
                numbers: set[int | None] = {None, *range(1, row.pages + 1)}
            else:
                numbers = self._dirty_pages(key, change, old.total, total)
            marked |= {urlspace.feed_path(key, fmt, n) for n in numbers for fmt in urlspace.FORMATS}
            if old is not None and old.pages > row.pages:
                removed |= {
                    urlspace.feed_path(key, fmt, n)
                    for n in range(row.pages + 1, old.pages + 1)
                    for fmt in urlspace.FORMATS
                }
        withheld = store.entries.withheld()
        if withheld != {int(k): v for k, v in store.get("withheld", {}).items()}:
            store.put("withheld", withheld)
            overview_changed = True
        if overview_changed:
            marked |= {urlspace.INDEX_PATH, urlspace.OPML_PATH}
        store.documents.mark(sorted(marked), version)
        store.documents.remove(sorted(removed - marked), version)
        return marked

    def _dirty_pages(self, key: str, change: FeedChange, old_total: int, total: int) -> set[int | None]:
        """The documents of one feed showing what changed: from the oldest
        entry added, removed or moved on, each page (the newer pages shift);
        each page holding an entry edited in place."""
        size = self.settings.max_items
        numbers: set[int | None] = set()
        # Positions only grow older down the feed: the oldest member moved
        # is the one with the fewest older than it.
        lowest = None if change.oldest_moved is None else self._older(key, *change.oldest_moved, total)
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

    def identify(self, key: str) -> tuple[FeedKind, str]:
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
            return (
                curated.title or f"{site}: {name}",
                curated.description or f"A selection of {site}'s stories",
            )
        table = s.providers if kind is FeedKind.PROVIDER else s.topics
        configured = next((text for key, text in table.items() if normal(key) == normal(name)), None)
        if kind is FeedKind.TOPIC_STORIES:
            return (
                f"{site}: {name} stories",
                f"Each story about {name} once, with every outlet's coverage of it",
            )
        default_description = (
            f"Stories from {name}"
            if kind is FeedKind.PROVIDER
            else f"Stories about {name} and their coverage across outlets"
        )
        title = (configured.title if configured else "") or f"{site}: {name}"
        return title, (configured.description if configured else "") or default_description

    def feed_list(self) -> tuple[Feed, ...]:
        """Every feed, in the index's order."""
        order = {kind: rank for rank, (kinds, _) in enumerate(SECTIONS) for kind in kinds}
        found = [_feed(row) for row in self.store.members.feeds()]
        found.sort(key=lambda f: (order[f.kind], f.kind is FeedKind.TOPIC_STORIES, f.key))
        return tuple(found)

    def page(self, key: str, number: int | None, known: EntryCache | None = None) -> Page | None:
        """What one document of feed `key` shows, or None if there is no such
        document. Entries (or stories) in `known` are taken from it, not read
        and decoded again, and the others are added to it."""
        row = self.store.members.feed(key)
        if row is None or (number is not None and not 1 <= number <= row.pages):
            return None
        feed = _feed(row)
        span = paging.span(row.total, self.settings.max_items, number)
        if span.offset > row.total // 2:
            ids = self.store.members.page_from_oldest(key, row.total - span.offset - span.limit, span.limit)
        else:
            ids = self.store.members.page(key, span.offset, span.limit)
        table = "story" if feed.kind.shows_stories else "entry"
        cache = known if known is not None else EntryCache(0)  # one that keeps nothing
        found = {i: entry for i in ids if (entry := cache.get(table, i)) is not None}
        missing = [i for i in ids if i not in found]
        if missing:
            rows = (self.store.stories if table == "story" else self.store.entries).shown(missing)
            for i in missing:
                published, updated, data = rows[i]
                found[i] = cache.put(table, _entry(i, published, updated, loads(data)))
        return Page(feed, number, row.pages, tuple(found[i] for i in ids))


class EntryCache:
    """Entries and stories as documents show them, by id, for the documents
    of one version of the store: an entry shown by five feeds is read and
    decoded once. Holds at most `limit` (0: none), the least recently used
    going first (documents showing the same entries are rendered close
    together)."""

    def __init__(self, limit: int = 8_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()

    def get(self, table: str, id: str) -> Entry | None:
        found = self._entries.get((table, id))
        if found is not None:
            self._entries.move_to_end((table, id))
        return found

    def put(self, table: str, entry: Entry) -> Entry:
        if self.limit:
            self._entries[table, entry.id] = entry
            if len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        self._entries.clear()


def _feed(row: FeedRow) -> Feed:
    newest = to_datetime(row.newest) if row.newest is not None else None
    return Feed(row.key, _KINDS[row.kind], row.name, row.title, row.description, row.total, newest)


def _entry(entry_id: str, published: Any, updated: Any, data: dict[str, Any]) -> Entry:
    return Entry(
        id=entry_id,
        url=data["url"],
        title=data["title"],
        published=to_datetime(published),
        updated=to_datetime(updated),
        provider=Provider(*data["provider"]),
        provider_feed=data["provider_feed"],
        excerpt=data["excerpt"],
        topics=tuple(data["topics"]),
        images=tuple(Image(*image) for image in data["images"]),
        related=tuple(Link(*link) for link in data.get("related", ())),
        body=data.get("body", ""),
        coverage=tuple(
            Link(url, title, provider, to_datetime(published_))
            for url, title, provider, published_ in data.get("coverage", ())
        ),
    )
