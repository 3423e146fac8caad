"""RFC 5005 archived feeds (issue 11, item 2), read from a real build.

A generated corpus of a few hundred small articles (several topics and
providers, some related items, one date every 37 hours) is built with
``--max-items 5``, so that every feed has many archive pages, and with a
``--max-items`` large enough for each feed to show everything in its
subscription document: following the archives of the first must give the
second.

Here the archive documents' structure is checked with lxml and feedparser:
what RSS 2.0, Atom 1.0 (RFC 4287), JSON Feed 1.1 and RFC 5005 require of
each document. ``test_w3c.py`` runs the W3C Feed Validation Service's own
validator on every archive document of another corpus.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
import yaml
from click.testing import CliRunner
from lxml import etree

from feedpub.cli import cli

BASE_URL = "https://feeds.example.org"
MAX_ITEMS = 5
ARTICLES = 200
TOPICS = ("AI", "Robotics", "Privacy", "Space")
PROVIDERS = ("Alpha News", "Beta Wire", "Gamma Post", "Delta Daily", "Epsilon")
#: A provider with fewer entries than a document holds: a feed without archive.
RARE = "Rare Press"
START = datetime(2022, 1, 1, tzinfo=UTC)

ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"
ARCHIVE_PATH = re.compile(r"/(?P<key>.+)/archive/(?P<page>[0-9]+)\.(?P<format>rss|atom|json|html)")
FEED_FORMATS = ("rss", "atom", "json")


# -- the corpus -------------------------------------------------------------------------


def _url(number: int) -> str:
    # Zero-padded, so that no story's URL is a prefix of another's.
    return f"https://news.example.com/story-{number:04d}"


def _story(number: int, **fields: Any) -> dict[str, Any]:
    """Article `number`: dated 37 hours after the one before it; every
    tenth has a related item from another provider."""
    published = START + timedelta(hours=37 * number)
    story: dict[str, Any] = {
        "title": f"Story {number}",
        "sourceUrl": _url(number),
        "publishedDateTime": published.isoformat().replace("+00:00", "Z"),
        "excerpt": f"What happened in story {number}.",
        "provider": {"name": RARE if number % 100 == 7 else PROVIDERS[number % 5], "domain": "example.com"},
        "topics": [TOPICS[number % 4]] + ([TOPICS[(number + 1) % 4]] if number % 3 == 0 else []),
    }
    if number % 10 == 0:
        story["related"] = [
            {
                "title": f"Another view of story {number}",
                "sourceUrl": f"https://other.example.net/view-{number:04d}",
                "publishedDateTime": (published - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
                "provider": {"name": PROVIDERS[(number + 2) % 5], "domain": "example.net"},
            }
        ]
    story.update(fields)
    return story


def _write_story(root: Path, number: int, **fields: Any) -> None:
    text = "---\n" + yaml.safe_dump(_story(number, **fields), sort_keys=False) + "---\n"
    (root / f"story-{number:04d}.md").write_text(text, encoding="utf-8")


def _build(content: Path, out: Path, *options: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["build", str(content), "--out", str(out), "--base-url", BASE_URL, *options],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output


def _tree(root: Path) -> dict[str, bytes]:
    """Every file below `root` by URL path (gzip forms included)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            found["/" if relative == "index.html" else "/" + relative] = path.read_bytes()
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archives") / "content"
    root.mkdir()
    for number in range(ARTICLES):
        _write_story(root, number)
    return root


@pytest.fixture(scope="module")
def paged(corpus: Path) -> Path:
    """The corpus built with --max-items 5 (and gzip forms)."""
    out = corpus.parent / "paged"
    _build(corpus, out, "--max-items", str(MAX_ITEMS), "--gzip")
    return out


@pytest.fixture(scope="module")
def whole(corpus: Path) -> Path:
    """The corpus built with every entry in each subscription document."""
    out = corpus.parent / "whole"
    _build(corpus, out, "--max-items", "10000", "--store", str(corpus.parent / "whole.sqlite3"))
    return out


@pytest.fixture(scope="module")
def paged_tree(paged: Path) -> dict[str, bytes]:
    return _tree(paged)


def _pages(tree: dict[str, bytes]) -> dict[str, int]:
    """Feed key → number of archive pages, for every feed of a built tree."""
    counts: dict[str, int] = {}
    for path in tree:
        if path.endswith(".atom") and "/archive/" not in path:
            counts.setdefault(path[1:-5], 0)
        match = ARCHIVE_PATH.fullmatch(path)
        if match and match["format"] == "atom":
            counts[match["key"]] = max(counts.get(match["key"], 0), int(match["page"]))
    return counts


# -- reading documents --------------------------------------------------------------------


def _path(url: str) -> str:
    assert url.startswith(BASE_URL + "/"), url
    return url[len(BASE_URL) :]


def _feed_path(key: str, format: str, page: int | None = None) -> str:
    return f"/{key}.{format}" if page is None else f"/{key}/archive/{page}.{format}"


def _json_links(document: dict[str, Any]) -> dict[str, str]:
    """A JSON Feed's links, named as RFC 5005's: `next_url` goes to older
    entries (prev-archive); ``_feedpub`` names the newer page and the
    subscription document."""
    links = {"self": document["feed_url"], "current": document["_feedpub"]["current"]}
    if "next_url" in document:
        links["prev-archive"] = document["next_url"]
    if "newer" in document["_feedpub"]:
        links["next-archive"] = document["_feedpub"]["newer"]
    return links


def _read(body: bytes, format: str) -> tuple[list[str], dict[str, str]]:
    """(entry ids, newest first; the feed's links by rel) as a feed reader
    sees them: feedparser for RSS and Atom, JSON Feed's own fields."""
    if format == "json":
        document = json.loads(body)
        return [item["id"] for item in document["items"]], _json_links(document)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = {}
    for link in parsed.feed.get("links", []):
        assert link.rel not in links or links[link.rel] == link.href, f"two {link.rel} links"
        links[link.rel] = link.href
    return [entry.id for entry in parsed.entries], links


def _xml_links(root: etree._Element, format: str) -> dict[str, str]:
    """The feed-level links by rel: Atom's ``link`` elements, RSS's
    ``atom:link`` ones (lxml: feedparser is too slow for a thousand pages)."""
    head = root if format == "atom" else root.find("channel")
    links: dict[str, str] = {}
    for link in head.findall(f"{ATOM}link"):
        rel = link.get("rel", "alternate")
        assert rel not in links or links[rel] == link.get("href"), f"two {rel} links"
        links[rel] = link.get("href")
    return links


def _xml_problems(body: bytes, format: str, archive: bool) -> list[str]:
    """What RSS 2.0 / Atom 1.0 / RFC 5005 require and the document lacks."""
    root = etree.fromstring(body)
    problems = []
    if format == "atom":
        if root.tag != f"{ATOM}feed":
            return [f"root element {root.tag}"]
        head, items = root, root.findall(f"{ATOM}entry")
        problems += [
            f"feed lacks {name}" for name in ("id", "title", "updated") if not root.findtext(f"{ATOM}{name}")
        ]
        for entry in items:
            problems += [
                f"entry lacks {name}"
                for name in ("id", "title", "updated")
                if not entry.findtext(f"{ATOM}{name}")
            ]
        ids = [entry.findtext(f"{ATOM}id") for entry in items]
    else:
        channel = root.find("channel")
        if root.tag != "rss" or root.get("version") != "2.0" or channel is None:
            return ["not an RSS 2.0 document"]
        head, items = channel, channel.findall("item")
        problems += [
            f"channel lacks {name}" for name in ("title", "link", "description") if not channel.findtext(name)
        ]
        for item in items:
            if not (item.findtext("title") or item.findtext("description")):
                problems.append("item has neither title nor description")
            if not item.findtext("guid"):
                problems.append("item lacks guid")
        ids = [item.findtext("guid") for item in items]
    if len(set(ids)) != len(ids):
        problems.append("an id twice")
    markers = head.findall(f"{HISTORY}archive")
    if archive and len(markers) != 1:
        problems.append(f"{len(markers)} fh:archive elements")
    if not archive and markers:
        problems.append("fh:archive in the subscription document")
    return problems


def _json_problems(body: bytes) -> list[str]:
    document = json.loads(body)
    problems = []
    if document.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append("version")
    if not isinstance(document.get("title"), str) or not isinstance(document.get("items"), list):
        problems.append("title or items")
    for item in document.get("items", []):
        if not isinstance(item.get("id"), str) or not (item.get("content_html") or item.get("content_text")):
            problems.append(f"item {item.get('id')!r} lacks id or content")
    return problems


def _follow(
    tree: dict[str, bytes], path: str, format: str
) -> Iterator[tuple[str, list[str], dict[str, str]]]:
    """(path, entry ids, links) of the subscription document at `path`, then
    of each document reached by following prev-archive (next_url)."""
    seen = set()
    while True:
        assert path not in seen, f"prev-archive loops back to {path}"
        seen.add(path)
        ids, links = _read(tree[path], format)
        yield path, ids, links
        if "prev-archive" not in links:
            return
        path = _path(links["prev-archive"])


# -- the archives ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/all.atom", "/topics/robotics.rss", "/providers/beta-wire.atom", "/all.json", "/stories.atom"]
)
def test_following_prev_archive_yields_every_entry_of_the_feed_once(
    path: str, paged_tree: dict[str, bytes], whole: Path
) -> None:
    """The chain from the subscription document down to page 1 holds the
    feed's entries in feed order (newest first), each once: what a build
    holding everything in one document shows."""
    format = path.rpartition(".")[2]
    chain = list(_follow(paged_tree, path, format))
    followed = [entry_id for _, ids, _ in chain for entry_id in ids]
    everything, _ = _read((whole / path.lstrip("/")).read_bytes(), format)
    assert len(everything) > 5 * MAX_ITEMS
    assert followed == everything
    assert len(set(followed)) == len(followed)
    sizes = [len(ids) for _, ids, _ in chain]
    # The subscription document and every archive page but the newest are
    # full; page 1, the oldest, is reached last.
    assert sizes[0] == MAX_ITEMS and set(sizes[2:]) == {MAX_ITEMS} and 1 <= sizes[1] <= MAX_ITEMS
    assert chain[-1][0] == _feed_path(path[1:].rpartition(".")[0], format, 1)


def test_every_archive_document_is_marked_and_linked_to_its_neighbours(paged_tree: dict[str, bytes]) -> None:
    """Each archive page of each feed and format carries fh:archive (JSON:
    ``_feedpub.archive``), links `current` to the subscription document,
    `prev-archive` to the page before unless it is page 1 and
    `next-archive` to the page after unless it is the newest; the
    subscription document links prev-archive to the newest page. Every
    document is also checked for the structure its format requires."""
    pages = _pages(paged_tree)
    assert len(pages) == 16 and pages["providers/rare-press"] == 0
    problems = []
    checked = 0
    for key, count in pages.items():
        for format in FEED_FORMATS:
            current = BASE_URL + _feed_path(key, format)
            for page in [None, *range(1, count + 1)]:
                path = _feed_path(key, format, page)
                body = paged_tree[path]
                links = (
                    _json_links(json.loads(body))
                    if format == "json"
                    else _xml_links(etree.fromstring(body), format)
                )
                expected = {"self": BASE_URL + path}
                if page is None and count:
                    expected["prev-archive"] = BASE_URL + _feed_path(key, format, count)
                if page is not None:
                    expected["current"] = current
                    if page > 1:
                        expected["prev-archive"] = BASE_URL + _feed_path(key, format, page - 1)
                    if page < count:
                        expected["next-archive"] = BASE_URL + _feed_path(key, format, page + 1)
                found = {
                    rel: href
                    for rel, href in links.items()
                    if rel in {*expected, "prev-archive", "next-archive", "current"}
                }
                if page is None and format == "json":
                    found.pop("current")  # JSON names its subscription document in every page
                if found != expected:
                    problems.append(f"{path}: links {found}, expected {expected}")
                if format == "json":
                    document = json.loads(body)
                    if document["_feedpub"]["archive"] is not (page is not None):
                        problems.append(f"{path}: _feedpub.archive is {document['_feedpub']['archive']}")
                    problems += [f"{path}: {p}" for p in _json_problems(body)]
                else:
                    problems += [
                        f"{path}: {p}" for p in _xml_problems(body, format, archive=page is not None)
                    ]
                    if format == "atom":
                        # One logical feed: every page carries the subscription document's id.
                        feed_id = etree.fromstring(body).findtext(f"{ATOM}id")
                        if feed_id != current:
                            problems.append(f"{path}: feed id {feed_id}")
                checked += 1
    assert not problems, "\n".join(problems[:20])
    assert checked > 500


def test_archive_paths_exist_only_for_the_pages_a_feed_has(paged_tree: dict[str, bytes]) -> None:
    """Page numbers run from 1 to the count, in every form, and a feed that
    fits in one document has no archive."""
    pages = _pages(paged_tree)
    archive_paths = {path for path in paged_tree if ARCHIVE_PATH.fullmatch(path)}
    expected = {
        _feed_path(key, format, page)
        for key, count in pages.items()
        for page in range(1, count + 1)
        for format in (*FEED_FORMATS, "html")
    }
    assert archive_paths == expected
    assert not any(path.startswith("/providers/rare-press/") for path in paged_tree)


def test_archive_pages_are_in_no_opml(paged_tree: dict[str, bytes]) -> None:
    outlines = etree.fromstring(paged_tree["/feeds.opml"]).iter("outline")
    urls = [url for outline in outlines for url in (outline.get("xmlUrl"), outline.get("htmlUrl")) if url]
    assert urls and not [url for url in urls if "/archive/" in url]
    subscribed = {_path(url) for url in urls if url.endswith(".rss")}
    assert subscribed == {_feed_path(key, "rss") for key in _pages(paged_tree)}


def test_archive_html_pages_link_to_newer_and_older_pages(paged_tree: dict[str, bytes]) -> None:
    """Every archive page has its readable HTML page, showing the entries
    of its Atom twin, with a link to the older page (unless page 1) and to
    the newer one (the newest entries, from the newest page)."""
    problems = []
    for key, count in _pages(paged_tree).items():
        for page in [None, *range(1, count + 1)]:
            path = _feed_path(key, "html", page)
            document = lxml.html.fromstring(paged_tree[path])
            older = document.xpath("//nav//a[@rel='prev']/@href")
            newer = document.xpath("//nav//a[@rel='next']/@href")
            expected_older = (
                [BASE_URL + _feed_path(key, "html", (page or count + 1) - 1)]
                if (page or count + 1) > 1
                else []
            )
            expected_newer = [BASE_URL + _feed_path(key, "html", page + 1)] if page and page < count else []
            if (older, newer) != (expected_older, expected_newer):
                problems.append(f"{path}: older {older}, newer {newer}")
            if page == count:
                newest = document.xpath("//nav//a/@href")
                if BASE_URL + _feed_path(key, "html") not in newest:
                    problems.append(f"{path}: no link to the newest entries")
            atom = etree.fromstring(paged_tree[_feed_path(key, "atom", page)])
            shown = document.xpath("//article/h2/a/@href")
            linked = [entry.find(f"{ATOM}link").get("href") for entry in atom.findall(f"{ATOM}entry")]
            if shown != linked:
                problems.append(f"{path}: shows {shown}, its Atom twin {linked}")
    assert not problems, "\n".join(problems[:20])


def test_archive_paths_are_served_as_built(
    corpus: Path, paged_tree: dict[str, bytes], make_app: Callable[..., Any]
) -> None:
    """Every archive document of the build, served by the app: the same
    bytes, and the same gzip form as ``build --gzip`` writes."""
    client = make_app(CONTENT_DIR=str(corpus), MAX_ITEMS=MAX_ITEMS).test_client()
    archives = [path for path in paged_tree if ARCHIVE_PATH.fullmatch(path)]
    different = []
    for path in archives:
        response = client.get(path)
        if response.status_code != 200 or response.data != paged_tree[path]:
            different.append(f"{path}: {response.status_code}")
    assert not different, different[:10]
    for path in archives[:: len(archives) // 7]:
        packed = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert packed.data == paged_tree[path + ".gz"]
        assert gzip.decompress(packed.data) == paged_tree[path]


@pytest.mark.parametrize(
    "path",
    [
        "/all/archive/1.atom",
        "/topics/ai/archive/2.rss",
        "/providers/epsilon/archive/3.json",
        "/stories/archive/1.html",
    ],
)
def test_archive_documents_have_validators_and_gzip(
    path: str, corpus: Path, paged_tree: dict[str, bytes], make_app: Callable[..., Any]
) -> None:
    client = make_app(CONTENT_DIR=str(corpus), MAX_ITEMS=MAX_ITEMS).test_client()
    media_type = {
        "rss": "application/rss+xml",
        "atom": "application/atom+xml",
        "json": "application/feed+json",
        "html": "text/html",
    }[path.rpartition(".")[2]]
    plain = client.get(path)
    assert plain.headers["Content-Type"] == f"{media_type}; charset=utf-8"
    etag, last_modified = plain.headers["ETag"], plain.headers["Last-Modified"]
    assert re.fullmatch(r'"[^"]+"', etag)
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["ETag"] == etag[:-1] + '-gzip"'
    assert gzip.decompress(packed.data) == paged_tree[path]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": packed.headers["ETag"], "Accept-Encoding": "gzip"},
        {"If-Modified-Since": last_modified},
    ):
        again = client.get(path, headers=headers)
        assert (again.status_code, again.data) == (304, b""), headers
    head = client.head(path)
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == etag


@pytest.mark.parametrize(
    "path", ["/all/archive/0.atom", "/all/archive/999.atom", "/providers/rare-press/archive/1.rss"]
)
def test_archive_pages_a_feed_does_not_have_are_not_found(
    path: str, corpus: Path, paged_tree: dict[str, bytes], make_app: Callable[..., Any]
) -> None:
    assert path not in paged_tree
    client = make_app(CONTENT_DIR=str(corpus), MAX_ITEMS=MAX_ITEMS).test_client()
    assert client.get(path).status_code == 404


# -- sealed pages -------------------------------------------------------------------------


def _sealed(tree: dict[str, bytes]) -> set[str]:
    """The archive files that must never change: every page but the newest
    of each feed, in every form."""
    pages = _pages(tree)
    return {
        _feed_path(key, format, page)
        for key, count in pages.items()
        for page in range(1, count)
        for format in (*FEED_FORMATS, "html")
    }


@pytest.fixture(scope="module")
def grown(corpus: Path) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A copy of the corpus built, then given 10 new (newest) articles and
    rebuilt into the same folder: (content, tree before, tree after)."""
    content = corpus.parent / "grown"
    shutil.copytree(corpus, content)
    out = corpus.parent / "grown-out"
    _build(content, out, "--max-items", str(MAX_ITEMS))
    before = _tree(out)
    for number in range(ARTICLES, ARTICLES + 10):
        _write_story(content, number)
    _build(content, out, "--max-items", str(MAX_ITEMS))
    return content, before, _tree(out)


def test_new_articles_leave_every_sealed_archive_file_unchanged(
    grown: tuple[Path, dict[str, bytes], dict[str, bytes]],
) -> None:
    """Adding entries changes, of the archive, the newest page of the feeds
    they join at most, and adds pages."""
    _, before, after = grown
    sealed = _sealed(before)
    assert len(sealed) > 500
    assert [path for path in sealed if after.get(path) != before[path]] == []
    changed = {path for path in before if ARCHIVE_PATH.fullmatch(path) and after.get(path) != before[path]}
    newest_pages = {
        _feed_path(key, format, count)
        for key, count in _pages(before).items()
        if count
        for format in (*FEED_FORMATS, "html")
    }
    assert changed and changed <= newest_pages
    assert _pages(after)["all"] > _pages(before)["all"]


def test_sealed_archive_pages_do_not_depend_on_how_many_pages_follow(
    grown: tuple[Path, dict[str, bytes], dict[str, bytes]], tmp_path: Path
) -> None:
    """The grown corpus built from scratch gives the same sealed pages:
    they are a function of the content, and were not merely left alone."""
    content, before, _ = grown
    _build(content, tmp_path / "fresh", "--max-items", str(MAX_ITEMS), "--no-cache")
    fresh = _tree(tmp_path / "fresh")
    assert [path for path in sorted(_sealed(before)) if fresh.get(path) != before[path]] == []


def test_editing_an_old_entry_changes_only_the_archive_pages_holding_it(
    corpus: Path, tmp_path: Path, read_tree: Callable[[Path], dict[str, bytes]]
) -> None:
    """An old entry's new excerpt shows up in the one page of each of its
    feeds that holds it (whose updated tells readers), in every form; no
    other document changes."""
    content = tmp_path / "content"
    shutil.copytree(corpus, content)
    out = tmp_path / "out"
    _build(content, out, "--max-items", str(MAX_ITEMS))
    before = read_tree(out)
    edited = 13  # no related items: one entry, in all, stories, a topic and a provider feed
    _write_story(content, edited, excerpt="A corrected account of story 13.")
    _build(content, out, "--max-items", str(MAX_ITEMS))
    after = read_tree(out)
    assert after.keys() == before.keys()
    changed = {path for path in before if after[path] != before[path]}
    holding = {
        path
        for path, body in before.items()
        if re.search(re.escape(_url(edited)).encode() + rb"(?!\d)", body)
    }
    assert holding and all(ARCHIVE_PATH.fullmatch(path) for path in holding)
    assert {ARCHIVE_PATH.fullmatch(path)["key"] for path in holding} == {
        "all",
        "stories",
        "topics/robotics",
        "topics/robotics/stories",
        "providers/delta-daily",
    }
    assert changed == holding
    assert all(b"A corrected account of story 13." in after[path] for path in changed)
