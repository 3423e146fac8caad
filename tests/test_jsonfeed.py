"""JSON Feed 1.1 beside every RSS and Atom feed (issue 11): the spec's
MUSTs on every ``.json`` document of a build, served as
``application/feed+json``; the same entries as the Atom feed (ids, titles,
dates, bodies); ``next_url`` paging through the archive; and two real
readers, lemon24/reader (Python) and npm's feedsmith (Node.js), reading the
same ids, titles and dates as the Atom feed has.

The spec: https://www.jsonfeed.org/version/1.1/
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from reader import make_reader

BASE_URL = "https://feeds.example.org"
VERSION = "https://jsonfeed.org/version/1.1"
ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
JS = Path(__file__).resolve().parent / "js"
#: Read at import time: the autouse fixture of conftest clears FEEDPUB_*
#: variables before each test runs.
REQUIRE_TOOLS = os.environ.get("FEEDPUB_REQUIRE_TOOLS") == "1"
NOW = "2024-07-01T00:00:00Z"
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
EXTENSION = re.compile(r"_[A-Za-z0-9]\w*")

Site = dict[str, bytes]


@pytest.fixture
def site_content(write_article: Callable[..., Path], content_dir: Path) -> Path:
    """Articles with related items, images, excerpts with markup characters,
    a draft; icon, logo and a curated feed in ``feedpub.toml``."""
    write_article(
        "story.md",
        title="Facial recognition rolled out",
        excerpt="Police deploy cameras <b>now</b> & later.",
        publishedDateTime="2024-05-03T13:36:00Z",
        provider={"name": "ABC", "domain": "go.com"},
        topics=["AI", "Computer Vision"],
        images=[{"url": "https://img.example.com/1.jpg", "width": 992, "height": 558}],
        quality=70,
        body="First paragraph.\n\nSecond & last.\n",
        related=[
            {
                "title": "Met switches on cameras",
                "sourceUrl": "https://techcrunch.example.net/b",
                "publishedDateTime": "2024-05-03T13:09:00Z",
                "provider": {"name": "TechCrunch", "domain": "techcrunch.com"},
                "excerpt": "EU mulls a ban.",
            },
            {
                "title": "'81% inaccurate' cameras",
                "sourceUrl": "https://sky.example.net/c",
                "publishedDateTime": "2024-05-01T12:54:00Z",
                "provider": {"name": "Sky"},
            },
        ],
    )
    write_article("bold.md", title='<b>Bold</b> & "news"', publishedDateTime="2024-05-02T00:00:00+02:00")
    write_article("old.md", title="Old news", publishedDateTime="2024-04-01T00:00:00Z", topics=["Robotics"])
    write_article("draft.md", title="Not yet", published=False)
    (content_dir / "feedpub.toml").write_text(
        'icon = "https://img.example.org/icon.png"\n'
        'logo = "https://img.example.org/logo.png"\n'
        "[feeds.best]\n"
        "min_quality = 50\n",
        encoding="utf-8",
    )
    return content_dir


@pytest.fixture
def publish(
    build: Callable[..., Any], read_tree: Callable[[Path], Site], tmp_path: Path
) -> Callable[..., Path]:
    """``publish(content, *options)``: build `content` at `NOW` from scratch
    into a new folder; returns the folder."""
    count = itertools.count()

    def run(content: Path, *options: str) -> Path:
        out = tmp_path / f"public-{next(count)}"
        build(content, "--no-cache", "--now", NOW, *options, out=out)
        return out

    return run


def json_documents(site: Site) -> dict[str, dict[str, Any]]:
    return {path: json.loads(body) for path, body in site.items() if path.endswith(".json")}


def subscriptions(site: Site) -> list[str]:
    """Feed keys of every subscription document."""
    return sorted(
        path[1 : -len(".json")] for path in site if path.endswith(".json") and "/archive/" not in path
    )


# -- the spec's MUSTs -----------------------------------------------------------------------


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _author_problems(authors: Any, where: str) -> list[str]:
    if not isinstance(authors, list):
        return [f"{where}: authors must be an array"]
    problems = []
    for author in authors:
        if not isinstance(author, dict) or not {"name", "url", "avatar"} & set(author):
            problems.append(f"{where}: an author must be an object with at least one of name, url, avatar")
        elif not all(_string(author[key]) for key in {"name", "url", "avatar"} & set(author)):
            problems.append(f"{where}: an author's name, url and avatar are strings")
    return problems


FEED_KEYS = {
    "version",
    "title",
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "authors",
    "author",
    "language",
    "expired",
    "hubs",
    "items",
}
ITEM_KEYS = {
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "authors",
    "author",
    "tags",
    "language",
    "attachments",
}


def spec_problems(document: Any) -> list[str]:
    """What in `document` breaks a MUST (or a type) of JSON Feed 1.1."""
    if not isinstance(document, dict):
        return ["the top level must be an object"]
    problems = []
    if document.get("version") != VERSION:
        problems.append(f"version must be {VERSION}")
    if not _string(document.get("title")):
        problems.append("title is required and a string")
    for key in ("home_page_url", "feed_url", "next_url", "icon", "favicon"):
        if key in document and not _url(document[key]):
            problems.append(f"{key} must be a URL string")
    for key in ("description", "user_comment", "language"):
        if key in document and not _string(document[key]):
            problems.append(f"{key} must be a string")
    if "next_url" in document and document["next_url"] == document.get("feed_url"):
        problems.append("next_url must not be the same as feed_url")
    if "expired" in document and not isinstance(document["expired"], bool):
        problems.append("expired must be a boolean")
    if "authors" in document:
        problems += _author_problems(document["authors"], "feed")
    if "hubs" in document:
        hubs = document["hubs"]
        if not isinstance(hubs, list) or not all(
            isinstance(hub, dict) and _string(hub.get("type")) and _url(hub.get("url")) for hub in hubs
        ):
            problems.append("hubs must be an array of objects, each with a type and a url")
    problems += [
        f"unknown key {key!r} (extensions start with _)"
        for key in document
        if key not in FEED_KEYS and not EXTENSION.fullmatch(key)
    ]
    items = document.get("items")
    if not isinstance(items, list):
        return [*problems, "items is required and an array"]
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    if len(ids) != len(set(map(str, ids))):
        problems.append("item ids must be unique in the feed")
    for number, item in enumerate(items):
        where = f"items[{number}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object")
            continue
        if not _string(item.get("id")) or not item["id"]:
            problems.append(f"{where}: id is required and a string")
        if not ({"content_html", "content_text"} & set(item)):
            problems.append(f"{where}: content_html or content_text must be present")
        for key in ("content_html", "content_text", "title", "summary", "language"):
            if key in item and not _string(item[key]):
                problems.append(f"{where}: {key} must be a string")
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item and not _url(item[key]):
                problems.append(f"{where}: {key} must be a URL string")
        for key in ("date_published", "date_modified"):
            if key in item and not (_string(item[key]) and RFC3339.fullmatch(item[key])):
                problems.append(f"{where}: {key} must be an RFC 3339 date")
        if "tags" in item and not (isinstance(item["tags"], list) and all(map(_string, item["tags"]))):
            problems.append(f"{where}: tags must be an array of strings")
        if "authors" in item:
            problems += _author_problems(item["authors"], where)
        for attachment in item.get("attachments", []):
            if not (_url(attachment.get("url")) and _string(attachment.get("mime_type"))):
                problems.append(f"{where}: an attachment needs a url and a mime_type")
        problems += [
            f"{where}: unknown key {key!r} (extensions start with _)"
            for key in item
            if key not in ITEM_KEYS and not EXTENSION.fullmatch(key)
        ]
    return problems


def test_every_json_document_of_a_build_follows_json_feed_1_1(
    site_content: Path, publish: Callable[..., Path], read_tree: Callable[[Path], Site]
) -> None:
    toml = site_content / "feedpub.toml"
    toml.write_text(
        'hubs = ["https://hub.example.org/"]\n' + toml.read_text(encoding="utf-8"), encoding="utf-8"
    )
    site = read_tree(publish(site_content, "--max-items", "1"))  # archive pages, next_url
    documents = json_documents(site)
    # Beside every RSS and Atom document, archive pages included.
    assert set(documents) == {path.removesuffix(".rss") + ".json" for path in site if path.endswith(".rss")}
    assert any("/archive/" in path for path in documents)
    assert "/feeds/best.json" in documents and "/stories.json" in documents
    for path, document in documents.items():
        assert site[path].decode("utf-8")  # UTF-8, as the spec says
        assert spec_problems(document) == [], path
        assert document["feed_url"] == BASE_URL + path
        assert document["home_page_url"] == BASE_URL + path.removesuffix(".json") + ".html"
        assert document["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/"}]
        # next_url: the next older page, which exists; never back to one seen.
        seen = {document["feed_url"]}
        page = document
        while "next_url" in page:
            assert page["next_url"] not in seen, path
            seen.add(page["next_url"])
            page = documents[page["next_url"].removeprefix(BASE_URL)]


def test_json_feeds_are_served_as_application_feed_json(
    site_content: Path,
    publish: Callable[..., Path],
    read_tree: Callable[[Path], Site],
    make_app: Callable[..., Any],
) -> None:
    built = json_documents(read_tree(publish(site_content, "--max-items", "1")))
    client = make_app(CONTENT_DIR=str(site_content), MAX_ITEMS=1, NOW=NOW).test_client()
    for path in built:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == "application/feed+json; charset=utf-8", path
        assert spec_problems(response.get_json(force=True)) == [], path


# -- the same entries as the Atom feed --------------------------------------------------------


def atom_entries(body: bytes) -> list[dict[str, Any]]:
    """What the Atom document says of each entry, as JSON Feed names it."""
    found = []
    for entry in etree.fromstring(body).iter(f"{ATOM}entry"):
        thumbnail = entry.find(f"{MEDIA}thumbnail")
        found.append(
            {
                "id": entry.findtext(f"{ATOM}id"),
                "url": next(
                    link.get("href")
                    for link in entry.findall(f"{ATOM}link")
                    if link.get("rel", "alternate") == "alternate"
                ),
                "title": entry.findtext(f"{ATOM}title"),
                "summary": entry.findtext(f"{ATOM}summary"),
                "content_html": entry.findtext(f"{ATOM}content"),
                "date_published": datetime.fromisoformat(entry.findtext(f"{ATOM}published") or ""),
                "date_modified": datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or ""),
                "authors": [entry.findtext(f"{ATOM}author/{ATOM}name")],
                "tags": [category.get("term") for category in entry.findall(f"{ATOM}category")],
                "image": thumbnail.get("url") if thumbnail is not None else None,
                "related": [link.get("href") for link in entry.findall(f"{ATOM}link[@rel='related']")],
            }
        )
    return found


def json_entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for item in document["items"]:
        extension = item.get("_feedpub", {})
        found.append(
            {
                "id": item["id"],
                "url": item["url"],
                "title": item["title"],
                "summary": item.get("summary"),
                "content_html": item["content_html"],
                "date_published": datetime.fromisoformat(item["date_published"]),
                "date_modified": datetime.fromisoformat(item["date_modified"]),
                "authors": [author["name"] for author in item["authors"]],
                "tags": item.get("tags", []),
                "image": item.get("image"),
                # A story's other outlets: rel="related" links in Atom.
                "related": [
                    link["url"] for link in extension.get("coverage", []) if link["url"] != item["url"]
                ],
            }
        )
    return found


def test_json_items_are_the_atom_entries(
    site_content: Path, publish: Callable[..., Path], read_tree: Callable[[Path], Site]
) -> None:
    """Same ids, links, titles, plain-text summaries, HTML bodies, dates,
    provider, topics, image and story coverage, in the same order."""
    site = read_tree(publish(site_content, "--max-items", "2"))
    for path in [path for path in site if path.endswith(".atom")]:
        assert json_entries(json.loads(site[path.removesuffix(".atom") + ".json"])) == atom_entries(
            site[path]
        ), path
    summaries = [item.get("summary") for item in json.loads(site["/all.json"])["items"]]
    assert "Police deploy cameras <b>now</b> & later." in summaries  # plain text, not HTML


def test_related_coverage_is_listed_in_the_feedpub_extension(
    site_content: Path, publish: Callable[..., Path], read_tree: Callable[[Path], Site]
) -> None:
    site = read_tree(publish(site_content))
    items = {item["id"]: item for item in json.loads(site["/all.json"])["items"]}
    assert items["https://news.example.com/story"]["_feedpub"]["related"] == [
        {
            "url": "https://techcrunch.example.net/b",
            "title": "Met switches on cameras",
            "provider": "TechCrunch",
        },
        {"url": "https://sky.example.net/c", "title": "'81% inaccurate' cameras", "provider": "Sky"},
    ]
    assert "_feedpub" not in items["https://news.example.com/old"]
    (story,) = [
        item for item in json.loads(site["/stories.json"])["items"] if item["title"].startswith("Facial")
    ]
    coverage = story["_feedpub"]["coverage"]
    assert [(link["url"], link["provider"]) for link in coverage] == [
        ("https://news.example.com/story", "ABC"),
        ("https://techcrunch.example.net/b", "TechCrunch"),
        ("https://sky.example.net/c", "Sky"),
    ]
    assert all(datetime.fromisoformat(link["date_published"]) for link in coverage)


def test_next_url_pages_reach_every_entry_of_the_feed_once(
    site_content: Path, publish: Callable[..., Path], read_tree: Callable[[Path], Site]
) -> None:
    whole = json_documents(read_tree(publish(site_content)))
    paged = json_documents(read_tree(publish(site_content, "--max-items", "1")))
    for key in [path[1:-5] for path in whole if "/archive/" not in path]:
        ids = []
        document: dict[str, Any] | None = paged[f"/{key}.json"]
        while document is not None:
            ids += [item["id"] for item in document["items"]]
            document = paged[document["next_url"].removeprefix(BASE_URL)] if "next_url" in document else None
        assert ids == [item["id"] for item in whole[f"/{key}.json"]["items"]], key


# -- real readers ---------------------------------------------------------------------------------


def moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def atom_summary(body: bytes) -> list[tuple[str, str, datetime, datetime]]:
    """(id, title, published, updated) of each entry, as the Atom feed has it."""
    return sorted(
        (entry["id"], entry["title"], entry["date_published"], entry["date_modified"])
        for entry in atom_entries(body)
    )


@pytest.fixture
def reader_of(tmp_path: Path) -> Any:
    """``reader_of(folder)``: a lemon24/reader with its own database, reading
    local files below `folder`; closed at the end of the test."""
    probe = make_reader(":memory:")
    try:
        probe.add_feed(f"{BASE_URL}/all.atom")  # loads its parsers; fetches nothing
    except ModuleNotFoundError as exc:
        pytest.fail(
            f"lemon24/reader cannot load its parsers ({exc}): its vendored feedparser needs sgmllib3k"
        )
    finally:
        probe.close()
    made = []

    def make(folder: Path) -> Any:
        reader = make_reader(str(tmp_path / f"reader-{len(made)}.sqlite"), feed_root=str(folder))
        made.append(reader)
        return reader

    yield make
    for reader in made:
        reader.close()


def test_reader_reads_every_json_feed_as_the_atom_feed(
    site_content: Path, publish: Callable[..., Path], read_tree: Callable[[Path], Site], reader_of: Any
) -> None:
    out = publish(site_content)
    site = read_tree(out)
    keys = subscriptions(site)
    reader = reader_of(out)
    for key in keys:
        reader.add_feed(f"{key}.json")
        reader.add_feed(f"{key}.atom")
    reader.update_feeds()
    for key in keys:
        expected = atom_summary(site[f"/{key}.atom"])
        assert expected, key
        for fmt, version in (("json", "json11"), ("atom", "atom10")):
            feed = reader.get_feed(f"{key}.{fmt}")
            assert feed.last_exception is None, (key, fmt, feed.last_exception)
            assert feed.version == version
            assert feed.title == json.loads(site[f"/{key}.json"])["title"]
            got = sorted((e.id, e.title, e.published, e.updated) for e in reader.get_entries(feed=feed))
            assert got == expected, (key, fmt)


@pytest.fixture
def feedsmith(require_tool: Callable[[str], str]) -> Callable[[list[Path]], dict[str, Any]]:
    """``feedsmith(paths)``: what npm's feedsmith reads in each file
    (``tests/js/read-feeds.mjs``). Needs Node.js and ``npm ci`` run in
    ``tests/js``; without them the test is skipped, or fails when
    ``FEEDPUB_REQUIRE_TOOLS=1``."""
    node = require_tool("node")
    if not (JS / "node_modules" / "feedsmith").is_dir():
        reason = "feedsmith is not installed: run `npm ci` in tests/js"
        if REQUIRE_TOOLS:
            pytest.fail(f"{reason}, and FEEDPUB_REQUIRE_TOOLS=1 makes that a failure")
        pytest.skip(reason)

    def read(paths: list[Path]) -> dict[str, Any]:
        result = subprocess.run(
            [node, str(JS / "read-feeds.mjs"), *map(str, paths)],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        found: dict[str, Any] = json.loads(result.stdout)
        return found

    return read


def test_feedsmith_reads_every_json_feed_as_the_atom_feed(
    site_content: Path,
    publish: Callable[..., Path],
    read_tree: Callable[[Path], Site],
    feedsmith: Callable[[list[Path]], dict[str, Any]],
) -> None:
    out = publish(site_content)
    site = read_tree(out)
    keys = subscriptions(site)
    paths = [out / f"{key}.{fmt}" for key in keys for fmt in ("json", "atom")]
    found = feedsmith(paths)
    for key in keys:
        expected = atom_summary(site[f"/{key}.atom"])
        assert expected, key
        for fmt in ("json", "atom"):
            parsed = found[str(out / f"{key}.{fmt}")]
            assert parsed["format"] == fmt
            assert parsed["title"] == json.loads(site[f"/{key}.json"])["title"]
            got = sorted(
                (item["id"], item["title"], moment(item["published"]), moment(item["modified"]))
                for item in parsed["items"]
            )
            assert got == expected, (key, fmt)
