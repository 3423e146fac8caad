"""The ``feedpub`` command (SPEC §4): ``build``, ``check``, ``serve`` and
``ids``, in-process through click's `CliRunner` and as the real console
script. User errors are one ``Error:`` line and a non-zero exit status,
never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import feedparser
import lxml.html
import pytest
import yaml
from click.testing import CliRunner
from click.testing import Result
from lxml import etree

from feedpub import output
from feedpub import urlspace
from feedpub.cli import cli
from feedpub.web import create_static_app

BASE_URL = "https://feeds.example.org"

#: What ``feedpub build seeds --unpublished`` publishes: entries per feed.
SEED_FEEDS = {
    "all": 4,
    "stories": 1,
    "topics/ai": 4,
    "topics/ai/stories": 1,
    "topics/computer-vision": 4,
    "topics/computer-vision/stories": 1,
    "providers/abc": 1,
    "providers/techcrunch": 1,
    "providers/sky": 1,
    "providers/independent": 1,
    "feeds/high-quality": 2,  # min_quality = 50: TechCrunch (76) and Sky (54)
}


def documents(*keys: str) -> set[str]:
    """The files of the subscription documents of feeds `keys`, every format."""
    return {urlspace.feed_path(key, fmt).lstrip("/") for key in keys for fmt in urlspace.FORMATS}


SEED_FILES = {"index.html", "feeds.opml"} | documents(*SEED_FEEDS)
#: What ``feedpub build seeds`` publishes: every entry is a draft.
SEED_FILES_PUBLISHED = {"index.html", "feeds.opml"} | documents("all", "stories", "feeds/high-quality")


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


def entry_count(name: str, body: bytes) -> int:
    """Entries of a feed document, read by feedparser (JSON Feed: by json)."""
    if name.endswith(".json"):
        return len(json.loads(body)["items"])
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
    return len(parsed.entries)


def assert_clean_error(printed: str) -> str:
    """A user error is one ``Error:`` line (after click's usage lines), no traceback."""
    assert "Traceback" not in printed
    errors = [line for line in printed.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, printed
    return errors[0]


def summary(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def secured_value(seeds: Path) -> str:
    (path,) = seeds.glob("*.txt")
    front_matter = path.read_text(encoding="utf-8").split("---\n")[1]
    value = yaml.safe_load(front_matter)["secured"]
    assert len(value) > 100
    return value


# -- building the seeds ------------------------------------------------------------------------


def test_build_seeds_with_unpublished(build: Callable[..., Result], seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    result = build(seeds_dir, "--unpublished", out=out)
    built = files_below(out)
    assert set(built) == SEED_FILES
    for key, count in SEED_FEEDS.items():
        for fmt in urlspace.FEED_FORMATS:
            name = f"{key}.{fmt}"
            assert entry_count(name, built[name]) == count, name
    assert summary(result) == (
        f"1 article, 4 entries; 11 feeds in {out}: 46 files written, 0 unchanged; no problems"
    )
    assert result.stderr == ""


def test_build_seeds_without_unpublished_withholds_every_draft(
    build: Callable[..., Result], copy_seeds: Callable[[], Path], tmp_path: Path,
) -> None:
    out = tmp_path / "public"
    result = build(copy_seeds(), out=out)
    assert summary(result) == (
        "1 article, 0 entries, 4 entries withheld as drafts (--unpublished includes them); "
        f"3 feeds in {out}: 14 files written, 0 unchanged; 1 file with problems (0 errors, 1 warning)"
    )
    assert "warning: [feeds.high-quality] matches no entry" in result.stderr
    built = files_below(out)
    assert set(built) == SEED_FILES_PUBLISHED
    feeds = {name: body for name, body in built.items() if name.endswith((".rss", ".atom", ".json"))}
    assert all(entry_count(name, body) == 0 for name, body in feeds.items())
    index = lxml.html.fromstring(built["index.html"]).text_content()
    assert "4 entries are withheld" in index


@pytest.mark.parametrize("options", [["--unpublished"], []], ids=["unpublished", "published"])
def test_no_output_contains_any_part_of_secured(
    build: Callable[..., Result], copy_seeds: Callable[[], Path], tmp_path: Path, options: list[str],
) -> None:
    seeds = copy_seeds()
    secret = secured_value(seeds)
    out = tmp_path / "public"
    result = build(seeds, *options, out=out)
    # Every 12-character window: long enough never to occur by chance, short
    # enough to catch a part of it copied, cut or re-wrapped.
    windows = {secret[i : i + 12] for i in range(len(secret) - 11)}
    outputs = {name: body.decode("utf-8") for name, body in files_below(out).items()}
    outputs["(stdout and stderr)"] = result.output
    outputs["(id ledger)"] = (seeds / ".feedpub-ids").read_text(encoding="utf-8")
    for name, text in outputs.items():
        leaked = [window for window in windows if window in text]
        assert not leaked, (name, leaked[:3])


# -- writing -----------------------------------------------------------------------------------


def test_unchanged_files_are_left_untouched(
    build: Callable[..., Result], seeds_dir: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "public"
    build(seeds_dir, "--unpublished", out=out)
    age(out)
    result = build(seeds_dir, "--unpublished", out=out)
    assert untouched(out) == SEED_FILES
    assert "0 files written, 46 unchanged" in result.stdout


def test_changed_files_are_rewritten_and_stale_feeds_removed(
    build: Callable[..., Result], write_article: Callable[..., Path], content_dir: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "public"
    write_article("a.md", provider={"name": "A"}, topics=["AI"], publishedDateTime="2024-05-02T00:00:00Z")
    write_article("b.md", provider={"name": "B"}, topics=["Robotics"])
    build(content_dir, out=out)
    # Files that are not feeds of feedpub's own folders are never removed.
    (out / "CNAME").write_text("feeds.example.org\n")
    (out / "topics" / "README.txt").write_text("hand-written\n")
    age(out)
    before = files_below(out)

    write_article("b.md", provider={"name": "B"}, topics=["Robotics"], title="A new title")
    result = build(content_dir, out=out)
    after = files_below(out)
    changed = {name for name in before if after[name] != before[name]}
    assert changed == documents("all", "stories", "topics/robotics", "topics/robotics/stories", "providers/b")
    assert untouched(out) == set(before) - changed
    assert f"{len(changed)} files written" in result.stdout

    write_article("b.md", provider={"name": "B"}, topics=["Space"])
    result = build(content_dir, out=out)
    names = set(files_below(out))
    assert not names & documents("topics/robotics", "topics/robotics/stories")
    assert documents("topics/space", "topics/space/stories") | {"CNAME", "topics/README.txt"} <= names
    assert summary(result).endswith("8 removed; no problems")


def test_a_build_leaves_no_temporary_files(
    build: Callable[..., Result], copy_seeds: Callable[[], Path], tmp_path: Path,
) -> None:
    """A preview, then the production build: only the production files are
    left, stale preview feeds removed, no temporary (hidden) file."""
    seeds = copy_seeds()
    out = tmp_path / "public"
    build(seeds, "--unpublished", out=out)
    build(seeds, out=out)
    assert set(files_below(out)) == SEED_FILES_PUBLISHED


def test_a_failed_build_leaves_complete_files_and_no_temporary_ones(
    build: Callable[..., Result], runner: CliRunner, copy_seeds: Callable[[], Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds = copy_seeds()
    out = tmp_path / "public"
    build(seeds, out=out)
    old = files_below(out)
    real_replace = os.replace
    calls = []

    def failing_replace(source: str, target: str) -> None:
        # The disk fills up while the third file is moved into place.
        if Path(target).is_relative_to(out):
            calls.append(target)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, "No space left on device", target)
        real_replace(source, target)

    # A context of its own: undoing it leaves conftest's settings in place.
    with monkeypatch.context() as patch:
        patch.setattr(output.os, "replace", failing_replace)
        result = runner.invoke(cli, ["build", str(seeds), "--out", str(out), "--base-url", BASE_URL,
                                     "--unpublished", "--jobs", "1"])
    assert result.exit_code == 1
    assert "No space left" in assert_clean_error(result.output)
    assert len(calls) == 3
    build(seeds, "--unpublished", out=tmp_path / "reference")
    new = files_below(tmp_path / "reference")
    for name, body in files_below(out).items():
        assert not name.rsplit("/", 1)[-1].startswith("."), name  # no temporary file
        assert body in (old.get(name), new.get(name)), name  # a whole old or new file
        if name.endswith((".rss", ".atom")):
            etree.fromstring(body)

    build(seeds, "--unpublished", out=out)  # the next build finishes the job
    assert files_below(out) == new


def test_max_items(build: Callable[..., Result], seeds_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(seeds_dir, "--unpublished", "--max-items", "2", out=out)
    for key in ("all", "topics/ai"):
        for fmt in urlspace.FEED_FORMATS:
            name = f"{key}.{fmt}"
            assert entry_count(name, (out / name).read_bytes()) == 2, name


def test_build_publishes_the_good_files_and_reports_the_bad(
    build: Callable[..., Result], write_article: Callable[..., Path], content_dir: Path, tmp_path: Path,
) -> None:
    write_article("good.md")
    write_article("bad.md", sourceUrl="ftp://example.com/x")
    result = build(content_dir, out=tmp_path / "out")
    assert re.search(rf"^{re.escape(str(content_dir))}/bad\.md:\d+: .*sourceUrl", result.stderr, re.MULTILINE)
    assert "1 file with problems" in result.stdout
    assert entry_count("all.atom", (tmp_path / "out" / "all.atom").read_bytes()) == 1


# -- check ---------------------------------------------------------------------------------------


def test_check_seeds(runner: CliRunner, seeds_dir: Path) -> None:
    result = runner.invoke(cli, ["check", str(seeds_dir)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == "1 file checked; no problems\n"


def test_check_lists_every_problem_as_path_line_message(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path,
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
    assert result.stdout.startswith("3 files checked; 2 files with problems (2 errors")


def test_check_passes_with_warnings_only(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path,
) -> None:
    write_article("a.md", publishedDateTime="2024-05-01T12:00:00")  # no offset: a warning
    result = runner.invoke(cli, ["check", str(content_dir)], catch_exceptions=False)
    assert result.exit_code == 0
    assert re.search(r"a\.md:\d+: warning: .*publishedDateTime", result.stderr)


@pytest.mark.parametrize(
    ("settings_text", "line", "message"),
    [
        ('title = "Site"\n\nmax_itemz = 3\n', 3, "unknown key 'max_itemz'"),
        ('title = "Site"\n[topics."AI"]\ntitel = "AI"\n', 3, "unknown key 'titel' in [topics.AI]"),
        ('[feeds.best]\nmin_quality = 50\nmin_qualty = 60\n', 3, "unknown key 'min_qualty' in [feeds.best]"),
    ],
    ids=["top-level", "topic-table", "curated-feed"],
)
@pytest.mark.parametrize("command", ["check", "build"])
def test_a_misspelt_key_in_feedpub_toml_is_reported_with_its_line(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path,
    settings_text: str, line: int, message: str, command: str,
) -> None:
    write_article("a.md")
    (content_dir / "feedpub.toml").write_text(settings_text)
    options = ["--out", str(tmp_path / "out"), "--base-url", BASE_URL] if command == "build" else []
    result = runner.invoke(cli, [command, str(content_dir), *options])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    expected = f"{content_dir}/feedpub.toml:{line}: {message}"
    if command == "check":
        assert result.stderr.splitlines()[0].startswith(expected)
    else:
        assert assert_clean_error(result.output).startswith(f"Error: {expected}")
        assert not (tmp_path / "out").exists()


# -- user errors: one line, no traceback, non-zero exit ------------------------------------------


def _command(command: str, content: Path, tmp_path: Path) -> list[str]:
    extra = ["--out", str(tmp_path / "out"), "--base-url", BASE_URL] if command == "build" else []
    return [command, str(content), *extra]


@pytest.mark.parametrize("command", ["build", "check"])
def test_missing_content_folder(runner: CliRunner, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "missing"
    result = runner.invoke(cli, _command(command, missing, tmp_path))
    assert result.exit_code == 1
    assert str(missing) in assert_clean_error(result.output)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def denied(content_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``denied(mode)``: from now on this process is refused `content_dir`
    as a user it does not belong to would be (tests may run as root, who
    can read any folder): ``"not-listable"``, listing it (mode 0o111);
    ``"not-searchable"``, reaching anything inside it (mode 0o444)."""

    def deny(mode: str) -> None:
        def refuse(real: Callable[..., object], inside: bool) -> Callable[..., object]:
            def call(path: object = ".", *args: object, **kwargs: object) -> object:
                if not isinstance(path, int):
                    target = Path(os.fsdecode(path))  # type: ignore[call-overload]
                    if (content_dir in target.parents) if inside else (target == content_dir):
                        raise PermissionError(errno.EACCES, "Permission denied", str(path))
                return real(path, *args, **kwargs)

            return call

        if mode == "not-listable":
            monkeypatch.setattr(os, "listdir", refuse(os.listdir, inside=False))
            monkeypatch.setattr(os, "scandir", refuse(os.scandir, inside=False))
        else:
            monkeypatch.setattr(os, "stat", refuse(os.stat, inside=True))
            monkeypatch.setattr(os, "lstat", refuse(os.lstat, inside=True))

    return deny


@pytest.mark.parametrize("mode", ["not-listable",
                                  "not-searchable"])
@pytest.mark.parametrize("command", ["build", "check"])
def test_unreadable_content_folder(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path,
    denied: Callable[[str], None], command: str, mode: str,
) -> None:
    write_article("a.md")
    args = _command(command, content_dir, tmp_path)
    denied(mode)
    result = runner.invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert str(content_dir) in result.output and "Permission denied" in result.output
    if mode == "not-listable":
        assert result.exit_code == 1
        line = assert_clean_error(result.output)
        assert str(content_dir) in line and "Permission denied" in line


def _nobody_can_run(script: Path) -> bool:
    try:
        probe = subprocess.run([str(script), "--version"], user="nobody", group="nogroup",
                               capture_output=True, timeout=30, check=False)
    except (OSError, KeyError):
        return False
    return probe.returncode == 0


@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """A folder other users can reach (``tmp_path`` is private to root)."""
    with tempfile.TemporaryDirectory(prefix="feedpub-test-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


@pytest.mark.parametrize("mode", [0o000, 0o444],
                         ids=["mode-000", "mode-444"])
def test_unreadable_content_folder_by_mode(
    feedpub_script: Path, seeds_dir: Path, world_readable_tmp: Path, mode: int,
) -> None:
    """A real folder of that mode, checked by a user it does not belong to."""
    content = world_readable_tmp / "content"
    content.mkdir()
    (content / "a.txt").write_bytes(next(seeds_dir.glob("*.txt")).read_bytes())
    content.chmod(mode)
    if os.geteuid() == 0:
        if not _nobody_can_run(feedpub_script):
            pytest.skip("running as root, and user nobody cannot run this interpreter "
                        "(it lives in a private folder)")
        as_user = {"user": "nobody", "group": "nogroup"}
    else:
        as_user = {}
    result = subprocess.run(
        [str(feedpub_script), "check", str(content)], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "XDG_CACHE_HOME": str(world_readable_tmp / "xdg")}, **as_user,  # type: ignore[call-overload]
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(content) in result.stderr


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "feeds.example.org", "/relative", "javascript:alert(1)", "https://x.org/?q=1", ""],
)
def test_bad_base_url(runner: CliRunner, seeds_dir: Path, tmp_path: Path, url: str) -> None:
    result = runner.invoke(cli, ["build", str(seeds_dir), "--out", str(tmp_path / "out"), "--base-url", url])
    assert result.exit_code == 1
    assert "--base-url" in assert_clean_error(result.output)
    assert not (tmp_path / "out").exists()


def test_base_url_is_required(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["build", str(seeds_dir), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "--base-url" in assert_clean_error(result.output)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["file", "below-file"])
def test_unwritable_out(runner: CliRunner, seeds_dir: Path, tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if where == "file" else blocker / "public"
    result = runner.invoke(cli, ["build", str(seeds_dir), "--out", str(out), "--base-url", BASE_URL,
                                 "--unpublished"])
    assert result.exit_code != 0
    assert "blocker" in assert_clean_error(result.output)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("command", [[], ["build"], ["check"], ["serve"], ["ids"]])
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert "Example" in result.output or not command


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"], catch_exceptions=False)
    for name in cli.commands:
        assert re.search(rf"^\s+{name}\s", result.output, re.MULTILINE), name
    assert {"build", "check", "serve", "ids"} <= set(cli.commands)


# -- ids --reset ---------------------------------------------------------------------------------


def test_ids_reset_gives_the_entry_its_canonical_url_as_new_id(
    build: Callable[..., Result], runner: CliRunner, write_article: Callable[..., Path], content_dir: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "public"

    def ids() -> list[str]:
        return [entry.id for entry in feedparser.parse((out / "all.atom").read_bytes()).entries]

    write_article("a.md", sourceUrl="https://news.example.com/one")
    build(content_dir, out=out)
    write_article("a.md", sourceUrl="https://news.example.com/one-moved")  # the id stays
    assert "feedpub ids --reset https://news.example.com/one-moved" in build(content_dir, out=out).stderr
    assert ids() == ["https://news.example.com/one"]

    result = runner.invoke(cli, ["ids", str(content_dir), "--reset",
                                 "https://NEWS.example.com/one-moved?utm_source=feed"])
    assert result.exit_code == 0, result.output
    assert "now has the id https://news.example.com/one-moved" in result.stdout
    rebuilt = build(content_dir, out=out)
    assert ids() == ["https://news.example.com/one-moved"]
    assert "--reset" not in rebuilt.stderr  # no longer a URL edit to warn about


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example.com/unknown", "no entry of the id ledger"),
        ("not a url", "not an absolute http(s) URL"),
    ],
)
def test_ids_reset_of_an_unknown_url_is_a_clear_error(
    build: Callable[..., Result], runner: CliRunner, write_article: Callable[..., Path], content_dir: Path,
    url: str, expected: str,
) -> None:
    write_article("a.md")
    build(content_dir)
    ledger = (content_dir / ".feedpub-ids").read_bytes()
    result = runner.invoke(cli, ["ids", str(content_dir), "--reset", url])
    assert result.exit_code == 1
    assert expected in assert_clean_error(result.output)
    assert (content_dir / ".feedpub-ids").read_bytes() == ledger


# -- serve --static --------------------------------------------------------------------------------


def test_static_serving_sends_production_media_types(
    build: Callable[..., Result], seeds_dir: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "public"
    build(seeds_dir, "--unpublished", "--max-items", "2", out=out)
    client = create_static_app(out).test_client()
    expected = {
        "/": "text/html",
        "/all.rss": "application/rss+xml",
        "/all.atom": "application/atom+xml",
        "/all.json": "application/feed+json",
        "/all.html": "text/html",
        "/feeds.opml": "text/x-opml",
        "/topics/ai/stories.atom": "application/atom+xml",
        "/all/archive/1.rss": "application/rss+xml",
    }
    served = {}
    for path in expected:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.data == (out / urlspace.file_name(path)).read_bytes(), path
        served[path] = response.headers["Content-Type"]
        response.close()
    assert served == {path: f"{media_type}; charset=utf-8" for path, media_type in expected.items()}
    for missing in ("/missing.rss", "/../" + out.name + "/all.rss", "/topics"):
        response = client.get(missing)
        assert response.status_code == 404, missing
        response.close()


def test_serve_has_a_static_option(runner: CliRunner, tmp_path: Path) -> None:
    assert "--static DIRECTORY" in runner.invoke(cli, ["serve", "--help"], catch_exceptions=False).output
    missing = tmp_path / "missing"
    result = runner.invoke(cli, ["serve", "--static", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in assert_clean_error(result.output)


# -- the real console script -------------------------------------------------------------------------


def run_script(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def test_console_script_builds_the_seeds(feedpub_script: Path, seeds_dir: Path, tmp_path: Path) -> None:
    result = run_script(feedpub_script, "build", str(seeds_dir), "--out", "public", "--base-url", BASE_URL,
                        "--unpublished", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "4 entries" in result.stdout
    assert set(files_below(tmp_path / "public")) == SEED_FILES
    assert entry_count("all.atom", (tmp_path / "public" / "all.atom").read_bytes()) == 4


def test_console_script_check_and_errors(
    feedpub_script: Path, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path,
) -> None:
    write_article("bad.md", title=None)
    result = run_script(feedpub_script, "check", "content", cwd=tmp_path)
    assert result.returncode == 1
    assert re.search(r"^content/bad\.md:\d+: .*title", result.stderr, re.MULTILINE), result.stderr

    result = run_script(feedpub_script, "build", "nowhere", "--base-url", BASE_URL, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr

    result = run_script(feedpub_script, "--help", cwd=tmp_path)
    assert result.returncode == 0 and "build" in result.stdout
