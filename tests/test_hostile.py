"""Bad and hostile content (SPEC §5, issue 4): a clear message for each
file, nothing else lost, nothing leaked, never a traceback or a 500.

`CASES` pairs every file of the corpus with what it must give: whether its
article is published, and each problem as (line, severity, a distinctive
part of the message). Most inputs are files in ``tests/hostile/``; the few
that would be awkward in git (over 1 MiB, not UTF-8, raw control
characters, symlinks, a FIFO, very long lists) are made by `GENERATED`
below, beside their expected results.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner

from feedpub import catalog as catalogs
from feedpub import content
from feedpub.cli import cli
from feedpub.model import Problem
from feedpub.web import create_app

HOSTILE = Path(__file__).with_name("hostile")
BASE_URL = "https://feeds.example.org"

PUBLISHED, REFUSED = True, False
E, W = "error", "warning"

VALID = (
    "title: A story\n"
    "sourceUrl: https://news.example.com/{name}\n"
    "publishedDateTime: 2024-05-01T12:00:00Z\n"
    "provider: {{name: Example News}}\n"
)


def _article(name: str, extra: str = "", body: str = "") -> bytes:
    return f"---\n{VALID.format(name=name)}{extra}---\n{body}".encode()


#: Inputs made by the test: name → bytes, or a function making the file at a path.
GENERATED: dict[str, bytes | Callable[[Path], None]] = {
    # One byte over the default limit of 1 MiB; the body makes up the size.
    "oversized.md": _article("oversized", body="x" * content.MAX_FILE_BYTES),
    # Latin-1, not UTF-8: "é" is the single byte 0xe9, on line 2.
    "not-utf8.md": b"---\ntitle: Caf\xe9\n---\n",
    # Raw control characters: libyaml alone would refuse the whole file.
    "raw-controls.md": _article("raw-controls", body="Body\x00 text\n").replace(
        b"A story", b"A\x01 st\x0cory"
    ),
    "long-topics.md": _article("long-topics", "topics: [" + ", ".join(f"t{i}" for i in range(5_000)) + "]\n"),
    # Old related items, so that they do not push the good articles out of all.atom.
    "long-related.md": _article(
        "long-related",
        "related:\n"
        + "".join(
            f"  - {{title: R{i}, sourceUrl: 'https://related.example.net/{i}',"
            f" publishedDateTime: 2020-01-01T00:00:00Z, provider: {{name: Bulk Wire}}}}\n"
            for i in range(150)
        ),
    ),
    "too-many-values.md": _article("too-many", "topics: [" + ", ".join(["x"] * 21_000) + "]\n"),
    "dangling-symlink.md": lambda path: path.symlink_to(path.with_name("nowhere.md")),
    "symlink-loop.md": lambda path: path.symlink_to(path.name),
    "fifo.md": lambda path: os.mkfifo(path),
}

#: Every case → (is its article published?, its problems in line order).
CASES: dict[str, tuple[bool, list[tuple[int | None, str, str]]]] = {
    # Good articles: published, no problem.
    "good-full.md": (PUBLISHED, []),
    "good-bom-crlf.txt": (PUBLISHED, []),
    "good-minimal.yaml": (PUBLISHED, []),
    "draft.md": (PUBLISHED, []),  # loaded, then withheld from every output
    # Unreadable files.
    "dangling-symlink.md": (REFUSED, [(None, E, "cannot read file: No such file or directory")]),
    "symlink-loop.md": (REFUSED, [(None, E, "cannot read file")]),
    "fifo.md": (REFUSED, [(None, E, "not a regular file; refused")]),
    # Size and encoding.
    "oversized.md": (
        REFUSED,
        [(None, E, "file is larger than the limit of 1,048,576 bytes; refused")],
    ),
    "not-utf8.md": (REFUSED, [(2, E, "not UTF-8 text (byte 0xe9 cannot be decoded)")]),
    # The --- fence.
    "fence-missing.md": (REFUSED, [(1, E, "no front matter: the first line must be '---'")]),
    "fence-unclosed.md": (REFUSED, [(1, E, "front matter opened on line 1 is never closed")]),
    "front-matter-empty.md": (REFUSED, [(2, E, "front matter is empty")]),
    # YAML.
    "yaml-syntax.md": (
        REFUSED,
        [
            (
                4,
                E,
                "YAML syntax error: found unexpected end of stream"
                " (while scanning a quoted scalar that starts on line 2)",
            )
        ],
    ),
    "yaml-bad-indent.md": (REFUSED, [(5, E, "YAML syntax error: did not find expected key")]),
    "yaml-python-object.md": (
        REFUSED,
        [(4, E, "YAML tag !!python/object/apply:os.system is not allowed")],
    ),
    "yaml-python-name.md": (REFUSED, [(3, E, "YAML tag !!python/name:os.system is not allowed")]),
    "yaml-unknown-tag.md": (REFUSED, [(3, E, "YAML tag !include is not allowed")]),
    # Locating the bad value must visit each aliased node once, not 9**20 times.
    "yaml-alias-bomb-bad-value.md": (REFUSED, [(25, E, "published: not true or false: 'maybe'")]),
    # PyYAML raised a KeyError here, which escaped the loader.
    "yaml-bad-tagged-value.md": (REFUSED, [(6, E, "published: not true or false: 'maybe'")]),
    "yaml-binary.md": (REFUSED, [(2, E, "title: must be text, not binary data")]),
    "yaml-huge-number.md": (REFUSED, [(6, E, "quality: not a whole number: '1000")]),
    "yaml-alias-bomb.md": (
        REFUSED,
        [(8, E, "e: the front matter expands to more than 20,000 values (YAML aliases")],
    ),
    "yaml-alias-recursive.md": (
        REFUSED,
        [(4, E, "topics: the front matter expands to more than 20,000 values")],
    ),
    "yaml-deep-nesting.md": (
        REFUSED,
        [(4, E, "YAML syntax error: exceeded maximum nesting depth")],
    ),
    "too-many-values.md": (
        REFUSED,
        [(6, E, "topics: the front matter expands to more than 20,000 values")],
    ),
    # The top level and field types.
    "top-level-list.md": (
        REFUSED,
        [(2, E, "front matter must be a mapping of fields, not a list")],
    ),
    "top-level-string.md": (
        REFUSED,
        [(2, E, "front matter must be a mapping of fields, not a string")],
    ),
    "type-topics-string.md": (REFUSED, [(8, E, "topics: must be a list, not a string")]),
    "type-provider-missing.md": (
        REFUSED,
        [(2, E, "provider: is required (a mapping with a name)")],
    ),
    "type-provider-string.md": (
        REFUSED,
        [(5, E, "provider: must be a mapping with a name, not a string")],
    ),
    "type-provider-no-name.md": (REFUSED, [(6, E, "provider.name: is required")]),
    "type-related-not-list.md": (REFUSED, [(8, E, "related: must be a list, not a string")]),
    "type-related-item-not-mapping.md": (
        PUBLISHED,
        [
            (
                13,
                E,
                "related[1]: must be a mapping of fields, not a string (this related item is left out)",
            )
        ],
    ),
    "type-title-mapping.md": (REFUSED, [(2, E, "title: must be text, not a mapping")]),
    "type-published-string.md": (
        REFUSED,
        [(8, E, "published: must be true or false, not a string")],
    ),
    "type-image-not-mapping.md": (
        PUBLISHED,
        [(9, W, "images[0]: must be a mapping with a url, not a string; ignored")],
    ),
    # Required fields.
    "missing-title.md": (REFUSED, [(2, E, "title: is required")]),
    "missing-sourceurl.md": (REFUSED, [(2, E, "sourceUrl: is required")]),
    "missing-date.md": (REFUSED, [(2, E, "publishedDateTime: is required")]),
    # Dates.
    "date-unparseable.md": (
        REFUSED,
        [(4, E, "publishedDateTime: not an ISO 8601 date-time: 'yesterday at noon'")],
    ),
    "date-impossible.md": (
        REFUSED,
        [
            (
                4,
                E,
                "publishedDateTime: not an ISO 8601 date-time:"
                " '2024-13-45T99:00:00Z' (month must be in 1..12)",
            )
        ],
    ),
    "date-impossible-quoted.md": (
        REFUSED,
        [
            (
                4,
                E,
                "publishedDateTime: not an ISO 8601 date-time:"
                " '2024-02-30T10:00:00+01:00' (day is out of range for month)",
            )
        ],
    ),
    "date-out-of-range.md": (REFUSED, [(4, E, "publishedDateTime: year 1 is out of range")]),
    "date-no-offset.md": (
        PUBLISHED,
        [(4, W, "publishedDateTime: has no UTC offset; taken as UTC")],
    ),
    "date-only.md": (
        PUBLISHED,
        [(4, W, "publishedDateTime: a date without a time; taken as midnight UTC")],
    ),
    # URLs.
    "url-javascript.md": (
        REFUSED,
        [(3, E, "sourceUrl: not an absolute http(s) URL: 'javascript:alert(document.cookie)'")],
    ),
    "url-data.md": (REFUSED, [(3, E, "sourceUrl: not an absolute http(s) URL: 'data:text/html")]),
    "url-ftp.md": (
        REFUSED,
        [(3, E, "sourceUrl: not an absolute http(s) URL: 'ftp://files.example.com/story'")],
    ),
    "url-relative.md": (
        REFUSED,
        [(3, E, "sourceUrl: not an absolute http(s) URL: '/news/relative-story'")],
    ),
    "url-too-long.md": (REFUSED, [(3, E, "sourceUrl: URL longer than 2,048 characters")]),
    "url-images-and-amp.md": (
        PUBLISHED,
        [
            (5, W, "ampUrl: not an absolute http(s) URL: 'javascript:alert(1)'; dropped"),
            (8, W, "images[0].url: not an absolute http(s) URL: 'javascript:alert(1)'; dropped"),
            (9, W, "images[1].url: not an absolute http(s) URL: 'data:image/png"),
            (
                10,
                W,
                "images[2].url: not an absolute http(s) URL: 'ftp://img.example.com/a.jpg'",
            ),
            (11, W, "images[3].url: not an absolute http(s) URL: '/relative.jpg'; dropped"),
        ],
    ),
    "url-related-item-javascript.md": (
        PUBLISHED,
        [
            (
                8,
                E,
                "related[0].sourceUrl: not an absolute http(s) URL: 'javascript:alert(1)'"
                " (this related item is left out)",
            )
        ],
    ),
    # Characters XML 1.0 forbids, and HTML.
    "xml-escaped-controls.md": (
        PUBLISHED,
        [(2, W, "title: characters that XML 1.0 forbids were removed (U+0000, U+0007, U+001B)")],
    ),
    "raw-controls.md": (
        PUBLISHED,
        [
            (2, W, "title: characters that XML 1.0 forbids were removed (U+0001, U+000C)"),
            (7, W, "body: characters that XML 1.0 forbids were removed (U+0000)"),
        ],
    ),
    "html-in-fields.md": (PUBLISHED, []),  # kept as text; escaped on output
    # The same URL in two files.
    "duplicate-url-1.md": (PUBLISHED, []),
    "duplicate-url-2.md": (
        PUBLISHED,
        [
            (
                None,
                W,
                "sourceUrl https://shared.example.com/story?q=a+b is also the article of"
                " duplicate-url-1.md;"
                " merged into one entry, the fields of duplicate-url-1.md win",
            )
        ],
    ),
    # Topic and provider names.
    "slug-collision.md": (
        PUBLISHED,
        [
            (
                None,
                W,
                "provider 'AT&T News' shares the slug 'at-t-news' with another provider;"
                " its feed is at-t-news-",
            ),
            (None, W, "topic 'C++' shares the slug 'c' with another topic; its feed is c-"),
        ],
    ),
    "slug-empty.md": (
        PUBLISHED,
        [
            (6, W, "topics[0]: empty topic name; ignored"),
            (6, W, "topics[1]: empty topic name; ignored"),
        ],
    ),
    "slug-traversal.md": (PUBLISHED, []),  # slugs stay in their folder
    # Absurdly long strings and lists.
    "long-title.md": (PUBLISHED, [(2, W, "title: longer than 1,000 characters; cut")]),
    "long-topics.md": (PUBLISHED, [(6, W, "topics: has 5,000 items; only the first 50 are kept")]),
    "long-related.md": (PUBLISHED, [(7, W, "related: has 150 items; only the first 100 are kept")]),
}

GOOD = sorted(name for name, (published, problems) in CASES.items() if published and not problems)
BAD = sorted(
    name for name, (_, problems) in CASES.items() if any(severity == E for _, severity, _ in problems)
)


def _make_corpus(folder: Path) -> Path:
    shutil.copytree(HOSTILE, folder)
    for name, make in GENERATED.items():
        if isinstance(make, bytes):
            (folder / name).write_bytes(make)
        else:
            make(folder / name)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile corpus: the files of tests/hostile plus `GENERATED`."""
    return _make_corpus(tmp_path_factory.mktemp("hostile") / "content")


@pytest.fixture(scope="module")
def loaded(corpus: Path) -> tuple[content.Content, catalogs.Catalog]:
    loaded = content.load(corpus)
    return loaded, catalogs.build(loaded.articles)


@pytest.fixture(scope="module")
def site(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The corpus built once with the CLI: output folder and CLI output."""
    out = tmp_path_factory.mktemp("site") / "public"
    result = CliRunner().invoke(cli, ["build", str(corpus), "--out", str(out), "--base-url", BASE_URL])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    return out, result.output


def _problems(loaded: tuple[content.Content, catalogs.Catalog]) -> tuple[Problem, ...]:
    return loaded[0].problems + loaded[1].problems


# -- the table --------------------------------------------------------------------


def test_corpus_is_the_table() -> None:
    """Every file of tests/hostile has an expected result, and vice versa."""
    on_disk = {path.name for path in HOSTILE.iterdir()}
    assert on_disk | set(GENERATED) == set(CASES)
    assert not on_disk & set(GENERATED)
    assert len(CASES) - len(GOOD) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_gives_its_message(name: str, loaded: tuple[content.Content, catalogs.Catalog]) -> None:
    published, expected = CASES[name]
    problems = sorted(
        (p for p in _problems(loaded) if p.path == name), key=lambda p: (p.line or 0, p.message)
    )
    actual = [(p.line, p.severity.value, p.message) for p in problems]
    assert len(actual) == len(expected), actual
    for (line, severity, message), (want_line, want_severity, want_text) in zip(
        actual, expected, strict=True
    ):
        assert (line, severity) == (want_line, want_severity), actual
        assert want_text in message, actual
    # path:line: message, the form editors and CI logs link to
    for problem in problems:
        assert problem.format().startswith(f"{name}:{problem.line}: " if problem.line else f"{name}: ")
    assert (name in {a.path for a in loaded[0].articles}) is published


def test_good_articles_are_all_published(site: tuple[Path, str]) -> None:
    out, _ = site
    parsed = feedparser.parse((out / "all.atom").read_bytes())
    assert parsed.bozo == 0
    ids = {entry.id for entry in parsed.entries}
    assert {
        "https://good.example.com/full",  # utm_source removed from the id
        "https://other.example.net/coverage",
        "https://good.example.com/crlf",
        "https://good.example.com/minimal",
        "https://shared.example.com/story?q=a+b",  # the same URL with and without utm_source
        "https://other.example.net/kept",  # the good item beside a bad one
        "https://other.example.net/fine",
        "https://urls.example.com/images",
        "https://html.example.com/story",
    } <= ids
    # and nothing of a refused file or item
    assert not {i for i in ids if "bad.example.com" in i or i.startswith("javascript")}


# -- unreadable files, size, encoding ------------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file(content_dir: Path, write_article: Callable[..., Path]) -> None:
    write_article("good.md")
    locked = write_article("locked.md")
    locked.chmod(0)
    try:
        loaded = content.load(content_dir)
    finally:
        locked.chmod(0o644)
    assert [a.path for a in loaded.articles] == ["good.md"]
    assert [p.format() for p in loaded.problems] == ["locked.md: cannot read file: Permission denied"]


def test_file_vanishing_before_it_is_read(tmp_path: Path) -> None:
    parsed = content.read_file(tmp_path, "gone.md")
    assert parsed.article is None
    assert [p.message for p in parsed.problems] == ["cannot read file: No such file or directory"]


def test_size_limit_is_inclusive_and_configurable(content_dir: Path, runner) -> None:
    exact = _article("exact")
    exact += b"x" * (content.MAX_FILE_BYTES - len(exact))
    (content_dir / "exact.md").write_bytes(exact)
    assert content.load(content_dir).problems == ()
    (content_dir / "small.md").write_bytes(_article("small", body="y" * 300))
    result = runner.invoke(cli, ["check", str(content_dir), "--max-file-size", "200"])
    assert result.exit_code == 1
    assert f"{content_dir}/small.md: file is larger than the limit of 200 bytes; refused" in result.output
    assert f"{content_dir}/exact.md: file is larger" in result.output
    result = runner.invoke(cli, ["check", str(content_dir), "--max-file-size", "2000000"])
    assert result.exit_code == 0, result.output


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    (tmp_path / "huge.md").write_bytes(b"---\n" + b"x" * (20 << 20))
    tracemalloc.start()
    parsed = content.read_file(tmp_path, "huge.md")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert parsed.article is None and "larger than the limit" in parsed.problems[0].message
    assert peak < 3 * content.MAX_FILE_BYTES


# -- YAML ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exploit",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/apply:subprocess.call [[touch, '{marker}']]",
        "!!python/object/new:subprocess.Popen [[touch, '{marker}']]",
        "!!python/name:os.system",
    ],
)
def test_python_tags_run_nothing(exploit: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    parsed = content.parse("py.md", _article("py", f"x: {exploit.format(marker=marker)}\n"))
    assert parsed.article is None
    assert [(p.line, p.message) for p in parsed.problems] == [
        (6, f"YAML tag {exploit.split()[0]} is not allowed: only plain YAML is read")
    ]
    assert not marker.exists()


@pytest.mark.parametrize(
    "name", ["yaml-alias-bomb.md", "yaml-alias-recursive.md", "yaml-alias-bomb-bad-value.md"]
)
def test_alias_bombs_are_refused_fast_in_little_memory(name: str, corpus: Path) -> None:
    data = (corpus / name).read_bytes()

    def too_slow(signum: int, frame: object) -> None:
        raise TimeoutError(f"parsing {name} takes more than 5 s")

    previous = signal.signal(signal.SIGALRM, too_slow)  # a hang fails instead of hanging
    signal.alarm(5)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        parsed = content.parse(name, data)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert parsed.article is None and parsed.problems[0].is_error
    assert elapsed < 2  # about 20 ms; generous for slow CI machines
    assert peak < 20 << 20


# -- what the good parts of bad files become -------------------------------------------


def test_fix_ups_of_published_files(loaded: tuple[content.Content, catalogs.Catalog]) -> None:
    articles = {a.path: a for a in loaded[0].articles}
    assert articles["date-no-offset.md"].published == datetime(2024, 5, 4, 10, tzinfo=UTC)
    assert articles["date-only.md"].published == datetime(2024, 5, 5, tzinfo=UTC)
    assert articles["raw-controls.md"].title == "A story"
    assert articles["raw-controls.md"].body == "Body text"
    assert articles["xml-escaped-controls.md"].title == "Bell, escape[31m and a NUL in a title"
    assert articles["good-bom-crlf.txt"].title == "Good article with a BOM and CRLF line ends"
    assert articles["good-bom-crlf.txt"].body == "Body line."
    assert [i.url for i in articles["url-images-and-amp.md"].images] == ["https://img.example.com/kept.jpg"]
    assert articles["url-images-and-amp.md"].amp_url == ""
    assert articles["type-image-not-mapping.md"].images == ()
    assert [r.title for r in articles["type-related-item-not-mapping.md"].related] == [
        "The good related item is kept"
    ]
    assert [r.title for r in articles["url-related-item-javascript.md"].related] == ["Fine related item"]
    assert len(articles["long-title.md"].title) == content.MAX_LINE_CHARS
    assert len(articles["long-topics.md"].topics) == 50
    assert len(articles["long-related.md"].related) == 100
    assert articles["slug-empty.md"].topics == ("!!!", "日本語")


def test_duplicate_url_merges_the_same_whatever_the_order(
    loaded: tuple[content.Content, catalogs.Catalog],
) -> None:
    articles = loaded[0].articles
    forward, backward = catalogs.build(articles), catalogs.build(reversed(articles))
    assert forward.entries == backward.entries
    assert forward.problems == backward.problems
    [shared] = [e for e in forward.entries if e.id == "https://shared.example.com/story?q=a+b"]
    assert shared.title == "The first file with a shared URL wins"
    assert shared.topics == ("Also Shared", "Shared")


def test_names_get_safe_distinct_slugs(loaded: tuple[content.Content, catalogs.Catalog]) -> None:
    feeds = loaded[1].feeds
    for key in feeds:
        folder, _, slug = key.partition("/")
        assert key == "all" or (folder in ("topics", "providers") and slug.replace("-", "").isalnum())
        assert slug == slug.lower() and slug.isascii() and ".." not in key and "\\" not in key
    names = {(f.kind.value, f.name): key for key, f in feeds.items()}
    assert names["topic", "C"] == "topics/c"
    assert names["topic", "C++"].startswith("topics/c-")
    assert names["provider", "AT T News"] == "providers/at-t-news"
    assert names["provider", "AT&T News"].startswith("providers/at-t-news-")
    assert names["topic", "../../etc/passwd"] == "topics/etc-passwd"
    assert names["provider", "../../../tmp/evil"] == "providers/tmp-evil"
    assert names["topic", ".."].startswith("topics/topic-")
    assert names["provider", "???"].startswith("providers/provider-")


def test_build_writes_only_inside_out(site: tuple[Path, str]) -> None:
    out, _ = site
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert all(path.count("/") <= 1 for path in written)
    assert "topics/etc-passwd.rss" in written and "providers/tmp-evil.atom" in written
    assert not (out.parent / "etc").exists() and not Path("/tmp/evil.rss").exists()


# -- output: escaped HTML, no drafts, no secrets ----------------------------------------


def _script_elements(tree: lxml.etree._Element) -> list[lxml.etree._Element]:
    return tree.xpath("//*[local-name()='script']")


def _markup(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def _entry_element(tree: lxml.etree._Element, link: str) -> lxml.etree._Element:
    [entry] = [
        element
        for element in tree.xpath("//*[local-name()='item' or local-name()='entry']")
        if link in lxml.etree.tostring(element, encoding="unicode")
    ]
    return entry


@pytest.mark.parametrize("name", ["all.atom", "all.rss", "topics/script-alert-topic-script.rss"])
def test_html_in_text_fields_is_kept_as_text(name: str, site: tuple[Path, str]) -> None:
    out, _ = site
    body = (out / name).read_bytes()
    tree = lxml.etree.fromstring(body)
    assert _script_elements(tree) == []
    assert b'&lt;script&gt;alert("title")&lt;/script&gt;' in body
    entry = _entry_element(tree, "https://html.example.com/story")
    [title] = entry.xpath("*[local-name()='title']")
    assert title.text == '<script>alert("title")</script> & <b>bold</b>'
    assert feedparser.parse(body).bozo == 0


@pytest.mark.parametrize("name", ["all.atom", "all.rss"])
def test_html_content_shows_text_fields_as_text(name: str, site: tuple[Path, str]) -> None:
    """The HTML body of an entry holds our markup only; every text field
    in it is escaped, so a reader shows ``<script>`` rather than running it."""
    out, _ = site
    entry = _entry_element(lxml.etree.fromstring((out / name).read_bytes()), "https://html.example.com/story")
    [html] = entry.xpath("*[local-name()='content' or local-name()='encoded']")
    markup = _markup(html.text)
    assert {element.tag for element in markup.iter()} == {"div", "p", "img", "a"}
    assert not [name for element in markup.iter() for name in element.attrib if name.startswith("on")]
    text = markup.text_content()
    assert '<script>alert("body")</script>' in text and "<img src=x onerror=alert(1)> & an excerpt" in text
    assert "<i>Evil</i> Press" in text
    assert markup.xpath("//img/@alt") == ['"><script>alert("alt")</script>']


def test_rss_description_shows_the_excerpt_as_text(site: tuple[Path, str]) -> None:
    """RSS readers take <description> as HTML: a plain-text excerpt in it
    must be escaped, or ``<img onerror=...>`` would become markup."""
    out, _ = site
    entry = _entry_element(
        lxml.etree.fromstring((out / "all.rss").read_bytes()), "https://html.example.com/story"
    )
    [description] = entry.xpath("description")
    markup = _markup(description.text)
    assert [element.tag for element in markup.iter()] == ["div"]
    assert markup.text_content() == "<img src=x onerror=alert(1)> & an excerpt"


def test_index_page_escapes_names(site: tuple[Path, str]) -> None:
    out, _ = site
    page = lxml.html.fromstring((out / "index.html").read_bytes())
    assert _script_elements(page) == [] and page.xpath("//body//i") == []
    assert "<i>Evil</i> Press" in page.text_content()


def test_drafts_and_secrets_never_reach_output(site: tuple[Path, str]) -> None:
    out, output = site
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"must never be published" not in data, path
            assert b"drafts.example.com" not in data, path
            assert b"SECRET-PAYLOAD" not in data, path
            assert b"Draft Weekly" not in data, path
    assert "2 entries withheld as drafts" in output


# -- the command line -----------------------------------------------------------------


def _line_of(root: Path, problem: tuple[int | None, str, str], name: str) -> str:
    line, severity, text = problem
    where = f"{root}/{name}:{line}" if line else f"{root}/{name}"
    return f"{where}: {'warning: ' if severity == W else ''}{text}"


def _expected_summary() -> str:
    problems = [p for _, found in CASES.values() for p in found]
    errors = sum(1 for _, severity, _ in problems if severity == E)
    files = sum(1 for _, found in CASES.values() if found)
    return f"{files} files with problems ({errors} errors, {len(problems) - errors} warnings)"


def test_check_names_every_bad_file_and_exits_1(corpus: Path, runner) -> None:
    result = runner.invoke(cli, ["check", str(corpus)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for name, (_, problems) in CASES.items():
        for problem in problems:
            assert _line_of(corpus, problem, name) in result.stderr
    # Files the scan refused unread (links, a FIFO) count as checked too.
    assert f"{len(CASES)} files checked; {_expected_summary()}" in result.stdout


def test_build_names_every_bad_file_and_counts_problems(corpus: Path, site: tuple[Path, str]) -> None:
    _, output = site
    for name in BAD:
        assert f"{corpus}/{name}" in output
    assert output.rstrip().endswith(_expected_summary())


def test_strict_build_fails_and_writes_nothing(corpus: Path, runner, tmp_path: Path) -> None:
    out = tmp_path / "public"
    result = runner.invoke(cli, ["build", str(corpus), "--out", str(out), "--base-url", BASE_URL, "--strict"])
    assert result.exit_code != 0
    assert "nothing was written" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_console_script_prints_no_traceback(corpus: Path, feedpub_script: Path, tmp_path: Path) -> None:
    """The real ``feedpub`` program, as a user runs it."""
    check = subprocess.run([feedpub_script, "check", str(corpus)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    build = subprocess.run(
        [
            feedpub_script,
            "build",
            str(corpus),
            "--out",
            str(tmp_path / "out"),
            "--base-url",
            BASE_URL,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert build.returncode == 0, build.stderr
    for run in (check, build):
        assert "Traceback" not in run.stdout + run.stderr
        for name in BAD:
            assert f"{corpus}/{name}" in run.stderr
    assert _expected_summary() in build.stdout
    ids = {entry.id for entry in feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries}
    assert "https://good.example.com/full" in ids and "https://good.example.com/crlf" in ids


# -- the server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(corpus: Path):
    return create_app({"CONTENT_DIR": str(corpus), "RELOAD_INTERVAL": 0}).test_client()


def test_every_feed_of_the_opml_answers_with_valid_xml(client) -> None:
    opml = client.get("/feeds.opml")
    assert opml.status_code == 200
    urls = lxml.etree.fromstring(opml.data).xpath("//outline/@xmlUrl")
    assert len(urls) > 20
    for url in urls:
        path = urlsplit(url).path
        assert path.endswith(".rss")
        for twin in (path, path[: -len(".rss")] + ".atom"):
            response = client.get(twin)
            assert response.status_code == 200, twin
            tree = lxml.etree.fromstring(response.data)  # raises if not well-formed
            assert _script_elements(tree) == []
            # feedparser is slow: spare it the 50 alike feeds of long-topics.md
            # and the 100 x 100 related links of long-related.md.
            if not path.startswith(("/topics/t", "/providers/bulk-wire", "/all")):
                assert feedparser.parse(response.data).bozo == 0, twin
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/topics/../../etc/passwd.rss",
        "/topics/%2e%2e/all.rss",
        "/topics/c%00.rss",
        "/providers/.rss",
    ],
)
def test_odd_paths_are_404_not_500(client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_healthz_lists_every_problem(client, loaded: tuple[content.Content, catalogs.Catalog]) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    listed = health.get_json()["problems"]
    assert {p["path"] for p in listed if p["severity"] == "error"} == set(BAD)
    assert len(listed) == len(_problems(loaded))
    assert health.get_json()["files"] == len(CASES)
