"""Entries → stories: one story per group of entries connected by being
items of the same files, kept current in the store.

An article and its related items are one story told by several outlets;
two files sharing any URL tell the same story, so stories are the connected
components of "shown in the same file". Only shown items connect: a draft
never joins two published stories. A story's lead is its top-level article
(among several, the earliest published, ties by id), or its earliest item
when no article is shown. Its id is a ``tag:`` URI minted from the lead's
id when the story is first seen, and kept in the id ledger from then on:
it never changes as coverage comes and goes. Its ``updated`` is the latest
of its items', or the time its coverage last changed, from the ledger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from urllib.parse import urlsplit

from feedpub.catalog import State
from feedpub.catalog import View
from feedpub.catalog import batches
from feedpub.catalog import digest
from feedpub.catalog import digest_text
from feedpub.catalog import ledger_time
from feedpub.catalog import to_datetime
from feedpub.catalog import to_micros
from feedpub.ledger import STORY
from feedpub.members import Changes
from feedpub.members import Membership
from feedpub.members import Writes
from feedpub.members import move
from feedpub.model import FeedKind
from feedpub.names import normal
from feedpub.store import EntryRow
from feedpub.store import LedgerRow
from feedpub.store import Store
from feedpub.store import StoryRow
from feedpub.store import dumps
from feedpub.store import loads
from feedpub.urlspace import feed_key

#: Most items listed in one story entry, newest first.
MAX_COVERAGE = 100


def derive(store: Store, affected: set[str], view: View, changes: Changes) -> None:
    """Settle the stories of the `affected` entries (canonical URLs): whole
    stories, as an edit can join two or split one.

    In two passes over bounded batches, so that memory follows the batch,
    not the archive: which entries form each story and which id it wants
    (light rows); then, ids settled for all at once, each story's data."""
    old_ids = store.entries.stories_of(affected) | changes.left_stories
    involved = set(affected) | store.entries.of_stories(old_ids)
    wanted: list[_Want] = []
    walked: set[str] = set()
    for batch in batches(sorted(involved)):
        start = set(batch) - walked
        if not start:
            continue
        components, rows = _components(store, start, view)
        walked |= rows.keys()
        wanted += _wants(components, rows, store.ledger.by_canonicals(rows))
    chosen = _choose_ids(wanted, store)
    if changes.touched is not None:
        changes.touched_stories = old_ids | chosen.keys()
    old_stories = store.stories.get(old_ids, data=False)
    names = _TopicSlugs(store)
    pending: list[tuple[str, list[str]]] = []
    size = 0
    for story_id, members in sorted(chosen.items()):
        pending.append((story_id, members))
        size += len(members)
        if size >= _BATCH_MEMBERS:
            _settle(store, pending, old_stories, view, names, changes)
            pending, size = [], 0
    _settle(store, pending, old_stories, view, names, changes)
    writes = Writes()
    for old in old_stories.values():
        store.stories.drop(old.id)
        move(store, changes, _membership(old), None, writes)
    writes.flush(store)


#: Members of the stories settled in one go (their rows are in memory).
_BATCH_MEMBERS = 2000


def _settle(
    store: Store,
    pending: list[tuple[str, list[str]]],
    old_stories: dict[str, StoryRow],
    view: View,
    names: _TopicSlugs,
    changes: Changes,
) -> None:
    """Build and write the stories of one batch, and move their members."""
    if not pending:
        return
    canonicals = [c for _, members in pending for c in members]
    rows = store.entries.get(canonicals)
    ledger = store.ledger.by_canonicals(canonicals)
    lines = {i: r for i, r in store.ledger.by_ids(tag for tag, _ in pending).items() if r.origin == STORY}
    writes, settled = Writes(), _Settled()
    for story_id, members in pending:
        new = _story(story_id, members, rows, ledger, lines.get(story_id), view, names, settled)
        old = old_stories.pop(story_id, None)
        settled.stories.append(new)
        move(store, changes, _membership(old), _membership(new), writes)
    store.stories.put_many(settled.stories)
    store.entries.set_stories(settled.entry_stories)
    writes.ledger = settled.lines
    writes.flush(store)
    if settled.line_stories:
        store.ledger.set_stories(settled.line_stories)
    changes.ledger |= bool(settled.lines or settled.line_stories)


@dataclass
class _Settled:
    """What the stories of one derive write, all at once."""

    stories: list[StoryRow] = field(default_factory=list)
    #: (story, canonical) of entries that changed story.
    entry_stories: list[tuple[str, str]] = field(default_factory=list)
    #: (story, id) of ledger lines that changed story.
    line_stories: list[tuple[str, str]] = field(default_factory=list)
    #: New or changed ledger lines of stories.
    lines: list[LedgerRow] = field(default_factory=list)


def _membership(row: StoryRow | None) -> Membership | None:
    return Membership(row.published, row.id, row.feeds, row.shown_hash) if row else None


def _components(store: Store, start: set[str], view: View) -> tuple[list[list[str]], dict[str, EntryRow]]:
    """The stories (as sorted lists of canonical URLs) of every shown entry
    reachable from `start`, and those entries' rows."""
    rows: dict[str, EntryRow] = {}
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    seen_paths: set[str] = set()
    frontier = set(start)
    while frontier:
        found = {
            c: r for c, r in store.entries.get(frontier, data=False).items() if r.state == State.PUBLISHED
        }
        rows.update(found)
        for canonical in found:
            parent.setdefault(canonical, canonical)
        paths = {str(path) for row in found.values() for path, _ in row.occurrences or ()} - seen_paths
        seen_paths |= paths
        frontier = set()
        for batch in batches(sorted(paths)):
            for items in store.items.of_paths(batch, data=False).values():
                shown = [item.canonical for item in items if view.shows(item)]
                for canonical in shown:
                    if canonical not in parent:
                        parent[canonical] = canonical
                        frontier.add(canonical)
                for other in shown[1:]:
                    parent[find(other)] = find(shown[0])
        frontier -= rows.keys()
    groups: dict[str, list[str]] = {}
    for canonical in rows:
        groups.setdefault(find(canonical), []).append(canonical)
    return [sorted(group) for group in groups.values()], rows


def _lead(members: list[str], rows: dict[str, EntryRow]) -> str:
    articles = [c for c in members if str(rows[c].winner).endswith("#0")] or members
    return min(articles, key=lambda c: (rows[c].published or 0, rows[c].id or c))


@dataclass(frozen=True)
class _Want:
    """One story as the first pass found it, and the id it would keep."""

    #: Sort key: the better claim to `tag` first (see `_wants`).
    rank: tuple[int, int, str]
    tag: str
    members: list[str]
    #: The id a new one would be minted with (from the lead).
    minted: str
    #: Every id its entries were recorded with.
    recorded: frozenset[str]


def _wants(
    components: list[list[str]], rows: dict[str, EntryRow], ledger: dict[str, LedgerRow]
) -> list[_Want]:
    """Which id each story wants: one its entries were recorded with, the
    one minted from an entry of the story first, then its lead's, then the
    one most of its entries have (ties: the smallest); none if none was
    recorded."""
    found = []
    for members in components:
        lead = _lead(members, rows)
        recorded = Counter(ledger[c].story for c in members if c in ledger and ledger[c].story)
        minted = {_mint_for(rows[c]) for c in members}
        lead_tag = ledger[lead].story if lead in ledger else ""

        def rank(
            tag: str, minted: set[str] = minted, lead_tag: str = lead_tag, recorded: Counter[str] = recorded
        ) -> tuple[int, int, str]:
            return (0 if tag in minted else 1 if tag == lead_tag else 2, -recorded[tag], tag)

        best = min(recorded, key=rank) if recorded else ""
        found.append(
            _Want(
                rank(best) if best else (3, 0, ""), best, members, _mint_for(rows[lead]), frozenset(recorded)
            )
        )
    return found


def _choose_ids(wanted: list[_Want], store: Store) -> dict[str, list[str]]:
    """Each story's id: the one it wants, unless a story with a better claim
    took it (a story split in two keeps its id in the part holding the entry
    the id was minted from); else a new one, minted from its lead."""
    chosen: dict[str, list[str]] = {}
    for want in sorted(wanted, key=lambda w: (w.rank, w.members)):
        tag = want.tag
        if not tag or tag in chosen:
            tag = want.minted
            number = 1
            while tag in chosen or (store.ledger.has_id(tag) and tag not in want.recorded):
                number += 1
                tag = f"{want.minted}#{number}"
        chosen[tag] = want.members
    return chosen


def _mint_for(row: EntryRow) -> str:
    return mint(str(row.id), to_datetime(int(row.published or 0)).strftime("%Y-%m-%d"))


def mint(lead_id: str, day: str) -> str:
    """A story's ``tag:`` URI (RFC 4151) from its lead's id and publication
    day: ``tag:example.com,2024-05-01:story/path?query``."""
    parts = urlsplit(lead_id)
    specific = (
        parts.path
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )
    return f"tag:{parts.hostname},{day}:story{specific}"


class _TopicSlugs:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.slugs: dict[str, str] = {}

    def __call__(self, display: str) -> str:
        if display not in self.slugs:
            row = self.store.names.get("topic", normal(display))
            assert row is not None, display
            self.slugs[display] = row.slug
        return self.slugs[display]


def _story(
    story_id: str,
    members: list[str],
    rows: dict[str, EntryRow],
    ledger: dict[str, LedgerRow],
    known: LedgerRow | None,
    view: View,
    topic_slug: _TopicSlugs,
    settled: _Settled,
) -> StoryRow:
    datas = {c: loads(rows[c].data) for c in members}
    lead = rows[_lead(members, rows)]
    data = datas[lead.canonical]
    ordered = sorted(members, key=lambda c: (-int(rows[c].published or 0), rows[c].id or c))
    coverage = [
        [datas[c]["url"], datas[c]["title"], datas[c]["provider"][0], rows[c].published]
        for c in ordered[:MAX_COVERAGE]
    ]
    topics = sorted({topic for c in members for topic in datas[c]["topics"]})
    coverage_hash = digest(sorted(str(rows[c].id) for c in members))
    if known is None:
        since = ledger_time(int(lead.published or 0))
    else:
        since = known.updated if known.hash == coverage_hash else view.now_text
    line = LedgerRow(story_id, story_id, STORY, STORY, STORY, STORY, coverage_hash, since, story_id)
    if line != known:
        settled.lines.append(line)
    settled.entry_stories += [(story_id, c) for c in members if rows[c].story != story_id]
    settled.line_stories += [
        (story_id, ledger[c].id) for c in members if c in ledger and ledger[c].story != story_id
    ]
    updated = max(int(rows[c].updated or 0) for c in members)
    if since != "-":
        updated = max(updated, to_micros(datetime.fromisoformat(since)))
    story_data = {
        "url": data.get("url"),
        "title": data.get("title"),
        "provider": data.get("provider"),
        "provider_feed": data.get("provider_feed"),
        "excerpt": data.get("excerpt"),
        "images": data.get("images"),
        "topics": topics,
        "coverage": coverage,
        "body": "",
        "related": [],
    }
    feeds = [feed_key(FeedKind.STORIES)] + [feed_key(FeedKind.TOPIC_STORIES, topic_slug(t)) for t in topics]
    published = int(lead.published or 0)
    data_text = dumps(story_data)
    return StoryRow(
        story_id,
        published,
        updated,
        coverage_hash,
        digest_text(f"{story_id}\n{published}\n{updated}\n{data_text}"),
        sorted(feeds),
        data_text,
    )
