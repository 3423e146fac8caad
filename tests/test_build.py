"""Building the URL space into a folder (``feedpub build``, `feedpub.site`):
rebuilds that parse and write only what changed and equal a build from
scratch, parallel work, gzip forms, reproducible builds, and containment
(nothing written outside ``--out`` nor through links planted in it, and a
build killed at any moment leaves every file whole, old or new).

How much a refresh parsed and a publication wrote is read from
`Pipeline.refresh` and `publish`; everything else goes through the CLI.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import lxml.etree
import lxml.html
import pytest
from click.testing import Result

from feedpub import feeds
from feedpub import loading
from feedpub import settings as settings_module
from feedpub import urlspace
from feedpub.build import Publication
from feedpub.build import publish
from feedpub.site import Pipeline
from feedpub.site import Refresh

BASE_URL = "https://feeds.example.org"
NOW = "2024-06-01T00:00:00Z"
TEMP_PREFIX = ".feedpub-"


def files_below(folder: Path) -> dict[str, bytes]:
    """Every regular file below `folder` (not following links), by relative
    path, hidden ones and gzip forms included."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def feed_documents(*keys: str) -> set[str]:
    """The files of the subscription documents of feeds `keys`, every format."""
    return {urlspace.feed_path(key, fmt).lstrip("/") for key in keys for fmt in urlspace.FORMATS}


def write_many(write_article: Callable[..., Path], count: int) -> None:
    """`count` articles over 7 providers and 5 topics."""
    for number in range(count):
        write_article(
            f"n{number:03}.md",
            title=f"Story {number}",
            provider={"name": f"Outlet {number % 7}"},
            topics=[f"Topic {number % 5}"],
            publishedDateTime=f"2024-05-{1 + number % 28:02}T{number % 24:02}:00:00Z",
        )


@pytest.fixture
def site_build(tmp_path: Path) -> Callable[..., tuple[Refresh, Publication]]:
    """``site_build(content, out, gzipped=False, **settings)``: one refresh
    and one publication into `out` through `feedpub.site`, for BASE_URL as
    at NOW, with the store ``tmp_path/store.sqlite3`` unless `settings` say
    otherwise (``store=None``: the default location)."""

    def run(content: Path, out: Path, gzipped: bool = False, **options: Any) -> tuple[Refresh, Publication]:
        chosen = {"content_dir": content, "base_url": BASE_URL, "now": NOW,
                  "store": tmp_path / "store.sqlite3", **options}
        pipeline = Pipeline(settings_module.load(chosen, environ={}))
        try:
            return pipeline.refresh(), publish(pipeline, out, gzipped=gzipped)
        finally:
            pipeline.close()

    return run


# -- rebuilds do only what changed ---------------------------------------------------------------


def test_a_rebuild_of_unchanged_content_parses_and_writes_nothing(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
) -> None:
    write_many(write_article, 12)
    out = tmp_path / "out"
    refresh, first = site_build(content_dir, out)
    assert (refresh.parsed, first.unchanged) == (12, 0)
    assert first.written == len(files_below(out))

    refresh, again = site_build(content_dir, out)
    assert (refresh.parsed, again.written, again.removed) == (0, 0, 0)
    assert again.unchanged == first.written


def test_one_changed_file_rewrites_only_the_documents_showing_it(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
) -> None:
    write_many(write_article, 12)
    out = tmp_path / "out"
    site_build(content_dir, out)
    before = files_below(out)
    write_article("n003.md", title="Story 3, corrected", provider={"name": "Outlet 3"}, topics=["Topic 3"],
                  publishedDateTime="2024-05-04T03:00:00Z")

    refresh, publication = site_build(content_dir, out)

    assert refresh.parsed == 1
    after = files_below(out)
    changed = {name for name, body in after.items() if before.get(name) != body}
    assert changed == feed_documents("all", "stories", "topics/topic-3", "topics/topic-3/stories",
                                     "providers/outlet-3")
    assert publication.written == len(changed)
    site_build(content_dir, tmp_path / "fresh", no_cache=True)
    assert after == files_below(tmp_path / "fresh")


def test_a_build_renders_each_entry_once_per_format(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However many chunks the documents are rendered in: an entry shown by
    several feeds and pages is rendered once, and reused."""
    write_many(write_article, 30)
    rendered: list[tuple[str, str]] = []
    xml_entry = feeds._xml_entry

    def counted(entry: Any, format: str, *args: Any) -> bytes:
        rendered.append((entry.id, format))
        return xml_entry(entry, format, *args)

    monkeypatch.setattr(feeds, "_xml_entry", counted)
    _, publication = site_build(content_dir, tmp_path / "out", max_items=1, jobs=1)
    assert publication.written > 600  # many chunks of documents
    assert rendered and len(rendered) == len(set(rendered))


def test_a_rebuild_after_an_edit_renders_only_the_edited_entry(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch, rendered_entries: list[tuple[str, str]],
) -> None:
    """The other entries of each feed it is in are copied from the files the
    last build wrote; the files equal a build from scratch."""
    write_many(write_article, 12)
    out = tmp_path / "out"
    site_build(content_dir, out)
    rendered = rendered_entries
    rendered.clear()
    write_article("n003.md", title="Story 3, corrected", provider={"name": "Outlet 3"}, topics=["Topic 3"],
                  publishedDateTime="2024-05-04T03:00:00Z")

    site_build(content_dir, out)

    # The entry, and the story it is the one item of, in each format once.
    assert sorted(rendered) == sorted(
        (entry, fmt) for entry in ("https://news.example.com/n003", story_id(out, "Story 3, corrected"))
        for fmt in ("atom", "html", "json", "rss")
    )
    monkeypatch.undo()
    site_build(content_dir, tmp_path / "fresh", no_cache=True)
    assert files_below(out) == files_below(tmp_path / "fresh")


def story_id(out: Path, title: str) -> str:
    """The id of the story titled `title` in the stories feed built into `out`."""
    parsed = feedparser.parse((out / "stories.atom").read_bytes())
    return next(entry.id for entry in parsed.entries if entry.title == title)


def test_a_feed_file_changed_by_hand_is_rendered_whole_again(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
) -> None:
    """Entries are copied from a file only while it holds what the last
    build wrote: here an entry the edit does not touch was changed by hand."""
    write_many(write_article, 12)
    out = tmp_path / "out"
    site_build(content_dir, out)
    for name in ("all.rss", "all.json", "all.html"):
        tampered = (out / name).read_bytes().replace(b"Story 5", b"Story five")
        assert tampered != (out / name).read_bytes()
        (out / name).write_bytes(tampered)
    write_article("n003.md", title="Story 3, corrected", provider={"name": "Outlet 3"}, topics=["Topic 3"],
                  publishedDateTime="2024-05-04T03:00:00Z")

    site_build(content_dir, out)

    site_build(content_dir, tmp_path / "fresh", no_cache=True)
    assert files_below(out) == files_below(tmp_path / "fresh")


def test_a_touched_file_with_the_same_bytes_is_not_parsed_again(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
) -> None:
    path = write_article("a.md")
    site_build(content_dir, tmp_path / "out")
    os.utime(path, ns=(1, 1))  # a fresh clone: new times, same bytes
    refresh, publication = site_build(content_dir, tmp_path / "out")
    assert (refresh.parsed, publication.written) == (0, 0)


@pytest.mark.parametrize(
    ("deleted", "gzipped"),
    [
        ("topics/topic-1.rss", False),
        pytest.param("all/archive/1.atom", False, id="archive-page"),
        pytest.param("all.atom.gz", True, id="gzip-form"),
    ],
)
def test_a_deleted_output_file_is_written_again(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
    deleted: str, gzipped: bool,
) -> None:
    write_many(write_article, 3)
    out = tmp_path / "out"
    site_build(content_dir, out, gzipped, max_items=1)
    expected = files_below(out)
    (out / deleted).unlink()
    _, publication = site_build(content_dir, out, gzipped, max_items=1)
    assert files_below(out) == expected
    assert publication.written == 1


@pytest.mark.parametrize("store", ["shared", "per-base-url"])
def test_another_base_url_renders_everything_again(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
    store: str,
) -> None:
    """Whether both builds share a store (``--store``) or not: every document
    names its base URL."""
    write_many(write_article, 3)
    out = tmp_path / "out"
    chosen = {"store": tmp_path / "store.sqlite3" if store == "shared" else None}
    site_build(content_dir, out, **chosen)
    _, publication = site_build(content_dir, out, base_url="https://elsewhere.example", **chosen)
    assert publication.unchanged == 0
    assert b"https://elsewhere.example/all.atom" in (out / "all.atom").read_bytes()
    site_build(content_dir, tmp_path / "fresh", base_url="https://elsewhere.example", no_cache=True)
    assert files_below(out) == files_below(tmp_path / "fresh")


def test_another_size_limit_parses_everything_again(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
) -> None:
    write_article("a.md", body="x" * 2000)
    site_build(content_dir, tmp_path / "out")
    pipeline = Pipeline(settings_module.load(
        {"content_dir": content_dir, "base_url": BASE_URL, "store": tmp_path / "store.sqlite3",
         "max_file_size": 1000}, environ={}))
    try:
        assert pipeline.refresh().parsed == 1
        assert [problem.message for problem in pipeline.problems() if "limit" in problem.message]
    finally:
        pipeline.close()


# -- the store, and keeping none ------------------------------------------------------------------


def test_the_store_never_lands_in_the_output_folder(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, build: Callable[..., Result],
) -> None:
    write_article("a.md", published=False, title="Secret draft")
    out = tmp_path / "out"
    build(content_dir, "--cache-dir", str(tmp_path / "c"), out=out)
    assert list((tmp_path / "c").glob("site-*.sqlite3"))
    found = files_below(out)
    assert all(urlspace.parse("/" + name) for name in found), sorted(found)  # documents only
    assert all(b"Secret draft" not in body for body in found.values())


@pytest.mark.parametrize("option", ["--store=OUT/site.sqlite3", "--cache-dir=OUT/cache"])
def test_a_store_asked_for_inside_the_output_folder_is_refused(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, build: Callable[..., Result],
    option: str,
) -> None:
    write_article("a.md", published=False, title="Secret draft")
    out = tmp_path / "out"
    result = build(content_dir, option.replace("OUT", str(out)), out=out, ok=False)
    assert "Traceback" not in result.output
    published = files_below(out) if out.exists() else {}
    assert not [name for name, body in published.items() if b"Secret draft" in body]


def test_no_cache_keeps_no_store(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, build: Callable[..., Result],
) -> None:
    write_article("a.md")
    build(content_dir, "--cache-dir", str(tmp_path / "c"), "--no-cache")
    assert not (tmp_path / "c").exists()


def test_no_cache_leaves_nothing_in_the_temporary_folder(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, feedpub_script: Path,
) -> None:
    write_article("a.md", published=False, title="Secret draft")
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = subprocess.run(
        [str(feedpub_script), "build", str(content_dir), "--out", str(tmp_path / "out"),
         "--base-url", BASE_URL, "--no-cache"],
        env={**os.environ, "TMPDIR": str(temp), "XDG_CACHE_HOME": str(tmp_path / "xdg")},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "xdg").exists()
    assert list(temp.iterdir()) == []


def test_a_production_build_after_a_preview_into_the_same_folder_withdraws_the_drafts(
    copy_seeds: Callable[[], Path], tmp_path: Path, build: Callable[..., Result],
    read_tree: Callable[[Path], dict[str, bytes]],
) -> None:
    seeds = copy_seeds()
    out = tmp_path / "public"
    build(seeds, out=out)
    build(seeds, "--unpublished", out=out)
    build(seeds, out=out)
    build(seeds, "--no-cache", out=tmp_path / "fresh")
    assert read_tree(out) == read_tree(tmp_path / "fresh")


# -- parallel work, gzip forms ----------------------------------------------------------------------


def test_a_parallel_build_equals_a_serial_build(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, build: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Lower the threshold so that a small corpus is parsed in parallel too
    # (rendering goes parallel from 64 documents, which this corpus has).
    monkeypatch.setattr(loading, "PARALLEL_FROM", 2)
    write_many(write_article, 30)
    (content_dir / "broken.md").write_text("---\ntitle: [\n---\n")
    results = {
        jobs: build(content_dir, "--jobs", jobs, "--now", NOW, "--store", str(tmp_path / f"{jobs}.sqlite3"),
                    out=tmp_path / jobs)
        for jobs in ("1", "2", "3")
    }
    # Two workers, each handed chunks a few ahead of the one read: the same
    # order of results, so the same files.
    assert files_below(tmp_path / "1") == files_below(tmp_path / "2") == files_below(tmp_path / "3")
    assert len(files_below(tmp_path / "1")) > 64
    assert results["1"].stderr == results["2"].stderr == results["3"].stderr
    assert results["1"].stderr.count("broken.md:") == 1


def test_gzip_forms_follow_the_build(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, site_build: Callable[..., Any],
) -> None:
    write_many(write_article, 6)
    out = tmp_path / "out"

    def plain_and_packed() -> tuple[dict[str, bytes], dict[str, bytes]]:
        tree = files_below(out)
        packed = {name[:-3]: body for name, body in tree.items() if name.endswith(".gz")}
        return {name: body for name, body in tree.items() if not name.endswith(".gz")}, packed

    site_build(content_dir, out, True)
    plain, packed = plain_and_packed()
    assert set(packed) == set(plain)
    assert all(gzip.decompress(packed[name]) == body for name, body in plain.items())
    assert site_build(content_dir, out, True)[1].written == 0

    (content_dir / "n005.md").unlink()  # the only article of Outlet 5: its feed goes, gzip forms too
    site_build(content_dir, out, True)
    plain, packed = plain_and_packed()
    assert not any(name.startswith("providers/outlet-5.") for name in [*plain, *packed])
    assert set(packed) == set(plain)
    assert all(gzip.decompress(packed[name]) == body for name, body in plain.items())

    site_build(content_dir, out)  # without gzip: no stale gzip form is left to serve
    assert plain_and_packed()[1] == {}


# -- reproducible and careful builds ----------------------------------------------------------------


def test_now_makes_the_output_a_function_of_content_and_instant(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, build: Callable[..., Result],
) -> None:
    """Two builds as at one ``--now``, of the same files and id ledger, in
    other folders with stores of their own, write the same bytes; an edit's
    time (the entry's ``updated``) is the instant built at, not the clock."""
    write_article("a.md", title="One", publishedDateTime="2024-05-01T12:00:00Z")
    write_article("later.md", title="Later", publishedDateTime="2024-07-01T12:00:00Z")  # scheduled
    build(content_dir, "--now", "2024-06-01T00:00:00Z")
    write_article("a.md", title="One, corrected", publishedDateTime="2024-05-01T12:00:00Z")
    build(content_dir, "--now", "2024-06-02T00:00:00Z", out=tmp_path / "first")

    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("a.md", "later.md", ".feedpub-ids"):  # new files: new times and inodes
        (copy / name).write_bytes((content_dir / name).read_bytes())
    build(copy, "--now", "2024-06-02T00:00:00Z", "--no-cache", out=tmp_path / "second")

    first = files_below(tmp_path / "first")
    assert first == files_below(tmp_path / "second")
    entries = feedparser.parse(first["all.atom"]).entries
    assert [(entry.title, entry.updated) for entry in entries] == [
        ("One, corrected", "2024-06-02T00:00:00+00:00")
    ]


def test_strict_writes_nothing_and_fails_on_a_problem(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, build: Callable[..., Result],
) -> None:
    write_article("good.md")
    (content_dir / "bad.md").write_text("---\ntitle: [\n---\n")
    out = tmp_path / "out"
    result = build(content_dir, "--strict", out=out, ok=False)
    assert result.exit_code == 1
    assert "bad.md:" in result.stderr and "--strict" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()

    (content_dir / "bad.md").unlink()
    build(content_dir, "--strict", out=out)
    assert (out / "all.atom").is_file()


def test_strict_leaves_the_content_folder_alone_when_it_fails(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
) -> None:
    write_article("good.md")
    (content_dir / "bad.md").write_text("---\ntitle: [\n---\n")
    before = files_below(content_dir)
    assert build(content_dir, "--strict", ok=False).exit_code == 1
    assert files_below(content_dir) == before


def test_ping_without_hubs_says_so(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
) -> None:
    write_article("a.md")
    result = build(content_dir, "--ping")
    assert "no WebSub hubs configured" in result.stdout and "nothing pinged" in result.stdout


# -- nothing written outside --out, nor through links in it -------------------------------------------


def _state(root: Path, *skip: Path) -> dict[str, tuple[Any, ...]]:
    """Everything below `root` but `skip`: kind, mode, mtime and bytes."""
    state: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, names in os.walk(root):  # does not follow links
        dirs[:] = [name for name in dirs if Path(folder, name) not in skip]
        for name in dirs + names:
            path = Path(folder, name)
            if path in skip:
                continue
            info = path.lstat()
            if path.is_symlink():
                state[str(path)] = ("link", os.readlink(path))
            elif path.is_dir():
                state[str(path)] = ("dir", info.st_mode)
            else:
                state[str(path)] = ("file", info.st_mode, info.st_mtime_ns, path.read_bytes())
    return state


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default store folder, inside `tmp_path`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_a_build_writes_nothing_outside_out(
    tmp_path: Path, content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    own_cache: Path,
) -> None:
    """Nothing changes but `out`, the store and the id ledger (``--no-cache``:
    nothing but `out` and the ledger), whatever the topic and provider names."""
    hostile = ["../../escape", "/etc/passwd", "..", ".", "a/b/../c", "~root", "C:\\Windows", "%2e%2e%2f"]
    write_article("a.md", title="One", topics=hostile, provider={"name": "../../../outside"})
    write_article("b.md", title="Two", topics=["AI", "../AI"], provider={"name": "/"})
    (tmp_path / "victim.rss").write_text("untouched")
    out = tmp_path / "site" / "out"
    out.parent.mkdir()
    ledger = content_dir / ".feedpub-ids"

    for step in range(4):
        no_cache = step % 2 == 1
        skip = (out, ledger) if no_cache else (out, ledger, own_cache)
        before = _state(tmp_path, *skip)
        build(content_dir, *(["--no-cache"] if no_cache else []), out=out)
        assert _state(tmp_path, *skip) == before, f"build {step}"
        if step == 0:  # then remove topics, so that stale feeds are removed
            write_article("a.md", title="One", topics=["AI"], provider={"name": "../../../outside"})
        elif step == 2:
            (content_dir / "a.md").unlink()

    real_out = out.resolve()
    written = [path for path in out.rglob("*") if path.is_file()]
    assert len(written) >= 4
    assert all(path.resolve().is_relative_to(real_out) for path in written)


@pytest.mark.parametrize(
    ("link", "topics"),
    [("topics", []), ("topics", ["AI"]), ("all.rss", ["AI"]), ("all", ["AI"])],
    ids=["folder-stale-removal", "folder-writing", "feed-file", "archive-folder"],
)
def test_links_planted_in_out_are_never_written_through(
    tmp_path: Path, content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    own_cache: Path, link: str, topics: list[str],
) -> None:
    """An output folder whose ``topics`` (or ``all``, where archive pages go)
    is a link to another folder, or whose ``all.rss`` is a link to another
    file: the target does not change, whether feeds are written into the
    folder or stale ones removed from it."""
    write_article("a.md", title="One", topics=topics, publishedDateTime="2024-05-01T12:00:00Z")
    write_article("b.md", title="Two", topics=topics, publishedDateTime="2024-05-02T12:00:00Z")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "archive").mkdir(parents=True)
    for name in ("precious.rss", "precious.atom", f"{TEMP_PREFIX}precious.rss.x", "ai.rss", "archive/1.rss"):
        (elsewhere / name).write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / link).symlink_to(elsewhere / "precious.rss" if link == "all.rss" else elsewhere)
    before = _state(tmp_path, out, own_cache, content_dir / ".feedpub-ids")

    result = build(content_dir, "--max-items", "1", out=out, ok=False)

    assert _state(tmp_path, out, own_cache, content_dir / ".feedpub-ids") == before, result.output
    assert "Traceback" not in result.output
    if result.exit_code:
        assert "outside" in result.output


def test_temporary_files_left_in_out_are_removed_by_the_next_build(
    tmp_path: Path, content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
) -> None:
    """Files named like feedpub's temporary files, as a killed build leaves
    them, go; files of others in the folder stay."""
    write_article("a.md", title="One", topics=["AI"])
    out = tmp_path / "out"
    build(content_dir, out=out)
    built = files_below(out)
    leftovers = [
        out / f"{TEMP_PREFIX}all.rss.k2j3h4",
        out / f"{TEMP_PREFIX}index.html.zz",
        out / "topics" / f"{TEMP_PREFIX}ai.atom.abc",
        out / "providers" / f"{TEMP_PREFIX}example-news.rss.0",
    ]
    for path in leftovers:
        path.write_bytes(b'<?xml version="1.0"?><rss><chann')
    theirs = [out / "robots.txt", out / ".htaccess", out / "topics" / "README"]
    for path in theirs:
        path.write_text("not feedpub's")

    build(content_dir, out=out)

    assert not [path for path in leftovers if path.exists()]
    assert all(path.read_text() == "not feedpub's" for path in theirs)
    assert {name: body for name, body in files_below(out).items() if name in built} == built


def test_written_files_are_as_readable_as_the_umask_allows(
    tmp_path: Path, content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
) -> None:
    """A web server reading the folder may run as another user: every file
    gets the mode a plain file gets under the umask, not a temporary file's
    private one, when first written and when rewritten."""
    write_article("a.md", title="One", topics=["AI"])
    out = tmp_path / "out"
    previous = os.umask(0o027)
    try:
        build(content_dir, "--gzip", out=out)
        write_article("a.md", title="One, corrected", topics=["AI"])
        build(content_dir, "--gzip", out=out)
    finally:
        os.umask(previous)
    modes = {name: (out / name).stat().st_mode & 0o777 for name in files_below(out)}
    assert "all.rss.gz" in modes
    assert set(modes.values()) == {0o640}, modes


# -- SIGKILL in the middle of writing -------------------------------------------------------------------

#: About 300 files to write: enough for a kill to land midway, few enough to be quick.
KILL_ARTICLES = 60


def _write_corpus(root: Path, version: str) -> None:
    """Articles over many topics and providers, so that a build writes a few
    hundred files; every title and excerpt names `version`."""
    for i in range(KILL_ARTICLES):
        (root / f"{i:05d}.md").write_text(
            f"---\ntitle: Story {i}, version {version}\n"
            f"publishedDateTime: 2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z\n"
            f"sourceUrl: https://news.example.com/{i}\n"
            f"provider:\n  name: Provider {i % 15}\n  domain: p{i % 15}.example.com\n"
            f"topics: [Topic {i % 30}, Topic {i * 7 % 30}]\n"
            f"excerpt: Excerpt of story {i} <b>&amp;</b> {version}\n---\n"
        )


def _is_valid(name: str, body: bytes) -> bool:
    try:
        if name.endswith((".rss", ".atom", ".opml")):
            lxml.etree.fromstring(body)
        elif name.endswith(".html"):
            lxml.html.document_fromstring(body)
            return body.rstrip().endswith(b"</html>")
        elif name.endswith(".json"):
            json.loads(body)
        return True
    except (lxml.etree.XMLSyntaxError, lxml.etree.ParserError, ValueError):
        return False


def _inodes(root: Path) -> Iterator[tuple[str, int]]:
    for folder, _, names in os.walk(root):
        for name in names:
            with_path = os.path.join(folder, name)
            try:
                yield with_path, os.lstat(with_path).st_ino
            except FileNotFoundError:
                pass


def _wait_for_no_process_using(needle: str, timeout: float = 10) -> None:
    """Wait until no process (a worker the killed build forked) has `needle`
    on its command line, so that nothing writes into the folder any more."""
    if not Path("/proc/self/cmdline").exists():
        return
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if needle.encode() in cmdline.read_bytes().split(b"\0"):
                    alive.append(cmdline.parent.name)
            except OSError:
                pass  # it ended meanwhile
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes of the killed build live on: {alive}"
        time.sleep(0.02)


def test_sigkill_mid_build_leaves_every_file_old_or_new(
    tmp_path: Path, build: Callable[..., Result], feedpub_script: Path,
) -> None:
    """The console script (parallel, forked writers) killed once a third,
    then two thirds of the files it changes are in place: every file is
    whole, old or new, none is missing; the next build finishes the job and
    leaves no temporary file."""
    content = tmp_path / "content"
    content.mkdir()
    store = ["--store", str(tmp_path / "store.sqlite3"), "--now", NOW]
    _write_corpus(content, "A")
    build(content, *store, out=tmp_path / "a")
    old = files_below(tmp_path / "a")
    _write_corpus(content, "B")
    build(content, *store, out=tmp_path / "b")
    new = files_below(tmp_path / "b")
    changed = {name for name in new if new[name] != old.get(name)}
    assert len(changed) > 250

    out = tmp_path / "out"
    command = [str(feedpub_script), "build", str(content), "--base-url", BASE_URL, *store, "--out", str(out)]
    outcomes = []
    for fraction in (1 / 3, 2 / 3):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(tmp_path / "a", out)
        inodes = dict(_inodes(out))
        wanted = len(changed) * fraction
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
            while process.poll() is None:
                if sum(inodes.get(path) != inode for path, inode in _inodes(out)) >= wanted:
                    break
                time.sleep(0.005)  # leave the two cores to the build
            process.send_signal(signal.SIGKILL)
            killed = process.wait() == -signal.SIGKILL
        _wait_for_no_process_using(str(out))

        found = files_below(out)
        where = f"killed after {fraction:.0%} of the files"
        temps = [name for name in found if name.rpartition("/")[2].startswith(TEMP_PREFIX)]
        for name in temps:
            del found[name]
        missing = (old.keys() & new.keys()) - found.keys()
        assert not missing, f"{where}: files vanished: {sorted(missing)[:5]}"
        for name, body in found.items():
            assert body in (old.get(name), new.get(name)), f"{where}: {name} is neither old nor new"
            assert _is_valid(name, body), f"{where}: {name} does not parse"
        outcomes.append((killed, sum(found.get(name) == new[name] for name in changed), len(temps)))
    print(f"\nSIGKILL trials (killed, new files of {len(changed)}, temporary files): {outcomes}")
    assert any(killed and 0 < count < len(changed) for killed, count, _ in outcomes), outcomes

    build(content, *store, out=out)
    assert files_below(out) == new
