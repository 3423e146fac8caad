"""Items → deduplicated entries → the members of every feed, kept current in
the store.

Every article and related item is an item; items with the same canonical URL
are one entry, and the visible one that sorts first wins (a top-level article
before a related item, then by file path, then by position in the file), so
the result never depends on the order files were read. Drafts and scheduled
items are withheld unless asked for, and counted.

`derive` works on the canonical URLs a refresh touched, not on the archive:
it settles their winners, the topic and provider names whose counts moved,
then the entries themselves (their data, id, feeds), and records, per feed,
which positions changed, so that `feedpub.site` renders only the documents
showing them. It returns the entries whose stories `feedpub.stories` must
settle next.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from feedpub import names
from feedpub.members import Changes
from feedpub.members import Membership
from feedpub.members import Writes
from feedpub.members import move
from feedpub.model import Article
from feedpub.model import FeedKind
from feedpub.model import Item
from feedpub.names import normal
from feedpub.settings import CuratedFeed
from feedpub.store import EntryRow
from feedpub.store import ItemRow
from feedpub.store import LedgerRow
from feedpub.store import NameRow
from feedpub.store import Store
from feedpub.store import dumps
from feedpub.urlspace import feed_key

#: Most links to related coverage in one entry, newest first: a story with a
#: hundred related items must not make every entry of it a hundred links long.
MAX_RELATED_LINKS = 20
_BATCH = 500
#: From this many entries to derive on, they go file by file (`_file_order`):
#: reading every item's URL to order them costs less than it saves.
_FILE_ORDER_FROM = 16 * _BATCH


class State(enum.IntEnum):
    """Whether an entry is shown."""

    PUBLISHED = 0
    #: Every item of it is a draft.
    DRAFT = 1
    #: Dated in the future: shown from its time on.
    SCHEDULED = 2


@dataclass(frozen=True)
class View:
    """What decides which entries the feeds hold."""

    include_unpublished: bool
    include_future: bool
    #: The instant the site is derived at (µs since the epoch).
    now: int
    max_items: int
    curated: tuple[CuratedFeed, ...] = ()

    def shows(self, item: ItemRow) -> bool:
        return (self.include_unpublished or not item.draft) and (
            self.include_future or item.shown_from <= self.now
        )

    @property
    def now_text(self) -> str:
        return ledger_time(self.now)


# -- from parse results to store rows ------------------------------------------


def to_micros(moment: datetime) -> int:
    """A UTC datetime as integer microseconds since the epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ledger_time(micros: int) -> str:
    """A time as the id ledger writes it: UTC to the second, always 20
    characters (``2024-05-01T12:00:00Z``), so that an edit rewrites its
    ledger line in place (`ledger.update`)."""
    return to_datetime(micros).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def item_rows(article: Article) -> list[ItemRow]:
    """The store's rows for a parsed article: position 0 is the article,
    n its n-th related item, which inherits its topics and visibility."""
    published = to_micros(article.published)
    rows = [
        ItemRow(
            article.path,
            0,
            article.canonical,
            published,
            published,
            article.draft,
            _item_data(article, article.topics, article.body) | {"line": article.source_line},
        )
    ]
    for position, item in enumerate(article.related, start=1):
        topics = tuple(dict.fromkeys(article.topics + item.topics))
        own = to_micros(item.published)
        rows.append(
            ItemRow(
                article.path,
                position,
                item.canonical,
                own,
                max(own, published),
                article.draft,
                _item_data(item, topics, ""),
            )
        )
    return rows


def _item_data(item: Item, topics: tuple[str, ...], body: str) -> dict[str, object]:
    return {
        "title": item.title,
        "url": item.url,
        "provider": [item.provider.name, item.provider.domain],
        "excerpt": item.excerpt,
        "topics": list(topics),
        "images": [[i.url, i.width, i.height, i.title] for i in item.images],
        "amp_url": item.amp_url,
        "category": item.category,
        "type": item.type,
        "quality": item.quality,
        "heat": item.heat,
        "body": body,
    }


def digest(value: object) -> str:
    """A short digest of a JSON-able value: what tells two versions apart."""
    return digest_text(dumps(value))


def digest_text(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _origin(path: str, position: int) -> str:
    return f"{path}#{position}"


# -- the derive --------------------------------------------------------------------


def derive(store: Store, dirty: set[str], view: View, changes: Changes, everything: bool = False) -> set[str]:
    """Bring the entries of the `dirty` canonical URLs (and everything that
    shows them) up to date with the items, inside the caller's transaction;
    the canonical URLs of the entries whose stories may have changed. The
    stories that entries left (withheld or gone) are added to
    `changes.left_stories`."""
    changes.touched = None if everything else dirty
    touched: set[tuple[str, str]] = set()
    relinked, left = _settle_winners(store, dirty, view, changes, touched)
    renamed = names.settle(store, touched)
    to_derive = set(dirty) | _mates(store, relinked, view) | _users(store, renamed, view)
    deriver = _Deriver(store, view, changes)
    if everything or len(to_derive) > _FILE_ORDER_FROM:
        ordered = _file_order(store, to_derive)
    else:
        ordered = sorted(to_derive)
    for batch in batches(ordered):
        deriver.derive(batch)
    return to_derive | left


def _file_order(store: Store, canonicals: set[str]) -> list[str]:
    """`canonicals` with the entries of each file side by side (each at its
    first file), so that a batch reads a file's items, and the links of the
    entries it shows, once. In batches by URL a cold derive read each entry
    and item about six times: every file's entries were spread over as
    many batches. Those without items are left out: the first pass has
    dropped their entries."""
    ordered: list[str] = []
    seen: set[str] = set()
    for canonical in store.items.in_file_order():
        if canonical in canonicals and canonical not in seen:
            seen.add(canonical)
            ordered.append(canonical)
    return ordered


def batches(keys: list[str]) -> Iterable[list[str]]:
    """`keys` in slices small enough for one query each."""
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


def _settle_winners(
    store: Store, dirty: set[str], view: View, changes: Changes, touched: set[tuple[str, str]]
) -> tuple[set[str], set[str]]:
    """First pass: which item wins each dirty entry, whether it is shown, and
    how it moves the name counts (the names touched are added to `touched`).
    Withheld and vanished entries leave their feeds here; the others keep
    their place in them until the third pass moves them. Returns the entries
    whose link or items changed (their neighbours show them) and those that
    left."""
    relinked: set[str] = set()
    left: set[str] = set()
    deltas: Counter[tuple[str, str]] = Counter()  # name uses to add, applied at the end in one go
    for batch in batches(sorted(dirty)):
        items = store.items.of_canonicals(batch)
        olds = store.entries.get(batch)
        settled: list[EntryRow] = []
        for canonical in batch:
            found = items.get(canonical, [])
            old = olds.get(canonical)
            shown = sorted(
                (i for i in found if view.shows(i)), key=lambda i: (i.position > 0, i.path, i.position)
            )
            spellings: Counter[tuple[str, str]] = Counter()
            for item in shown:
                spellings["provider", item.data["provider"][0]] += 1
                spellings.update(("topic", topic) for topic in item.data["topics"])
            deltas.update(spellings)
            for kind, spelling, uses in (old.spellings if old else None) or ():
                deltas[str(kind), str(spelling)] -= int(str(uses))
            if not shown:
                if old is not None:
                    _leave_feeds(store, old, changes)
                    left.add(canonical)
                    relinked.add(canonical)
                    if old.story:
                        changes.left_stories.add(old.story)
                if not found:
                    store.entries.drop(canonical)
                    continue
                drafts_only = not view.include_unpublished and all(i.draft for i in found)
                state = State.DRAFT if drafts_only else State.SCHEDULED
                settled.append(
                    EntryRow(canonical, None, state, occurrences=[[i.path, i.position] for i in found])
                )
                continue
            winner = shown[0]
            link = [winner.data["url"], winner.data["title"], winner.data["provider"][0], winner.published]
            occurrences = [[i.path, i.position] for i in shown]
            if old is None or old.state != State.PUBLISHED:
                row = EntryRow(canonical, None, State.PUBLISHED)
            else:
                row = old
                if (old.link, old.occurrences) != (link, occurrences):
                    relinked.add(canonical)
            settled.append(
                row._replace(
                    state=State.PUBLISHED,
                    winner=_origin(winner.path, winner.position),
                    occurrences=occurrences,
                    link=link,
                    spellings=[[k, s, n] for (k, s), n in sorted(spellings.items())],
                )
            )
        store.entries.put_many(settled)
    changed = [(kind, normal(spelling), spelling, uses) for (kind, spelling), uses in deltas.items() if uses]
    store.names.add_uses_many(changed)
    touched.update((kind, name_key) for kind, name_key, _, _ in changed)
    return relinked, left


def _leave_feeds(store: Store, old: EntryRow, changes: Changes) -> None:
    if old.id is not None and old.published is not None:
        move(store, changes, Membership(old.published, old.id, old.feeds or [], old.shown_hash), None)


def _mates(store: Store, canonicals: set[str], view: View) -> set[str]:
    """Every entry shown in the same file as one of `canonicals`: their
    related links show it."""
    if not canonicals:
        return set()
    paths: set[str] = set()
    for rows in store.items.of_canonicals(canonicals).values():
        paths.update(row.path for row in rows)
    for row in store.entries.get(canonicals, data=False).values():
        paths.update(str(path) for path, _ in row.occurrences or ())
    return {
        item.canonical for rows in store.items.of_paths(paths).values() for item in rows if view.shows(item)
    }


def _users(store: Store, renamed: set[tuple[str, str]], view: View) -> set[str]:
    """Entries of the feeds of renamed names, and for providers the entries
    linking to them (links name the provider)."""
    found: set[str] = set()
    for kind, slug in renamed:
        key = feed_key(FeedKind.TOPIC if kind == "topic" else FeedKind.PROVIDER, slug)
        ids = store.members.page(key, 0, 1 << 62)
        users = {row.canonical for row in store.entries.by_ids(ids, data=False).values()}
        found |= users
        if kind == "provider":
            found |= _mates(store, users, view)
    return found


class _Deriver:
    """Third pass: an entry's data, id and feeds, for batches of entries."""

    def __init__(self, store: Store, view: View, changes: Changes) -> None:
        self.store = store
        self.view = view
        self.changes = changes
        self._names: dict[tuple[str, str], NameRow | None] = {}
        #: Whether the ledger has lines whose URL no file has (edited URLs).
        self.orphans: bool | None = None
        #: Ids already given, of the batch's new entries' candidates.
        self.taken: set[str] = set()

    def name(self, kind: str, spelling: str) -> NameRow:
        key = (kind, normal(spelling))
        if key not in self._names:
            self._names[key] = self.store.names.get(*key)
        found = self._names[key]
        assert found is not None, key  # every shown spelling was counted first
        return found

    def derive(self, batch: list[str]) -> None:
        store = self.store
        # Without their data: each entry's is made anew from its items.
        rows = {c: r for c, r in store.entries.get(batch, data=False).items() if r.state == State.PUBLISHED}
        paths = {str(path) for row in rows.values() for path, _ in row.occurrences or ()}
        files = store.items.of_paths(paths)
        mates = {item.canonical for path in paths for item in files.get(path, ()) if self.view.shows(item)}
        mates -= rows.keys()
        # Only how they are linked: their data is not decoded, nor even read.
        links = {c: r for c, r in store.entries.get(mates, data=False).items() if r.state == State.PUBLISHED}
        links.update(rows)
        ledger_rows = store.ledger.by_canonicals(rows)
        if self.orphans is None:  # once per derive: most refreshes have none to look through
            self.orphans = store.ledger.has_orphans(self.changes.touched)
        # Ids a new entry would take that some line already has: looked up
        # for the whole batch at once.
        self.taken = store.ledger.existing_ids(c for c in rows if c not in ledger_rows)
        writes = Writes()
        for canonical, row in rows.items():
            self._derive_one(row, files, links, ledger_rows.get(canonical), writes)
        writes.flush(store)

    def _derive_one(
        self,
        row: EntryRow,
        files: dict[str, list[ItemRow]],
        links: dict[str, EntryRow],
        known: LedgerRow | None,
        writes: Writes,
    ) -> None:
        occurrences = [(str(path), int(position)) for path, position in row.occurrences or ()]
        by_place = {(item.path, item.position): item for path, _ in occurrences for item in files[path]}
        winner = by_place[occurrences[0]]
        data = winner.data
        provider = self.name("provider", data["provider"][0])
        topics = sorted(
            {
                self.name("topic", topic).display
                for path, position in occurrences
                for topic in by_place[path, position].data["topics"]
            }
        )
        related = self._related(row.canonical, occurrences, files, links)
        own = [
            data["title"],
            data["url"],
            data["excerpt"],
            data["body"],
            data["images"],
            provider.display,
            topics,
            winner.published,
        ]
        own_hash = digest(own)
        entry_id, updated, problems = self._identify(row, winner, own_hash, provider.display, known, writes)
        entry_data = {
            "url": data["url"],
            "title": data["title"],
            "provider": [provider.display, data["provider"][1]],
            "provider_feed": feed_key(FeedKind.PROVIDER, provider.slug),
            "excerpt": data["excerpt"],
            "topics": topics,
            "images": data["images"],
            "related": related,
            "body": data["body"],
        }
        problems += self._duplicates(row.canonical, occurrences, by_place)
        feeds = [
            "all",
            *(feed_key(FeedKind.TOPIC, self.name("topic", t).slug) for t in topics),
            feed_key(FeedKind.PROVIDER, provider.slug),
        ]
        feeds += [
            feed_key(FeedKind.CURATED, c.name)
            for c in self.view.curated
            if _matches(c, winner, topics, provider.display)
        ]
        data_text = dumps(entry_data)
        new = row._replace(
            id=entry_id,
            published=winner.published,
            updated=updated,
            own_hash=own_hash,
            shown_hash=digest_text(f"{entry_id}\n{winner.published}\n{updated}\n{data_text}"),
            feeds=sorted(set(feeds)),
            data=data_text,
            problems=problems or None,
        )
        writes.entries.append(new)
        self._move(row, new, writes)

    def _related(
        self,
        canonical: str,
        occurrences: list[tuple[str, int]],
        files: dict[str, list[ItemRow]],
        links: dict[str, EntryRow],
    ) -> list[list[object]]:
        others = {
            item.canonical
            for path, _ in occurrences
            for item in files[path]
            if item.canonical != canonical and item.canonical in links and self.view.shows(item)
        }
        # link[3] is the winner's date as the first pass settled it, also
        # for the entries of this batch, which are not moved yet.
        ordered = sorted(others, key=lambda c: (-int((links[c].link or [0] * 4)[3]), links[c].id or c))
        result = []
        for other in ordered[:MAX_RELATED_LINKS]:
            url, title, spelling, _ = links[other].link or ("", "", "", 0)
            result.append([url, title, self.name("provider", str(spelling)).display])
        return result

    def _identify(
        self,
        row: EntryRow,
        winner: ItemRow,
        own_hash: str,
        provider: str,
        known: LedgerRow | None,
        writes: Writes,
    ) -> tuple[str, int, list[list[object]]]:
        """The entry's id and updated time from the ledger, recording it there."""
        store, view = self.store, self.view
        origin = _origin(winner.path, winner.position)
        title = digest(winner.data["title"])
        problems: list[list[object]] = []
        if known is None and self.orphans:
            candidates = [
                r for r in store.ledger.orphans_at(origin) if r.title == title or r.provider == provider
            ]
            if candidates:
                known = candidates[0]
        if known is None:
            entry_id = row.canonical
            number = 1
            while entry_id in self.taken or (number > 1 and store.ledger.has_id(entry_id)):
                number += 1
                entry_id = f"{row.canonical}#{number}"
            self.taken.add(entry_id)
            # First seen: what it shows is what it is published with.
            updated_text = ledger_time(winner.published)
            story = ""
        else:
            entry_id = known.id
            updated_text = known.updated if known.hash == own_hash else view.now_text
            story = known.story
        if entry_id != row.canonical:
            problems.append(
                [
                    winner.path,
                    winner.data.get("line"),  # an article's; a related item's is not known
                    "warning",
                    f"sourceUrl {winner.data['url']} differs from the id {entry_id} this entry was first "
                    f"published under, which it keeps so that readers do not show it again as new "
                    f"(`feedpub ids --reset {winner.data['url']}` gives it a new id)",
                ]
            )
        line = LedgerRow(
            entry_id,
            row.canonical,
            winner.data["url"],
            origin,
            provider,
            title,
            own_hash,
            updated_text,
            story,
        )
        if line != known:
            writes.ledger.append(line)
            self.changes.ledger = True
        updated = winner.published
        if updated_text != "-":
            updated = max(updated, to_micros(datetime.fromisoformat(updated_text)))
        return entry_id, updated, problems

    def _duplicates(
        self,
        canonical: str,
        occurrences: list[tuple[str, int]],
        by_place: dict[tuple[str, int], ItemRow],
    ) -> list[list[object]]:
        """The same URL as the article of two files is worth a warning, at
        the loser's ``sourceUrl``; the same URL as related coverage in
        several stories is normal."""
        articles = [path for path, position in occurrences if position == 0]
        return [
            [
                loser,
                by_place[loser, 0].data.get("line"),
                "warning",
                f"sourceUrl {canonical} is also the article of {articles[0]}; "
                f"merged into one entry, the fields of {articles[0]} win",
            ]
            for loser in articles[1:]
        ]

    def _move(self, old: EntryRow, new: EntryRow, writes: Writes) -> None:
        before = Membership(int(old.published or 0), str(old.id), old.feeds or [], old.shown_hash)
        after = Membership(int(new.published or 0), str(new.id), new.feeds or [], new.shown_hash)
        move(self.store, self.changes, before if old.id is not None else None, after, writes)


def _matches(feed: CuratedFeed, winner: ItemRow, topics: list[str], provider: str) -> bool:
    """Whether an entry belongs to a curated feed: every filter given holds."""
    data = winner.data
    if not feed.include_related and winner.position != 0:
        return False
    if feed.topics and not {normal(t) for t in feed.topics} & {normal(t) for t in topics}:
        return False
    if feed.providers and normal(provider) not in {normal(p) for p in feed.providers}:
        return False
    if feed.min_quality is not None and (data["quality"] is None or data["quality"] < feed.min_quality):
        return False
    if feed.min_heat is not None and (data["heat"] is None or data["heat"] < feed.min_heat):
        return False
    if feed.categories and normal(data["category"]) not in {normal(c) for c in feed.categories}:
        return False
    return not feed.types or normal(data["type"]) in {normal(t) for t in feed.types}
