"""The offline build pipeline: the parse cache, skipping current feeds,
parallel work, and builds that equal a build from scratch."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from feedpub import builder
from feedpub import cache
from feedpub.model import Site

SITE = Site("https://feeds.example.org")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _build(content_dir: Path, out: Path, cache_dir: Path | None, **options) -> builder.Report:
    return builder.build(content_dir, out, SITE, builder.Options(cache_dir=cache_dir, **options))


def _cache_files(cache_dir: Path) -> list[Path]:
    return sorted(path for path in cache_dir.rglob("*") if path.is_file())


def _tree(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*") if path.is_file()}


def _write_many(write_article, count: int) -> None:
    for number in range(count):
        write_article(
            f"n{number:03}.md",
            title=f"Story {number}",
            provider={"name": f"Outlet {number % 7}"},
            topics=[f"Topic {number % 5}"],
            publishedDateTime=f"2024-05-{1 + number % 28:02}T{number % 24:02}:00:00Z",
        )


def test_rebuild_of_unchanged_content_parses_and_renders_nothing(
    content_dir, write_article, tmp_path, cache_dir
):
    _write_many(write_article, 12)
    out = tmp_path / "out"
    first = _build(content_dir, out, cache_dir)
    assert (first.parsed, first.written) == (12, first.rendered)
    again = _build(content_dir, out, cache_dir)
    assert (again.parsed, again.rendered, again.written) == (0, 0, 0)


def test_an_old_article_changes_the_index_but_no_feed(content_dir, write_article, tmp_path, cache_dir):
    _write_many(write_article, 12)
    out = tmp_path / "out"
    _build(content_dir, out, cache_dir, max_items=2)
    before = _tree(out)
    # Older than everything shown: every feed stays, the counts change.
    write_article(
        "old.md",
        title="Old",
        provider={"name": "Outlet 1"},
        topics=["Topic 1"],
        publishedDateTime="2001-01-01T00:00:00Z",
    )
    report = _build(content_dir, out, cache_dir, max_items=2)
    changed = {name for name, body in _tree(out).items() if before.get(name) != body}
    assert changed == {"index.html"}  # the OPML list shows no counts: rendered, the same
    assert report.rendered == 2
    assert _tree(out) == _tree(_fresh_build(content_dir, tmp_path, max_items=2))


def test_one_changed_file_parses_one_and_rewrites_only_its_feeds(
    content_dir, write_article, tmp_path, cache_dir
):
    _write_many(write_article, 12)
    out = tmp_path / "out"
    _build(content_dir, out, cache_dir)
    before = _tree(out)
    write_article(
        "n003.md",
        title="Story 3, corrected",
        provider={"name": "Outlet 3"},
        topics=["Topic 3"],
        publishedDateTime="2024-05-04T03:00:00Z",
    )
    report = _build(content_dir, out, cache_dir)
    assert report.parsed == 1
    changed = {name for name, body in _tree(out).items() if before.get(name) != body}
    assert changed == {
        "all.rss",
        "all.atom",
        "topics/topic-3.rss",
        "topics/topic-3.atom",
        "providers/outlet-3.rss",
        "providers/outlet-3.atom",
    }
    assert _tree(out) == _tree(_fresh_build(content_dir, tmp_path))


def _fresh_build(content_dir: Path, tmp_path: Path, **options) -> Path:
    out = tmp_path / "fresh"
    _build(content_dir, out, None, **options)
    return out


def test_touched_file_is_not_parsed_again(content_dir, write_article, tmp_path, cache_dir):
    path = write_article("a.md")
    _build(content_dir, tmp_path / "out", cache_dir)
    os.utime(path, ns=(1, 1))  # a fresh clone: new times, same bytes
    assert _build(content_dir, tmp_path / "out", cache_dir).parsed == 0


def test_deleted_or_edited_output_file_is_written_again(content_dir, write_article, tmp_path, cache_dir):
    _write_many(write_article, 3)
    out = tmp_path / "out"
    _build(content_dir, out, cache_dir)
    expected = _tree(out)
    (out / "topics" / "topic-1.rss").unlink()
    (out / "all.atom").write_bytes(b"vandalised")
    report = _build(content_dir, out, cache_dir)
    assert report.written == 2
    assert _tree(out) == expected


def test_other_base_url_renders_everything_again(content_dir, write_article, tmp_path, cache_dir):
    _write_many(write_article, 3)
    out = tmp_path / "out"
    _build(content_dir, out, cache_dir)
    report = builder.build(
        content_dir, out, Site("https://elsewhere.example"), builder.Options(cache_dir=cache_dir)
    )
    assert report.unchanged == 0
    assert b"https://elsewhere.example/all.atom" in (out / "all.atom").read_bytes()


def test_other_size_limit_parses_everything_again(content_dir, write_article, tmp_path, cache_dir):
    write_article("a.md", body="x" * 2000)
    _build(content_dir, tmp_path / "out", cache_dir)
    report = _build(content_dir, tmp_path / "out", cache_dir, max_bytes=1000)
    assert report.parsed == 1
    assert [p.message for p in report.problems if "limit" in p.message]


def test_corrupt_cache_is_ignored(content_dir, write_article, tmp_path, cache_dir):
    _write_many(write_article, 3)
    out = tmp_path / "out"
    _build(content_dir, out, cache_dir)
    for path in _cache_files(cache_dir):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # a disk that filled up while saving, say
    report = _build(content_dir, out, cache_dir)
    assert report.parsed == 3
    assert _tree(out) == _tree(_fresh_build(content_dir, tmp_path))


def test_crafted_cache_cannot_run_code(content_dir, write_article, tmp_path, cache_dir):
    write_article("a.md")
    _build(content_dir, tmp_path / "out", cache_dir)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    # A valid header and checksum around a payload that would run a command.
    body = pickle.dumps(Exploit())
    checksum = cache._checksum(body)
    for path in _cache_files(cache_dir):
        path.write_bytes(cache._HEADER + checksum + body)
    assert _build(content_dir, tmp_path / "out", cache_dir).parsed == 1
    assert not marker.exists()


def test_an_edit_rewrites_one_shard_of_the_cache(content_dir, write_article, tmp_path, cache_dir):
    _write_many(write_article, 40)
    _build(content_dir, tmp_path / "out", cache_dir)
    shards = {
        path: path.stat().st_mtime_ns for path in _cache_files(cache_dir) if path.name.startswith("files-")
    }
    assert len(shards) > 1
    write_article("n007.md", title="Edited")
    _build(content_dir, tmp_path / "out", cache_dir)
    rewritten = [path for path, mtime in shards.items() if path.stat().st_mtime_ns != mtime]
    assert len(rewritten) == 1


def test_cache_never_lands_in_the_output_folder(content_dir, write_article, tmp_path, runner):
    from feedpub.cli import cli

    write_article("a.md", published=False, title="Secret draft")
    out = tmp_path / "out"
    result = runner.invoke(
        cli,
        [
            "build",
            str(content_dir),
            "--out",
            str(out),
            "--base-url",
            "https://f.example",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert list((tmp_path / "c").iterdir())
    assert all(b"Secret draft" not in body for body in _tree(out).values())


def test_no_cache_keeps_nothing(content_dir, write_article, tmp_path, runner):
    from feedpub.cli import cli

    write_article("a.md")
    result = runner.invoke(
        cli,
        [
            "build",
            str(content_dir),
            "--out",
            str(tmp_path / "out"),
            "--base-url",
            "https://f.example",
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-cache",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert not (tmp_path / "c").exists()


def test_parallel_build_equals_serial_build(content_dir, write_article, tmp_path, monkeypatch):
    from feedpub import content

    # Lower the thresholds so that a small corpus takes the parallel paths.
    monkeypatch.setattr(content, "PARALLEL_FROM", 2)
    monkeypatch.setattr(builder, "PARALLEL_RENDER_FROM", 2)
    _write_many(write_article, 30)
    (content_dir / "broken.md").write_text("---\ntitle: [\n---\n")
    serial = _build(content_dir, tmp_path / "serial", None, jobs=1)
    parallel = _build(content_dir, tmp_path / "parallel", None, jobs=3)
    assert _tree(tmp_path / "serial") == _tree(tmp_path / "parallel")
    assert serial.problems == parallel.problems
    assert len(parallel.problems) == 1


def test_background_work_reports_failure(tmp_path):
    from feedpub import parallel

    done = parallel.Background(Path.write_text, tmp_path / "done.txt", "yes")
    failed = parallel.Background(Path.read_text, tmp_path / "missing.txt")
    assert done.wait()
    assert not failed.wait()
    assert (tmp_path / "done.txt").read_text() == "yes"


def test_gzip_files_beside_each_file_follow_the_build(content_dir, write_article, tmp_path, cache_dir):
    import gzip

    _write_many(write_article, 6)
    out = tmp_path / "out"
    _build(content_dir, out, cache_dir, gzip=True)
    tree = _tree(out)
    plain = {name for name in tree if not name.endswith(".gz")}
    assert {name for name in tree if name.endswith(".gz")} == {name + ".gz" for name in plain}
    assert all(gzip.decompress(tree[name + ".gz"]) == tree[name] for name in plain)
    assert _build(content_dir, out, cache_dir, gzip=True).written == 0

    (out / "all.atom.gz").unlink()  # deleted by hand: written again
    (content_dir / "n005.md").unlink()  # Outlet 5 and Topic 0 lose... Outlet 5 goes
    _build(content_dir, out, cache_dir, gzip=True)
    tree = _tree(out)
    assert "all.atom.gz" in tree
    assert "providers/outlet-5.rss" not in tree and "providers/outlet-5.rss.gz" not in tree
    assert all(gzip.decompress(tree[name + ".gz"]) == tree[name] for name in tree if not name.endswith(".gz"))

    _build(content_dir, out, cache_dir)  # without --gzip, no stale gzip file is left to serve
    assert not [name for name in _tree(out) if name.endswith(".gz")]
