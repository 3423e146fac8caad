"""The SQLite site store (issue 8): a store that cannot be trusted is set
aside and rebuilt, a refresh killed midway leaves the previous version whole,
the store lives where the settings say, and a refresh changes the store only
as much as the content did.

Builds run through the CLI (in-process, or the console script where a store
must be opened by a process of its own) and through `feedpub.site.Pipeline`.
Corrupt stores are made with the standard library's `sqlite3` from the
outside, the way a full disk, a stray file or another program would.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feedpub import settings as settings_module
from feedpub.build import publish
from feedpub.site import Pipeline

BASE_URL = "https://feeds.example.org"
#: Every build of this module is made as at this instant, so that two builds
#: of the same content can be compared byte for byte.
NOW = "2024-06-01T00:00:00Z"


def write_corpus(root: Path, version: str, count: int) -> None:
    """`count` small articles over a few topics and providers, in folders of
    100; every title and excerpt names `version` (a new version edits every
    file)."""
    for i in range(count):
        folder = root / f"{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.md").write_text(
            f"---\ntitle: Story {i}, version {version}\n"
            f"publishedDateTime: 2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z\n"
            f"sourceUrl: https://news.example.com/{i}\n"
            f"provider:\n  name: Provider {i % 6}\n  domain: p{i % 6}.example.com\n"
            f"topics: [Topic {i % 8}]\n"
            f"excerpt: Excerpt of story {i}, version {version}\n---\n",
            encoding="utf-8",
        )


def files_below(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path, hidden ones included."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def pipelines() -> Iterator[Callable[..., Pipeline]]:
    """``pipelines(content, **settings)``: a `Pipeline` on `content` for
    BASE_URL as at NOW (FEEDPUB_* variables ignored); closed at the end of
    the test."""
    made: list[Pipeline] = []

    def make(content: Path, **options: Any) -> Pipeline:
        settings = settings_module.load(
            {"content_dir": content, "base_url": BASE_URL, "now": NOW, **options}, environ={}
        )
        made.append(Pipeline(settings))
        return made[-1]

    yield make
    for pipeline in made:
        pipeline.close()


def build_with(pipeline: Pipeline, out: Path) -> dict[str, bytes]:
    """Refresh, write `out` and return what it holds; closes the pipeline."""
    try:
        pipeline.refresh()
        publish(pipeline, out)
    finally:
        pipeline.close()
    return files_below(out)


# -- stores that cannot be trusted -----------------------------------------------------------


def _companions(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]


def _fold_wal(path: Path) -> None:
    """Fold the write-ahead log into the database file, so that damage to
    the file damages the data."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _truncated(path: Path) -> None:
    """The disk filled up while the store was written."""
    _fold_wal(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path: Path) -> None:
    """Another file sits where the store should be."""
    for companion in _companions(path):
        companion.unlink(missing_ok=True)
    path.write_bytes(random.Random(8).randbytes(20_000))


def _other_application(path: Path) -> None:
    """A SQLite database of another program (say ``--store`` points at it)."""
    for candidate in (path, *_companions(path)):
        candidate.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE places (id INTEGER PRIMARY KEY, url TEXT)")
        connection.execute("INSERT INTO places (url) VALUES ('https://theirs.example')")
        connection.commit()


def _other_schema_version(path: Path) -> None:
    """A store of another version of feedpub's schema."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute(f"PRAGMA user_version = {version + 1}")


def _damaged_pages(path: Path) -> None:
    """Bit rot: every page of the store's biggest table overwritten, the
    header and the list of tables intact."""
    _fold_wal(path)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        try:
            pages = connection.execute(
                "SELECT pageno FROM dbstat WHERE name = (SELECT name FROM dbstat"
                " WHERE name != 'sqlite_schema' GROUP BY name ORDER BY count(*) DESC, name LIMIT 1)"
            ).fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find a table's pages with")
        size = connection.execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as stream:
        for (number,) in pages:
            stream.seek((number - 1) * size)
            stream.write(bytes(range(256)) * (size // 256))


DAMAGE = [
    pytest.param(_truncated, id="truncated"),
    pytest.param(_garbage, id="garbage"),
    pytest.param(_other_application, id="other-application"),
    pytest.param(_other_schema_version, id="other-schema-version"),
    pytest.param(_damaged_pages, id="damaged-pages"),
]


@pytest.fixture
def damaged_store(
    tmp_path: Path, pipelines: Callable[..., Pipeline],
) -> Callable[..., tuple[Path, Path, dict[str, bytes]]]:
    """``damaged_store(damage)``: a content folder, its store (built once,
    then damaged by `damage`) and what the build before the damage wrote."""

    def make(damage: Callable[[Path], None]) -> tuple[Path, Path, dict[str, bytes]]:
        content = tmp_path / "content"
        write_corpus(content, "A", 10)
        store = tmp_path / "store" / "site.sqlite3"
        built = build_with(pipelines(content, store=store), tmp_path / "before")
        damage(store)
        return content, store, built

    return make


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_store_that_cannot_be_trusted_is_set_aside_and_rebuilt_by_the_pipeline(
    damaged_store: Callable[..., Any], pipelines: Callable[..., Pipeline], tmp_path: Path,
    damage: Callable[[Path], None],
) -> None:
    content, store, built = damaged_store(damage)
    pipeline = pipelines(content, store=store)
    parsed = pipeline.refresh().parsed
    publish(pipeline, tmp_path / "after")
    assert files_below(tmp_path / "after") == built
    # Set aside when opened, or, for damage a look at the header cannot see,
    # when the pipeline meets it (checking every page at each open would
    # cost seconds on a large site): then the refresh may not have noticed.
    assert Path(f"{store}.broken").is_file()
    if damage is not _damaged_pages:
        assert parsed == 10  # nothing of the old store was believed


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_store_that_cannot_be_trusted_is_set_aside_and_rebuilt_by_the_cli(
    damaged_store: Callable[..., Any], feedpub_script: Path, tmp_path: Path, damage: Callable[[Path], None],
) -> None:
    """The console script: a process of its own opens the damaged store."""
    content, store, built = damaged_store(damage)
    result = subprocess.run(
        [str(feedpub_script), "build", str(content), "--out", str(tmp_path / "after"), "--base-url", BASE_URL,
         "--now", NOW, "--store", str(store)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert Path(f"{store}.broken").is_file()
    assert files_below(tmp_path / "after") == built


def test_a_database_of_another_application_is_kept_aside_not_destroyed(
    damaged_store: Callable[..., Any], pipelines: Callable[..., Pipeline],
) -> None:
    content, store, _ = damaged_store(_other_application)
    pipelines(content, store=store).refresh()
    with contextlib.closing(sqlite3.connect(f"{store}.broken")) as connection:
        assert connection.execute("SELECT url FROM places").fetchall() == [("https://theirs.example",)]


# -- a refresh killed midway ------------------------------------------------------------------

#: Enough files that parsing goes parallel and the refresh's transaction
#: writes a few megabytes, a few tenths of a second into the build.
KILL_ARTICLES = 300


def _wait_for_no_process_using(needle: str, timeout: float = 10) -> None:
    """Wait until no process (a worker the killed build forked) has `needle`
    on its command line."""
    if not Path("/proc/self/cmdline").exists():
        return
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):  # it ended meanwhile
                if needle.encode() in cmdline.read_bytes().split(b"\0"):
                    alive.append(cmdline.parent.name)
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes of the killed build live on: {alive}"
        time.sleep(0.02)


def _size(path: Path) -> int:
    """The file's size; 0 while it does not exist (SQLite removes its log
    when the last connection closes, at any moment between two looks)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_a_build_killed_in_the_middle_of_a_refresh_leaves_the_previous_version_intact(
    tmp_path: Path, feedpub_script: Path, pipelines: Callable[..., Pipeline], build: Callable[..., Any],
    read_tree: Callable[[Path], dict[str, bytes]],
) -> None:
    """SIGKILL as soon as the store's write-ahead log grows, that is while
    the refresh's one transaction is being written: the store still holds
    the previous version, whole (it is not set aside), every file is parsed
    again, and the next build gives the bytes of a clean build."""
    content = tmp_path / "content"
    store = tmp_path / "store" / "site.sqlite3"
    wal = Path(f"{store}-wal")
    write_corpus(content, "A", KILL_ARTICLES)
    pipeline = pipelines(content, store=store)
    previous = pipeline.refresh().version
    pipeline.close()  # the last connection folds the log into the file
    out = tmp_path / "out"
    command = [str(feedpub_script), "build", str(content), "--out", str(out), "--base-url", BASE_URL,
               "--now", NOW, "--store", str(store)]
    outcomes = []
    for version in "BCD":  # until a kill lands before the commit
        write_corpus(content, version, KILL_ARTICLES)
        before = _size(wal)
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
            deadline = time.monotonic() + 60
            while process.poll() is None and time.monotonic() < deadline:
                if _size(wal) > before:
                    break
            process.send_signal(signal.SIGKILL)
            assert process.wait() == -signal.SIGKILL, "the build ended before it was killed"
        _wait_for_no_process_using(str(store))
        assert not Path(f"{store}.broken").exists()
        pipeline = pipelines(content, store=store)
        found = pipeline.store.version
        pipeline.close()
        outcomes.append(found)
        if found == previous:
            break
        assert found == previous + 1, outcomes  # the kill came after the commit: the new version, whole
        previous = found
    else:
        pytest.fail(f"no kill landed before the refresh committed: versions {outcomes}")

    pipeline = pipelines(content, store=store)
    assert pipeline.refresh().parsed == KILL_ARTICLES
    assert pipeline.problems() == ()
    pipeline.close()
    build(content, "--now", NOW, "--store", str(store), out=out)
    build(content, "--now", NOW, "--no-cache", out=tmp_path / "clean")
    assert read_tree(out) == read_tree(tmp_path / "clean")


# -- where the store lives --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "environment", "expected"),
    [
        pytest.param(["--store", "{tmp}/chosen/site.db"], {}, "chosen/site.db", id="--store"),
        pytest.param([], {"FEEDPUB_STORE": "{tmp}/chosen/site.db"}, "chosen/site.db", id="FEEDPUB_STORE"),
        pytest.param(["--store", "{tmp}/chosen/site.db"], {"FEEDPUB_STORE": "{tmp}/ignored.db"},
                     "chosen/site.db", id="--store-over-FEEDPUB_STORE"),
        pytest.param(["--cache-dir", "{tmp}/caches"], {}, "caches/site-*.sqlite3", id="--cache-dir"),
        pytest.param([], {"FEEDPUB_CACHE_DIR": "{tmp}/caches"}, "caches/site-*.sqlite3",
                     id="FEEDPUB_CACHE_DIR"),
        pytest.param([], {}, "xdg/feedpub/site-*.sqlite3", id="XDG_CACHE_HOME"),
    ],
)
def test_the_store_lives_where_the_settings_say(
    build: Callable[..., Any], write_article: Callable[..., Path], content_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, pipelines: Callable[..., Pipeline],
    options: list[str], environment: dict[str, str], expected: str,
) -> None:
    write_article("a.md")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    build(content_dir, "--now", NOW, *(option.format(tmp=tmp_path) for option in options))

    (store,) = [path for path in tmp_path.rglob("*")
                if path.is_file() and path.read_bytes()[:15] == b"SQLite format 3"]
    assert store.match(f"{tmp_path}/{expected}")
    # The store the build wrote: a pipeline on it finds every file known.
    assert pipelines(content_dir, store=store).refresh().parsed == 0


def test_a_preview_and_a_production_build_keep_stores_of_their_own(
    build: Callable[..., Any], copy_seeds: Callable[[], Path], tmp_path: Path,
) -> None:
    """The store of ``--unpublished`` is not the production build's: one
    never makes the other start over (nor shows its drafts)."""
    seeds = copy_seeds()
    cache = tmp_path / "caches"
    build(seeds, "--cache-dir", str(cache))
    build(seeds, "--cache-dir", str(cache), "--unpublished")
    assert len(list(cache.glob("site-*.sqlite3"))) == 2


# -- a refresh changes the store as much as the content changed --------------------------------


def test_a_refresh_after_nothing_changed_keeps_the_store_version(
    build: Callable[..., Any], content_dir: Path, tmp_path: Path, pipelines: Callable[..., Pipeline],
) -> None:
    write_corpus(content_dir, "A", 12)
    store = tmp_path / "site.sqlite3"
    build(content_dir, "--now", NOW, "--store", str(store))
    pipeline = pipelines(content_dir, store=store)
    version = pipeline.store.version
    assert version >= 1
    report = pipeline.refresh()
    assert (report.parsed, report.changed, report.version, report.dirty) == (0, False, version, set())
    pipeline.close()

    build(content_dir, "--now", NOW, "--store", str(store))  # the CLI's rebuild does not move it either
    assert pipelines(content_dir, store=store).store.version == version


def test_a_one_file_edit_parses_one_file(
    content_dir: Path, tmp_path: Path, pipelines: Callable[..., Pipeline],
) -> None:
    write_corpus(content_dir, "A", 12)
    pipeline = pipelines(content_dir, store=tmp_path / "site.sqlite3")
    first = pipeline.refresh()
    assert first.parsed == 12
    edited = content_dir / "00" / "00003.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("version A", "version B"), encoding="utf-8")

    report = pipeline.refresh()
    assert (report.parsed, report.changed, report.version) == (1, True, first.version + 1)
    assert "/topics/topic-3.atom" in report.dirty and "/topics/topic-4.atom" not in report.dirty
