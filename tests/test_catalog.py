"""Articles → deduplicated entries → feeds, as data (SPEC §2 and §3)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from feedpub import catalog as catalogs
from feedpub import content
from feedpub.catalog import Catalog
from feedpub.model import Entry
from feedpub.model import FeedKind

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def load_catalog(content_dir: Path, **options: Any) -> Catalog:
    loaded = content.load(content_dir)
    assert not loaded.invalid_files, loaded.problems
    return catalogs.build(loaded.articles, **options)


def related(name: str, provider: str, when: str = "2024-05-01T11:00:00Z", **fields: Any) -> dict[str, Any]:
    """A related item as written in a content file."""
    return {
        "title": f"{provider}: {name}",
        "sourceUrl": f"https://{provider.lower()}.example.net/{name}",
        "publishedDateTime": when,
        "provider": {"name": provider, "domain": f"{provider.lower()}.example.net"},
        **fields,
    }


def by_id(catalog: Catalog) -> dict[str, Entry]:
    return {entry.id: entry for entry in catalog.entries}


# -- related items ----------------------------------------------------------------


def test_every_article_and_related_item_becomes_an_entry(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article(
        "story.md",
        topics=["AI", "Computer Vision"],
        related=[related("b", "TechCrunch"), related("c", "Sky", topics=["Privacy"])],
    )
    catalog = load_catalog(content_dir)
    entries = by_id(catalog)
    assert set(entries) == {
        "https://news.example.com/story",
        "https://techcrunch.example.net/b",
        "https://sky.example.net/c",
    }
    # Each related item is an entry under its own provider ...
    assert entries["https://techcrunch.example.net/b"].provider.name == "TechCrunch"
    assert entries["https://techcrunch.example.net/b"].title == "TechCrunch: b"
    # ... inheriting the parent's topics, plus any of its own.
    assert entries["https://techcrunch.example.net/b"].topics == ("AI", "Computer Vision")
    assert entries["https://sky.example.net/c"].topics == ("AI", "Computer Vision", "Privacy")
    assert set(catalog.feeds) == {
        "all",
        "topics/ai",
        "topics/computer-vision",
        "topics/privacy",
        "providers/example-news",
        "providers/techcrunch",
        "providers/sky",
    }
    assert [e.id for e in catalog.feeds["providers/sky"].entries] == ["https://sky.example.net/c"]
    assert len(catalog.feeds["topics/ai"].entries) == 3
    assert len(catalog.feeds["topics/privacy"].entries) == 1


def test_entries_link_to_the_other_coverage_of_their_story(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article("story.md", related=[related("b", "TechCrunch"), related("c", "Sky")])
    entries = by_id(load_catalog(content_dir))
    links = {entry_id: {link.url for link in entry.related} for entry_id, entry in entries.items()}
    assert links == {
        "https://news.example.com/story": {
            "https://techcrunch.example.net/b",
            "https://sky.example.net/c",
        },
        "https://techcrunch.example.net/b": {
            "https://news.example.com/story",
            "https://sky.example.net/c",
        },
        "https://sky.example.net/c": {
            "https://news.example.com/story",
            "https://techcrunch.example.net/b",
        },
    }


def test_a_huge_story_links_at_most_the_newest_related_items(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    # 60 related items would otherwise give 61 entries of 60 links each.
    items = [
        related(f"r{n:02}", f"Outlet{n:02}", when=f"2024-04-{1 + n % 28:02}T{n % 24:02}:00:00Z")
        for n in range(60)
    ]
    write_article("story.md", related=items)
    catalog = load_catalog(content_dir)
    entry = by_id(catalog)["https://news.example.com/story"]
    assert len(entry.related) == catalogs.MAX_RELATED_LINKS
    linked = [catalog.entries.index(by_id(catalog)[link.url.lower()]) for link in entry.related]
    assert linked == sorted(linked)  # newest first
    assert all(len(e.related) <= catalogs.MAX_RELATED_LINKS for e in catalog.entries)


# -- drafts ---------------------------------------------------------------------


def test_drafts_and_their_related_items_are_withheld_and_counted(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article("draft.md", published=False, related=[related("b", "TechCrunch"), related("c", "Sky")])
    write_article("live.md", topics=["Robotics"])
    catalog = load_catalog(content_dir)
    assert [entry.id for entry in catalog.entries] == ["https://news.example.com/live"]
    assert catalog.withheld == 3
    # Withheld entries leave no trace: no topic or provider feed of their own.
    assert set(catalog.feeds) == {"all", "topics/robotics", "providers/example-news"}

    preview = load_catalog(content_dir, include_unpublished=True)
    assert len(preview.entries) == 4
    assert preview.withheld == 0
    assert {"providers/techcrunch", "providers/sky", "topics/ai"} <= set(preview.feeds)


def test_coverage_also_published_elsewhere_is_not_withheld(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    shared = related("b", "TechCrunch")
    write_article("draft.md", published=False, topics=["Secret"], related=[shared])
    write_article("live.md", topics=["Robotics"], related=[shared])
    catalog = load_catalog(content_dir)
    entries = by_id(catalog)
    assert set(entries) == {"https://news.example.com/live", "https://techcrunch.example.net/b"}
    assert catalog.withheld == 1
    # The draft's topics and its article stay hidden, also as related links.
    assert entries["https://techcrunch.example.net/b"].topics == ("Robotics",)
    assert [link.url for link in entries["https://techcrunch.example.net/b"].related] == [
        "https://news.example.com/live"
    ]


# -- deduplication ------------------------------------------------------------------


@pytest.mark.parametrize(("article_file", "related_file"), [("a.md", "b.md"), ("b.md", "a.md")])
def test_same_url_is_one_entry_and_the_article_wins(
    content_dir: Path, write_article: Callable[..., Path], article_file: str, related_file: str
) -> None:
    # Written differently (case, fragment, utm_*), it is the same story.
    write_article(
        article_file,
        title="Own article",
        sourceUrl="HTTPS://Sky.Example.NET/c?utm_source=rss#top",
        provider={"name": "Sky"},
        topics=["Privacy"],
        publishedDateTime="2024-05-01T09:00:00Z",
    )
    write_article(related_file, topics=["AI"], related=[related("c", "Sky", title="As related")])
    catalog = load_catalog(content_dir)
    entries = by_id(catalog)
    assert len(entries) == 2
    entry = entries["https://sky.example.net/c"]
    assert entry.title == "Own article"
    assert entry.published == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert entry.topics == ("AI", "Privacy")  # united
    assert len(catalog.feeds["providers/sky"].entries) == 1


def test_same_article_in_two_files_merges_deterministically_with_a_warning(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    url = "https://news.example.com/same"
    write_article("b.md", title="From b", sourceUrl=url, topics=["B"])
    write_article("a.md", title="From a", sourceUrl=url + "#again", topics=["A"])
    catalog = load_catalog(content_dir)
    (entry,) = catalog.entries
    assert entry.title == "From a"  # the first file by path wins
    assert entry.topics == ("A", "B")
    (problem,) = catalog.problems
    assert not problem.is_error
    assert problem.path == "b.md" and "a.md" in problem.message


def test_merge_does_not_depend_on_the_order_articles_come_in(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article("a.md", topics=["AI"], related=[related("b", "TechCrunch"), related("c", "Sky")])
    write_article("b.md", sourceUrl="https://techcrunch.example.net/b", provider={"name": "TechCrunch"})
    write_article("c.md", topics=["Privacy"], related=[related("b", "TechCrunch", title="Again")])
    write_article("d.md", sourceUrl="https://news.example.com/a#dup", title="Duplicate of a")
    articles = content.load(content_dir).articles
    expected = catalogs.build(articles)
    for order in itertools.permutations(articles):
        got = catalogs.build(order)
        assert got.entries == expected.entries
        assert dict(got.feeds) == dict(expected.feeds)
        assert got.problems == expected.problems


# -- slugs ----------------------------------------------------------------------


def test_topic_and_provider_feeds_are_named_by_slug(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article(
        "a.md",
        topics=["Computer Vision", "Künstliche Intelligenz"],
        provider={"name": "Süddeutsche Zeitung"},
    )
    feeds = load_catalog(content_dir).feeds
    assert set(feeds) == {
        "all",
        "topics/computer-vision",
        "topics/kunstliche-intelligenz",
        "providers/suddeutsche-zeitung",
    }
    assert feeds["topics/kunstliche-intelligenz"].name == "Künstliche Intelligenz"
    assert feeds["topics/kunstliche-intelligenz"].kind is FeedKind.TOPIC


def test_names_sharing_a_slug_get_distinct_stable_feeds(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article("a.md", topics=["C++"], provider={"name": "A.B.C."})
    write_article("b.md", topics=["C#"], provider={"name": "A B C"})
    write_article("c.md", topics=["C"], provider={"name": "ABC"})
    first = load_catalog(content_dir)
    topic_feeds = {feed.name: key for key, feed in first.feeds.items() if feed.kind is FeedKind.TOPIC}
    provider_feeds = {feed.name: key for key, feed in first.feeds.items() if feed.kind is FeedKind.PROVIDER}
    assert len(set(topic_feeds.values())) == 3 and "topics/c" in topic_feeds.values()
    assert len(set(provider_feeds.values())) == 3
    # Each name that lost its plain slug is reported (C++ and C# to C, one of
    # A.B.C. and A B C to the other; ABC is abc), naming where its feed went.
    assert len(first.problems) == 3
    assert all("slug" in problem.message for problem in first.problems)
    # Stable: the same content in other files gives the same slugs.
    for path in content_dir.iterdir():
        path.rename(path.with_name("z-" + path.name))
    again = load_catalog(content_dir)
    assert {feed.name: key for key, feed in again.feeds.items()} == {
        feed.name: key for key, feed in first.feeds.items()
    }


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "a/b", "日本語", "/", "%2e%2e"])
def test_no_slug_escapes_its_folder(content_dir: Path, write_article: Callable[..., Path], name: str) -> None:
    write_article("a.md", topics=[name], provider={"name": name})
    feeds = load_catalog(content_dir).feeds
    for key, feed in feeds.items():
        if key == "all":
            continue
        folder, slug = key.split("/")
        assert folder == {"topic": "topics", "provider": "providers"}[feed.kind.value]
        assert SLUG.match(slug), key


def test_names_differing_only_in_case_are_one_feed(
    content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article("a.md", topics=["AI"])
    write_article("b.md", topics=["AI"])
    write_article("c.md", topics=["ai"])
    feeds = load_catalog(content_dir).feeds
    topics = [feed for feed in feeds.values() if feed.kind is FeedKind.TOPIC]
    assert [(feed.key, feed.name, feed.total) for feed in topics] == [("topics/ai", "AI", 3)]


# -- order and size ----------------------------------------------------------------


def test_newest_first_with_ties_broken_by_id(content_dir: Path, write_article: Callable[..., Path]) -> None:
    # File names sort against the ids, so that file order cannot pass for id order.
    noon = "2024-05-01T12:00:00Z"
    write_article("1.md", sourceUrl="https://news.example.com/z", publishedDateTime=noon)
    write_article("2.md", sourceUrl="https://news.example.com/m", publishedDateTime=noon)
    # The same instant, written with an offset:
    write_article(
        "3.md",
        sourceUrl="https://news.example.com/a",
        publishedDateTime="2024-05-01T14:00:00+02:00",
    )
    write_article("0.md", sourceUrl="https://news.example.com/old", publishedDateTime="2024-01-01T00:00:00Z")
    write_article("9.md", sourceUrl="https://news.example.com/new", publishedDateTime="2024-06-01T00:00:00Z")
    catalog = load_catalog(content_dir)
    expected = ["new", "a", "m", "z", "old"]
    for feed in catalog.feeds.values():
        assert [entry.id.rsplit("/", 1)[1] for entry in feed.entries] == expected


def test_max_items_keeps_the_newest(content_dir: Path, write_article: Callable[..., Path]) -> None:
    for day in range(1, 6):
        write_article(f"day{day}.md", publishedDateTime=f"2024-05-0{day}T12:00:00Z")
    catalog = load_catalog(content_dir, max_items=2)
    assert len(catalog.entries) == 5
    for feed in catalog.feeds.values():
        assert [entry.id.rsplit("/", 1)[1] for entry in feed.entries] == ["day5", "day4"]
        assert feed.total == 5
        assert feed.updated == datetime(2024, 5, 5, 12, 0, tzinfo=UTC)


def test_default_max_items_is_50(content_dir: Path, write_article: Callable[..., Path]) -> None:
    for number in range(55):
        write_article(f"s{number:02}.md", publishedDateTime=f"2024-05-01T12:{number:02}:00Z")
    feed = load_catalog(content_dir).feeds["all"]
    assert len(feed.entries) == 50 and feed.total == 55
    assert feed.entries[0].id.endswith("/s54") and feed.entries[-1].id.endswith("/s05")


def test_only_http_urls_reach_the_catalog(content_dir: Path, write_article: Callable[..., Path]) -> None:
    write_article(
        "a.md",
        images=[{"url": "data:image/png;base64,AAAA"}, {"url": "javascript:alert(1)"}],
        ampUrl="javascript:alert(1)",
        related=[related("b", "Sky", images=[{"url": "file:///etc/passwd"}])],
    )
    catalog = catalogs.build(content.load(content_dir).articles)
    urls = [entry.id for entry in catalog.entries] + [entry.url for entry in catalog.entries]
    urls += [image.url for entry in catalog.entries for image in entry.images]
    urls += [link.url for entry in catalog.entries for link in entry.related]
    assert len(urls) == 6
    assert all(url.startswith(("http://", "https://")) for url in urls)


# -- rebuilding from a previous catalog (the server after an edit) ----------------


def _story(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "title": f"Story {number}",
        "provider": {"name": f"Outlet {number % 3}"},
        "topics": [f"Topic {number % 4}"],
        "publishedDateTime": f"2024-05-{1 + number % 27:02}T{number % 24:02}:00:00Z",
        "related": [related(f"r{number}-{n}", f"Wire{(number + n) % 5}") for n in range(2)],
        **fields,
    }


def _same_catalog(a: Catalog, b: Catalog) -> None:
    assert list(a.feeds) == list(b.feeds)
    for key in a.feeds:
        assert a.feeds[key] == b.feeds[key], key
    assert a.entries == b.entries
    assert (a.entry_count, a.newest, a.withheld, a.problems) == (
        b.entry_count,
        b.newest,
        b.withheld,
        b.problems,
    )


@pytest.mark.parametrize(
    "edit",
    [
        "title",  # one entry's text
        "date",  # its place in every feed
        "related",  # another story's coverage now includes an entry of this one
        "provider",  # a new provider, so a new feed
        "spelling",  # a provider spelt differently: display names change everywhere
        "remove",
        "remove-shared",  # another story's version of an entry wins again
        "add",
        "draft",
    ],
)
def test_building_on_the_previous_catalog_equals_building_afresh(
    content_dir: Path, write_article: Callable[..., Path], edit: str
) -> None:
    for number in range(12):
        write_article(f"s{number:02}.md", **_story(number))
    # Sorts first, so its version of story 2's first related item wins.
    write_article("a-shared.md", **_story(50, related=[related("r2-0", "Wire2", title="Shared version")]))
    loader = content.Loader(content_dir)
    first = catalogs.build(loader.load().articles, max_items=5)
    first.entries  # noqa: B018 - build every entry, as a server answering requests would
    changes = {
        "title": ("s03.md", _story(3, title="Story 3, corrected")),
        "date": ("s04.md", _story(4, publishedDateTime="2030-01-01T00:00:00Z")),
        "related": ("s05.md", _story(5, related=[related("r6-0", "Wire1", title="Story 5's version")])),
        "provider": ("s06.md", _story(6, provider={"name": "Brand New Outlet"})),
        "spelling": ("s07.md", _story(7, provider={"name": "OUTLET 1"})),
        "remove": ("s08.md", None),
        "remove-shared": ("a-shared.md", None),
        "add": ("s99.md", _story(99)),
        "draft": ("s09.md", _story(9, published=False)),
    }
    name, fields = changes[edit]
    if fields is None:
        (content_dir / name).unlink()
    else:
        write_article(name, **fields)
    if edit == "spelling":  # make the new spelling the most frequent one
        write_article("s10.md", **_story(10, provider={"name": "OUTLET 1"}))
    articles = loader.load().articles
    incremental = catalogs.build(articles, max_items=5, previous=first)
    afresh = catalogs.build(content.load(content_dir).articles, max_items=5)
    _same_catalog(incremental, afresh)
