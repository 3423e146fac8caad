"""The content loader: files → articles plus problems (SPEC §1).

Single files go through `feedpub.content.parse` (bytes → article and
problems), the folder through `feedpub.content.scan` and the CLI (`check`,
`build`), whose output is what a user sees.

Messages are checked by their stable parts (file, line, field, key words),
not as whole sentences, so that rewording them does not break the tests.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedpub import content
from feedpub.cli import cli
from feedpub.errors import ConfigError
from feedpub.model import Article
from feedpub.model import Problem
from feedpub.settings import MAX_FILE_BYTES

VALID = (
    "title: A story\n"
    "sourceUrl: https://news.example.com/a\n"
    "publishedDateTime: 2024-05-01T12:00:00Z\n"
    "provider:\n"
    "  name: Example News\n"
    "  domain: example.com\n"
)


def parse(text: str | bytes, name: str = "a.md") -> tuple[Article | None, list[Problem]]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    parsed = content.parse(name, data, max_bytes=MAX_FILE_BYTES)
    assert parsed.path == name
    return parsed.article, list(parsed.problems)


def only_problem(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def entry_ids(out: Path) -> set[str]:
    """The ids of every entry of a built ``all.json`` (the tests here make
    fewer entries than one document holds)."""
    feed = json.loads((out / "all.json").read_bytes())
    assert "next_url" not in feed
    return {item["id"] for item in feed["items"]}


def check(runner: CliRunner, folder: Path, *options: str) -> tuple[int, list[str], str]:
    """``feedpub check``: exit code, the problem lines, the summary."""
    result = runner.invoke(cli, ["check", str(folder), *options])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr.splitlines(), result.stdout.strip()


# -- the --- fence -------------------------------------------------------------


def test_front_matter_and_body() -> None:
    article, problems = parse(f"---\n{VALID}---\nFirst paragraph.\n\nSecond one.\n")
    assert problems == []
    assert article is not None
    assert article.title == "A story"
    assert article.url == "https://news.example.com/a"
    assert article.published == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert article.provider.name == "Example News"
    assert article.provider.domain == "example.com"
    assert article.body == "First paragraph.\n\nSecond one."
    assert not article.draft


def test_body_is_optional() -> None:
    article, problems = parse(f"---\n{VALID}---\n")
    assert problems == []
    assert article is not None and article.body == ""


def test_only_the_first_closing_fence_ends_the_front_matter() -> None:
    article, problems = parse(f"--- \n{VALID}---\t\nbefore\n---\nafter\n")
    assert problems == []
    assert article is not None
    assert article.body == "before\n---\nafter"


def test_file_without_opening_fence_is_refused_at_line_1() -> None:
    article, problems = parse(VALID)
    assert article is None
    problem = only_problem(problems)
    assert problem.is_error and problem.line == 1 and "---" in problem.message


def test_unclosed_front_matter_is_refused() -> None:
    article, problems = parse(f"---\n{VALID}")
    assert article is None
    problem = only_problem(problems)
    assert problem.is_error and problem.line == 1 and "---" in problem.message


def test_front_matter_must_be_a_mapping() -> None:
    article, problems = parse("---\n- just\n- a list\n---\n")
    assert article is None
    assert "mapping" in only_problem(problems).message


def test_yaml_syntax_error_names_its_line() -> None:
    article, problems = parse(f"---\n{VALID}topics: [AI\n---\n")
    assert article is None
    problem = only_problem(problems)
    assert problem.is_error and "YAML" in problem.message
    assert problem.line is not None and problem.line >= 8


# -- encoding ------------------------------------------------------------------


def test_bom_and_crlf_are_accepted() -> None:
    text = f"---\n{VALID}---\nOne.\n\nTwo.\n".replace("\n", "\r\n")
    article, problems = parse(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert problems == []
    assert article is not None
    assert article.title == "A story"
    assert article.body == "One.\n\nTwo."  # no stray \r anywhere


def test_non_utf8_file_is_refused_with_its_line() -> None:
    article, problems = parse(f"---\n{VALID}excerpt: caf".encode() + b"\xe9\n---\n")
    assert article is None
    problem = only_problem(problems)
    assert problem.line == 8 and "UTF-8" in problem.message


# -- required fields -------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "sourceUrl", "publishedDateTime", "provider"])
def test_missing_required_field_refuses_the_file(field: str) -> None:
    # Drop the field's line (and the provider's indented lines with it).
    kept = [
        line
        for line in VALID.splitlines(keepends=True)
        if not line.startswith(field) and not (field == "provider" and line.startswith("  "))
    ]
    article, problems = parse("---\n" + "".join(kept) + "---\n")
    assert article is None
    problem = only_problem(problems)
    assert problem.is_error
    assert field in problem.message
    assert problem.line is not None


def test_provider_needs_a_name() -> None:
    article, problems = parse(f"---\n{VALID.replace('  name: Example News', '  name: ')}---\n")
    assert article is None
    problem = only_problem(problems)
    assert "provider.name" in problem.message and problem.line == 6


def test_problem_names_the_line_of_the_bad_field() -> None:
    article, problems = parse(f"---\n{VALID}images: not-a-list\n---\n")
    problem = only_problem(problems)
    assert "images" in problem.message and problem.line == 8


@pytest.mark.parametrize("url", ["ftp://example.com/a", "javascript:alert(1)", "/relative", "example.com/a"])
def test_source_url_must_be_absolute_http(url: str) -> None:
    article, problems = parse(f"---\n{VALID.replace('https://news.example.com/a', url)}---\n")
    assert article is None
    problem = only_problem(problems)
    assert "sourceUrl" in problem.message and problem.line == 3


# -- dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("'2024-05-01T12:00:00Z'", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01T14:30:00+02:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ('"2024-05-01T07:00:00-05:00"', datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01T23:00:00-02:00", datetime(2024, 5, 2, 1, 0, tzinfo=UTC)),
    ],
)
def test_dates_with_zone_become_utc(written: str, expected: datetime) -> None:
    article, problems = parse(f"---\n{VALID.replace('2024-05-01T12:00:00Z', written)}---\n")
    assert problems == []
    assert article is not None
    assert article.published == expected
    assert article.published.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("written", ["2024-05-01T12:00:00", "'2024-05-01T12:00:00'", "2024-05-01 12:00:00"])
def test_date_without_offset_is_utc_with_a_warning(written: str) -> None:
    article, problems = parse(f"---\n{VALID.replace('2024-05-01T12:00:00Z', written)}---\n")
    assert article is not None
    assert article.published == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    problem = only_problem(problems)
    assert not problem.is_error
    assert "publishedDateTime" in problem.message and "UTC" in problem.message
    assert problem.line == 4


@pytest.mark.parametrize("written", ["yesterday", "'2024-13-45T00:00:00Z'", "12345", "[2024]"])
def test_invalid_date_refuses_the_file(written: str) -> None:
    article, problems = parse(f"---\n{VALID.replace('2024-05-01T12:00:00Z', written)}---\n")
    assert article is None
    problem = only_problem(problems)
    assert problem.is_error and "publishedDateTime" in problem.message and problem.line == 4


# -- the other fields ------------------------------------------------------------


def test_optional_fields() -> None:
    extra = (
        "excerpt: A summary.\n"
        "topics: [AI, Computer Vision, AI]\n"
        "images:\n"
        "  - {url: 'https://img.example.com/1.jpg', width: 800, height: 600, title: Caption}\n"
        "  - {url: 'https://img.example.com/2.jpg'}\n"
        "ampUrl: https://news.example.com/amp/a\n"
        "category: news\n"
        "type: article\n"
        "quality: 43\n"
        "heat: 7\n"
    )
    article, problems = parse(f"---\n{VALID}{extra}---\n")
    assert problems == []
    assert article is not None
    assert article.excerpt == "A summary."
    assert article.topics == ("AI", "Computer Vision")  # duplicates dropped, order kept
    assert [image.url for image in article.images] == [
        "https://img.example.com/1.jpg",
        "https://img.example.com/2.jpg",
    ]
    assert (article.images[0].width, article.images[0].height, article.images[0].title) == (
        800,
        600,
        "Caption",
    )
    assert article.amp_url == "https://news.example.com/amp/a"
    assert (article.category, article.type, article.quality, article.heat) == ("news", "article", 43, 7)


@pytest.mark.parametrize("written", ["heat: -1\n", ""])
def test_unknown_heat_is_none(written: str) -> None:
    """Files write -1 for an unknown heat; the model has one spelling for
    it, None, as for a heat not given at all (issue 9)."""
    article, problems = parse(f"---\n{VALID}{written}---\n")
    assert problems == []
    assert article is not None and article.heat is None


def test_title_is_plain_text() -> None:
    article, problems = parse(f"---\n{VALID.replace('A story', '<b>Bold</b> &amp; story')}---\n")
    assert problems == []
    assert article is not None and article.title == "<b>Bold</b> &amp; story"


@pytest.mark.parametrize(
    "url", ["data:image/png;base64,AAAA", "javascript:alert(1)", "ftp://img.example.com/1.jpg"]
)
def test_non_http_image_is_dropped_with_a_warning(url: str) -> None:
    article, problems = parse(
        f"---\n{VALID}images:\n  - url: '{url}'\n  - url: https://img.example.com/ok.jpg\n---\n"
    )
    assert article is not None
    assert [image.url for image in article.images] == ["https://img.example.com/ok.jpg"]
    problem = only_problem(problems)
    assert not problem.is_error and "images[0]" in problem.message and problem.line == 9


def test_non_http_amp_url_is_dropped() -> None:
    article, problems = parse(f"---\n{VALID}ampUrl: 'javascript:alert(1)'\n---\n")
    assert article is not None and article.amp_url == ""
    assert "ampUrl" in only_problem(problems).message


def test_published_false_marks_a_draft_and_withholds_its_related_items(
    write_article: Callable[..., Path], content_dir: Path, build: Callable[..., object], tmp_path: Path
) -> None:
    """A draft's related items carry no flag of their own: they are
    withheld with the article, and published with it under --unpublished."""
    related = [{
        "title": "Other coverage",
        "sourceUrl": "https://other.example.net/b",
        "publishedDateTime": "2024-05-01T11:00:00Z",
        "provider": {"name": "Other", "domain": "other.example.net"},
    }]
    path = write_article("draft.md", published=False, related=related)
    write_article("public.md")
    article, problems = parse(path.read_bytes(), "draft.md")
    assert problems == []
    assert article is not None and article.draft
    assert [item.url for item in article.related] == ["https://other.example.net/b"]

    result = build(content_dir, out=tmp_path / "public")
    assert entry_ids(tmp_path / "public") == {"https://news.example.com/public"}
    assert "2 entries withheld as drafts" in result.output
    build(content_dir, "--unpublished", out=tmp_path / "preview")
    assert entry_ids(tmp_path / "preview") == {
        "https://news.example.com/public",
        "https://news.example.com/draft",
        "https://other.example.net/b",
    }


@pytest.mark.parametrize("value", ["'no'", "0", "maybe"])
def test_published_must_be_a_boolean(value: str) -> None:
    article, problems = parse(f"---\n{VALID}published: {value}\n---\n")
    assert article is None
    assert "published" in only_problem(problems).message


def test_related_items_keep_their_own_fields_and_provider() -> None:
    related = (
        "topics: [AI]\n"
        "related:\n"
        "  - title: Other coverage\n"
        "    excerpt: Their take.\n"
        "    sourceUrl: https://other.example.net/b\n"
        "    publishedDateTime: 2024-05-01T11:00:00Z\n"
        "    provider: {name: Other, domain: other.example.net}\n"
        "    images: [{url: 'https://other.example.net/b.jpg', width: 10, height: 20}]\n"
    )
    article, problems = parse(f"---\n{VALID}{related}---\n")
    assert problems == []
    assert article is not None
    (item,) = article.related
    assert item.title == "Other coverage"
    assert item.excerpt == "Their take."
    assert item.url == "https://other.example.net/b"
    assert item.provider.name == "Other"
    assert item.published == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    assert item.images[0].width == 10


def test_bad_related_item_is_left_out_and_the_article_kept() -> None:
    related = (
        "related:\n"
        "  - title: Bad one\n"
        "    sourceUrl: ftp://other.example.net/b\n"
        "    publishedDateTime: 2024-05-01T11:00:00Z\n"
        "    provider: {name: Other}\n"
        "  - title: Good one\n"
        "    sourceUrl: https://other.example.net/c\n"
        "    publishedDateTime: 2024-05-01T11:00:00Z\n"
        "    provider: {name: Other}\n"
    )
    article, problems = parse(f"---\n{VALID}{related}---\n")
    assert article is not None
    assert [item.title for item in article.related] == ["Good one"]
    problem = only_problem(problems)
    assert problem.is_error and "related[0].sourceUrl" in problem.message and problem.line == 10


def test_secured_is_never_copied_into_the_article() -> None:
    secret = "bAfHpDFgglXdF7R2LiE8odaOw+a72ZpjhUCy3f4KVXg="
    article, problems = parse(f'---\n{VALID}secured: "{secret}"\n---\n')
    assert problems == []
    assert article is not None
    assert "bAfHpDFgglXdF7R2" not in repr(article)


# -- characters XML 1.0 forbids ---------------------------------------------------


def test_forbidden_characters_written_as_yaml_escapes_are_removed() -> None:
    # libyaml reads escapes in double-quoted scalars; the body is not YAML.
    front_matter = VALID.replace("title: A story", 'title: "Bell\\x07 and \\x1b[31mred\\uFFFE"')
    article, problems = parse(f"---\n{front_matter}---\nBody\x00 with\x0b nul\n")
    assert article is not None
    assert article.title == "Bell and [31mred"
    assert article.body == "Body with nul"
    assert problems and not any(problem.is_error for problem in problems)
    assert any("title" in problem.message and problem.line == 2 for problem in problems)


def test_raw_forbidden_characters_in_front_matter_are_removed() -> None:
    # libyaml refuses raw control characters; SPEC §5 wants them removed.
    front_matter = VALID.replace("A story", "A\x01 story")
    article, problems = parse(f"---\n{front_matter}---\n")
    assert article is not None
    assert article.title == "A story"
    assert problems and not any(problem.is_error for problem in problems)


# -- the folder ----------------------------------------------------------------


def test_scan_finds_content_files_and_skips_the_rest(
    content_dir: Path, write_article: Callable[..., Path], runner: CliRunner
) -> None:
    for name in ["a.txt", "b.md", "c.markdown", "d.yaml", "e.yml", "deep/er/f.MD"]:
        write_article(name)
    # Not content: other endings (also names ending in a suffix's letters
    # without its dot), hidden files, hidden folders.
    for name in ["notes.html", "data.json", "txt", "notes-md", "a.xtxt", ".hidden.md", ".git/g.md",
                 "sub/.drafts/h.md"]:
        write_article(name)
    scan = content.scan(content_dir)
    found = sorted(file.path for folder in scan.listings for file in scan.files(folder))
    assert found == ["a.txt", "b.md", "c.markdown", "d.yaml", "deep/er/f.MD", "e.yml"]
    assert scan.unreadable == {}
    assert check(runner, content_dir) == (0, [], "6 files checked; no problems")


def test_bad_file_never_takes_down_the_others(
    content_dir: Path, write_article: Callable[..., Path], runner: CliRunner, build: Callable[..., object],
    tmp_path: Path,
) -> None:
    write_article("a.md")
    write_article("sub/bad.md", title=None)
    write_article("z.md")
    build(content_dir)
    assert entry_ids(tmp_path / "public") == {"https://news.example.com/a", "https://news.example.com/z"}
    code, lines, _ = check(runner, content_dir)
    assert code == 1
    [line] = lines
    assert line.startswith(f"{content_dir}/sub/bad.md:") and "title" in line


def test_missing_content_folder_is_a_config_error(tmp_path: Path, runner: CliRunner) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        content.scan(tmp_path / "missing")
    result = runner.invoke(cli, ["check", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_oversized_file_is_refused(
    content_dir: Path, write_article: Callable[..., Path], runner: CliRunner, build: Callable[..., object],
    tmp_path: Path,
) -> None:
    write_article("big.md", body="x" * 5000)
    write_article("small.md")
    build(content_dir, "--max-file-size", "4096")
    assert entry_ids(tmp_path / "public") == {"https://news.example.com/small"}
    code, lines, _ = check(runner, content_dir, "--max-file-size", "4096")
    assert code == 1
    assert lines == [f"{content_dir}/big.md: file is larger than the limit of 4,096 bytes; refused"]


# An unreadable folder must not make its articles vanish in silence (SPEC §5).
def test_unreadable_subfolder_is_reported(
    content_dir: Path, write_article: Callable[..., Path], runner: CliRunner, build: Callable[..., object],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_article("a.md")
    write_article("private/b.md")
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        # Tests run as root, who can read any folder: make this one fail.
        if Path(os.fsdecode(path)) == content_dir / "private":
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert content.scan(content_dir).unreadable == {"private": "cannot read folder: Permission denied"}
    built = build(content_dir)
    assert entry_ids(tmp_path / "public") == {"https://news.example.com/a"}
    code, lines, _ = check(runner, content_dir)
    assert code == 1
    assert lines == [f"{content_dir}/private: cannot read folder: Permission denied"]
    assert lines[0] in built.stderr


def test_a_scan_of_many_folders_sees_every_change_in_each_of_them(
    content_dir: Path, write_article: Callable[..., Path], feedpub_script: Path, tmp_path: Path
) -> None:
    # With many subfolders the command's scan walks half of them in a second
    # process (a CLI run has no other threads): what that half holds must
    # count like the rest, on the first scan and on the next.
    for number in range(20):
        write_article(f"f{number:02}/a.md", title=f"Story {number}",
                      sourceUrl=f"https://news.example.com/{number}")
    out = tmp_path / "public"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(feedpub_script), *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})

    def titles() -> set[str]:
        built = run("build", str(content_dir), "--out", str(out), "--base-url", "https://feeds.example.org")
        assert built.returncode == 0, built.stderr
        items = json.loads((out / "all.json").read_text())["items"]
        return {item["title"] for item in items if item["title"].startswith("Story")}

    assert titles() == {f"Story {number}" for number in range(20)}
    write_article("f01/a.md", title="Story 1, edited", sourceUrl="https://news.example.com/1")
    write_article("f02/a.md", title="Story 2, edited", sourceUrl="https://news.example.com/2")
    (content_dir / "f03/a.md").unlink()
    (content_dir / "f04/a.md").unlink()
    kept = {f"Story {number}" for number in range(5, 20)}
    assert titles() == kept | {"Story 0", "Story 1, edited", "Story 2, edited"}
    os.mkfifo(content_dir / "f05" / "pipe.md")
    os.mkfifo(content_dir / "f06" / "pipe.md")
    checked = run("check", str(content_dir))
    assert "f05/pipe.md: not a regular file" in checked.stderr, checked.stderr
    assert "f06/pipe.md: not a regular file" in checked.stderr, checked.stderr
    assert "20 files checked; 2 files with problems" in checked.stdout, checked.stdout


@pytest.mark.parametrize(
    "failure",
    [
        "os.fork = lambda: (_ for _ in ()).throw(BlockingIOError(11, 'no more processes'))",
        "files.marshal = type('Broken', (), {'dumps': staticmethod(lambda value: 1 / 0)})",
    ],
    ids=["no-fork", "child-fails"],
)
def test_a_scan_whose_second_process_fails_walks_every_folder_itself(
    content_dir: Path, write_article: Callable[..., Path], tmp_path: Path, failure: str
) -> None:
    """No process can be forked, or the forked one dies before it reports:
    `check` still sees every file of every folder, problems included."""
    for number in range(20):
        write_article(f"f{number:02}/a.md", title=f"Story {number}",
                      sourceUrl=f"https://news.example.com/{number}")
    os.mkfifo(content_dir / "f00" / "pipe.md")
    os.mkfifo(content_dir / "f01" / "pipe.md")
    script = (f"import os\nimport feedpub.content._files as files\n{failure}\n"
              "from feedpub.cli import main\nmain()")
    checked = subprocess.run(
        [sys.executable, "-c", script, "check", str(content_dir), "--no-cache"],
        capture_output=True, text=True, timeout=60,
    )
    assert "Traceback" not in checked.stderr, checked.stderr
    assert "f00/pipe.md: not a regular file" in checked.stderr, checked.stderr
    assert "f01/pipe.md: not a regular file" in checked.stderr, checked.stderr
    assert "22 files checked; 2 files with problems" in checked.stdout, checked.stdout
