"""Story feeds (issue 14): one entry per story, with every outlet's coverage.

A story is an article with its related items, joined with every other file
sharing a URL with it. ``/stories.*`` holds every story and
``/topics/<slug>/stories.*`` those of one topic; each entry shows the lead
article (title, link, excerpt, image), lists the coverage newest first
(Atom ``link rel="related"``, RSS ``atom:link``, JSON ``_feedpub.coverage``)
and keeps a ``tag:`` id however its coverage grows.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from click.testing import Result
from lxml import etree
from reader import make_reader

from feedpub.stories import MAX_COVERAGE

ATOM = "{http://www.w3.org/2005/Atom}"
#: Build instants (--now): each rebuild of a test is a day later.
T1, T2, T3, T4 = (f"2024-06-0{day}T00:00:00Z" for day in range(1, 5))

ABC_TITLE = ("Controversial facial recognition technology being rolled out by London police, "
             "alarming privacy groups")
SKY_URL = ("https://news.sky.com/story/metropolitan-police-to-make-81-inaccurate-live-facial-recognition-"
           "operational-11916479")
SKY_TITLE = "Metropolitan Police to make '81% inaccurate' live facial recognition operational"
SEED_OUTLETS = ["ABC", "TechCrunch", "Sky", "Independent"]
SEED_RELATED_TITLES = [
    "London’s Met Police switches on live facial recognition, flying in face of human rights concerns",
    SKY_TITLE,
    "Facial recognition to be rolled out across London by police, despite privacy concerns",
]


def write_file(folder: Path, name: str, **fields: Any) -> Path:
    """An article file in any folder (`write_article` writes only into
    `content_dir`): YAML front matter, no body."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    front_matter = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{front_matter}---\n", encoding="utf-8")
    return path


def item(url: str, title: str, provider: str, published: str, **more: Any) -> dict[str, Any]:
    return {"title": title, "sourceUrl": url, "publishedDateTime": published,
            "provider": {"name": provider, "domain": provider.lower().replace(" ", "") + ".example"}, **more}


def stories_json(out: Path, key: str = "stories") -> list[dict[str, Any]]:
    document = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
    assert "next_url" not in document, "the test expects every story on one page"
    return list(document["items"])


def coverage_urls(story: dict[str, Any]) -> list[str]:
    return [link["url"] for link in story["_feedpub"]["coverage"]]


def atom_entries(out: Path, key: str) -> list[etree._Element]:
    return list(etree.parse(str(out / f"{key}.atom")).getroot().iter(f"{ATOM}entry"))


def atom_links(entry: etree._Element) -> tuple[str, list[tuple[str, str | None]]]:
    """The entry's alternate link, and its related links with their titles."""
    links = entry.findall(f"{ATOM}link")
    alternate = [link.get("href") for link in links if link.get("rel", "alternate") == "alternate"]
    assert len(alternate) == 1
    related = [(link.get("href"), link.get("title")) for link in links if link.get("rel") == "related"]
    return alternate[0], related


@pytest.fixture
def seed_content(content_dir: Path, seeds_dir: Path) -> Path:
    """The seed (one draft article and its three related items) copied into
    `content_dir`, so that `write_article` adds files beside it."""
    shutil.copytree(seeds_dir, content_dir, dirs_exist_ok=True)
    return content_dir


def test_the_seed_is_one_story_listing_all_four_outlets(
    seed_content: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    build(seed_content, "--unpublished")
    out = tmp_path / "public"
    [entry] = atom_entries(out, "stories")
    assert entry.findtext(f"{ATOM}title") == ABC_TITLE
    assert entry.findtext(f"{ATOM}id").startswith("tag:abcnews.go.com,2020-01-24:story/")
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "ABC"
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["AI", "Computer Vision"]
    alternate, related = atom_links(entry)
    assert alternate.startswith("https://abcnews.go.com/International/")
    assert [title for _, title in related] == SEED_RELATED_TITLES
    content = entry.findtext(f"{ATOM}content")
    assert all(f"({outlet}, 2020-01-24" in content for outlet in SEED_OUTLETS), content
    assert entry.findtext(f"{ATOM}summary").startswith("LONDON -- Facial recognition")
    assert entry.find("{http://search.yahoo.com/mrss/}thumbnail").get("url").endswith("_hpMain_16x9_992.jpg")

    # RSS: the same related links through atom:link.
    [rss_item] = etree.parse(str(out / "stories.rss")).getroot().iter("item")
    assert rss_item.findtext("guid") == entry.findtext(f"{ATOM}id")
    assert [(link.get("href"), link.get("title")) for link in rss_item.findall(f"{ATOM}link")
            if link.get("rel") == "related"] == related

    # JSON Feed: every outlet in _feedpub.coverage, newest first.
    [story] = stories_json(out)
    coverage = story["_feedpub"]["coverage"]
    assert [link["provider"] for link in coverage] == SEED_OUTLETS
    dates = [link["date_published"] for link in coverage]
    assert dates == sorted(dates, reverse=True)
    assert coverage_urls(story)[1:] == [url for url, _ in related]
    assert story["id"] == entry.findtext(f"{ATOM}id") and story["title"] == ABC_TITLE


def test_story_feeds_read_back_with_feedparser_and_reader(
    seed_content: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    build(seed_content, "--unpublished")
    out = tmp_path / "public"
    keys = ["stories", "topics/ai/stories", "topics/computer-vision/stories"]
    [expected_id] = {story["id"] for story in stories_json(out)}
    for key in keys:
        for fmt in ("rss", "atom"):
            parsed = feedparser.parse((out / f"{key}.{fmt}").read_bytes())
            assert not parsed.bozo, (key, fmt, parsed.get("bozo_exception"))
            [entry] = parsed.entries
            assert (entry.id, entry.title) == (expected_id, ABC_TITLE)
            related = [link for link in entry.links if link.rel == "related"]
            assert [link.title for link in related] == SEED_RELATED_TITLES, (key, fmt)
    reader = make_reader(":memory:", feed_root=str(out))
    try:
        urls = [f"{key}.{fmt}" for key in keys for fmt in ("rss", "atom", "json")]
        for url in urls:
            reader.add_feed(url)
        reader.update_feeds()
        for feed in reader.get_feeds():
            assert feed.last_exception is None, (feed.url, feed.last_exception)
        found = {(entry.feed_url, entry.id, entry.title) for entry in reader.get_entries()}
        assert found == {(url, expected_id, ABC_TITLE) for url in urls}
    finally:
        reader.close()


def test_topic_story_feeds_are_listed_on_the_index_and_as_a_group_of_the_opml(
    seed_content: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    build(seed_content, "--unpublished")
    out = tmp_path / "public"
    index = (out / "index.html").read_text(encoding="utf-8")
    for key in ("stories", "topics/ai/stories", "topics/computer-vision/stories"):
        for fmt in ("rss", "atom", "json", "html"):
            assert (out / f"{key}.{fmt}").is_file()
            assert f'href="https://feeds.example.org/{key}.{fmt}"' in index
    body = etree.parse(str(out / "feeds.opml")).getroot().find("body")
    groups = {group.get("text"): [outline.get("xmlUrl") for outline in group] for group in body if len(group)}
    assert groups["Stories"] == [
        "https://feeds.example.org/stories.rss",
        "https://feeds.example.org/topics/ai/stories.rss",
        "https://feeds.example.org/topics/computer-vision/stories.rss",
    ]
    assert not any("/stories." in url for name, urls in groups.items() if name != "Stories" for url in urls)


@pytest.mark.parametrize("when", ["later", "earlier"])
@pytest.mark.parametrize("mode", ["preview", "published"])
def test_coverage_joining_a_story_keeps_its_id_and_moves_its_updated(
    mode: str, when: str, seed_content: Path, write_article: Callable[..., Path],
    build: Callable[..., Result], tmp_path: Path,
) -> None:
    """A second file sharing the Sky URL joins the seed's story: still one
    story, under the same id, now listing the new coverage, with a later
    updated. Joining coverage published earlier becomes the lead, and the
    id still does not change; nor when the coverage leaves again. In a
    preview the ledger is never written: the site store keeps the story's
    id and history instead."""
    if mode == "published":
        seed = seed_content / "000_b0c87c34f956e42b.txt"
        seed.write_text(seed.read_text(encoding="utf-8").replace("published: false", "published: true"))
    options = ["--unpublished"] if mode == "preview" else []
    out = tmp_path / "public"
    build(seed_content, *options, "--now", T1)
    [before] = stories_json(out)
    assert before["date_modified"] == "2020-01-24T13:36:00Z"

    published = "2020-01-25T09:00:00Z" if when == "later" else "2020-01-24T08:00:00Z"
    guardian = "https://www.theguardian.com/technology/2020/jan/24/met-police-live-facial-recognition"
    write_article("guardian.md", sourceUrl=guardian, publishedDateTime=published,
                  title="Met police to begin using live facial recognition",
                  provider={"name": "Guardian", "domain": "theguardian.com"}, topics=["Policing"],
                  related=[item(SKY_URL, SKY_TITLE, "Sky", "2020-01-24T12:54:00Z")])
    build(seed_content, *options, "--now", T2)
    [after] = stories_json(out)
    assert after["id"] == before["id"]
    assert after["date_modified"] == "2024-06-02T00:00:00Z"
    assert sorted(coverage_urls(after)) == sorted([*coverage_urls(before), guardian])
    assert [link["provider"] for link in after["_feedpub"]["coverage"]] == (
        ["Guardian", *SEED_OUTLETS] if when == "later" else [*SEED_OUTLETS, "Guardian"]
    )
    lead_title = ABC_TITLE if when == "later" else "Met police to begin using live facial recognition"
    assert after["title"] == lead_title
    assert after["authors"][0]["name"] == ("ABC" if when == "later" else "Guardian")
    assert after["tags"] == ["AI", "Computer Vision", "Policing"]
    [topic_story] = stories_json(out, "topics/policing/stories")
    assert topic_story["id"] == before["id"]
    [entry] = atom_entries(out, "stories")
    assert entry.findtext(f"{ATOM}id") == before["id"]
    assert entry.findtext(f"{ATOM}updated") == "2024-06-02T00:00:00+00:00"
    assert len(atom_links(entry)[1]) == 4

    # Nothing joined since: a later rebuild leaves the story as it was.
    story_bytes = (out / "stories.atom").read_bytes()
    build(seed_content, *options, "--now", T3)
    assert (out / "stories.atom").read_bytes() == story_bytes

    # Coverage leaving is an update too.
    (seed_content / "guardian.md").unlink()
    build(seed_content, *options, "--now", T4)
    [left] = stories_json(out)
    assert (left["id"], left["title"]) == (before["id"], ABC_TITLE)
    assert left["date_modified"] == "2024-06-04T00:00:00Z"
    assert coverage_urls(left) == coverage_urls(before)


def test_edited_coverage_moves_the_storys_updated_and_keeps_its_id(
    seed_content: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    """An outlet's title edited, then the lead's URL: the same story, under
    the same id, updated when each edit was seen."""
    seed = seed_content / "000_b0c87c34f956e42b.txt"
    text = seed.read_text(encoding="utf-8").replace("published: false", "published: true")
    seed.write_text(text, encoding="utf-8")
    out = tmp_path / "public"
    build(seed_content, "--now", T1)
    [before] = stories_json(out)

    seed.write_text(text.replace("81% inaccurate", "81 per cent inaccurate"), encoding="utf-8")
    build(seed_content, "--now", T2)
    [retitled] = stories_json(out)
    assert retitled["id"] == before["id"] and retitled["date_modified"] == "2024-06-02T00:00:00Z"
    assert "Metropolitan Police to make '81 per cent inaccurate' live facial recognition operational" in [
        link["title"] for link in retitled["_feedpub"]["coverage"]
    ]
    [entry] = atom_entries(out, "stories")
    assert ("Metropolitan Police to make '81 per cent inaccurate' live facial recognition operational"
            in [title for _, title in atom_links(entry)[1]])

    moved = "https://abcnews.go.com/International/facial-recognition-london/story?id=68501552"
    old = before["url"]
    seed.write_text(text.replace("81% inaccurate", "81 per cent inaccurate").replace(f"sourceUrl: {old}",
                                                                                    f"sourceUrl: {moved}"))
    build(seed_content, "--now", T3)
    [relinked] = stories_json(out)
    assert relinked["id"] == before["id"] and relinked["date_modified"] == "2024-06-03T00:00:00Z"
    assert relinked["url"] == moved and coverage_urls(relinked)[0] == moved


def test_a_story_split_in_two_keeps_its_id_with_its_lead(
    write_article: Callable[..., Path], content_dir: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    """x leads a story that y joined through a shared item; y's editor then
    drops the shared item. The story readers know (x's) keeps its id; y's
    becomes a story of its own, under a new id."""
    shared = item("https://s.example/shared", "Shared", "Wire", "2024-05-01T09:00:00Z")
    write_article("x.md", sourceUrl="https://z.example/x", title="Story x",
                  publishedDateTime="2024-05-01T10:00:00Z", related=[shared])
    write_article("y.md", sourceUrl="https://a.example/y", title="Story y",
                  publishedDateTime="2024-05-02T10:00:00Z", related=[shared])
    out = tmp_path / "public"
    build(content_dir, "--now", T1)
    [joined] = stories_json(out)
    assert joined["title"] == "Story x"
    write_article("y.md", sourceUrl="https://a.example/y", title="Story y",
                  publishedDateTime="2024-05-02T10:00:00Z",
                  related=[item("https://o.example/own", "Own", "Other", "2024-05-02T09:00:00Z")])
    build(content_dir, "--now", T2)
    ids = {story["title"]: story["id"] for story in stories_json(out)}
    assert ids["Story x"] == joined["id"]
    assert ids["Story y"] != joined["id"]


@pytest.mark.parametrize("names", [("a.md", "b.md"), ("b.md", "a.md"), ("sub/0.md", "a.md")])
def test_two_files_covering_one_story_join_whatever_their_names(
    names: tuple[str, str], build: Callable[..., Result], read_tree: Callable[[Path], dict[str, bytes]],
    tmp_path: Path,
) -> None:
    """Both articles are published at the same instant (the lead is then
    the one with the smaller id) and share one related item: whichever file
    is read first, the story feeds are the same bytes."""
    shared = item("https://shared.example/report", "The report", "Wire", "2024-05-01T08:00:00Z")
    first = dict(item("https://x.example/story", "X's story", "X News", "2024-05-01T12:00:00Z"),
                 topics=["Science"], related=[shared])
    second = dict(item("https://y.example/story", "Y's story", "Y News", "2024-05-01T12:00:00Z"),
                  topics=["Health"], related=[shared, item("https://y.example/more", "More", "Y News",
                                                           "2024-05-01T13:00:00Z")])
    content = tmp_path / "content"
    write_file(content, names[0], **first)
    write_file(content, names[1], **second)
    out = tmp_path / "public"
    build(content, "--no-cache", "--now", T1)
    [story] = stories_json(out)
    assert story["title"] == "X's story"
    assert coverage_urls(story) == ["https://y.example/more", "https://x.example/story", "https://y.example/story",
                                    "https://shared.example/report"]
    built = {path: body for path, body in read_tree(out).items() if "stories" in path}
    reference = tmp_path / "reference"
    write_file(reference, "a.md", **first)
    write_file(reference, "b.md", **second)
    build(reference, "--no-cache", "--now", T1, out=tmp_path / "reference-public")
    assert built == {path: body for path, body in read_tree(tmp_path / "reference-public").items()
                     if "stories" in path}
    assert set(built) >= {"/stories.atom", "/topics/science/stories.atom", "/topics/health/stories.json"}


def test_a_huge_story_lists_only_its_newest_coverage(
    write_article: Callable[..., Path], content_dir: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    """Five files of 26 outlets each, joined by a wire story they all list,
    would make one entry of 136 links: the newest `MAX_COVERAGE` are listed,
    newest first. (A file lists at most 100 related items.)"""
    wire = item("https://wire.example/story", "Wire copy", "Wire", "2024-03-01T00:00:00Z")
    dates = [wire["publishedDateTime"]]
    for k in range(5):
        related = [item(f"https://outlet{n:03}.example/{k}", f"Take {k}.{n}", f"Outlet {n:03}",
                        f"2024-04-{1 + (n + k) % 28:02}T{n % 24:02}:{k * 10 + n % 10:02}:00Z")
                   for n in range(26)]
        lead = f"2024-05-0{k + 1}T12:00:00Z"
        write_article(f"story-{k}.md", sourceUrl=f"https://lead.example/{k}", publishedDateTime=lead,
                      related=[wire, *related])
        dates += [lead, *(r["publishedDateTime"] for r in related)]
    build(content_dir, "--max-items", "500")
    out = tmp_path / "public"
    [story] = stories_json(out)
    coverage = story["_feedpub"]["coverage"]
    assert len(dates) == 136 and len(coverage) == MAX_COVERAGE
    assert [link["date_published"] for link in coverage] == sorted(dates, reverse=True)[:MAX_COVERAGE]
    [entry] = atom_entries(out, "stories")
    assert atom_links(entry)[0] == "https://lead.example/0"
    others = [url for url in coverage_urls(story) if url != story["url"]]
    assert [url for url, _ in atom_links(entry)[1]] == others


def write_corpus(content: Path, articles: int = 300) -> list[list[dict[str, Any]]]:
    """`articles` files in groups of one to four files telling one story:
    the files of a group are linked by a related item they share or by one
    listing another's article as related. Returns the groups: of each file,
    its URLs (article first), title and publication time."""
    rng = random.Random(14)
    topics = ["AI", "Climate", "Health", "Space", "Sport"]
    providers = [f"Outlet {n}" for n in range(12)]
    groups: list[list[dict[str, Any]]] = []
    count = 0
    while count < articles:
        g = len(groups)
        size = min(rng.choice([1, 1, 2, 3, 4]), articles - count)
        wire = item(f"https://wire.example/{g}", f"Wire {g}", "Wire", "2024-03-01T06:00:00Z")
        files: list[dict[str, Any]] = []
        for k in range(size):
            day = 1 + rng.randrange(28)
            url = f"https://news{g % 7}.example/{g}/{k}"
            related = [
                item(f"https://other{r}.example/{g}/{k}/{r}", f"Item {g}.{k}.{r}", rng.choice(providers),
                     f"2024-03-{day:02d}T{rng.randrange(24):02d}:00:00Z")
                for r in range(rng.randrange(3))
            ]
            if k % 2 == 1:  # lists the previous file's article as related coverage
                previous = files[-1]["urls"][0]
                related.append(item(previous, "Seen elsewhere", "Elsewhere", "2024-03-01T00:00:00Z"))
            elif k > 0 or size > 2 or rng.random() < 0.3:  # shares the group's wire item
                related.append(wire)
            published = f"2024-03-{day:02d}T12:{k:02d}:00Z"
            fields = item(url, f"Story {g}.{k}", rng.choice(providers), published,
                          topics=rng.sample(topics, rng.randrange(1, 3)), related=related)
            write_file(content, f"{rng.choice('abcdef')}/{rng.randrange(10**6):06d}-{g}-{k}.md", **fields)
            files.append({"urls": [url, *(r["sourceUrl"] for r in related)], "title": fields["title"],
                          "published": published})
            count += 1
        groups.append(files)
    return groups


def test_on_a_large_corpus_the_stories_list_every_entry_once(
    build: Callable[..., Result], tmp_path: Path,
) -> None:
    content = tmp_path / "corpus"
    groups = write_corpus(content)
    out = tmp_path / "public"
    build(content, "--max-items", "5000", "--now", T1)
    entry_urls = [e.find(f"{ATOM}link").get("href") for e in atom_entries(out, "all")]
    assert len(entry_urls) == len(set(entry_urls)) > 600

    stories = stories_json(out)
    listed = [url for story in stories for url in coverage_urls(story)]
    assert len(listed) == len(set(listed)), "an entry is listed by two stories"
    assert set(listed) == set(entry_urls)
    # The Atom entries list the same: their link and related links.
    atom = {e.findtext(f"{ATOM}id"): atom_links(e) for e in atom_entries(out, "stories")}
    assert atom.keys() == {story["id"] for story in stories}
    for story in stories:
        alternate, related = atom[story["id"]]
        assert {alternate, *(url for url, _ in related)} == set(coverage_urls(story))

    # One story per group, holding all of the group's files and led by its
    # earliest article.
    assert len(stories) == len(groups)
    by_url = {url: story for story in stories for url in coverage_urls(story)}
    for files in groups:
        [story_id] = {by_url[url]["id"] for file in files for url in file["urls"]}
        assert story_id.startswith("tag:")
        lead = min(files, key=lambda file: file["published"])
        assert by_url[lead["urls"][0]]["title"] == lead["title"]


@pytest.mark.parametrize(
    ("options", "shown"),
    [((), {"p"}), (("--unpublished",), {"p", "d"}), (("--future",), {"p", "s"})],
    ids=["default", "unpublished", "future"],
)
def test_drafts_and_scheduled_items_are_withheld_from_stories(
    options: tuple[str, ...], shown: set[str], write_article: Callable[..., Path], content_dir: Path,
    build: Callable[..., Result], tmp_path: Path,
) -> None:
    """Each file is a story of its own, with its topic's story feed; a
    withheld file's story, items and topic are nowhere."""
    files = {
        "p": {"topics": ["Open"]},
        "d": {"topics": ["Hidden"], "published": False},
        "s": {"topics": ["Later"], "publishedDateTime": "2030-01-01T00:00:00Z"},
    }
    for name, fields in files.items():
        write_article(f"{name}.md", sourceUrl=f"https://{name}.example/story", title=f"Story {name}",
                      related=[item(f"https://{name}.example/related", f"Related {name}", "Other",
                                    "2024-04-01T00:00:00Z")], **fields)
    build(content_dir, *options, "--now", T1)
    out = tmp_path / "public"
    stories = stories_json(out)
    assert {story["title"] for story in stories} == {f"Story {name}" for name in shown}
    assert {url for story in stories for url in coverage_urls(story)} == {
        f"https://{name}.example/{what}" for name in shown for what in ("story", "related")
    }
    topic_feeds = {path.parent.name for path in (out / "topics").glob("*/stories.json")}
    assert topic_feeds == {files[name]["topics"][0].lower() for name in shown}


def test_a_story_led_by_a_draft_is_shown_from_its_first_published_item(
    write_article: Callable[..., Path], content_dir: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    """The draft's related item is also covered by a published file: the
    story is shown, led by the published article, and nothing of the draft
    (its article, its wording of the shared item, its topic) shows."""
    write_article("d.md", sourceUrl="https://d.example/lead", title="Draft lead", published=False,
                  publishedDateTime="2024-05-01T10:00:00Z", topics=["Secret"],
                  related=[item("https://r.example/1", "Draft wording", "Wire", "2024-05-01T09:00:00Z")])
    write_article("p.md", sourceUrl="https://p.example/piece", title="Published piece",
                  publishedDateTime="2024-05-02T10:00:00Z", topics=["Open"],
                  related=[item("https://r.example/1", "Published wording", "Wire", "2024-05-01T09:00:00Z")])
    out = tmp_path / "public"
    build(content_dir, "--now", T1)
    [story] = stories_json(out)
    assert (story["title"], story["url"]) == ("Published piece", "https://p.example/piece")
    assert [(link["url"], link["title"]) for link in story["_feedpub"]["coverage"]] == [
        ("https://p.example/piece", "Published piece"), ("https://r.example/1", "Published wording"),
    ]
    assert story["tags"] == ["Open"]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "Draft" not in text and "d.example" not in text and "Secret" not in text, path

    build(content_dir, "--unpublished", "--now", T1, out=tmp_path / "preview")
    [preview] = stories_json(tmp_path / "preview")
    assert preview["title"] == "Draft lead"
    assert sorted(coverage_urls(preview)) == ["https://d.example/lead", "https://p.example/piece", "https://r.example/1"]


def test_a_draft_never_joins_two_published_stories(
    write_article: Callable[..., Path], content_dir: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    for name in ("x", "y"):
        write_article(f"{name}.md", sourceUrl=f"https://{name}.example/story", title=f"Story {name}",
                      related=[item(f"https://{name}.example/related", "Related", "Other",
                                    "2024-04-01T00:00:00Z")])
    write_article("d.md", sourceUrl="https://d.example/story", title="Draft", published=False,
                  related=[item(f"https://{name}.example/related", "Related", "Other", "2024-04-01T00:00:00Z")
                           for name in ("x", "y")])
    build(content_dir, "--now", T1)
    assert sorted(s["title"] for s in stories_json(tmp_path / "public")) == ["Story x", "Story y"]
    build(content_dir, "--unpublished", "--now", T1, out=tmp_path / "preview")
    [joined] = stories_json(tmp_path / "preview")
    assert len(coverage_urls(joined)) == 5
