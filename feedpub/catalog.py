"""Articles → deduplicated entries → the feeds of the URL space, as data.

Every article and every related item becomes an entry, identified by its
canonical URL. Occurrences of one URL merge in a fixed order (a top-level
article before a related item, then by file path, then by position in the
file), so the result never depends on the order files were read. Drafts are
withheld unless asked for, and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from feedpub.model import Article
from feedpub.model import Entry
from feedpub.model import Feed
from feedpub.model import FeedKind
from feedpub.model import Link
from feedpub.model import Problem
from feedpub.model import Provider
from feedpub.model import Severity
from feedpub.urls import assign_slugs
from feedpub.urls import canonical_url
from feedpub.urls import slugify

#: Entries per feed unless configured otherwise.
DEFAULT_MAX_ITEMS = 50
#: Most links to related coverage in one entry, newest first: a story with a
#: hundred related items must not make every entry of it a hundred links long.
MAX_RELATED_LINKS = 20


@dataclass(frozen=True, eq=False)
class Catalog:
    """The whole URL space as data: every entry and every feed."""

    #: Every published entry, newest first.
    entries: tuple[Entry, ...]
    #: Feeds by key (``all``, ``topics/ai``, ``providers/abc``): the all-entries
    #: feed first, then topics, then providers, each sorted by slug.
    feeds: Mapping[str, Feed]
    #: Entries left out because every occurrence of them is a draft.
    withheld: int = 0
    #: Warnings found while merging (the same article in two files, names
    #: that share a slug).
    problems: tuple[Problem, ...] = field(default=())


@dataclass(frozen=True)
class _Occurrence:
    """One place an entry's URL appears: an article or a related item."""

    id: str
    story: Article
    #: 0 for a top-level article, 1 for a related item: articles win merges.
    rank: int
    #: Position in the file: 0 for the article, i + 1 for related item i.
    index: int
    #: Topic names of the story (a related item inherits its parent's).
    topics: tuple[str, ...]

    @property
    def order(self) -> tuple[int, str, int]:
        return (self.rank, self.story.path, self.index)


def build(
    articles: Iterable[Article],
    *,
    include_unpublished: bool = False,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> Catalog:
    """Turn articles into the catalog of every feed."""
    by_id: dict[str, list[_Occurrence]] = {}
    # The stories (tuples of entry ids) each entry appears in: its related
    # coverage is the other entries of those stories.
    stories: dict[str, list[tuple[str, ...]]] = {}
    hidden: set[str] = set()
    for article in articles:
        story = _occurrences(article)
        if not (include_unpublished or article.is_published):
            hidden.update(o.id for o in story)
            continue
        ids = tuple(o.id for o in story)
        for occurrence in story:
            by_id.setdefault(occurrence.id, []).append(occurrence)
            stories.setdefault(occurrence.id, []).append(ids)
    withheld = len(hidden - by_id.keys())
    for found in by_id.values():
        if len(found) > 1:
            found.sort(key=lambda o: o.order)
    groups = by_id

    topic_names = _display_names(name for found in groups.values() for o in found for name in o.topics)
    provider_names = _display_names(o.story.provider.name for found in groups.values() for o in found)
    topic_slugs = assign_slugs(set(topic_names.values()), "topic")
    provider_slugs = assign_slugs(set(provider_names.values()), "provider")

    winners = {entry_id: found[0].story for entry_id, found in groups.items()}
    # Newest first, entries published at the same time in id order (the sort
    # is stable, also in reverse).
    order = sorted(groups)
    order.sort(key=lambda entry_id: winners[entry_id].published, reverse=True)
    rank = {entry_id: position for position, entry_id in enumerate(order)}
    make = _EntryMaker(winners, topic_names, provider_names, provider_slugs)
    entries = tuple(make.entry(entry_id, groups[entry_id], stories[entry_id], rank) for entry_id in order)

    feeds = _feeds(entries, topic_slugs, provider_slugs, max_items)
    problems = [
        *_duplicate_problems(groups),
        *_slug_problems(groups, topic_names, topic_slugs, "topic", lambda o: o.topics),
        *_slug_problems(
            groups, provider_names, provider_slugs, "provider", lambda o: (o.story.provider.name,)
        ),
    ]
    return Catalog(entries=entries, feeds=feeds, withheld=withheld, problems=tuple(sorted(problems)))


def _occurrences(article: Article) -> list[_Occurrence]:
    """The article and its related items, each with the topics it files under."""
    found = [_Occurrence(canonical_url(article.url), article, 0, 0, article.topics)]
    for index, item in enumerate(article.related, start=1):
        topics = article.topics if not item.topics else tuple(dict.fromkeys(article.topics + item.topics))
        found.append(_Occurrence(canonical_url(item.url), item, 1, index, topics))
    return found


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


class _EntryMaker:
    """Builds entries, sharing the objects many entries have in common
    (providers, topic tuples, links to related coverage): tens of thousands
    of entries make this the catalog's hot loop."""

    def __init__(
        self,
        winners: Mapping[str, Article],
        topic_names: Mapping[str, str],
        provider_names: Mapping[str, str],
        provider_slugs: Mapping[str, str],
    ) -> None:
        self.winners = winners
        self.topic_names = topic_names
        self.provider_names = provider_names
        self.provider_slugs = provider_slugs
        self._providers: dict[tuple[str, str], Provider] = {}
        self._topics: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._links: dict[str, Link] = {}

    def entry(
        self, entry_id: str, found: list[_Occurrence], stories: list[tuple[str, ...]], rank: Mapping[str, int]
    ) -> Entry:
        story = found[0].story
        provider = self.provider(story.provider)
        if len(found) == 1:
            topics = self.topics(found[0].topics)
        else:
            topics = self.topics(tuple(name for o in found for name in o.topics))
        others = {other for ids in stories for other in ids if other != entry_id}
        return Entry(
            id=entry_id,
            url=story.url,
            title=story.title,
            published=story.published,
            updated=story.published,
            provider=provider,
            provider_feed=f"providers/{self.provider_slugs[provider.name]}",
            excerpt=story.excerpt,
            topics=topics,
            images=story.images,
            related=tuple(
                self.link(other) for other in sorted(others, key=rank.__getitem__)[:MAX_RELATED_LINKS]
            ),
            body=story.body,
        )

    def provider(self, provider: Provider) -> Provider:
        key = (self.provider_names[provider.name], provider.domain)
        if key not in self._providers:
            self._providers[key] = Provider(name=key[0], domain=key[1])
        return self._providers[key]

    def topics(self, spellings: tuple[str, ...]) -> tuple[str, ...]:
        """Display names of the topics, sorted, without duplicates."""
        if spellings not in self._topics:
            self._topics[spellings] = tuple(sorted({self.topic_names[name] for name in spellings}))
        return self._topics[spellings]

    def link(self, entry_id: str) -> Link:
        if entry_id not in self._links:
            story = self.winners[entry_id]
            self._links[entry_id] = Link(story.url, story.title, self.provider_names[story.provider.name])
        return self._links[entry_id]


def _feeds(
    entries: tuple[Entry, ...],
    topic_slugs: Mapping[str, str],
    provider_slugs: Mapping[str, str],
    max_items: int,
) -> dict[str, Feed]:
    by_topic: dict[str, list[Entry]] = {}
    by_provider: dict[str, list[Entry]] = {}
    for entry in entries:  # already newest first, so every group is too
        for topic in entry.topics:
            by_topic.setdefault(topic, []).append(entry)
        by_provider.setdefault(entry.provider.name, []).append(entry)

    def feed(key: str, kind: FeedKind, name: str, group: list[Entry] | tuple[Entry, ...]) -> Feed:
        return Feed(key=key, kind=kind, name=name, entries=tuple(group[:max_items]), total=len(group))

    feeds = {"all": feed("all", FeedKind.ALL, "", entries)}
    for kind, folder, groups, slugs in (
        (FeedKind.TOPIC, "topics", by_topic, topic_slugs),
        (FeedKind.PROVIDER, "providers", by_provider, provider_slugs),
    ):
        for name in sorted(groups, key=slugs.__getitem__):
            key = f"{folder}/{slugs[name]}"
            feeds[key] = feed(key, kind, name, groups[name])
    return feeds


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
