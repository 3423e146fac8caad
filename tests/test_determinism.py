"""The same content always gives the same bytes (SPEC §3): whatever the
time, the time zone, the folder's place, or the files' names and order."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from feedpub.cli import cli

BASE_URL = "https://feeds.example.org"


def files_below(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def build(runner: CliRunner, content: Path, out: Path, *options: str) -> dict[str, bytes]:
    args = ["build", str(content), "--out", str(out), "--base-url", BASE_URL, *options]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return files_below(out)


def test_two_builds_a_second_apart_are_byte_identical(
    feedpub_script: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    def run(out: str, zone: str) -> None:
        # A new process each time, in another time zone the second time, so
        # that neither the clock nor local time can hide in the output.
        env = {**os.environ, "TZ": zone}
        result = subprocess.run(
            [str(feedpub_script), "build", str(seeds_dir), "--out", out, "--base-url", BASE_URL]
            + ["--unpublished"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    run("first", "UTC")
    time.sleep(1.1)  # RFC 822 dates have whole seconds
    run("second", "Pacific/Kiritimati")
    first, second = files_below(tmp_path / "first"), files_below(tmp_path / "second")
    assert len(first) == 16
    assert first == second


def test_the_content_folder_place_does_not_show(runner: CliRunner, seeds_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "some" / "other place"
    shutil.copytree(seeds_dir, elsewhere)
    assert build(runner, seeds_dir, tmp_path / "a", "--unpublished") == build(
        runner, elsewhere, tmp_path / "b", "--unpublished"
    )


def test_file_names_and_order_do_not_change_the_output(
    runner: CliRunner, write_article: Callable[..., Path], content_dir: Path, tmp_path: Path
) -> None:
    # An article that is also another story's related item, topics to unite,
    # and two entries published at the same instant.
    stories = {
        "story": dict(
            topics=["AI"],
            related=[
                {
                    "title": "As related",
                    "sourceUrl": "https://other.example.net/x",
                    "publishedDateTime": "2024-05-01T12:00:00Z",
                    "provider": {"name": "Other"},
                }
            ],
        ),
        "other": dict(
            title="As article",
            sourceUrl="https://OTHER.example.net/x?utm_medium=rss",
            provider={"name": "Other"},
            topics=["Privacy"],
        ),
        "tie": dict(publishedDateTime="2024-05-01T14:00:00+02:00", topics=["Privacy"]),
    }
    for name, fields in stories.items():
        write_article(f"a-{name}.md", **fields)
    first = build(runner, content_dir, tmp_path / "first")

    shutil.rmtree(content_dir)
    content_dir.mkdir()
    for number, (name, fields) in enumerate(reversed(stories.items())):
        write_article(
            f"sub{number}/z{number}.md",
            **{"sourceUrl": f"https://news.example.com/a-{name}", **fields},
        )
    second = build(runner, content_dir, tmp_path / "second")
    assert first == second
    assert (
        b"As article" in first["providers/other.atom"] and b"As related" not in first["providers/other.atom"]
    )
