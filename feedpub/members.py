"""Which entries (or stories) each feed holds: moving an entry's memberships
from its old place to its new one, and recording, per feed, which sort keys
changed, for `feedpub.documents` to work out which documents show them."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from feedpub.store import EntryRow
from feedpub.store import LedgerRow
from feedpub.store import Store


@dataclass
class FeedChange:
    """What one derive changed in one feed, by sort key (published, id)."""

    #: The oldest, in feed order, of the members added, removed or moved:
    #: the pages from it on change. (Only it: a cold build of 100,000
    #: articles moves some two million members.)
    oldest_moved: tuple[int, str] | None = None
    #: Members whose data changed in place: only their pages change.
    edited: list[tuple[int, str]] = field(default_factory=list)
    added: int = 0
    removed: int = 0

    def moved(self, key: tuple[int, str]) -> None:
        """Record a member added, removed or moved at sort key `key`."""
        oldest = self.oldest_moved
        # Feed order is newest first, ties by id: the oldest is the one with
        # the earliest date, and of those the greatest id.
        if oldest is None or key[0] < oldest[0] or (key[0] == oldest[0] and key[1] > oldest[1]):
            self.oldest_moved = key


@dataclass
class Changes:
    """What one derive changed."""

    feeds: dict[str, FeedChange] = field(default_factory=dict)
    #: Whether the ledger table changed (the file is then written again).
    ledger: bool = False
    #: Stories that entries left in this derive: they must be settled again.
    left_stories: set[str] = field(default_factory=set)
    #: Canonical URLs the derive touched (None: all of them).
    touched: set[str] | None = None
    #: Story ids the derive touched (None: all of them).
    touched_stories: set[str] | None = None

    def feed(self, key: str) -> FeedChange:
        return self.feeds.setdefault(key, FeedChange())


@dataclass(frozen=True)
class Membership:
    """Where an entry or story sits: its sort key in its feeds."""

    published: int
    id: str
    feeds: list[str]
    #: Digest of what it shows: a change renders its pages again.
    shown_hash: str | None


@dataclass
class Writes:
    """Rows to write at the end of a batch, all at once (``executemany``):
    members to drop, members to add, entry rows and ledger lines."""

    drops: list[tuple[str, int, str]] = field(default_factory=list)
    adds: list[tuple[str, int, str]] = field(default_factory=list)
    entries: list[EntryRow] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)

    def flush(self, store: Store) -> None:
        store.members.drop_many(self.drops)
        store.members.add_many(self.adds)
        store.entries.put_many(self.entries)
        store.ledger.put_many(self.ledger)


def move(
    store: Store,
    changes: Changes,
    old: Membership | None,
    new: Membership | None,
    writes: Writes | None = None,
) -> None:
    """Update the feeds' members from `old` to `new` (None: not in any
    feed), recording in `changes` what changed where; into `writes` when
    given, else at once."""
    pending = writes or Writes()
    old_feeds = set(old.feeds) if old else set()
    new_feeds = set(new.feeds) if new else set()
    old_key = (old.published, old.id) if old else None
    new_key = (new.published, new.id) if new else None
    for key in sorted(old_feeds | new_feeds):
        change = changes.feed(key)
        if key in old_feeds and key in new_feeds and old_key == new_key:
            if old and new and old.shown_hash != new.shown_hash:
                change.edited.append((new.published, new.id))
            continue
        if key in old_feeds and old_key is not None:
            pending.drops.append((key, *old_key))
            change.moved(old_key)
            change.removed += 1
        if key in new_feeds and new_key is not None:
            pending.adds.append((key, *new_key))
            change.moved(new_key)
            change.added += 1
    if writes is None:
        pending.flush(store)
