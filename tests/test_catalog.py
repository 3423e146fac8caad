"""From articles to entries to the members of every feed (SPEC §2 and §3):
related items, drafts, deduplication, names and slugs, order and size, and
an incremental refresh of the store giving what a fresh build gives.

Read through the built JSON Feed documents (every entry feed's items, with
their ids, titles, tags, provider and ``_feedpub`` related links as data)
and ``feedpub check``'s problem lines.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feedpub.catalog import MAX_RELATED_LINKS
from feedpub.cli import cli

BASE_URL = "https://feeds.example.org"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: The instant the builds of this module are made at (``--now``): after every
#: date the tests write, so that nothing is scheduled unless a test says so.
NOW = "2024-07-01T00:00:00Z"

Site = dict[str, bytes]


def related(name: str, provider: str, when: str = "2024-05-01T11:00:00Z", **fields: Any) -> dict[str, Any]:
    """A related item as written in a content file."""
    return {
        "title": f"{provider}: {name}",
        "sourceUrl": f"https://{provider.lower()}.example.net/{name}",
        "publishedDateTime": when,
        "provider": {"name": provider, "domain": f"{provider.lower()}.example.net"},
        **fields,
    }


@pytest.fixture
def publish(
    build: Callable[..., Any], read_tree: Callable[[Path], Site], tmp_path: Path
) -> Callable[..., Site]:
    """``publish(content, *options)``: build `content` at `NOW` into a new
    folder and return what was written, by URL path."""
    count = itertools.count()

    def run(content: Path, *options: str) -> Site:
        out = tmp_path / f"public-{next(count)}"
        build(content, "--now", NOW, *options, out=out)
        return read_tree(out)

    return run


def feeds_of(site: Site) -> dict[str, dict[str, Any]]:
    """The JSON subscription document of every feed, by feed key."""
    return {
        path[1 : -len(".json")]: json.loads(body)
        for path, body in site.items()
        if path.endswith(".json") and "/archive/" not in path
    }


def entry_feeds(site: Site) -> dict[str, dict[str, Any]]:
    """`feeds_of` without the story feeds (whose entries are stories)."""
    return {key: feed for key, feed in feeds_of(site).items() if not key.endswith("stories")}


def items_by_id(site: Site) -> dict[str, dict[str, Any]]:
    """The items of ``/all.json`` by id."""
    return {item["id"]: item for item in feeds_of(site)["all"]["items"]}


def related_urls(item: dict[str, Any]) -> list[str]:
    return [link["url"] for link in item.get("_feedpub", {}).get("related", [])]


def check_lines(runner: CliRunner, content: Path) -> list[str]:
    """The problem lines ``feedpub check`` prints for `content`."""
    result = runner.invoke(cli, ["check", str(content), "--now", NOW], catch_exceptions=False)
    return [line for line in result.stderr.splitlines() if line.strip()]


# -- related items ------------------------------------------------------------------


def test_every_article_and_related_item_becomes_an_entry(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    write_article(
        "story.md",
        topics=["AI", "Computer Vision"],
        related=[related("b", "TechCrunch"), related("c", "Sky", topics=["Privacy"])],
    )
    site = publish(content_dir)
    entries = items_by_id(site)
    assert set(entries) == {
        "https://news.example.com/story",
        "https://techcrunch.example.net/b",
        "https://sky.example.net/c",
    }
    # Each related item is an entry under its own provider ...
    techcrunch = entries["https://techcrunch.example.net/b"]
    assert [author["name"] for author in techcrunch["authors"]] == ["TechCrunch"]
    assert techcrunch["title"] == "TechCrunch: b"
    # ... inheriting the parent's topics, plus any of its own.
    assert techcrunch["tags"] == ["AI", "Computer Vision"]
    assert entries["https://sky.example.net/c"]["tags"] == ["AI", "Computer Vision", "Privacy"]
    feeds = entry_feeds(site)
    assert set(feeds) == {
        "all",
        "topics/ai",
        "topics/computer-vision",
        "topics/privacy",
        "providers/example-news",
        "providers/techcrunch",
        "providers/sky",
    }
    assert [item["id"] for item in feeds["providers/sky"]["items"]] == ["https://sky.example.net/c"]
    assert len(feeds["topics/ai"]["items"]) == 3
    assert len(feeds["topics/privacy"]["items"]) == 1


def test_entries_link_to_the_other_coverage_of_their_story(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    write_article("story.md", related=[related("b", "TechCrunch"), related("c", "Sky")])
    links = {
        entry_id: set(related_urls(item)) for entry_id, item in items_by_id(publish(content_dir)).items()
    }
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
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    # 60 related items would otherwise give 61 entries of 60 links each.
    items = [
        related(f"r{n:02}", f"Outlet{n:02}", when=f"2024-04-{1 + n % 28:02}T{n % 24:02}:00:00Z")
        for n in range(60)
    ]
    write_article("story.md", related=items)
    site = publish(content_dir, "--max-items", "100")
    order = [item["url"] for item in feeds_of(site)["all"]["items"]]  # newest first
    entries = items_by_id(site)
    links = related_urls(entries["https://news.example.com/story"])
    assert len(links) == MAX_RELATED_LINKS
    assert [order.index(url) for url in links] == sorted(order.index(url) for url in links)
    # The newest ones: the 20 newest entries other than the story itself.
    assert set(links) == set(
        [url for url in order if url != "https://news.example.com/story"][:MAX_RELATED_LINKS]
    )
    assert all(len(related_urls(item)) <= MAX_RELATED_LINKS for item in entries.values())


# -- drafts ---------------------------------------------------------------------------


def test_drafts_and_their_related_items_are_withheld_and_counted(
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Any],
    read_tree: Callable[[Path], Site],
    tmp_path: Path,
) -> None:
    write_article("draft.md", published=False, related=[related("b", "TechCrunch"), related("c", "Sky")])
    write_article("live.md", topics=["Robotics"])
    result = build(content_dir, out=tmp_path / "public")
    assert "3 entries withheld as drafts" in result.output
    site = read_tree(tmp_path / "public")
    assert list(items_by_id(site)) == ["https://news.example.com/live"]
    # Withheld entries leave no trace: no topic or provider feed of their own.
    assert set(entry_feeds(site)) == {"all", "topics/robotics", "providers/example-news"}
    assert not [path for path in site if "techcrunch" in path or "sky" in path]

    preview = build(content_dir, "--unpublished", out=tmp_path / "preview")
    assert "withheld" not in preview.output
    shown = read_tree(tmp_path / "preview")
    assert len(items_by_id(shown)) == 4
    assert {"providers/techcrunch", "providers/sky", "topics/ai"} <= set(entry_feeds(shown))


def test_coverage_also_published_elsewhere_is_not_withheld(
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Any],
    read_tree: Callable[..., Site],
    tmp_path: Path,
) -> None:
    shared = related("b", "TechCrunch")
    write_article("draft.md", published=False, topics=["Secret"], related=[shared])
    write_article("live.md", topics=["Robotics"], related=[shared])
    result = build(content_dir)
    assert "1 entry withheld as drafts" in result.output
    site = read_tree(tmp_path / "public")
    entries = items_by_id(site)
    assert set(entries) == {"https://news.example.com/live", "https://techcrunch.example.net/b"}
    # The draft's topics and its article stay hidden, also as related links.
    assert entries["https://techcrunch.example.net/b"]["tags"] == ["Robotics"]
    assert related_urls(entries["https://techcrunch.example.net/b"]) == ["https://news.example.com/live"]
    assert not [path for path in site if "secret" in path]
    assert not [path for path, body in site.items() if b"news.example.com/draft" in body]


# -- deduplication --------------------------------------------------------------------


@pytest.mark.parametrize(("article_file", "related_file"), [("a.md", "b.md"), ("b.md", "a.md")])
def test_same_url_is_one_entry_and_the_article_wins(
    content_dir: Path,
    write_article: Callable[..., Path],
    publish: Callable[..., Site],
    article_file: str,
    related_file: str,
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
    site = publish(content_dir)
    entries = items_by_id(site)
    assert len(entries) == 2
    entry = entries["https://sky.example.net/c"]
    assert entry["title"] == "Own article"
    assert datetime.fromisoformat(entry["date_published"]) == datetime.fromisoformat(
        "2024-05-01T09:00:00+00:00"
    )
    assert entry["tags"] == ["AI", "Privacy"]  # united
    assert len(entry_feeds(site)["providers/sky"]["items"]) == 1


def test_same_article_in_two_files_merges_deterministically_with_a_warning(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site], runner: CliRunner
) -> None:
    url = "https://news.example.com/same"
    write_article("b.md", title="From b", sourceUrl=url, topics=["B"])
    write_article("a.md", title="From a", sourceUrl=url + "#again", topics=["A"])
    (entry,) = items_by_id(publish(content_dir)).values()
    assert entry["title"] == "From a"  # the first file by path wins
    assert entry["tags"] == ["A", "B"]
    (problem,) = check_lines(runner, content_dir)
    assert problem.startswith(f"{content_dir}/b.md:2: warning: ")  # the line of b.md's sourceUrl
    assert "a.md" in problem.split("warning:", 1)[1]


@pytest.fixture
def overlapping(content_dir: Path, write_article: Callable[..., Path]) -> list[Path]:
    """Four files whose entries overlap: an article that is another file's
    related item, a related item of two files, an article in two files."""
    return [
        write_article("a.md", topics=["AI"], related=[related("b", "TechCrunch"), related("c", "Sky")]),
        write_article("b.md", sourceUrl="https://techcrunch.example.net/b", provider={"name": "TechCrunch"}),
        write_article("c.md", topics=["Privacy"], related=[related("b", "TechCrunch", title="Again")]),
        write_article("d.md", sourceUrl="https://news.example.com/a#dup", title="Duplicate of a"),
    ]


def shown(site: Site) -> dict[str, list[dict[str, Any]]]:
    """Every entry feed's items, without ``date_modified`` (an entry edited
    between two builds is updated, by design: the ledger says when)."""
    return {
        key: [
            {name: value for name, value in item.items() if name != "date_modified"} for item in feed["items"]
        ]
        for key, feed in entry_feeds(site).items()
    }


def test_merge_does_not_depend_on_the_order_files_come_in(
    content_dir: Path,
    overlapping: list[Path],
    publish: Callable[..., Site],
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    """Files added one refresh at a time end as one build of them all does,
    in orders that put each file of every pair first once."""
    texts = {path.name: path.read_bytes() for path in overlapping}
    expected = shown(publish(content_dir, "--no-cache"))
    expected_problems = check_lines(runner, content_dir)
    assert len(expected_problems) == 1  # d.md's article is a.md's
    names = sorted(texts)
    rotations = [names[n:] + names[:n] for n in range(len(names))]
    orders = rotations + [list(reversed(order)) for order in rotations]
    assert all(
        len({(o.index(x) < o.index(y)) for o in orders}) == 2 for x, y in itertools.combinations(names, 2)
    )
    for number, order in enumerate(orders):
        folder = tmp_path / f"order-{number}" / "content"
        folder.mkdir(parents=True)
        store = tmp_path / f"order-{number}" / "store.sqlite3"
        for name in order:
            (folder / name).write_bytes(texts[name])
            site = publish(folder, "--store", str(store))
        assert shown(site) == expected, order
        assert [line.replace(str(folder), str(content_dir)) for line in check_lines(runner, folder)] == (
            expected_problems
        ), order


# -- names and slugs ----------------------------------------------------------------


def test_topic_and_provider_feeds_are_named_by_slug(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    write_article(
        "a.md",
        topics=["Computer Vision", "Künstliche Intelligenz"],
        provider={"name": "Süddeutsche Zeitung"},
    )
    feeds = entry_feeds(publish(content_dir))
    assert set(feeds) == {
        "all",
        "topics/computer-vision",
        "topics/kunstliche-intelligenz",
        "providers/suddeutsche-zeitung",
    }
    assert feeds["topics/kunstliche-intelligenz"]["title"] == "feedpub: Künstliche Intelligenz"
    assert feeds["providers/suddeutsche-zeitung"]["title"] == "feedpub: Süddeutsche Zeitung"


def names_to_keys(site: Site) -> dict[str, str]:
    """Feed title → feed key, for the topic and provider feeds."""
    return {
        feed["title"]: key
        for key, feed in entry_feeds(site).items()
        if key.startswith(("topics/", "providers/"))
    }


def test_names_sharing_a_slug_get_distinct_stable_feeds(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site], runner: CliRunner
) -> None:
    write_article("a.md", topics=["C++"], provider={"name": "A.B.C."})
    write_article("b.md", topics=["C#"], provider={"name": "A B C"})
    write_article("c.md", topics=["C"], provider={"name": "ABC"})
    first = names_to_keys(publish(content_dir))
    topics = {first[f"feedpub: {name}"] for name in ("C++", "C#", "C")}
    providers = {first[f"feedpub: {name}"] for name in ("A.B.C.", "A B C", "ABC")}
    assert len(topics) == 3 and "topics/c" in topics
    assert len(providers) == 3 and "providers/abc" in providers
    # Each name that lost its plain slug is reported (C++ and C# to C, one of
    # A.B.C. and A B C to the other; ABC is abc), naming where its feed went.
    problems = check_lines(runner, content_dir)
    assert len(problems) == 3
    assert all("slug" in problem for problem in problems)
    # Stable: the same content in other files gives the same slugs.
    for path in content_dir.glob("*.md"):
        path.rename(path.with_name("z-" + path.name))
    assert names_to_keys(publish(content_dir, "--no-cache")) == first


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "a/b", "日本語", "/", "%2e%2e"])
def test_no_slug_escapes_its_folder(
    content_dir: Path,
    write_article: Callable[..., Path],
    publish: Callable[..., Site],
    tmp_path: Path,
    name: str,
) -> None:
    write_article("a.md", topics=[name], provider={"name": name})
    site = publish(content_dir)
    feeds = entry_feeds(site)
    assert len(feeds) == 3  # all, the topic, the provider
    for key in feeds:
        if key == "all":
            continue
        folder, slug = key.split("/")
        assert folder in ("topics", "providers")
        assert SLUG.match(slug), key
    # Nothing was written outside the output folder.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["content", "public-0"]


def test_names_differing_only_in_case_or_spacing_are_one_feed_shown_as_most_often_written(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    write_article("a.md", topics=["AI", "computer  vision"], provider={"name": "Sky"})
    write_article("b.md", topics=["AI", "Computer Vision"], provider={"name": "SKY"})
    write_article("c.md", topics=["ai", "Computer Vision"], provider={"name": "Sky"})
    feeds = entry_feeds(publish(content_dir))
    topics = {key: feed["title"] for key, feed in feeds.items() if key.startswith("topics/")}
    assert topics == {"topics/ai": "feedpub: AI", "topics/computer-vision": "feedpub: Computer Vision"}
    providers = {key: feed["title"] for key, feed in feeds.items() if key.startswith("providers/")}
    assert providers == {"providers/sky": "feedpub: Sky"}
    for key in ("topics/ai", "topics/computer-vision", "providers/sky"):
        assert len(feeds[key]["items"]) == 3, key
    # Every entry shows the spellings the feeds are named by.
    for item in feeds["all"]["items"]:
        assert item["tags"] == ["AI", "Computer Vision"]
        assert [author["name"] for author in item["authors"]] == ["Sky"]


# -- order and size ---------------------------------------------------------------------


def test_newest_first_with_ties_broken_by_id(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    # File names sort against the ids, so that file order cannot pass for id order.
    noon = "2024-05-01T12:00:00Z"
    write_article("1.md", sourceUrl="https://news.example.com/z", publishedDateTime=noon)
    write_article("2.md", sourceUrl="https://news.example.com/m", publishedDateTime=noon)
    # The same instant, written with an offset:
    write_article(
        "3.md", sourceUrl="https://news.example.com/a", publishedDateTime="2024-05-01T14:00:00+02:00"
    )
    write_article("0.md", sourceUrl="https://news.example.com/old", publishedDateTime="2024-01-01T00:00:00Z")
    write_article("9.md", sourceUrl="https://news.example.com/new", publishedDateTime="2024-06-01T00:00:00Z")
    feeds = entry_feeds(publish(content_dir))
    assert len(feeds) == 3
    for key, feed in feeds.items():
        assert [item["id"].rsplit("/", 1)[1] for item in feed["items"]] == ["new", "a", "m", "z", "old"], key


def test_max_items_keeps_the_newest_and_counts_them_all(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    for day in range(1, 6):
        write_article(f"day{day}.md", publishedDateTime=f"2024-05-0{day}T12:00:00Z")
    site = publish(content_dir, "--max-items", "2")
    feeds = entry_feeds(site)
    assert len(feeds) == 3
    index = site["/"].decode()
    for key, feed in feeds.items():
        assert [item["id"].rsplit("/", 1)[1] for item in feed["items"]] == ["day5", "day4"], key
        assert feed["next_url"].startswith(f"{BASE_URL}/{key}/archive/")  # the other three are archived
        # The index counts every entry of the feed, archives included.
        row = re.search(rf'<tr id="{key.replace("/", "-")}">.*?</tr>', index, re.S)
        assert row is not None and "<td>5</td>" in row[0], key


def test_default_max_items_is_50(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    for number in range(55):
        write_article(f"s{number:02}.md", publishedDateTime=f"2024-05-01T12:{number:02}:00Z")
    items = feeds_of(publish(content_dir))["all"]["items"]
    assert len(items) == 50
    assert items[0]["id"].endswith("/s54") and items[-1]["id"].endswith("/s05")


def test_only_http_urls_reach_the_entries(
    content_dir: Path, write_article: Callable[..., Path], publish: Callable[..., Site]
) -> None:
    write_article(
        "a.md",
        images=[{"url": "data:image/png;base64,AAAA"}, {"url": "javascript:alert(1)"}],
        ampUrl="javascript:alert(1)",
        related=[related("b", "Sky", images=[{"url": "file:///etc/passwd"}])],
    )
    items = feeds_of(publish(content_dir))["all"]["items"]
    urls = [item["id"] for item in items] + [item["url"] for item in items]
    urls += [item["image"] for item in items if "image" in item]
    urls += [url for item in items for url in related_urls(item)]
    assert len(urls) == 6
    assert all(url.startswith(("http://", "https://")) for url in urls), urls


# -- an incremental refresh is a fresh build ------------------------------------------


def story(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "title": f"Story {number}",
        "provider": {"name": f"Outlet {number % 3}"},
        "topics": [f"Topic {number % 4}"],
        "publishedDateTime": f"2024-05-{1 + number % 27:02}T{number % 24:02}:00:00Z",
        "related": [related(f"r{number}-{n}", f"Wire{(number + n) % 5}") for n in range(2)],
        **fields,
    }


#: Edits of a site of 12 stories (see the test): file, and its new fields
#: (None: removed).
EDITS = [
    # one entry's text
    pytest.param("s03.md", story(3, title="Story 3, corrected"), id="title"),
    # its place in every feed
    pytest.param("s04.md", story(4, publishedDateTime="2024-05-30T00:00:00Z"), id="date"),
    # dated after --now: withheld as scheduled
    pytest.param(
        "s05.md",
        story(5, publishedDateTime="2030-01-01T00:00:00Z"),
        id="scheduled",
    ),
    # another story's coverage now includes an entry of this one
    pytest.param(
        "s05.md",
        story(5, related=[related("r6-0", "Wire1", title="Story 5's version")]),
        id="related",
    ),
    # a new provider, so a new feed
    pytest.param("s06.md", story(6, provider={"name": "Brand New Outlet"}), id="provider"),
    # a provider spelt differently (made the most frequent spelling in the
    # test): its display name changes everywhere
    pytest.param("s07.md", story(7, provider={"name": "OUTLET 1"}), id="spelling"),
    pytest.param("s08.md", story(8, topics=["Topic 0", "A new topic"]), id="topic"),
    pytest.param("s08.md", None, id="remove"),
    # another story's version of an entry wins again
    pytest.param("a-shared.md", None, id="remove-shared"),
    pytest.param("s99.md", story(99), id="add"),
    pytest.param("s09.md", story(9, published=False), id="draft"),
]


def test_entries_edited_deep_in_a_long_feed_are_rendered_again_on_their_archive_pages(
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Any],
    read_tree: Callable[[Path], Site],
    tmp_path: Path,
) -> None:
    """An entry far down a feed is placed by counting the members older than
    it: by span of publication time, then within its own span. Edited in
    place, each is rendered again on the archive page showing it, and the
    folder is what a fresh build makes."""

    def article(number: int, title: str) -> dict[str, Any]:
        # One every two hours: some twenty in each span the count uses.
        when = f"2024-05-{1 + number // 12:02}T{number % 12 * 2:02}:00:00Z"
        return {"title": title, "publishedDateTime": when, "related": None}

    for number in range(60):
        write_article(f"a{number:02}.md", **article(number, f"Article {number}"))
    store = str(tmp_path / "store.sqlite3")
    out = tmp_path / "incremental"
    options = ("--now", "2024-06-01T00:00:00Z", "--max-items", "3")
    build(content_dir, *options, "--store", store, out=out)
    (content_dir / "a01.md").unlink()  # counted out of its span from then on
    build(content_dir, *options, "--store", store, out=out)

    for number in (4, 19, 30, 41):  # at different places in their spans
        write_article(f"a{number:02}.md", **article(number, f"Article {number}, corrected"))
    afresh_content = tmp_path / "elsewhere" / "content"
    shutil.copytree(content_dir, afresh_content)
    build(content_dir, *options, "--store", store, out=out)
    build(afresh_content, *options, "--no-cache", out=tmp_path / "afresh")

    incremental, afresh = read_tree(out), read_tree(tmp_path / "afresh")
    assert sorted(incremental) == sorted(afresh)
    assert [path for path in afresh if incremental[path] != afresh[path]] == []
    assert sum(b"Article 19, corrected" in body for body in afresh.values()) > 4


@pytest.mark.parametrize(("name", "fields"), EDITS)
def test_an_incremental_refresh_gives_the_bytes_of_a_fresh_build(
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Any],
    read_tree: Callable[[Path], Site],
    tmp_path: Path,
    name: str,
    fields: dict[str, Any] | None,
) -> None:
    """Build, edit, rebuild on the same store: every document (archive pages
    included) and the id ledger are as a build of the edited folder into a
    fresh store makes them."""
    for number in range(12):
        write_article(f"s{number:02}.md", **story(number))
    # Sorts first, so its version of story 2's first related item wins.
    write_article("a-shared.md", **story(50, related=[related("r2-0", "Wire2", title="Shared version")]))
    store = str(tmp_path / "store.sqlite3")
    out = tmp_path / "incremental"
    build(content_dir, "--now", "2024-06-01T00:00:00Z", "--max-items", "5", "--store", store, out=out)

    if fields is None:
        (content_dir / name).unlink()
    else:
        write_article(name, **fields)
    if fields and fields["provider"]["name"] == "OUTLET 1":  # make the new spelling the most frequent one
        write_article("s10.md", **story(10, provider={"name": "OUTLET 1"}))
    # The same folder, ledger of the first build included, elsewhere.
    afresh_content = tmp_path / "elsewhere" / "content"
    shutil.copytree(content_dir, afresh_content)

    later = ("--now", "2024-06-02T00:00:00Z", "--max-items", "5")
    build(content_dir, *later, "--store", store, out=out)
    build(afresh_content, *later, "--no-cache", out=tmp_path / "afresh")
    incremental, afresh = read_tree(out), read_tree(tmp_path / "afresh")
    assert sorted(incremental) == sorted(afresh)
    for path in afresh:
        assert incremental[path] == afresh[path], path
    assert (content_dir / ".feedpub-ids").read_bytes() == (afresh_content / ".feedpub-ids").read_bytes()
