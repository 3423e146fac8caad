"""Fixtures shared by the test suite; they mirror feedpub's interfaces.

- `content_dir` and `write_article`: a content folder under ``tmp_path`` and
  a factory writing one article file into it (the loader's input);
- `runner`: click's `CliRunner` (the CLI);
- `seeds_dir`: the repository's ``seeds/``;
- `feedpub_script`: the real console script, for subprocess tests;
- `require_tool`: skip a test when an external program is missing, or fail
  when ``FEEDPUB_REQUIRE_TOOLS=1`` (as CI sets);
- an autouse fixture clearing ``FEEDPUB_*`` variables and pointing the build
  cache into the test run's temporary folder, so that the settings and cache
  of the machine running the tests never leak into them.

Add further fixtures (``app``, ``client``, ...) below; keep each one small.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent

#: Read once at import time: the autouse fixture below clears every
#: ``FEEDPUB_*`` variable before each test runs.
REQUIRE_TOOLS = os.environ.get("FEEDPUB_REQUIRE_TOOLS") == "1"


@pytest.fixture(autouse=True, scope="session")
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give the build cache a folder of the test run's own, never
    ``~/.cache``: for the whole session, so module fixtures get it too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
        yield


@pytest.fixture(autouse=True)
def _clean_feedpub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every ``FEEDPUB_*`` variable for the duration of a test."""
    for name in list(os.environ):
        if name.startswith("FEEDPUB_"):
            monkeypatch.delenv(name)


@pytest.fixture
def require_tool() -> Callable[[str], str]:
    """``require_tool("newsboat")`` returns the program's path; without it the
    test is skipped, or fails when ``FEEDPUB_REQUIRE_TOOLS=1``."""

    def require(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            reason = f"{name} is not installed (apt-get install {name})"
            if REQUIRE_TOOLS:
                pytest.fail(f"{reason}, and FEEDPUB_REQUIRE_TOOLS=1 makes that a failure")
            pytest.skip(reason)
        return path

    return require


@pytest.fixture
def seeds_dir() -> Path:
    """The shipped ``seeds/`` folder (one draft article with three related items)."""
    return REPO / "seeds"


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """An empty content folder."""
    path = tmp_path / "content"
    path.mkdir()
    return path


#: Fields of a valid article; `write_article` fills in what a test leaves out.
DEFAULT_FIELDS: dict[str, Any] = {
    "title": "A story",
    "publishedDateTime": "2024-05-01T12:00:00Z",
    "provider": {"name": "Example News", "domain": "example.com"},
    "topics": ["AI"],
}


@pytest.fixture
def write_article(content_dir: Path) -> Callable[..., Path]:
    """``write_article(name, body="", **fields)`` writes ``content_dir/name``:
    YAML front matter (``yaml.safe_dump``) between ``---`` lines, then `body`.

    Missing fields get `DEFAULT_FIELDS`, and ``sourceUrl`` defaults to
    ``https://news.example.com/<name without suffix>``; a field given as
    None is left out, to test required fields. Returns the file's path.
    """

    def write(name: str = "story.md", body: str = "", **fields: Any) -> Path:
        stem = name.rsplit(".", 1)[0]
        merged = {"sourceUrl": f"https://news.example.com/{stem}", **DEFAULT_FIELDS, **fields}
        front_matter = {key: value for key, value in merged.items() if value is not None}
        text = "---\n" + yaml.safe_dump(front_matter, allow_unicode=True, sort_keys=False) + "---\n"
        path = content_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + body, encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    """Invokes the ``feedpub`` click group in-process."""
    return CliRunner()


@pytest.fixture
def feedpub_script() -> Path:
    """The installed ``feedpub`` console script of the running interpreter."""
    script = Path(sys.executable).with_name("feedpub")
    assert script.exists(), f"console script missing: {script} (pip install -e .)"
    return script
