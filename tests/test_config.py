"""A site that describes itself (issue 12): ``feedpub.toml``, its layering
with options and ``FEEDPUB_*`` variables, curated feeds, scheduled
publishing, and ``Last-Modified`` never later than ``Date``.

Each rule is checked through the surfaces a user has: ``feedpub build`` and
``feedpub check`` (in-process), the Flask app (`make_app`), and gunicorn
where only a real server says (the ``Date`` header).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from _servers import eventually
from _servers import start_gunicorn
from _servers import stop
from click.testing import CliRunner
from click.testing import Result
from lxml import etree

from feedpub.cli import cli
from feedpub.errors import ConfigError

BASE_URL = "https://feeds.example.org"
REPO = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"
FORMATS = ("rss", "atom", "json", "html")


def _settings_file(folder: Path, text: str, name: str = "feedpub.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _atom(tree: dict[str, bytes], path: str) -> etree._Element:
    return etree.fromstring(tree[path])


def _title(body: bytes) -> str:
    return str(feedparser.parse(body).feed.title)


def _links(body: bytes) -> list[str]:
    """Entry links of an Atom document, newest first, as a reader sees them."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [entry.link for entry in parsed.entries]


def _check(runner: CliRunner, content: Path, *options: str) -> Result:
    return runner.invoke(cli, ["check", str(content), *options])


# -- where the file is found -----------------------------------------------------------


@pytest.mark.parametrize("how", ["content root", "--config", "FEEDPUB_CONFIG"])
@pytest.mark.parametrize("command", ["build", "check", "server"])
def test_settings_file_is_found_at_the_content_root_or_where_it_is_given(
    how: str,
    command: str,
    content_dir: Path,
    write_article: Callable[..., Path],
    tmp_path: Path,
    build: Callable[..., Result],
    runner: CliRunner,
    make_app: Callable[..., Any],
    read_tree: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file given by --config or FEEDPUB_CONFIG wins over the content
    folder's own. Build and server show the file's title; check, the warning
    for the file's curated feed that matches nothing."""
    write_article("a.md")
    _settings_file(content_dir, 'title = "Root file"\n[feeds.from-root]\ntopics = ["Nothing"]\n')
    given = _settings_file(
        tmp_path, 'title = "Given file"\n[feeds.from-given]\ntopics = ["Nothing"]\n', "site.toml"
    )
    options: list[str] = []
    config: dict[str, str] = {}
    if how == "--config":
        options, config = ["--config", str(given)], {"CONFIG": str(given)}
    elif how == "FEEDPUB_CONFIG":
        monkeypatch.setenv("FEEDPUB_CONFIG", str(given))
    expected = "Root file" if how == "content root" else "Given file"
    if command == "build":
        build(content_dir, *options)
        assert _title(read_tree(tmp_path / "public")["/all.atom"]) == f"{expected}: all entries"
    elif command == "server":
        body = make_app(**config).test_client().get("/all.atom").data
        assert _title(body) == f"{expected}: all entries"
    else:
        result = _check(runner, content_dir, *options)
        assert result.exit_code == 0, result.output
        feed = "from-root" if how == "content root" else "from-given"
        assert re.search(
            rf"^\S*(feedpub|site)\.toml: warning: \[feeds\.{feed}\] matches no entry",
            result.stderr,
            re.MULTILINE,
        ), result.stderr
        assert "from-root" not in result.stderr or how == "content root"


def test_the_readme_example_names_every_key_and_passes_check(
    copy_seeds: Callable[[], Path], runner: CliRunner
) -> None:
    """The README's example ``feedpub.toml`` documents every key, and is a
    file feedpub accepts."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"## `feedpub.toml`.*?```toml\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    data = tomllib.loads(example[1])
    assert set(data) == {
        "title", "description", "base_url", "language", "icon", "logo", "max_items", "cache_max_age",
        "stale_while_revalidate", "stale_if_error", "future", "hubs", "ledger",
        "topics", "providers", "feeds",
    }  # fmt: skip
    assert {key for feed in data["feeds"].values() for key in feed} == {
        "title", "description", "topics", "providers", "min_quality", "min_heat", "categories", "types",
        "include_related",
    }  # fmt: skip
    seeds = copy_seeds()
    (seeds / "feedpub.toml").write_text(example[1], encoding="utf-8")
    result = _check(runner, seeds)
    assert result.exit_code == 0, result.output
    # Its filters match nothing in the seed (no heat score): a warning, no error.
    assert [
        line for line in result.stderr.splitlines() if "feedpub.toml" in line and "warning" not in line
    ] == []


# -- every key has an effect --------------------------------------------------------------


def _rss_channel(tree: dict[str, bytes], path: str) -> etree._Element:
    return etree.fromstring(tree[path]).find("channel")


def _hrefs(parent: etree._Element, rel: str) -> list[str]:
    """The targets of the Atom links of `parent` (a feed, or an RSS channel) with `rel`."""
    return [link.get("href") for link in parent.findall(f"{ATOM}link") if link.get("rel") == rel]


SITE_KEYS: list[tuple[str, Callable[[dict[str, bytes]], Any], Any]] = [
    (
        'title = "The Daily Feed"',
        lambda t: (_title(t["/all.atom"]), lxml.html.fromstring(t["/"]).findtext(".//h1")),
        ("The Daily Feed: all entries", "The Daily Feed"),
    ),
    (
        'description = "Everything we publish"',
        lambda t: (
            _atom(t, "/all.atom").findtext(f"{ATOM}subtitle"),
            _rss_channel(t, "/all.rss").findtext("description"),
            json.loads(t["/all.json"])["description"],
            b"Everything we publish" in t["/"],
        ),
        ("Everything we publish", "Everything we publish", "Everything we publish", True),
    ),
    (
        'base_url = "https://news.example.net/feeds"',
        lambda t: _hrefs(_atom(t, "/all.atom"), "self"),
        ["https://news.example.net/feeds/all.atom"],
    ),
    (
        'language = "de"',
        lambda t: (
            _rss_channel(t, "/all.rss").findtext("language"),
            json.loads(t["/all.json"])["language"],
            lxml.html.fromstring(t["/all.html"]).get("lang"),
        ),
        ("de", "de", "de"),
    ),
    (
        'icon = "https://img.example.org/icon.png"',
        lambda t: (_atom(t, "/all.atom").findtext(f"{ATOM}icon"), json.loads(t["/all.json"])["favicon"]),
        ("https://img.example.org/icon.png",) * 2,
    ),
    (
        'logo = "https://img.example.org/logo.png"',
        lambda t: (
            _atom(t, "/all.atom").findtext(f"{ATOM}logo"),
            _rss_channel(t, "/all.rss").findtext("image/url"),
            json.loads(t["/all.json"])["icon"],
        ),
        ("https://img.example.org/logo.png",) * 3,
    ),
    ("max_items = 1", lambda t: (len(_links(t["/all.atom"])), "/all/archive/1.atom" in t), (1, True)),
    (
        'hubs = ["https://hub.example.org/"]',
        lambda t: (
            _hrefs(_atom(t, "/all.atom"), "hub"),
            _hrefs(_rss_channel(t, "/all.rss"), "hub"),
            json.loads(t["/all.json"])["hubs"],
        ),
        (
            ["https://hub.example.org/"],
            ["https://hub.example.org/"],
            [{"type": "WebSub", "url": "https://hub.example.org/"}],
        ),
    ),
    ("future = true", lambda t: len(_links(t["/all.atom"])), 3),
    # A topic's table matches the name as the content writes it, whatever its case.
    (
        '[topics."ai"]\ntitle = "Machine learning"\ndescription = "Models and the people who make them"',
        lambda t: (
            _title(t["/topics/ai.atom"]),
            _atom(t, "/topics/ai.atom").findtext(f"{ATOM}subtitle"),
            json.loads(t["/topics/ai.json"])["description"],
        ),
        ("Machine learning", "Models and the people who make them", "Models and the people who make them"),
    ),
    (
        '[providers."Example News"]\ntitle = "Example News Ltd"\ndescription = "A wire service"',
        lambda t: (
            _title(t["/providers/example-news.atom"]),
            _rss_channel(t, "/providers/example-news.rss").findtext("description"),
        ),
        ("Example News Ltd", "A wire service"),
    ),
    (
        '[feeds.everything]\ntitle = "All of it"\ndescription = "Every entry, curated"',
        lambda t: (
            _title(t["/feeds/everything.atom"]),
            _atom(t, "/feeds/everything.atom").findtext(f"{ATOM}subtitle"),
            len(_links(t["/feeds/everything.atom"])),
        ),
        ("All of it", "Every entry, curated", 2),
    ),
]


@pytest.mark.parametrize(
    ("toml", "observe", "expected"), SITE_KEYS, ids=[case[0].split()[0] for case in SITE_KEYS]
)
def test_each_key_of_the_settings_file_shows_in_the_build(
    toml: str,
    observe: Callable[[dict[str, bytes]], Any],
    expected: Any,
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
) -> None:
    write_article("a.md", publishedDateTime="2024-05-01T12:00:00Z")
    write_article("b.md", publishedDateTime="2024-05-02T12:00:00Z")
    write_article("later.md", publishedDateTime="2099-01-01T12:00:00Z")
    _settings_file(content_dir, toml + "\n")
    base_url = None if toml.startswith("base_url") else BASE_URL
    build(content_dir, "--now", "2024-06-01T00:00:00Z", base_url=base_url)
    assert observe(read_tree(tmp_path / "public")) == expected


@pytest.mark.parametrize(
    ("toml", "header"),
    [
        ("", "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"),
        ("cache_max_age = 30", "public, max-age=30, stale-while-revalidate=60, stale-if-error=86400"),
        ("stale_while_revalidate = 5", "public, max-age=300, stale-while-revalidate=5, stale-if-error=86400"),
        ("stale_if_error = 0", "public, max-age=300, stale-while-revalidate=60, stale-if-error=0"),
    ],
)
def test_cache_lifetimes_of_the_settings_file_show_in_cache_control(
    toml: str,
    header: str,
    content_dir: Path,
    write_article: Callable[..., Path],
    make_app: Callable[..., Any],
) -> None:
    write_article("a.md")
    _settings_file(content_dir, toml + "\n")
    client = make_app().test_client()
    for path in ("/all.atom", "/", "/all.html", "/feeds.opml"):
        assert client.get(path).headers["Cache-Control"] == header, path


def test_ledger_key_moves_the_id_ledger(
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Result],
) -> None:
    """A relative ``ledger`` path is relative to the settings file."""
    write_article("a.md")
    _settings_file(content_dir, 'ledger = "state/ids.tsv"\n')
    (content_dir / "state").mkdir()
    build(content_dir)
    assert not (content_dir / ".feedpub-ids").exists()
    assert "https://news.example.com/a" in (content_dir / "state" / "ids.tsv").read_text()


# -- curated feeds ------------------------------------------------------------------------


@pytest.fixture
def newsroom(content_dir: Path, write_article: Callable[..., Path]) -> Path:
    """Three articles (one with a related item) with distinct topics,
    providers, scores, categories and types."""
    write_article(
        "a.md",
        publishedDateTime="2024-05-03T12:00:00Z",
        provider={"name": "Wire One"},
        topics=["AI"],
        quality=80,
        heat=10,
        category="news",
        type="article",
        related=[
            {
                "title": "A's echo",
                "sourceUrl": "https://echo.example.net/a",
                "quality": 60,
                "publishedDateTime": "2024-05-03T11:00:00Z",
                "provider": {"name": "Wire Two"},
                "type": "video",
            }
        ],
    )
    write_article(
        "b.md",
        publishedDateTime="2024-05-02T12:00:00Z",
        provider={"name": "Wire Two"},
        topics=["Space"],
        quality=30,
        heat=-1,
        category="opinion",
        type="article",
    )
    write_article(
        "c.md",
        publishedDateTime="2024-05-01T12:00:00Z",
        provider={"name": "Wire Three"},
        topics=["AI", "Space"],
        heat=50,
        category="News",
        type="video",
    )
    return content_dir


A, ECHO, B, C = (
    "https://news.example.com/a",
    "https://echo.example.net/a",
    "https://news.example.com/b",
    "https://news.example.com/c",
)
CURATED = {
    "space": ('topics = ["space"]', [B, C]),
    "wire-two": ('providers = ["WIRE TWO"]', [ECHO, B]),
    "wire-two-articles": ('providers = ["Wire Two"]\ninclude_related = false', [B]),
    "good": ("min_quality = 50", [A, ECHO]),
    "hot": ("min_heat = 20", [C]),
    "news": ('categories = ["news"]', [A, C]),
    "video": ('types = ["video"]', [ECHO, C]),
    "good-ai": ('topics = ["AI"]\nmin_quality = 70', [A]),
}


def test_curated_feeds_list_the_entries_matching_every_filter(
    newsroom: Path,
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """Each list filter matches any of its values (names and values in any
    case); every filter given must hold; related items count unless
    ``include_related = false``; entries without a score never pass a
    minimum."""
    _settings_file(
        newsroom, "".join(f"[feeds.{name}]\n{filters}\n" for name, (filters, _) in CURATED.items())
    )
    result = build(newsroom)
    assert "warning" not in result.output
    tree = read_tree(tmp_path / "public")
    assert {name: _links(tree[f"/feeds/{name}.atom"]) for name in CURATED} == {
        name: expected for name, (_, expected) in CURATED.items()
    }
    for name in CURATED:
        assert all(f"/feeds/{name}.{format}" in tree for format in FORMATS)


def test_a_curated_feed_matching_nothing_is_a_valid_empty_feed_and_a_warning(
    newsroom: Path,
    build: Callable[..., Result],
    runner: CliRunner,
    read_tree: Callable[..., Any],
    tmp_path: Path,
) -> None:
    settings = _settings_file(newsroom, '[feeds.nothing]\ntopics = ["Gardening"]\n')
    warning = f"{settings}: warning: [feeds.nothing] matches no entry; its feed is empty"
    result = build(newsroom)
    assert warning in result.stderr.splitlines()
    checked = _check(runner, newsroom)
    assert checked.exit_code == 0 and warning in checked.stderr.splitlines()
    tree = read_tree(tmp_path / "public")
    atom = _atom(tree, "/feeds/nothing.atom")
    assert atom.findall(f"{ATOM}entry") == []
    assert all(atom.findtext(f"{ATOM}{name}") for name in ("id", "title", "updated"))
    channel = _rss_channel(tree, "/feeds/nothing.rss")
    assert channel.findall("item") == [] and all(
        channel.findtext(name) for name in ("title", "link", "description")
    )
    assert json.loads(tree["/feeds/nothing.json"])["items"] == []
    assert b"No entries yet." in tree["/feeds/nothing.html"]
    assert not feedparser.parse(tree["/feeds/nothing.atom"]).bozo


# -- the seeds' settings file -----------------------------------------------------------


def test_seed_settings_file_describes_topics_providers_and_a_curated_feed(
    copy_seeds: Callable[[], Path],
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
    make_app: Callable[..., Any],
) -> None:
    """The seed (a draft, so --unpublished) under seeds/feedpub.toml: the
    high-quality feed holds exactly the items scoring 50 or more
    (TechCrunch 76, Sky 54; not ABC 43 nor Independent 32), is listed on the
    index and in the OPML, and is served as built."""
    seeds = copy_seeds()
    build(seeds, "--unpublished")
    tree = read_tree(tmp_path / "public")
    ai = _atom(tree, "/topics/ai.atom")
    assert ai.findtext(f"{ATOM}subtitle") == (
        "Artificial intelligence: the stories, and every outlet's coverage of them"
    )
    assert _title(tree["/providers/abc.atom"]) == "ABC News"
    assert _title(tree["/all.atom"]) == "Newsroom example: all entries"
    curated = feedparser.parse(tree["/feeds/high-quality.atom"])
    assert curated.feed.title == "Newsroom example: the best-rated coverage"
    assert curated.feed.subtitle == "Entries with an editorial quality score of 50 or more"
    assert sorted(entry.author for entry in curated.entries) == ["Sky", "TechCrunch"]
    index = lxml.html.fromstring(tree["/"])
    assert f"{BASE_URL}/feeds/high-quality.html" in index.xpath("//a/@href")
    assert f"{BASE_URL}/feeds/high-quality.atom" in index.xpath("//link[@rel='alternate']/@href")
    opml = etree.fromstring(tree["/feeds.opml"])
    assert [
        o.get("title")
        for o in opml.iter("outline")
        if o.get("xmlUrl") == f"{BASE_URL}/feeds/high-quality.rss"
    ] == ["Newsroom example: the best-rated coverage"]
    client = make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True).test_client()
    for path in [
        "/",
        "/feeds.opml",
        "/topics/ai.atom",
        "/providers/abc.rss",
        *(f"/feeds/high-quality.{format}" for format in FORMATS),
    ]:
        assert client.get(path).data == tree[path], path


def test_seed_curated_feed_is_empty_while_the_seed_is_a_draft(
    copy_seeds: Callable[[], Path],
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
) -> None:
    result = build(copy_seeds())
    assert "4 entries withheld as drafts" in result.stdout
    assert "[feeds.high-quality] matches no entry" in result.stderr
    assert _links(read_tree(tmp_path / "public")["/feeds/high-quality.atom"]) == []


# -- precedence -------------------------------------------------------------------------


LAYERS = ["option", "environment", "file", "default"]


@pytest.mark.parametrize("top", LAYERS)
@pytest.mark.parametrize(
    ("setting", "values", "observe"),
    [
        (
            "title",
            ("Option", "Environment", "File", "feedpub"),
            lambda t: _title(t["/all.atom"]).removesuffix(": all entries"),
        ),
        ("max_items", ("10", "20", "30", "50"), lambda t: len(_links(t["/all.atom"]))),
        (
            "base_url",
            ("https://option.example", "https://environment.example", "https://file.example", None),
            lambda t: _atom(t, "/all.atom").findtext(f"{ATOM}id").removesuffix("/all.atom"),
        ),
    ],
)
def test_build_takes_option_then_environment_then_file_then_default(
    top: str,
    setting: str,
    values: tuple[Any, ...],
    observe: Callable[[dict[str, bytes]], Any],
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every layer below `top` is given too, with a value of its own."""
    for number in range(51):  # one more than the default max_items
        write_article(f"a{number}.md", publishedDateTime=f"2024-05-01T12:{number:02d}:00Z")
    given = LAYERS.index(top)
    options = []
    if given <= 0:
        options = [f"--{setting.replace('_', '-')}", values[0]]
    if given <= 1:
        monkeypatch.setenv(f"FEEDPUB_{setting.upper()}", values[1])
    if given <= 2:
        value = values[2] if setting == "max_items" else json.dumps(values[2])
        _settings_file(content_dir, f"{setting} = {value}\n")
    if setting == "base_url" and top == "default":
        result = build(content_dir, base_url=None, ok=False)
        assert result.exit_code == 1 and "a base URL is needed" in result.output
        return
    build(content_dir, *options, base_url=None if setting == "base_url" else BASE_URL)
    expected = values[given]
    assert observe(read_tree(tmp_path / "public")) == (int(expected) if setting == "max_items" else expected)


@pytest.mark.parametrize("top", LAYERS)
def test_server_takes_its_mapping_then_environment_then_file_then_default(
    top: str,
    content_dir: Path,
    write_article: Callable[..., Path],
    make_app: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_article("a.md")
    given = LAYERS.index(top)
    config: dict[str, Any] = {}
    if given <= 0:
        config = {"TITLE": "Option", "CACHE_MAX_AGE": 1}
    if given <= 1:
        monkeypatch.setenv("FEEDPUB_TITLE", "Environment")
        monkeypatch.setenv("FEEDPUB_CACHE_MAX_AGE", "2")
    if given <= 2:
        _settings_file(content_dir, 'title = "File"\ncache_max_age = 3\n')
    response = make_app(**config).test_client().get("/all.atom")
    title, age = [("Option", 1), ("Environment", 2), ("File", 3), ("feedpub", 300)][given]
    assert _title(response.data) == f"{title}: all entries"
    assert response.headers["Cache-Control"].startswith(f"public, max-age={age},")


@pytest.mark.parametrize("top", ["option", "environment", "clock"])
def test_check_takes_its_instant_from_the_option_then_the_environment(
    top: str,
    content_dir: Path,
    write_article: Callable[..., Path],
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An article dated 2090 is "more than a year ahead" of the clock and of
    FEEDPUB_NOW, not of --now 2090."""
    write_article("far.md", publishedDateTime="2090-06-01T00:00:00Z")
    options = ["--now", "2090-01-01T00:00:00Z"] if top == "option" else []
    if top != "clock":
        monkeypatch.setenv("FEEDPUB_NOW", "2030-01-01T00:00:00Z")
    result = _check(runner, content_dir, *options)
    assert result.exit_code == 0, result.output
    assert ("more than a year ahead" in result.stderr) is (top != "option")


# -- bad settings -------------------------------------------------------------------------


BAD_FILES = [
    # (file text, line, message)
    ('title = "Site"\ntitel = "Site"\n', 2, "unknown key 'titel'"),
    (
        "unpublished = true\n",
        1,
        "unknown key 'unpublished' (it is set on the command line or with FEEDPUB_*)",
    ),
    ('title = "Site"\nmax_items = "20"\n', 2, "max_items: must be a number, not a string ('20')"),
    ("max_items = 0\n", 1, "max_items: 0 is out of range"),
    ("future = 2\n", 1, "future: must be true or false"),
    ('hubs = "https://hub.example.org/"\n', 1, "hubs: must be a list"),
    (
        'icon = "ftp://img.example.org/icon.png"\n',
        1,
        "icon: 'ftp://img.example.org/icon.png' is not an absolute http",
    ),
    (
        'title = "Site"\n\nhubs = ["https://hub.example.org/", "javascript:alert(1)"]\n',
        3,
        "hubs: 'javascript:alert(1)' is not an absolute http",
    ),
    ('base_url = "feeds.example.org"\n', 1, "base_url"),
    ('title = "Site\n', 1, "TOML syntax error"),
    (
        'title = "Site"\n[feeds.good]\nmin_quality = 50\ncolour = "red"\n',
        4,
        "unknown key 'colour' in [feeds.good]",
    ),
    ('[feeds.good]\nmin_quality = "50"\n', 2, "feeds.good.min_quality: must be a number"),
    ("[feeds.good]\nmin_quality = 101\n", 2, "feeds.good.min_quality: 101 is out of range"),
    ("[feeds.good]\ninclude_related = 'no'\n", 2, "feeds.good.include_related: must be true or false"),
    ("\n[feeds.Best_Of]\nmin_quality = 1\n", 2, "feed name 'Best_Of' must be lower-case letters"),
    ('[topics."AI"]\ntitle = "AI"\nsummary = "x"\n', 3, "unknown key 'summary' in [topics.AI]"),
    ('[providers."Example News"]\ntitle = 3\n', 2, 'providers."Example News".title: must be a string'),
    ('topics = "AI"\n', 1, "topics must be a table of tables"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    BAD_FILES,
    ids=[(case.values if hasattr(case, "values") else case)[2][:40] for case in BAD_FILES],
)
@pytest.mark.parametrize("surface", ["check", "build", "server"])
def test_a_bad_settings_file_is_a_clear_error_naming_file_and_line(
    surface: str,
    text: str,
    line: int,
    message: str,
    content_dir: Path,
    write_article: Callable[..., Path],
    runner: CliRunner,
    build: Callable[..., Result],
    make_app: Callable[..., Any],
) -> None:
    """check lists it as path:line: message and exits 1; build exits 1 with
    that one line; the server refuses to start with a ConfigError."""
    write_article("a.md")
    path = _settings_file(content_dir, text)
    where = f"{path}:{line}: "
    if surface == "server":
        with pytest.raises(ConfigError) as caught:
            make_app()
        assert str(caught.value).startswith(where) and message in str(caught.value)
        return
    if surface == "check":
        result = _check(runner, content_dir)
        lines = result.stderr.splitlines()
    else:
        result = build(content_dir, ok=False)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        lines = result.output.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), lines
        lines = [lines[0].removeprefix("Error: ")]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith(where) and message in lines[0], lines


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FEEDPUB_MAX_ITEMS", "many"),
        ("FEEDPUB_BASE_URL", "ftp://feeds.example.org"),
        ("FEEDPUB_TITLE", " "),
        ("FEEDPUB_FUTURE", "maybe"),
        ("FEEDPUB_CONFIG", "/no/such/feedpub.toml"),
    ],
)
def test_a_bad_environment_variable_is_a_clear_error_naming_it(
    variable: str,
    value: str,
    content_dir: Path,
    write_article: Callable[..., Path],
    build: Callable[..., Result],
    make_app: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_article("a.md")
    monkeypatch.setenv(variable, value)
    result = build(content_dir, base_url=None, ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    with pytest.raises(ConfigError):
        make_app(BASE_URL=None)


@pytest.mark.parametrize(
    "setting",
    [
        {"BASE_URL": "ftp://example.org"},
        {"MAX_ITEMS": 0},
        {"UNPUBLISHED": "maybe"},
        {"TITLE": 5},
        {"NO_SUCH_SETTING": 1},
    ],
)
def test_a_bad_setting_of_the_app_mapping_stops_its_start(
    setting: dict[str, Any],
    content_dir: Path,
    make_app: Callable[..., Any],
) -> None:
    with pytest.raises(ConfigError):
        make_app(**setting)


# -- scheduled publishing -----------------------------------------------------------------


NOW = "2024-06-01T00:00:00Z"


@pytest.fixture
def scheduled(content_dir: Path, write_article: Callable[..., Path]) -> Path:
    """An article of the past and one dated a month after `NOW`."""
    write_article("past.md", publishedDateTime="2024-05-01T12:00:00Z")
    write_article("soon.md", publishedDateTime="2024-07-01T12:00:00Z")
    return content_dir


def test_a_future_article_is_withheld_and_counted_as_scheduled(
    scheduled: Path,
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
) -> None:
    result = build(scheduled, "--now", NOW)
    assert ", 1 scheduled for later (--future includes them)" in result.stdout
    assert "draft" not in result.stdout
    tree = read_tree(tmp_path / "public")
    assert _links(tree["/all.atom"]) == ["https://news.example.com/past"]
    assert not any(b"news.example.com/soon" in body for body in tree.values())
    index = lxml.html.fromstring(tree["/"])
    assert (
        index.xpath("normalize-space(//p[contains(@class, 'scheduled')])")
        == "1 entry is scheduled for later."
    )
    assert not index.xpath("//p[contains(@class, 'withheld')]")


@pytest.mark.parametrize("how", ["--future", "FEEDPUB_FUTURE", "future = true"])
def test_future_publishes_a_scheduled_article_now(
    how: str,
    scheduled: Path,
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = [how] if how.startswith("--") else []
    if how == "FEEDPUB_FUTURE":
        monkeypatch.setenv(how, "1")
    elif not options:
        _settings_file(scheduled, how + "\n")
    result = build(scheduled, "--now", NOW, *options)
    assert "scheduled" not in result.stdout
    links = _links(read_tree(tmp_path / "public")["/all.atom"])
    assert links == ["https://news.example.com/soon", "https://news.example.com/past"]


def test_a_build_after_its_time_includes_a_scheduled_article(
    scheduled: Path,
    build: Callable[..., Result],
    read_tree: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """The same store and output folder, a later --now: the article joins
    its feeds; the output is that of a fresh build at that instant."""
    build(scheduled, "--now", NOW)
    result = build(scheduled, "--now", "2024-07-01T12:00:00Z")
    assert "scheduled" not in result.stdout
    tree = read_tree(tmp_path / "public")
    assert _links(tree["/all.atom"]) == ["https://news.example.com/soon", "https://news.example.com/past"]
    build(scheduled, "--now", "2024-07-01T12:00:00Z", "--no-cache", out=tmp_path / "fresh")
    assert read_tree(tmp_path / "fresh") == tree


@pytest.mark.parametrize(
    ("dated", "warned"),
    [
        ({"publishedDateTime": "2025-06-02T00:00:00Z"}, "publishedDateTime"),
        (
            {
                "related": [
                    {
                        "title": "Far",
                        "sourceUrl": "https://other.example.net/far",
                        "publishedDateTime": "2026-01-01T00:00:00Z",
                        "provider": {"name": "Other"},
                    }
                ]
            },
            "related[0].publishedDateTime",
        ),
        ({"publishedDateTime": "2025-05-01T00:00:00Z"}, None),
    ],
)
def test_check_warns_about_dates_more_than_a_year_ahead(
    dated: dict[str, Any],
    warned: str | None,
    content_dir: Path,
    write_article: Callable[..., Path],
    runner: CliRunner,
) -> None:
    write_article("a.md", **dated)
    result = _check(runner, content_dir, "--now", NOW)
    assert result.exit_code == 0, result.output
    found = [line for line in result.stderr.splitlines() if "more than a year ahead" in line]
    if warned is None:
        assert found == []
    else:
        assert found == [
            f"{content_dir}/a.md: warning: {warned} is more than a year ahead; it is withheld until "
            "then (a typo in the year?)"
        ]


def test_the_server_publishes_a_scheduled_article_at_its_time(
    content_dir: Path,
    write_article: Callable[..., Path],
    make_app: Callable[..., Any],
) -> None:
    """No file is touched: the live refresher wakes up for the article's time."""
    write_article("past.md", publishedDateTime="2024-05-01T12:00:00Z")
    due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    write_article("due.md", publishedDateTime=due.isoformat().replace("+00:00", "Z"))
    app = make_app(RELOAD_INTERVAL=0.2)
    client = app.test_client()
    assert _links(client.get("/all.atom").data) == ["https://news.example.com/past"]
    assert client.get("/healthz").get_json()["scheduled"] == 1
    app.extensions["feedpub"].start()

    def published() -> bool:
        return "https://news.example.com/due" in _links(client.get("/all.atom").data)

    eventually(published, timeout=15)
    assert datetime.now(UTC) >= due
    assert client.get("/healthz").get_json()["scheduled"] == 0
    assert b"news.example.com/due" in client.get("/topics/ai.json").data


# -- Last-Modified is never in the future -------------------------------------------------


def _every_path(client: Any) -> list[str]:
    """The index, the OPML and every form of every feed the index lists."""
    index = lxml.html.fromstring(client.get("/").data)
    pages = [href.removeprefix(BASE_URL) for href in index.xpath("//main//a/@href") if href.endswith(".html")]
    assert pages
    return ["/", "/feeds.opml", *(page[: -len("html")] + format for page in pages for format in FORMATS)]


@pytest.mark.parametrize("future", [False, True])
def test_last_modified_is_never_later_than_the_response(
    future: bool,
    content_dir: Path,
    write_article: Callable[..., Path],
    make_app: Callable[..., Any],
) -> None:
    """An article dated 2100, published with FUTURE=1, puts 2100 in the
    feed's updated but not in Last-Modified, which then still answers
    If-Modified-Since."""
    write_article("now.md", publishedDateTime="2024-05-01T12:00:00Z")
    write_article("far.md", publishedDateTime="2100-01-01T00:00:00Z", topics=["Far future"])
    client = make_app(FUTURE=future).test_client()
    paths = _every_path(client)
    assert ("/topics/far-future.atom" in paths) is future
    for path in paths:
        response = client.get(path)
        answered = datetime.now(UTC)
        assert response.status_code == 200, path
        if "Last-Modified" not in response.headers:
            # Showing only an entry of the future: no date to give.
            assert path.startswith("/topics/far-future"), path
            continue
        last_modified = parsedate_to_datetime(response.headers["Last-Modified"])
        assert last_modified <= answered, path
        again = client.get(path, headers={"If-Modified-Since": response.headers["Last-Modified"]})
        assert again.status_code == 304, path
    updated = _atom({"/": client.get("/all.atom").data}, "/").findtext(f"{ATOM}updated")
    assert updated.startswith("2100-01-01" if future else "2024-05-01")


def test_gunicorn_sends_no_last_modified_after_its_date(
    content_dir: Path,
    write_article: Callable[..., Path],
) -> None:
    write_article("now.md", publishedDateTime="2024-05-01T12:00:00Z")
    write_article("far.md", publishedDateTime="2100-01-01T00:00:00Z")
    server = start_gunicorn(content_dir, workers=1, env={"FEEDPUB_FUTURE": "1", "FEEDPUB_BASE_URL": BASE_URL})
    try:
        for path in [
            "/",
            "/feeds.opml",
            *(f"/all.{format}" for format in FORMATS),
            "/topics/ai.atom",
            "/providers/example-news.rss",
        ]:
            status, headers, body = server.request(path)
            assert status == 200, path
            assert parsedate_to_datetime(headers["Last-Modified"]) <= parsedate_to_datetime(
                headers["Date"]
            ), path
        assert b"news.example.com/far" in server.request("/all.atom")[2]
    finally:
        stop(server)
