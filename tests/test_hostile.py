"""Bad and hostile content (SPEC §5): a clear message for each file, nothing
else lost, nothing leaked, never a traceback or a 500.

The corpus is data: each input ``tests/data/hostile/NAME`` has beside it
``NAME.expected``, saying whether its article is published and each problem
it gives (line or ``-``, severity, the start of the message). The few inputs
that would be awkward in git (over 1 MiB, not UTF-8, raw control
characters, symbolic links, a FIFO, very long lists) are made by
`GENERATED` below; their ``.expected`` files are in the folder all the same.

Every case goes through the real surfaces: ``feedpub check`` (one
``path:line: message`` line per problem, exit status), ``feedpub build``
(what is published, what never is) and the Flask app (``/healthz``, odd
paths).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner
from click.testing import Result

from feedpub import content
from feedpub import urlspace
from feedpub.cli import cli
from feedpub.settings import MAX_FILE_BYTES
from feedpub.urls import canonical_url
from feedpub.urls import http_url
from feedpub.web import create_app

HOSTILE = Path(__file__).parent / "data" / "hostile"
BASE_URL = "https://feeds.example.org"

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
    "oversized.md": _article("oversized", body="x" * MAX_FILE_BYTES),
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


@dataclass(frozen=True)
class Expected:
    """What one input of the corpus gives, as its ``NAME.expected`` says."""

    published: bool
    #: (line or None, "error" or "warning", the start of the message)
    problems: tuple[tuple[int | None, str, str], ...]

    @property
    def has_errors(self) -> bool:
        return any(severity == "error" for _, severity, _ in self.problems)


def _read_expected(path: Path) -> Expected:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    verdict, *problems = lines
    assert verdict in ("published", "refused"), path
    parsed = []
    for problem in problems:
        line, severity, prefix = problem.split(": ", 2)
        assert severity in ("error", "warning"), (path, problem)
        parsed.append((None if line == "-" else int(line), severity, prefix))
    return Expected(verdict == "published", tuple(parsed))


CASES: dict[str, Expected] = {
    path.name.removesuffix(".expected"): _read_expected(path) for path in sorted(HOSTILE.glob("*.expected"))
}
GOOD = sorted(name for name, case in CASES.items() if case.published and not case.problems)
BAD = sorted(name for name, case in CASES.items() if case.has_errors)


def _make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for path in HOSTILE.iterdir():
        if not path.name.endswith(".expected"):
            shutil.copyfile(path, folder / path.name)
    for name, make in GENERATED.items():
        if isinstance(make, bytes):
            (folder / name).write_bytes(make)
        else:
            make(folder / name)
    return folder


def _source_url(name: str) -> str | None:
    """The canonical form of the input's top-level ``sourceUrl``, when it has
    an http(s) one (read from the test's own data, never from a FIFO)."""
    make = GENERATED.get(name)
    if callable(make):
        return None
    data = make if isinstance(make, bytes) else (HOSTILE / name).read_bytes()
    found = re.search(rb"^sourceUrl: *['\"]?([^'\"\s]+)", data, re.MULTILINE)
    url = http_url(found.group(1).decode()) if found else None
    return canonical_url(url) if url else None


# A problem line of `check` or `build`: ROOT/NAME[:LINE]: [warning: ]MESSAGE
_PROBLEM = re.compile(r"(?P<name>[^:]+?)(?::(?P<line>\d+))?: (?P<warning>warning: )?(?P<message>.*)")


def _problem_lines(output: str, root: Path) -> dict[str, list[tuple[int | None, str, str]]]:
    """The problems printed, by file name: (line, severity, message)."""
    found: dict[str, list[tuple[int | None, str, str]]] = {}
    for text in output.splitlines():
        assert text.startswith(f"{root}/"), text
        match = _PROBLEM.fullmatch(text.removeprefix(f"{root}/"))
        assert match, text
        line = int(match["line"]) if match["line"] else None
        severity = "warning" if match["warning"] else "error"
        found.setdefault(match["name"], []).append((line, severity, match["message"]))
    return found


def _summary_of(problems: dict[str, list[tuple[int | None, str, str]]]) -> str:
    """What the summary line says of these problems."""
    every = [problem for found in problems.values() for problem in found]
    errors = sum(1 for _, severity, _ in every if severity == "error")
    return f"{len(problems)} files with problems ({errors} errors, {len(every) - errors} warnings)"


def _entry_ids(out: Path, key: str = "all") -> set[str]:
    """Every entry id of a built feed: its JSON subscription document and
    every archive page."""
    documents = [out / f"{key}.json", *sorted((out / key / "archive").glob("*.json"))]
    return {item["id"] for document in documents for item in json.loads(document.read_bytes())["items"]}


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile corpus: the inputs of tests/data/hostile plus `GENERATED`."""
    return _make_corpus(tmp_path_factory.mktemp("hostile") / "content")


@pytest.fixture(scope="module")
def checked(corpus: Path) -> Result:
    """``feedpub check`` of the corpus."""
    return _invoke("check", corpus)


@pytest.fixture(scope="module")
def site(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """The corpus built with the CLI, as a user would: output folder and result."""
    out = tmp_path_factory.mktemp("site") / "public"
    result = _invoke("build", corpus, "--out", out, "--base-url", BASE_URL)
    assert result.exit_code == 0, result.output
    return out, result


@pytest.fixture(scope="module")
def preview(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus built with ``--unpublished``, every entry in one document."""
    out = tmp_path_factory.mktemp("preview") / "public"
    result = _invoke(
        "build", corpus, "--out", out, "--base-url", BASE_URL, "--unpublished", "--max-items", "1000"
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def published_ids(site: tuple[Path, Result], preview: Path) -> tuple[set[str], set[str]]:
    """The entry ids of the real build and of the preview."""
    return _entry_ids(site[0]), _entry_ids(preview)


@pytest.fixture(scope="module")
def client(corpus: Path) -> Iterator[Any]:
    app = create_app({"CONTENT_DIR": str(corpus), "BASE_URL": BASE_URL, "RELOAD_INTERVAL": 0})
    yield app.test_client()
    app.extensions["feedpub"].stop()


# -- the table --------------------------------------------------------------------


def test_every_input_has_its_expected_results() -> None:
    inputs = {path.name for path in HOSTILE.iterdir() if not path.name.endswith(".expected")}
    assert inputs | set(GENERATED) == set(CASES)
    assert not inputs & set(GENERATED)
    assert len(CASES) - len(GOOD) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_gives_each_case_its_messages(name: str, corpus: Path, checked: Result) -> None:
    """One ``ROOT/NAME:LINE: [warning: ]message`` line per problem, the
    form editors and CI logs link to, and no other line for the file."""
    printed = sorted(_problem_lines(checked.stderr, corpus).get(name, []), key=lambda p: (p[0] or 0, p[2]))
    expected = sorted(CASES[name].problems, key=lambda p: (p[0] or 0, p[2]))
    assert len(printed) == len(expected), printed
    for (line, severity, message), (want_line, want_severity, prefix) in zip(printed, expected, strict=True):
        assert (line, severity) == (want_line, want_severity), printed
        assert message.startswith(prefix), printed


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_published_or_refused(name: str, published_ids: tuple[set[str], set[str]]) -> None:
    """A published article is in the preview build, and in the real one
    unless it is a draft; a refused file's URL is in neither."""
    url = _source_url(name)
    built, previewed = published_ids
    if CASES[name].published:
        assert url in previewed
        assert (url in built) is (name != "draft.md")
    elif url is not None:
        assert url not in previewed | built


def test_check_counts_every_file_and_exits_1(corpus: Path, checked: Result) -> None:
    assert checked.exit_code == 1
    assert "Traceback" not in checked.output
    # Files the scan refused unread (links, a FIFO) count as checked too.
    problems = _problem_lines(checked.stderr, corpus)
    assert checked.stdout.strip() == f"{len(CASES)} files checked; {_summary_of(problems)}"
    assert {name for name, found in problems.items() if any(p[1] == "error" for p in found)} == set(BAD)


def test_build_reports_what_check_reports(corpus: Path, checked: Result, site: tuple[Path, Result]) -> None:
    _, built = site
    assert built.stderr == checked.stderr
    assert built.stdout.rstrip().endswith(_summary_of(_problem_lines(checked.stderr, corpus)))


def test_good_articles_are_all_published(site: tuple[Path, Result]) -> None:
    out, _ = site
    parsed = feedparser.parse((out / "all.atom").read_bytes())
    assert parsed.bozo == 0
    ids = _entry_ids(out)
    assert {entry.id for entry in parsed.entries} <= ids
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
    assert not {i for i in ids if "bad.example.com" in i or not i.startswith(("https://", "http://"))}


# -- unreadable files, size, encoding ------------------------------------------------


def test_unreadable_file_is_named_and_the_others_published(
    content_dir: Path, write_article: Callable[..., Path], runner: CliRunner, build: Callable[..., Result],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests run as root, whom chmod 000 does not stop (and the test
    interpreter is not one ``nobody`` may run): opening the file fails the
    way it fails for a user without the permission."""
    write_article("good.md")
    locked = write_article("locked.md")
    real_open = os.open

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(os.fsdecode(path)) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    checked = runner.invoke(cli, ["check", str(content_dir)])
    assert checked.exit_code == 1
    assert checked.stderr.splitlines() == [f"{content_dir}/locked.md: cannot read file: Permission denied"]
    built = build(content_dir)
    assert built.stderr == checked.stderr
    assert _entry_ids(tmp_path / "public") == {"https://news.example.com/good"}


def test_file_vanishing_before_it_is_read(tmp_path: Path) -> None:
    _, parsed = content.read(tmp_path, "gone.md", MAX_FILE_BYTES)
    assert parsed is not None and parsed.article is None
    assert [p.message for p in parsed.problems] == ["cannot read file: No such file or directory"]


def test_file_turned_into_a_symlink_loop_before_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "loop.md").symlink_to("loop.md")
    _, parsed = content.read(tmp_path, "loop.md", MAX_FILE_BYTES)
    assert parsed is not None and parsed.article is None
    assert [p.message.split(":")[0] for p in parsed.problems] == ["cannot read file"]


def test_size_limit_is_inclusive_and_configurable(
    content_dir: Path, runner: CliRunner, tmp_path: Path
) -> None:
    def check(*options: str) -> Result:
        """`check` with a store of its own: what one run sees, from scratch."""
        store = tmp_path / f"store-{len(list(tmp_path.glob('store-*')))}.sqlite3"
        return runner.invoke(cli, ["check", str(content_dir), "--store", str(store), *options])

    exact = _article("exact")
    exact += b"x" * (MAX_FILE_BYTES - len(exact))
    (content_dir / "exact.md").write_bytes(exact)
    (content_dir / "small.md").write_bytes(_article("small", body="y" * 300))
    result = check()
    assert result.exit_code == 0, result.output
    result = check("--max-file-size", "200")
    assert result.exit_code == 1
    assert sorted(result.stderr.splitlines()) == [
        f"{content_dir}/exact.md: file is larger than the limit of 200 bytes; refused",
        f"{content_dir}/small.md: file is larger than the limit of 200 bytes; refused",
    ]
    result = check("--max-file-size", "2000000")
    assert result.exit_code == 0, result.output


def test_changing_the_size_limit_checks_unchanged_files_again(content_dir: Path, runner: CliRunner) -> None:
    (content_dir / "small.md").write_bytes(_article("small", body="y" * 300))
    assert runner.invoke(cli, ["check", str(content_dir)]).exit_code == 0
    lowered = runner.invoke(cli, ["check", str(content_dir), "--max-file-size", "200"])
    assert lowered.stderr == f"{content_dir}/small.md: file is larger than the limit of 200 bytes; refused\n"
    assert lowered.exit_code == 1
    assert runner.invoke(cli, ["check", str(content_dir)]).exit_code == 0


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    (tmp_path / "huge.md").write_bytes(b"---\n" + b"x" * (20 << 20))
    tracemalloc.start()
    try:
        _, parsed = content.read(tmp_path, "huge.md", MAX_FILE_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed is not None and parsed.article is None
    assert "larger than the limit" in parsed.problems[0].message
    assert peak < 3 * MAX_FILE_BYTES


# -- YAML ---------------------------------------------------------------------------


def _payloads(marker: Path) -> dict[str, tuple[str, int, str]]:
    """Front matters whose Python tags would create `marker` if constructed:
    name → (text, line of the tag, the tag as the message names it)."""
    command = f"touch {marker}"
    valid = VALID.format(name="payload")
    return {
        "apply-title.md": (
            f'---\ntitle: !!python/object/apply:os.system ["{command}"]\n---\n', 2,
            "!!python/object/apply:os.system",
        ),
        "apply-top.md": (
            f'---\n!!python/object/apply:subprocess.call [[touch, "{marker}"]]\n---\n', 2,
            "!!python/object/apply:subprocess.call",
        ),
        "new.md": (
            f'---\ntitle: x\nprovider: !!python/object/new:os.system ["{command}"]\n---\n', 3,
            "!!python/object/new:os.system",
        ),
        "popen.md": (
            f"---\n{valid}x: !!python/object/new:subprocess.Popen [[touch, '{marker}']]\n---\n", 6,
            "!!python/object/new:subprocess.Popen",
        ),
        "name.md": ("---\ntitle: !!python/name:os.system\n---\n", 2, "!!python/name:os.system"),
        "module.md": ("---\ntitle: !!python/module:os\n---\n", 2, "!!python/module:os"),
        "related.md": (
            f'---\n{valid}related:\n  - !!python/object/apply:os.system ["{command}"]\n---\n', 7,
            "!!python/object/apply:os.system",
        ),
        "long-tag.md": (
            f'---\ntitle: !<tag:yaml.org,2002:python/object/apply:os.system> ["{command}"]\n---\n', 2,
            "!!python/object/apply:os.system",
        ),
    }


def test_yaml_python_tags_never_run_in_check_build_or_serve(
    tmp_path: Path, content_dir: Path, write_article: Callable[..., Path], runner: CliRunner,
    build: Callable[..., Result], make_app: Callable[..., Any],
) -> None:
    marker = tmp_path / "pwned"
    payloads = _payloads(marker)
    for name, (text, _, _) in payloads.items():
        (content_dir / name).write_text(text)
    write_article("good.md", title="Good article")

    checked = runner.invoke(cli, ["check", str(content_dir)])
    built = build(content_dir)
    client = make_app().test_client()
    served = client.get("/all.atom")
    problems = {p["path"]: p for p in client.get("/healthz").get_json()["problems"]}

    assert not marker.exists()
    assert checked.exit_code == 1
    expected = sorted(
        f"{content_dir}/{name}:{line}: YAML tag {tag} is not allowed: only plain YAML is read"
        for name, (_, line, tag) in payloads.items()
    )
    assert checked.stderr.splitlines() == expected
    assert built.stderr == checked.stderr
    assert "Traceback" not in checked.output + built.output
    assert set(problems) == set(payloads)
    assert all(p["line"] == payloads[name][1] and p["severity"] == "error" for name, p in problems.items())
    titles = [entry.title for entry in feedparser.parse(served.data).entries]
    assert titles == ["Good article"]
    assert titles == [e.title for e in feedparser.parse((tmp_path / "public/all.atom").read_bytes()).entries]


@pytest.mark.parametrize(
    "name", ["yaml-alias-bomb.md", "yaml-alias-recursive.md", "yaml-alias-bomb-bad-value.md"]
)
def test_alias_bombs_are_refused_fast_in_little_memory(name: str) -> None:
    data = (HOSTILE / name).read_bytes()

    def too_slow(signum: int, frame: object) -> None:
        raise TimeoutError(f"parsing {name} takes more than 10 s")

    previous = signal.signal(signal.SIGALRM, too_slow)  # a hang fails instead of hanging
    signal.alarm(10)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        parsed = content.parse(name, data, max_bytes=MAX_FILE_BYTES)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert parsed.article is None and parsed.problems[0].is_error
    assert elapsed < 3  # about 20 ms; 9**20 values would take for ever
    assert peak < 20 << 20


# -- what the good parts of bad files become -------------------------------------------


def test_fix_ups_of_published_files(corpus: Path) -> None:
    def article(name: str) -> Any:
        _, parsed = content.read(corpus, name, MAX_FILE_BYTES)
        assert parsed is not None and parsed.article is not None, parsed
        return parsed.article

    assert article("date-no-offset.md").published == datetime(2024, 5, 4, 10, tzinfo=UTC)
    assert article("date-only.md").published == datetime(2024, 5, 5, tzinfo=UTC)
    assert article("raw-controls.md").title == "A story"
    assert article("raw-controls.md").body == "Body text"
    assert article("xml-escaped-controls.md").title == "Bell, escape[31m and a NUL in a title"
    assert article("good-bom-crlf.txt").title == "Good article with a BOM and CRLF line ends"
    assert article("good-bom-crlf.txt").body == "Body line."
    assert [i.url for i in article("url-images-and-amp.md").images] == ["https://img.example.com/kept.jpg"]
    assert article("url-images-and-amp.md").amp_url == ""
    assert article("type-image-not-mapping.md").images == ()
    assert [r.title for r in article("type-related-item-not-mapping.md").related] == [
        "The good related item is kept"
    ]
    assert [r.title for r in article("url-related-item-javascript.md").related] == ["Fine related item"]
    assert len(article("long-title.md").title) == 1_000
    assert len(article("long-topics.md").topics) == 50
    assert len(article("long-related.md").related) == 100
    assert article("slug-empty.md").topics == ("!!!", "日本語")


def test_duplicate_url_merges_the_same_whatever_the_order(
    content_dir: Path, build: Callable[..., Result], tmp_path: Path,
) -> None:
    """The article of the file whose path sorts first wins, whether both
    files are there from the start or it arrives after the other one."""
    names = ["duplicate-url-1.md", "duplicate-url-2.md"]
    together, later = tmp_path / "together", tmp_path / "later"
    for name in names:
        shutil.copyfile(HOSTILE / name, content_dir / name)
    build(content_dir, "--store", str(tmp_path / "together.sqlite3"), out=together)
    (content_dir / names[0]).unlink()
    (content_dir / ".feedpub-ids").unlink()
    build(content_dir, out=later)
    shutil.copyfile(HOSTILE / names[0], content_dir / names[0])
    build(content_dir, out=later)  # the same store, refreshed
    entries = []
    for out in (together, later):
        [entry] = json.loads((out / "all.json").read_bytes())["items"]
        assert entry["id"] == "https://shared.example.com/story?q=a+b"
        assert entry["title"] == "The first file with a shared URL wins"
        assert entry["tags"] == ["Also Shared", "Shared"]
        del entry["date_modified"]  # when the entry's content was first seen: later for `later`
        entries.append(entry)
    assert entries[0] == entries[1]


def _feeds_by_name(out: Path) -> dict[tuple[str, str], str]:
    """(folder, name) → feed key, from the built OPML list (titles are
    ``feedpub: NAME``)."""
    found = {}
    for outline in lxml.etree.fromstring((out / "feeds.opml").read_bytes()).xpath("//outline[@xmlUrl]"):
        key = urlsplit(outline.get("xmlUrl")).path.removeprefix("/").removesuffix(".rss")
        folder = key.partition("/")[0]
        if folder in ("topics", "providers") and not key.endswith("/stories"):
            found[folder, outline.get("title").removeprefix("feedpub: ")] = key
    return found


def test_names_get_safe_distinct_slugs(site: tuple[Path, Result]) -> None:
    names = _feeds_by_name(site[0])
    assert len(set(names.values())) == len(names)
    for key in names.values():
        folder, _, slug = key.partition("/")
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), key
    assert names["topics", "C"] == "topics/c"
    assert names["topics", "C++"].startswith("topics/c-")
    assert names["providers", "AT T News"] == "providers/at-t-news"
    assert names["providers", "AT&T News"].startswith("providers/at-t-news-")
    assert names["topics", "../../etc/passwd"] == "topics/etc-passwd"
    assert names["providers", "../../../tmp/evil"] == "providers/tmp-evil"
    assert names["topics", ".."].startswith("topics/topic-")
    assert names["providers", "???"].startswith("providers/provider-")


def test_build_writes_only_inside_out(site: tuple[Path, Result]) -> None:
    out, _ = site
    real_out = out.resolve()
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # Every file is a document of the URL space, inside the folder.
    assert all(urlspace.parse("/" + path) is not None for path in written if path != "index.html"), written
    assert all((out / path).resolve().is_relative_to(real_out) for path in written)
    assert "topics/etc-passwd.rss" in written and "providers/tmp-evil.atom" in written
    assert not (out.parent / "etc").exists() and not Path("/tmp/evil.rss").exists()


# -- output: escaped HTML, no drafts, no secrets ----------------------------------------


def _script_elements(tree: Any) -> list[Any]:
    return tree.xpath("//*[local-name()='script']")


def _markup(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def _entry_element(tree: Any, link: str) -> Any:
    [entry] = [
        element
        for element in tree.xpath("//*[local-name()='item' or local-name()='entry']")
        if link in lxml.etree.tostring(element, encoding="unicode")
    ]
    return entry


@pytest.mark.parametrize("name", ["all.atom", "all.rss", "topics/script-alert-topic-script.rss"])
def test_html_in_text_fields_is_kept_as_text(name: str, site: tuple[Path, Result]) -> None:
    body = (site[0] / name).read_bytes()
    tree = lxml.etree.fromstring(body)
    assert _script_elements(tree) == []
    assert b'&lt;script&gt;alert("title")&lt;/script&gt;' in body
    entry = _entry_element(tree, "https://html.example.com/story")
    [title] = entry.xpath("*[local-name()='title']")
    assert title.text == '<script>alert("title")</script> & <b>bold</b>'
    assert feedparser.parse(body).bozo == 0


def test_json_feed_keeps_html_in_text_fields_as_text(site: tuple[Path, Result]) -> None:
    items = json.loads((site[0] / "all.json").read_bytes())["items"]
    [item] = [item for item in items if item["id"] == "https://html.example.com/story"]
    assert item["title"] == '<script>alert("title")</script> & <b>bold</b>'
    assert item["summary"] == "<img src=x onerror=alert(1)> & an excerpt"
    markup = _markup(item["content_html"])
    assert _script_elements(markup) == [] and markup.xpath("//@onerror") == []


@pytest.mark.parametrize("name", ["all.atom", "all.rss"])
def test_html_content_shows_text_fields_as_text(name: str, site: tuple[Path, Result]) -> None:
    """The HTML body of an entry holds our markup only; every text field
    in it is escaped, so a reader shows ``<script>`` rather than running it."""
    tree = lxml.etree.fromstring((site[0] / name).read_bytes())
    entry = _entry_element(tree, "https://html.example.com/story")
    [html] = entry.xpath("*[local-name()='content' or local-name()='encoded']")
    markup = _markup(html.text)
    assert {element.tag for element in markup.iter()} == {"div", "p", "img", "a"}
    assert not [name for element in markup.iter() for name in element.attrib if name.startswith("on")]
    text = markup.text_content()
    assert '<script>alert("body")</script>' in text and "<img src=x onerror=alert(1)> & an excerpt" in text
    assert "<i>Evil</i> Press" in text
    assert markup.xpath("//img/@alt") == ['"><script>alert("alt")</script>']


def test_rss_description_shows_the_excerpt_as_text(site: tuple[Path, Result]) -> None:
    """RSS readers take <description> as HTML: a plain-text excerpt in it
    must be escaped, or ``<img onerror=...>`` would become markup."""
    entry = _entry_element(lxml.etree.fromstring((site[0] / "all.rss").read_bytes()), "https://html.example.com/story")
    [description] = entry.xpath("description")
    markup = _markup(description.text)
    assert [element.tag for element in markup.iter()] == ["div"]
    assert markup.text_content() == "<img src=x onerror=alert(1)> & an excerpt"


@pytest.mark.parametrize("name", ["index.html", "all.html", "providers/i-evil-i-press.html"])
def test_html_pages_escape_names(name: str, site: tuple[Path, Result]) -> None:
    page = lxml.html.fromstring((site[0] / name).read_bytes())
    assert _script_elements(page) == [] and page.xpath("//body//i") == [] and page.xpath("//body//b") == []
    assert "<i>Evil</i> Press" in page.text_content()


def test_drafts_and_secrets_never_reach_output(site: tuple[Path, Result], preview: Path) -> None:
    out, result = site
    for folder, drafts_shown in ((out, False), (preview, True)):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"SECRET-PAYLOAD" not in data and b"secured" not in data, path
                if not drafts_shown:
                    assert b"must never be published" not in data, path
                    assert b"drafts.example.com" not in data, path
                    assert b"Draft Weekly" not in data, path
    assert "2 entries withheld as drafts" in result.stdout
    assert "https://drafts.example.com/never-related" in _entry_ids(preview)


def test_build_without_a_store_leaves_no_copy_of_the_content_behind(
    content_dir: Path, write_article: Callable[..., Path], feedpub_script: Path, tmp_path: Path,
) -> None:
    write_article("draft.md", published=False)
    temp = tmp_path / "tmp"
    temp.mkdir()
    build = subprocess.run(
        [feedpub_script, "build", str(content_dir), "--out", str(tmp_path / "out"), "--base-url", BASE_URL,
         "--no-cache"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(temp)},
    )
    assert build.returncode == 0, build.stderr
    assert list(temp.iterdir()) == []


# -- the command line -----------------------------------------------------------------


def test_strict_build_fails_and_writes_nothing(corpus: Path, runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "public"
    result = runner.invoke(cli, ["build", str(corpus), "--out", str(out), "--base-url", BASE_URL, "--strict"])
    assert result.exit_code != 0
    assert "nothing was written" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_console_script_prints_no_traceback(corpus: Path, feedpub_script: Path, tmp_path: Path) -> None:
    """The real ``feedpub`` program, as a user runs it."""
    check = subprocess.run([feedpub_script, "check", str(corpus)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    out = tmp_path / "out"
    build = subprocess.run(
        [feedpub_script, "build", str(corpus), "--out", str(out), "--base-url", BASE_URL,
         "--store", str(tmp_path / "store.sqlite3")],
        capture_output=True, text=True, timeout=60,
    )
    assert build.returncode == 0, build.stderr
    for run in (check, build):
        assert "Traceback" not in run.stdout + run.stderr
        for name in BAD:
            assert f"{corpus}/{name}" in run.stderr
    assert build.stderr == check.stderr
    ids = {entry.id for entry in feedparser.parse((out / "all.atom").read_bytes()).entries}
    assert "https://good.example.com/full" in ids and "https://good.example.com/crlf" in ids


# -- the server -----------------------------------------------------------------------

#: Feeds too big for feedparser to read in a test's time: the 50 alike
#: feeds of long-topics.md, and the 100 x 100 related links of long-related.md.
_BIG = ("/topics/t", "/providers/bulk-wire", "/all", "/stories")


def test_every_feed_of_the_opml_answers_with_valid_documents(client: Any) -> None:
    opml = client.get("/feeds.opml")
    assert opml.status_code == 200
    urls = lxml.etree.fromstring(opml.data).xpath("//outline/@xmlUrl")
    assert len(urls) > 20
    for url in urls:
        path = urlsplit(url).path
        assert path.endswith(".rss")
        stem = path.removesuffix(".rss")
        for twin in (path, f"{stem}.atom", f"{stem}.json", f"{stem}.html"):
            response = client.get(twin)
            assert response.status_code == 200, twin
            if twin.endswith(".json"):
                assert json.loads(response.data)["version"] == "https://jsonfeed.org/version/1.1"
                continue
            parse = lxml.html.document_fromstring if twin.endswith(".html") else lxml.etree.fromstring
            tree = parse(response.data)  # raises if not well-formed
            assert _script_elements(tree) == [], twin
            if not twin.endswith(".html") and not path.startswith(_BIG):
                assert feedparser.parse(response.data).bozo == 0, twin
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/topics/../../etc/passwd.rss",
        "/topics/%2e%2e/all.rss",
        "/topics/c%00.rss",
        "/topics/c%0a.rss",
        "/providers/.rss",
        "/all/archive/0.atom",
        "/all/archive/-1.json",
        "/all/archive/99999999999999999999999.rss",
        "/all/archive/1.xml",
        "/topics/ai/archive/../../../etc/passwd",
    ],
)
def test_odd_paths_are_404_not_500(client: Any, path: str) -> None:
    assert client.get(path).status_code == 404


def test_healthz_lists_every_problem(client: Any, corpus: Path, checked: Result) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    listed = body["problems"]
    printed = _problem_lines(checked.stderr, corpus)
    assert sorted((p["path"], p["line"] or 0, p["severity"], p["message"]) for p in listed) == sorted(
        (name, line or 0, severity, message)
        for name, found in printed.items()
        for line, severity, message in found
    )
    assert {p["path"] for p in listed if p["severity"] == "error"} == set(BAD)
    assert body["files"] == len(CASES)
    assert body["withheld"] == 2


# -- symbolic links ---------------------------------------------------------------

#: A valid article that must never be published: it lives outside the content
#: folder, so it only appears if a symbolic link was followed.
SECRET_ARTICLE = """---
title: SECRET outside the content folder
publishedDateTime: 2024-05-01T12:00:00Z
sourceUrl: https://secret.example.com/leak
provider:
  name: Secret Wire
topics: [Secret]
---
"""


def test_symlinks_out_of_the_content_folder_are_refused_and_named(
    tmp_path: Path, content_dir: Path, write_article: Callable[..., Path], runner: CliRunner,
    build: Callable[..., Result], make_app: Callable[..., Any],
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(SECRET_ARTICLE)
    write_article(".hidden/inside-target.md", title="Reached through a link inside")
    write_article("plain.md", title="Plain article")
    links = {
        "leak.md": outside / "secret.md",  # absolute, to a valid article outside
        "relative.md": Path("../outside/secret.md"),
        "chain.md": Path("leak.md"),  # a link inside that leads to a link out
        "deep/up.md": Path("../../outside/secret.md"),
        "etc.txt": Path("/etc/passwd"),
        "hostname.md": Path("/etc/hostname"),
        "outside-folder.md": outside,  # a folder, named like an article
    }
    for name, target in links.items():
        (content_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (content_dir / name).symlink_to(target)
    (content_dir / "linked-folder").symlink_to(outside, target_is_directory=True)
    (content_dir / "inside.md").symlink_to(".hidden/inside-target.md")

    checked = runner.invoke(cli, ["check", str(content_dir)])
    assert checked.exit_code == 1
    out = tmp_path / "public"
    built = build(content_dir)
    client = make_app().test_client()
    healthz = client.get("/healthz").get_json()

    for output in (checked.stderr, built.stderr):
        # One line per link, naming it and saying it leads outside.
        assert sorted(output.splitlines()) == sorted(
            f"{content_dir}/{name}: symbolic link leads outside the content folder; refused" for name in links
        )
    for output in (checked.output, built.output):
        # A symbolic link to a folder is not followed: nothing below it is read.
        assert "linked-folder" not in output and "Traceback" not in output
    assert {p["path"] for p in healthz["problems"]} == set(links)

    published = sorted(e.title for e in feedparser.parse((out / "all.atom").read_bytes()).entries)
    assert published == ["Plain article", "Reached through a link inside"]
    served = sorted(e.title for e in feedparser.parse(client.get("/all.atom").data).entries)
    assert served == published
    for path in out.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            assert b"SECRET" not in body and b"root:x:" not in body, path
    assert not (out / "topics/secret.rss").exists()


# -- file names with control characters (issue 10, item 4) -------------------------------

#: File names with control characters or a backslash → as ``check`` prints them (``ls -b``).
ODD_NAMES = {
    "new\nline.md": "new\\nline.md",
    "tab\there.md": "tab\\there.md",
    "esc\x1b[31m.md": "esc\\x1b[31m.md",
    "back\\slash.md": "back\\\\slash.md",
    "cr\rfolder/x.md": "cr\\rfolder/x.md",
}


def test_control_characters_in_file_names_are_escaped_in_check_and_raw_in_healthz(
    tmp_path: Path, content_dir: Path, runner: CliRunner, build: Callable[..., Result],
    make_app: Callable[..., Any],
) -> None:
    """One problem is always one line of ``check`` and ``build``, whatever
    the file is called; ``/healthz`` is JSON and keeps the name as it is."""
    root = content_dir
    for name in ODD_NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("no front matter\n")
    (root / "good\nname.md").write_bytes(_article("good-name"))

    checked = runner.invoke(cli, ["check", str(root)])
    built = build(root)
    health = make_app().test_client().get("/healthz").get_json()

    assert checked.exit_code == 1
    expected = sorted(f"{root}/{shown}:1: no front matter: the first line must be '---'"
                      for shown in ODD_NAMES.values())
    assert sorted(checked.stderr.splitlines()) == expected
    assert sorted(built.stderr.splitlines()) == expected
    assert checked.stdout.strip() == "6 files checked; 5 files with problems (5 errors, 0 warnings)"
    assert sorted(p["path"] for p in health["problems"]) == sorted(ODD_NAMES)
    assert _entry_ids(tmp_path / "public") == {"https://news.example.com/good-name"}


@pytest.mark.parametrize(("folder", "shown"), [("my  news", "my  news"), ("con\ntent", "con\\ntent")])
def test_any_content_folder_name_works_and_is_printed_on_one_line(
    folder: str, shown: str, tmp_path: Path, runner: CliRunner,
) -> None:
    root = tmp_path / folder
    root.mkdir()
    (root / "a.md").write_text("no front matter\n")
    checked = runner.invoke(cli, ["check", str(root)])
    assert checked.stderr == f"{tmp_path}/{shown}/a.md:1: no front matter: the first line must be '---'\n"
    assert checked.exit_code == 1
