"""The W3C Feed Validation Service reads every RSS and Atom document we serve
(issues 11 and 14: subscription documents, RFC 5005 archives, story feeds,
curated feeds) and reports no error and no warning.

The service's own validator runs locally (``tests/_w3c.py``): each document
is fetched from the app, as the service would fetch its URL, and validated
with the ``Content-Type`` it was served with and its URL as the base. The
paths come from a build of the same content, which the app serves byte for
byte (``test_serve.py``, ``test_archives.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from _w3c import problems
from click.testing import CliRunner
from click.testing import Result

from feedpub.cli import cli

BASE_URL = "https://feeds.example.org"
TOPICS = ("AI", "Robotics", "Privacy & Rights", "Space")
PROVIDERS = ("Alpha News", "Beta Wire", "Gamma Post", "Delta Daily", "Émile Presse")
START = datetime(2023, 3, 1, tzinfo=UTC)


def _write(folder: Path, name: str, fields: dict[str, Any]) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False) + "---\n", encoding="utf-8"
    )


def _corpus(folder: Path, articles: int = 150) -> None:
    """Articles a day apart over several topics and providers; titles and
    excerpts with markup, entities and non-ASCII text; images on some;
    related coverage on every fourth, and every seventh covering the story
    of the article before it (so that stories join across files)."""
    for number in range(articles):
        published = START + timedelta(days=number, minutes=number % 60)
        fields: dict[str, Any] = {
            "title": f"Story {number}: <b>robots</b> & “rights” — été {number}",
            "sourceUrl": f"https://news.example.com/{number:04d}?ref=feed&x=1",
            "publishedDateTime": published.isoformat().replace("+00:00", "Z"),
            "excerpt": f"What <i>happened</i> in story {number} &amp; why it matters < 3.",
            "provider": {"name": PROVIDERS[number % 5], "domain": f"p{number % 5}.example.com"},
            "topics": [TOPICS[number % 4], *([TOPICS[(number + 1) % 4]] if number % 3 == 0 else [])],
            "quality": number % 100,
        }
        if number % 5 == 0:
            fields["images"] = [{"url": f"https://img.example.com/{number}.jpg", "width": 800, "height": 450}]
        related = []
        if number % 4 == 0:
            related.append(
                {
                    "title": f"Another view of story {number}",
                    "sourceUrl": f"https://other.example.net/view/{number}",
                    "publishedDateTime": (published - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
                    "provider": {"name": PROVIDERS[(number + 2) % 5], "domain": "other.example.net"},
                }
            )
        if number % 7 == 0 and number:
            related.append(
                {
                    "title": f"Story {number - 1}, as first told",
                    "sourceUrl": f"https://news.example.com/{number - 1:04d}?ref=feed&x=1",
                    "publishedDateTime": (published - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                    "provider": {
                        "name": PROVIDERS[(number - 1) % 5],
                        "domain": f"p{(number - 1) % 5}.example.com",
                    },
                }
            )
        if related:
            fields["related"] = related
        _write(folder, f"{number % 9}/{number:04d}.md", fields)


def _feed_paths(out: Path) -> list[str]:
    """The URL paths of every RSS and Atom document of a built folder."""
    return sorted(
        "/" + path.relative_to(out).as_posix() for path in out.rglob("*") if path.suffix in (".rss", ".atom")
    )


#: SPEC: "Text fields are plain text: `<b>` in a title is the four
#: characters, escaped on output, never markup". The corpus's titles and
#: excerpts hold such text on purpose. The service warns of text that looks
#: like markup where a reader could take it for HTML (an Atom title or
#: summary, a related link's title, in Atom and in RSS's atom:link): what
#: SPEC asks us to publish, so that warning, and only it, is expected there.
#: The seed has no such text, and no warning is allowed for it.
TEXT_OF_MARKUP = ("ContainsHTML:title", "ContainsHTML:summary", "ContainsHTML:link", "ContainsHTML:atom:link")


def _report(client: Any, paths: list[str], allow: tuple[str, ...] = ()) -> list[str]:
    """The validator's findings on every served document of `paths`."""
    found = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        found += [
            f"{path}: {line}"
            for line in problems(response.data, BASE_URL + path, response.headers["Content-Type"], allow)
        ]
    return found


def test_every_feed_of_the_seed_passes_the_w3c_validator(
    copy_seeds: Callable[[], Path],
    build: Callable[..., Result],
    make_app: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """The seed's feeds (all, topics, providers, the curated feed of its
    feedpub.toml, the story feeds), with its draft shown."""
    seeds = copy_seeds()
    build(seeds, "--unpublished")
    paths = _feed_paths(tmp_path / "public")
    assert {"/all.atom", "/stories.rss", "/feeds/high-quality.atom", "/topics/ai/stories.atom"} <= set(paths)
    client = make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True).test_client()
    assert _report(client, paths) == []


@pytest.fixture(scope="module")
def paged_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A corpus built with five entries a document, so that every feed of
    more than five entries has archive pages; and its feed paths."""
    root = tmp_path_factory.mktemp("w3c")
    content = root / "content"
    _corpus(content)
    out = root / "public"
    result = CliRunner().invoke(
        cli,
        [
            "build",
            str(content),
            "--out",
            str(out),
            "--base-url",
            BASE_URL,
            "--max-items",
            "5",
            "--store",
            str(root / "store.sqlite3"),
        ],
    )
    assert result.exit_code == 0, result.output
    return content, _feed_paths(out)


def test_every_archive_document_passes_the_w3c_validator(
    paged_corpus: tuple[Path, list[str]], make_app: Callable[..., Any]
) -> None:
    content, paths = paged_corpus
    archives = [path for path in paths if "/archive/" in path]
    # Archives of the entry feeds, the story feeds and a topic's story feed.
    assert {"/all/archive/1.atom", "/stories/archive/1.rss", "/topics/ai/stories/archive/1.atom"} <= set(
        archives
    )
    assert len(archives) > 100
    client = make_app(CONTENT_DIR=str(content), MAX_ITEMS=5).test_client()
    assert _report(client, archives, TEXT_OF_MARKUP) == []


def test_every_subscription_and_story_feed_passes_the_w3c_validator(
    paged_corpus: tuple[Path, list[str]], make_app: Callable[..., Any]
) -> None:
    content, paths = paged_corpus
    current = [path for path in paths if "/archive/" not in path]
    assert {"/all.rss", "/providers/emile-presse.atom", "/topics/privacy-rights/stories.rss"} <= set(current)
    client = make_app(CONTENT_DIR=str(content), MAX_ITEMS=5).test_client()
    assert _report(client, current, TEXT_OF_MARKUP) == []


@pytest.mark.parametrize(
    ("path", "damage", "finding"),
    [
        ("/all.atom", (rb"<id>[^<]*</id>", b""), "Missing feed element: id"),
        (
            "/all.rss",
            (rb"<pubDate>[^<]*</pubDate>", b"<pubDate>yesterday</pubDate>"),
            "pubDate must be an RFC-822",
        ),
        ("/stories.atom", (rb'rel="related"', b'rel="relative"'), "Unregistered link relationship"),
    ],
    ids=["atom-without-ids", "rss-bad-date", "story-bad-link-relation"],
)
def test_the_validator_reports_a_damaged_document(
    path: str,
    damage: tuple[bytes, bytes],
    finding: str,
    copy_seeds: Callable[[], Path],
    make_app: Callable[..., Any],
) -> None:
    """The checks above can fail: the same documents, damaged, are reported."""
    client = make_app(CONTENT_DIR=str(copy_seeds()), UNPUBLISHED=True).test_client()
    response = client.get(path)
    damaged, count = re.subn(damage[0], damage[1], response.data)
    assert count
    found = problems(damaged, BASE_URL + path, response.headers["Content-Type"])
    assert any(finding in line for line in found), found
