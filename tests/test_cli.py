"""The ``feedpub`` command (SPEC §4, issue 2's "Done when"), in-process
through click's `CliRunner` and as the real console script."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
import yaml
from click.testing import CliRunner
from lxml import etree

from feedpub import output
from feedpub.cli import cli

BASE_URL = "https://feeds.example.org"

#: What ``feedpub build seeds --unpublished`` writes, and the entries of each feed.
SEED_FEEDS = {
    "all": 4,
    "topics/ai": 4,
    "topics/computer-vision": 4,
    "providers/abc": 1,
    "providers/techcrunch": 1,
    "providers/sky": 1,
    "providers/independent": 1,
}
SEED_FILES = {"index.html", "feeds.opml"} | {f"{key}.{ext}" for key in SEED_FEEDS for ext in ("rss", "atom")}


def files_below(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path, hidden ones included."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


#: A modification time no build can give a file (2001-09-09), in nanoseconds.
AGED = 1_000_000_000 * 10**9


def age(folder: Path) -> None:
    """Date every file back to `AGED`, so any rewrite shows, whatever the
    resolution of the file system's clock."""
    for name in files_below(folder):
        os.utime(folder / name, ns=(AGED, AGED))


def untouched(folder: Path) -> set[str]:
    """Files not written since `age`."""
    return {name for name in files_below(folder) if (folder / name).stat().st_mtime_ns == AGED}


def build(runner: CliRunner, content: Path, out: Path, *options: str) -> str:
    """Run a build that must succeed; return what it printed."""
    args = ["build", str(content), "--out", str(out), "--base-url", BASE_URL, *options]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def assert_clean_error(output: str) -> str:
    """A user error is one ``Error:`` line (after click's usage lines), no traceback."""
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    return errors[0]


def secured_value(seeds_dir: Path) -> str:
    (path,) = seeds_dir.glob("*.txt")
    front_matter = path.read_text(encoding="utf-8").split("---\n")[1]
    value = yaml.safe_load(front_matter)["secured"]
    assert len(value) > 100
    return value


# -- Done when ----------------------------------------------------------------------------


def test_build_seeds_with_unpublished(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    printed = build(runner, seeds_dir, out, "--unpublished")
    assert set(files_below(out)) == SEED_FILES
    for key, count in SEED_FEEDS.items():
        for ext in ("rss", "atom"):
            parsed = feedparser.parse((out / f"{key}.{ext}").read_bytes())
            assert parsed.bozo == 0, (key, ext, parsed.get("bozo_exception"))
            assert len(parsed.entries) == count, (key, ext)
    # One summary line with the numbers.
    summary = printed.strip().splitlines()[-1]
    assert "1 article" in summary and "4 entries" in summary and "16 files written" in summary
    assert "withheld" not in summary


def test_build_seeds_without_unpublished_withholds_everything(
    runner: CliRunner, seeds_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "public"
    printed = build(runner, seeds_dir, out)
    assert "4 entries withheld" in printed
    assert "0 entries" in printed
    feeds = {name: body for name, body in files_below(out).items() if name.endswith((".rss", ".atom"))}
    assert set(feeds) == {"all.rss", "all.atom"}
    for name, body in feeds.items():
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0 and parsed.entries == [], name
    assert "4 entries are withheld" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("options", [["--unpublished"], []])
def test_no_output_contains_any_part_of_secured(
    runner: CliRunner, seeds_dir: Path, tmp_path: Path, options: list[str]
) -> None:
    secret = secured_value(seeds_dir)
    out = tmp_path / "public"
    printed = build(runner, seeds_dir, out, *options)
    # Every 12-character window: long enough never to occur by chance, short
    # enough to catch a part of it copied, cut or re-wrapped.
    windows = {secret[i : i + 12] for i in range(len(secret) - 11)}
    outputs = {name: body.decode("utf-8") for name, body in files_below(out).items()}
    outputs["(stdout and stderr)"] = printed
    for name, text in outputs.items():
        leaked = [window for window in windows if window in text]
        assert not leaked, (name, leaked[:3])


# -- writing -------------------------------------------------------------------------------


def test_unchanged_files_are_left_untouched(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(runner, seeds_dir, out, "--unpublished")
    age(out)
    printed = build(runner, seeds_dir, out, "--unpublished")
    assert untouched(out) == SEED_FILES
    assert "0 files written, 16 unchanged" in printed


def test_changed_files_are_rewritten_and_stale_feeds_removed(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "public"
    write_article("a.md", provider={"name": "A"}, topics=["AI"], publishedDateTime="2024-05-02T00:00:00Z")
    write_article("b.md", provider={"name": "B"}, topics=["Robotics"])
    build(runner, content_dir, out)
    # Files that are not feeds of feedpub's own folders are never removed.
    (out / "CNAME").write_text("feeds.example.org\n")
    (out / "topics" / "README.txt").write_text("hand-written\n")
    age(out)
    before = files_below(out)

    write_article("b.md", provider={"name": "B"}, topics=["Robotics"], title="A new title")
    printed = build(runner, content_dir, out)
    after = files_below(out)
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {
        "all.rss",
        "all.atom",
        "topics/robotics.rss",
        "topics/robotics.atom",
        "providers/b.rss",
        "providers/b.atom",
    }
    assert untouched(out) == set(before) - changed
    assert "6 files written" in printed

    write_article("b.md", provider={"name": "B"}, topics=["Space"])
    printed = build(runner, content_dir, out)
    names = set(files_below(out))
    assert "topics/robotics.rss" not in names and "topics/robotics.atom" not in names
    assert {"topics/space.rss", "topics/space.atom", "CNAME", "topics/README.txt"} <= names
    assert "2 removed" in printed


def test_build_leaves_no_temporary_files(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(runner, seeds_dir, out, "--unpublished")
    build(runner, seeds_dir, out)
    assert set(files_below(out)) == {"index.html", "feeds.opml", "all.rss", "all.atom"}


def test_a_failed_build_leaves_complete_files_and_no_temporary_ones(
    runner: CliRunner, seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "public"
    build(runner, seeds_dir, out)
    old = files_below(out)
    real_replace = os.replace
    calls = []

    def failing_replace(source: str, target: str) -> None:
        # The disk fills up while the third file is moved into place.
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", target)
        real_replace(source, target)

    # A context of its own: undoing it leaves conftest's settings in place.
    with monkeypatch.context() as patch:
        patch.setattr(output.os, "replace", failing_replace)
        result = runner.invoke(
            cli, ["build", str(seeds_dir), "--out", str(out), "--base-url", BASE_URL, "--unpublished"]
        )
    assert result.exit_code == 1
    assert "No space left" in assert_clean_error(result.output)
    assert len(calls) == 3
    new = build_elsewhere(runner, seeds_dir, tmp_path / "reference")  # what a full build writes
    for name, body in files_below(out).items():
        assert not name.rsplit("/", 1)[-1].startswith("."), name  # no temporary file
        assert body in (old.get(name), new.get(name)), name  # a whole old or new file
        if name.endswith((".rss", ".atom")):
            etree.fromstring(body)


def build_elsewhere(runner: CliRunner, seeds_dir: Path, out: Path) -> dict[str, bytes]:
    build(runner, seeds_dir, out, "--unpublished")
    return files_below(out)


def test_max_items(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(runner, seeds_dir, out, "--unpublished", "--max-items", "2")
    for key in ("all", "topics/ai"):
        assert len(feedparser.parse((out / f"{key}.atom").read_bytes()).entries) == 2


def test_build_publishes_the_good_files_and_reports_the_bad(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path
) -> None:
    write_article("good.md")
    write_article("bad.md", sourceUrl="ftp://example.com/x")
    result = runner.invoke(
        cli,
        ["build", str(content_dir), "--out", str(tmp_path / "out"), "--base-url", BASE_URL],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert re.search(rf"^{re.escape(str(content_dir))}/bad\.md:\d+: .*sourceUrl", result.stderr, re.MULTILINE)
    assert "1 file with problems" in result.stdout
    assert len(feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries) == 1


# -- check ----------------------------------------------------------------------------------


def test_check_seeds(runner: CliRunner, seeds_dir: Path) -> None:
    result = runner.invoke(cli, ["check", str(seeds_dir)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "1 file checked" in result.output and "no problems" in result.output


def test_check_lists_every_problem_as_path_line_message(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path
) -> None:
    write_article("good.md")
    write_article("sub/no-title.md", title=None)
    write_article("bad-date.md", publishedDateTime="yesterday")
    result = runner.invoke(cli, ["check", str(content_dir)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    root = re.escape(str(content_dir))
    assert any(re.fullmatch(rf"{root}/sub/no-title\.md:\d+: .*title.*", line) for line in lines), lines
    assert any(re.fullmatch(rf"{root}/bad-date\.md:\d+: .*publishedDateTime.*", line) for line in lines), (
        lines
    )
    assert "3 files checked" in result.stdout


def test_check_passes_with_warnings_only(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path
) -> None:
    write_article("a.md", publishedDateTime="2024-05-01T12:00:00")  # no offset: a warning
    result = runner.invoke(cli, ["check", str(content_dir)], catch_exceptions=False)
    assert result.exit_code == 0
    assert re.search(r"a\.md:\d+: warning: .*publishedDateTime", result.stderr)


# -- user errors: one line, no traceback, non-zero exit ----------------------------------------


@pytest.mark.parametrize("command", ["build", "check"])
def test_missing_content_folder(runner: CliRunner, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "missing"
    args = [command, str(missing)] + (
        ["--out", str(tmp_path / "out"), "--base-url", BASE_URL] if command == "build" else []
    )
    result = runner.invoke(cli, args)
    assert result.exit_code != 0
    assert str(missing) in assert_clean_error(result.output)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_unreadable_content_folder_by_mode(
    runner: CliRunner, content_dir: Path, write_article: Callable[..., Path]
) -> None:
    write_article("a.md")
    content_dir.chmod(0)
    try:
        result = runner.invoke(cli, ["check", str(content_dir)])
    finally:
        content_dir.chmod(0o755)
    assert result.exit_code != 0
    assert str(content_dir) in assert_clean_error(result.output)


@pytest.mark.parametrize("command", ["build", "check"])
def test_unreadable_content_folder(
    runner: CliRunner,
    content_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    # Tests may run as root, who can read any folder: make listing it fail.
    real_listdir, real_scandir = os.listdir, os.scandir

    def denied(real: Callable[..., object]) -> Callable[..., object]:
        def call(path: object = ".") -> object:
            if Path(os.fsdecode(path)) == content_dir:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path)

        return call

    args = [command, str(content_dir)] + (
        ["--out", str(tmp_path / "out"), "--base-url", BASE_URL] if command == "build" else []
    )
    with monkeypatch.context() as patch:  # undoing it leaves conftest's settings in place
        patch.setattr(os, "listdir", denied(real_listdir))
        patch.setattr(os, "scandir", denied(real_scandir))
        result = runner.invoke(cli, args)
    assert result.exit_code != 0
    line = assert_clean_error(result.output)
    assert str(content_dir) in line and "Permission denied" in line


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "feeds.example.org", "/relative", "javascript:alert(1)", "https://x.org/?q=1", ""],
)
def test_bad_base_url(runner: CliRunner, seeds_dir: Path, tmp_path: Path, url: str) -> None:
    result = runner.invoke(cli, ["build", str(seeds_dir), "--out", str(tmp_path / "out"), "--base-url", url])
    assert result.exit_code == 2
    assert "--base-url" in assert_clean_error(result.output)
    assert not (tmp_path / "out").exists()


def test_base_url_is_required(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["build", str(seeds_dir), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--base-url" in assert_clean_error(result.output)


@pytest.mark.parametrize("where", ["file", "below-file"])
def test_unwritable_out(runner: CliRunner, seeds_dir: Path, tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if where == "file" else blocker / "public"
    result = runner.invoke(cli, ["build", str(seeds_dir), "--out", str(out), "--base-url", BASE_URL])
    assert result.exit_code != 0
    assert "blocker" in assert_clean_error(result.output)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("command", [[], ["build"], ["check"], ["serve"]])
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert "Example" in result.output or not command


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"], catch_exceptions=False)
    for name in cli.commands:
        assert re.search(rf"^\s+{name}\s", result.output, re.MULTILINE), name
    assert {"build", "check", "serve"} <= set(cli.commands)


# -- the real console script ------------------------------------------------------------------


def run_script(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_console_script_builds_the_seeds(feedpub_script: Path, seeds_dir: Path, tmp_path: Path) -> None:
    result = run_script(
        feedpub_script,
        "build",
        str(seeds_dir),
        "--out",
        "public",
        "--base-url",
        BASE_URL,
        "--unpublished",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "4 entries" in result.stdout
    assert set(files_below(tmp_path / "public")) == SEED_FILES
    assert len(feedparser.parse((tmp_path / "public" / "all.atom").read_bytes()).entries) == 4


def test_console_script_check_and_errors(
    feedpub_script: Path, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path
) -> None:
    write_article("bad.md", title=None)
    result = run_script(feedpub_script, "check", "content", cwd=tmp_path)
    assert result.returncode == 1
    assert re.search(r"^content/bad\.md:\d+: .*title", result.stderr, re.MULTILINE), result.stderr

    result = run_script(feedpub_script, "build", "nowhere", "--base-url", BASE_URL, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr

    result = run_script(feedpub_script, "--help", cwd=tmp_path)
    assert result.returncode == 0 and "build" in result.stdout
