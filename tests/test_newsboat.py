"""A real feed reader: Debian's newsboat imports ``feeds.opml`` and loads
every feed of the seeds from ``feedpub serve --static`` on 127.0.0.1 (the
preview of a static host, with production's media types).

newsboat keeps one row per guid in its cache (an entry in three feeds is one
``rss_item``), so the import test checks that every feed loaded and every
entry arrived, and a second test loads each feed alone to count its entries,
in RSS and in Atom. newsboat 2.21 (Debian 12) reads no JSON Feed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from _servers import eventually
from _servers import free_port
from _servers import request

#: Entries of each feed of ``feedpub build seeds --unpublished``: the draft
#: article, its three related items, and the one story they make.
SEED_FEEDS = {
    "all": 4,
    "stories": 1,
    "topics/ai": 4,
    "topics/ai/stories": 1,
    "topics/computer-vision": 4,
    "topics/computer-vision/stories": 1,
    "providers/abc": 1,
    "providers/independent": 1,
    "providers/sky": 1,
    "providers/techcrunch": 1,
    "feeds/high-quality": 2,  # min_quality = 50: TechCrunch (76) and Sky (54)
}
#: Ids (guids) of the entries: their canonical URLs, as no ledger exists yet.
SEED_IDS = {
    "https://abcnews.go.com/International/controversial-facial-recognition-technology-rolled-london-police-alarming/story?id=68501552",
    "https://techcrunch.com/2020/01/24/londons-met-police-switches-on-live-facial-recognition-flying-in-face-of-human-rights-concerns/",
    "https://news.sky.com/story/metropolitan-police-to-make-81-inaccurate-live-facial-recognition-operational-11916479",
    "https://www.independent.co.uk/news/uk/crime/facial-recognition-london-met-police-scotland-yard-privacy-a9299986.html",
}
#: The id of the seeds' one story (a tag: URI, kept apart from entry ids).
STORY_ID = ("tag:abcnews.go.com,2020-01-24:story/International/"
            "controversial-facial-recognition-technology-rolled-london-police-alarming/story?id=68501552")


@pytest.fixture
def newsboat_program(require_tool: Callable[[str], str]) -> str:
    """Path of newsboat; asked for first, so a skip costs no build."""
    return require_tool("newsboat")


@pytest.fixture
def served_seeds(seeds_dir: Path, tmp_path: Path, build: Callable[..., object],
                 feedpub_script: Path) -> Iterator[str]:
    """The seeds built with ``--unpublished`` for a local base URL and served
    by ``feedpub serve --static``; yields the base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    public = tmp_path / "public"
    build(seeds_dir, "--unpublished", out=public, base_url=base_url)
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(feedpub_script), "serve", "--static", str(public),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        def answers() -> bool:
            assert server.poll() is None, log.read_text()
            try:
                return request(port, "/feeds.opml")[0] == 200
            except OSError:
                return False

        eventually(answers, timeout=15)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=10)


class Newsboat:
    """newsboat with its own urls, cache and config files in one folder and
    HOME there too, so that nothing of the machine's user is read or written."""

    def __init__(self, program: str, home: Path) -> None:
        self.program = program
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.urls = home / "urls"
        self.cache = home / "cache.db"
        self.config = home / "config"
        self.error_log = home / "error.log"
        self.urls.touch()
        self.config.write_text(f'error-log "{self.error_log}"\nreload-threads 4\n')

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
        }
        command = [self.program, "-u", str(self.urls), "-c", str(self.cache), "-C", str(self.config), *args]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        return result

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(self.cache)) as db:
            return db.execute(sql).fetchall()

    def errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""


def test_newsboat_imports_the_opml_and_loads_every_feed(
    newsboat_program: str, served_seeds: str, tmp_path: Path
) -> None:
    newsboat = Newsboat(newsboat_program, tmp_path / "newsboat")
    opml = tmp_path / "feeds.opml"
    opml.write_bytes(request(int(served_seeds.rsplit(":", 1)[1]), "/feeds.opml")[2])
    newsboat.run("-i", str(opml))  # imports into the -u urls file
    subscribed = [line.split()[0] for line in newsboat.urls.read_text().splitlines() if line.strip()]
    expected = [f"{served_seeds}/{key}.rss" for key in SEED_FEEDS]
    assert sorted(subscribed) == sorted(expected)

    newsboat.run("-x", "reload")
    assert newsboat.errors() == ""
    feeds = dict(newsboat.query("SELECT rssurl, title FROM rss_feed"))
    # A feed newsboat could not fetch or parse has no row.
    assert set(feeds) == set(expected)
    assert feeds[f"{served_seeds}/topics/computer-vision.rss"] == "Newsroom example: Computer Vision"
    assert feeds[f"{served_seeds}/providers/abc.rss"] == "ABC News"  # [providers."ABC"] title
    items = newsboat.query("SELECT guid, title, pubDate, url FROM rss_item")
    assert {guid for guid, *_ in items} == SEED_IDS | {STORY_ID}
    assert all(title and url.startswith("https://") for _, title, _, url in items)
    # 2020-01-24T13:36:00Z, the seed article's publishedDateTime.
    assert max(published for _, _, published, _ in items) == 1579872960
    unread = newsboat.run("-x", "print-unread").stdout
    assert unread.split()[0] == "5"


@pytest.mark.parametrize("format", ["rss", "atom"])
def test_newsboat_gets_every_entry_of_each_feed(
    newsboat_program: str, served_seeds: str, tmp_path: Path, format: str
) -> None:
    for key, count in SEED_FEEDS.items():
        # One reader per feed: newsboat's cache keeps an entry only once.
        newsboat = Newsboat(newsboat_program, tmp_path / format / key.replace("/", "-"))
        url = f"{served_seeds}/{key}.{format}"
        newsboat.urls.write_text(url + "\n")
        newsboat.run("-x", "reload")
        assert newsboat.errors() == "", key
        assert newsboat.query("SELECT feedurl, count(*) FROM rss_item GROUP BY feedurl") == [(url, count)]
