"""Articles → deduplicated entries → the feeds of the URL space, as data.

Every article and every related item becomes an entry, identified by its
canonical URL. Occurrences of one URL merge in a fixed order (a top-level
article before a related item, then by file path, then by position in the
file), so the result never depends on the order files were read. Drafts are
withheld unless asked for, and counted.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from functools import cached_property

from feedpub.model import Article
from feedpub.model import Entry
from feedpub.model import Feed
from feedpub.model import FeedKind
from feedpub.model import Link
from feedpub.model import Problem
from feedpub.model import Provider
from feedpub.model import Severity
from feedpub.urls import assign_slugs
from feedpub.urls import slugify

#: Entries per feed unless configured otherwise.
DEFAULT_MAX_ITEMS = 50
#: Most links to related coverage in one entry, newest first: a story with a
#: hundred related items must not make every entry of it a hundred links long.
MAX_RELATED_LINKS = 20


@dataclass(frozen=True, eq=False)
class Catalog:
    """The whole URL space as data: every feed, and every entry on demand.

    Only the entries some feed shows are built when the catalog is; the
    others wait until `entries` is first read, which saves most of the work
    for a site with many more entries than its feeds show.
    """

    #: Feeds by key (``all``, ``topics/ai``, ``providers/abc``): the all-entries
    #: feed first, then topics, then providers, each sorted by slug.
    feeds: Mapping[str, Feed]
    #: How many entries are published.
    entry_count: int
    #: Time of the newest published entry, if any.
    newest: datetime | None
    #: Entries left out because every occurrence of them is a draft.
    withheld: int = 0
    #: Warnings found while merging (the same article in two files, names
    #: that share a slug).
    problems: tuple[Problem, ...] = field(default=())
    _graph: _Graph | None = field(default=None, repr=False)

    @cached_property
    def entries(self) -> tuple[Entry, ...]:
        """Every published entry, newest first."""
        return self._graph.all_entries() if self._graph else ()

    def fingerprint(self, key: str, digests: Mapping[str, bytes]) -> bytes:
        """A digest of everything the feed `key` shows, from the digests of
        the content files (by path) it comes from: equal fingerprints mean
        equal feeds, without building a single entry."""
        assert self._graph is not None
        kind, name, shown, _, _ = self._graph.specs[key]
        prints = [self._graph.entry_print(entry_id, digests) for entry_id in shown]
        return _digest((key, kind.value, name, prints))

    def overview_fingerprint(self) -> bytes:
        """A digest of what the index page and the OPML list show of every
        feed (its name, size and newest date), again without building entries."""
        assert self._graph is not None
        specs = [
            (key, kind.value, name, total, updated)
            for key, (kind, name, _, total, updated) in self._graph.specs.items()
        ]
        return _digest((specs, self.entry_count, self.newest, self.withheld))


def _digest(value: object) -> bytes:
    return hashlib.blake2b(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), digest_size=16).digest()


class _Feeds(Mapping[str, Feed]):
    """The feeds of a catalog, each built on first access: a rebuild that
    renders three feeds builds the entries of three feeds."""

    def __init__(self, graph: _Graph) -> None:
        self._graph = graph
        self._built: dict[str, Feed] = {}

    def __getitem__(self, key: str) -> Feed:
        feed = self._built.get(key)
        if feed is None:
            kind, name, shown, total, updated = self._graph.specs[key]
            entries = tuple(self._graph.entry(entry_id) for entry_id in shown)
            feed = self._built[key] = Feed(
                key=key, kind=kind, name=name, entries=entries, total=total, updated=updated
            )
        return feed

    def __contains__(self, key: object) -> bool:
        return key in self._graph.specs  # Mapping's own would build the feed

    def __iter__(self) -> Iterator[str]:
        return iter(self._graph.specs)

    def __len__(self) -> int:
        return len(self._graph.specs)


class _Occurrence:
    """One place an entry's URL appears: an article or a related item."""

    __slots__ = ("id", "story", "rank", "index", "topics")

    def __init__(self, entry_id: str, story: Article, rank: int, index: int, topics: tuple[str, ...]):
        self.id = entry_id
        self.story = story
        #: 0 for a top-level article, 1 for a related item: articles win merges.
        self.rank = rank
        #: Position in the file: 0 for the article, i + 1 for related item i.
        self.index = index
        #: Topic names of the story (a related item inherits its parent's).
        self.topics = topics

    @property
    def order(self) -> tuple[int, str, int]:
        return (self.rank, self.story.path, self.index)


def build(
    articles: Iterable[Article],
    *,
    include_unpublished: bool = False,
    max_items: int = DEFAULT_MAX_ITEMS,
    previous: Catalog | None = None,
) -> Catalog:
    """Turn articles into the catalog of every feed.

    Given the `previous` catalog of the same site, the work done for the
    articles it already had (the very same objects, as a `Loader` keeps
    them) is reused, and so is every entry whose sources did not change: the
    server rebuilds its catalog after each edit this way.
    """
    before = previous._graph if previous is not None else None
    known = before.by_article if before is not None else {}
    by_article: dict[int, tuple[Article, list[_Occurrence]]] = {}
    by_id: dict[str, list[_Occurrence]] = {}
    # The stories (tuples of entry ids) each entry appears in: its related
    # coverage is the other entries of those stories.
    stories: dict[str, list[tuple[str, ...]]] = {}
    hidden: set[str] = set()
    # Ids of entries whose occurrences are new, changed or gone since `previous`.
    dirty: set[str] = set()
    for article in articles:
        reused = known.get(id(article))
        if reused is not None and reused[0] is article:
            story = reused[1]
        else:
            story = _occurrences(article)
            dirty.update(o.id for o in story)
        by_article[id(article)] = (article, story)
        if not (include_unpublished or article.is_published):
            hidden.update(o.id for o in story)
            continue
        ids = tuple(o.id for o in story)
        for occurrence in story:
            by_id.setdefault(occurrence.id, []).append(occurrence)
            stories.setdefault(occurrence.id, []).append(ids)
    for found in by_id.values():
        if len(found) > 1:
            found.sort(key=lambda occurrence: occurrence.order)

    for key, (article, story) in known.items():
        if by_article.get(key, (None,))[0] is not article:
            dirty.update(o.id for o in story)

    topic_names = _display_names(name for found in by_id.values() for o in found for name in o.topics)
    provider_names = _display_names(o.story.provider.name for found in by_id.values() for o in found)
    topic_slugs = assign_slugs(set(topic_names.values()), "topic")
    provider_slugs = assign_slugs(set(provider_names.values()), "provider")
    # Entries can be reused only if every name they show is still the same.
    same_names = before is not None and (topic_names, provider_names, provider_slugs) == (
        before.topic_names,
        before.provider_names,
        before.provider_slugs,
    )
    graph = _Graph(
        by_id,
        stories,
        topic_names,
        provider_names,
        provider_slugs,
        by_article,
        before if same_names else None,
        dirty,
    )
    graph.group(topic_slugs, provider_slugs, max_items)
    feeds = _Feeds(graph)
    if before is not None:
        # Build every feed now, while the previous entries can be reused;
        # then let go of the previous graph, or every catalog would keep
        # all earlier ones alive.
        for feed_key in feeds:
            feeds[feed_key]
        graph.forget_previous()
    problems = [
        *_duplicate_problems(by_id),
        *_slug_problems(by_id, topic_names, topic_slugs, "topic", lambda o: o.topics),
        *_slug_problems(
            by_id, provider_names, provider_slugs, "provider", lambda o: (o.story.provider.name,)
        ),
    ]
    return Catalog(
        feeds=feeds,
        entry_count=len(graph.order),
        newest=by_id[graph.order[0]][0].story.published if graph.order else None,
        withheld=len(hidden - by_id.keys()),
        problems=tuple(sorted(problems)),
        _graph=graph,
    )


def _occurrences(article: Article) -> list[_Occurrence]:
    """The article and its related items, each with the topics it files under."""
    found = [_Occurrence(article.id, article, 0, 0, article.topics)]
    for index, item in enumerate(article.related, start=1):
        topics = article.topics if not item.topics else tuple(dict.fromkeys(article.topics + item.topics))
        found.append(_Occurrence(item.id, item, 1, index, topics))
    return found


class _Graph:
    """The merged occurrences, in feed order; builds entries on demand,
    sharing the objects many entries have in common (providers, topic
    tuples, links to related coverage)."""

    def __init__(
        self,
        by_id: dict[str, list[_Occurrence]],
        stories: dict[str, list[tuple[str, ...]]],
        topic_names: Mapping[str, str],
        provider_names: Mapping[str, str],
        provider_slugs: Mapping[str, str],
        by_article: dict[int, tuple[Article, list[_Occurrence]]],
        previous: _Graph | None = None,
        dirty: set[str] | None = None,
    ) -> None:
        #: Each article's occurrences, by the article's identity (kept with
        #: the article, so that the identity stays its own).
        self.by_article = by_article
        self.by_id = by_id
        self.stories = stories
        self.topic_names = topic_names
        self.provider_names = provider_names
        self.provider_slugs = provider_slugs
        # Newest first, entries published at the same time in id order (the
        # sort is stable, also in reverse).
        published = {entry_id: found[0].story.published for entry_id, found in by_id.items()}
        self.order = sorted(published)
        self.order.sort(key=published.__getitem__, reverse=True)
        self.rank = {entry_id: position for position, entry_id in enumerate(self.order)}
        #: Per feed key: kind, name, ids of the entries shown, how many
        #: entries it has in all, and the newest one's time.
        self.specs: dict[str, tuple[FeedKind, str, list[str], int, datetime | None]] = {}
        self._topics: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._providers: dict[tuple[str, str], Provider] = {}
        self._links: dict[str, Link] = {}
        self._entries: dict[str, Entry] = {}
        # Entry prints, for one set of file digests (one build).
        self._prints: dict[str, tuple[object, ...]] = {}
        # A graph whose entries may be reused, and the ids of the entries
        # whose occurrences changed since (their stories cannot be reused).
        self._previous = previous
        self._dirty = dirty or set()

    def topics_of(self, entry_id: str) -> tuple[str, ...]:
        """Display names of the entry's topics, sorted."""
        found = self.by_id[entry_id]
        spellings = found[0].topics if len(found) == 1 else tuple(n for o in found for n in o.topics)
        if spellings not in self._topics:
            self._topics[spellings] = tuple(sorted({self.topic_names[name] for name in spellings}))
        return self._topics[spellings]

    def related_ids(self, entry_id: str) -> list[str]:
        """The other entries of the entry's stories, newest first, at most
        `MAX_RELATED_LINKS`."""
        others = {other for ids in self.stories[entry_id] for other in ids if other != entry_id}
        return sorted(others, key=self.rank.__getitem__)[:MAX_RELATED_LINKS]

    def group(
        self, topic_slugs: Mapping[str, str], provider_slugs: Mapping[str, str], max_items: int
    ) -> None:
        """Work out every feed: its kind, name, shown entry ids, size and
        newest date, in URL-space order, into `specs`."""
        by_topic: dict[str, list[str]] = {}
        by_provider: dict[str, list[str]] = {}
        topics_of, provider_names, by_id = self.topics_of, self.provider_names, self.by_id
        for entry_id in self.order:  # newest first, so every group is too
            for topic in topics_of(entry_id):
                by_topic.setdefault(topic, []).append(entry_id)
            provider = provider_names[by_id[entry_id][0].story.provider.name]
            by_provider.setdefault(provider, []).append(entry_id)

        def add(key: str, kind: FeedKind, name: str, group: list[str]) -> None:
            updated = self.by_id[group[0]][0].story.published if group else None
            self.specs[key] = (kind, name, group[:max_items], len(group), updated)

        add("all", FeedKind.ALL, "", self.order)
        for kind, folder, groups, slugs in (
            (FeedKind.TOPIC, "topics", by_topic, topic_slugs),
            (FeedKind.PROVIDER, "providers", by_provider, provider_slugs),
        ):
            for name in sorted(groups, key=slugs.__getitem__):
                add(f"{folder}/{slugs[name]}", kind, name, groups[name])

    def _touched(self, entry_id: str) -> bool:
        """Whether the entry, or any entry of its stories, changed: its
        fields come from its own winning occurrence, its related links from
        theirs."""
        dirty = self._dirty
        return entry_id in dirty or any(other in dirty for ids in self.stories[entry_id] for other in ids)

    def forget_previous(self) -> None:
        self._previous = None

    def all_entries(self) -> tuple[Entry, ...]:
        return tuple(self.entry(entry_id) for entry_id in self.order)

    def entry(self, entry_id: str) -> Entry:
        """The entry, built once."""
        if entry_id in self._entries:
            return self._entries[entry_id]
        before = self._previous
        if before is not None and entry_id in before._entries and not self._touched(entry_id):
            # Made of the same occurrences, with the same names: the same entry.
            self._entries[entry_id] = before._entries[entry_id]
            return self._entries[entry_id]
        story = self.by_id[entry_id][0].story
        provider = self.provider(story.provider)
        entry = self._entries[entry_id] = Entry(
            id=entry_id,
            url=story.url,
            title=story.title,
            published=story.published,
            updated=story.published,
            provider=provider,
            provider_feed=f"providers/{self.provider_slugs[provider.name]}",
            excerpt=story.excerpt,
            topics=self.topics_of(entry_id),
            images=story.images,
            related=tuple(self.link(other) for other in self.related_ids(entry_id)),
            body=story.body,
        )
        return entry

    def provider(self, provider: Provider) -> Provider:
        key = (self.provider_names[provider.name], provider.domain)
        if key not in self._providers:
            self._providers[key] = Provider(name=key[0], domain=key[1])
        return self._providers[key]

    def link(self, entry_id: str) -> Link:
        if entry_id not in self._links:
            story = self.by_id[entry_id][0].story
            self._links[entry_id] = Link(story.url, story.title, self.provider_names[story.provider.name])
        return self._links[entry_id]

    def entry_print(self, entry_id: str, digests: Mapping[str, bytes]) -> tuple[object, ...]:
        """What the entry is made of: the files (by digest) and positions of
        its winning occurrence and of its related coverage's, and the names
        the catalog gave its topics and provider. Equal prints, equal entries."""
        if entry_id in self._prints:
            return self._prints[entry_id]
        by_id, names = self.by_id, self.provider_names
        winner = by_id[entry_id][0]
        provider = names[winner.story.provider.name]
        # Every entry of its stories, unsorted and untruncated: a superset of
        # what decides its related links (their dates are in their files).
        stories = tuple(
            (other, digests[source.story.path], source.index, names[source.story.provider.name])
            for ids in self.stories[entry_id]
            for other in ids
            for source in (by_id[other][0],)
        )
        print_ = self._prints[entry_id] = (
            digests[winner.story.path],
            winner.index,
            self.topics_of(entry_id),
            provider,
            self.provider_slugs[provider],
            stories,
        )
        return print_


def _normal(name: str) -> str:
    """Names that differ only in case or spacing are one topic or provider."""
    return " ".join(name.split()).casefold()


def _display_names(names: Iterable[str]) -> dict[str, str]:
    """Each spelling → the display name of its group: the most frequent
    spelling, ties broken alphabetically."""
    counts = Counter(names)
    best: dict[str, str] = {}
    for spelling in sorted(counts, key=lambda s: (-counts[s], s)):
        best.setdefault(_normal(spelling), spelling)
    return {spelling: best[_normal(spelling)] for spelling in counts}


def _duplicate_problems(groups: Mapping[str, list[_Occurrence]]) -> list[Problem]:
    """The same URL as the article of two files is worth a warning; the same
    URL as related coverage in several stories is normal."""
    problems = []
    for entry_id, found in groups.items():
        articles = [o for o in found if o.rank == 0]
        for loser in articles[1:]:
            problems.append(
                Problem(
                    loser.story.path,
                    None,
                    f"sourceUrl {entry_id} is also the article of {articles[0].story.path}; "
                    f"merged into one entry, the fields of {articles[0].story.path} win",
                    Severity.WARNING,
                )
            )
    return problems


def _slug_problems(
    groups: Mapping[str, list[_Occurrence]],
    names: Mapping[str, str],
    slugs: Mapping[str, str],
    what: str,
    names_of: Callable[[_Occurrence], Iterable[str]],
) -> list[Problem]:
    """Warn where a name got a hash-suffixed slug because another name
    already had its plain slug, naming the first file that uses it."""
    moved = {name: slug for name, slug in slugs.items() if slugify(name) and slug != slugify(name)}
    if not moved:
        return []
    first_path: dict[str, str] = {}
    for found in groups.values():
        for occurrence in found:
            for spelling in names_of(occurrence):
                name = names[spelling]
                if name in moved and occurrence.story.path < first_path.get(name, "\uffff"):
                    first_path[name] = occurrence.story.path
    return [
        Problem(
            first_path[name],
            None,
            f"{what} {name!r} shares the slug {slugify(name)!r} with another {what}; its feed is {slug}",
            Severity.WARNING,
        )
        for name, slug in sorted(moved.items())
    ]
