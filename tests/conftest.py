"""Fixtures shared by the test suite; they mirror feedpub's interfaces.

- `content_dir` and `write_article`: a content folder under ``tmp_path`` and
  a factory writing one article file into it (the loader's input);
- `runner` (click's `CliRunner`) and `build`: the CLI, in-process;
- `read_tree`: every file below a folder, by URL path (what a build wrote);
- `make_app`, `app` and `client`: the Flask app on a content folder, and its
  test client;
- `seeds_dir`, `copy_seeds`: the repository's ``seeds/``, and a copy of it;
- `feedpub_script`: the real console script, for subprocess tests;
- `require_tool`: skip a test when an external program is missing, or fail
  when ``FEEDPUB_REQUIRE_TOOLS=1`` (as CI sets);
- autouse fixtures that clear ``FEEDPUB_*`` variables and give the site
  stores a folder of the test run's own, so that the settings and stores of
  the machine running the tests never leak into them.

Real servers (gunicorn, a WebSub hub) are in ``tests/_servers.py``.
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
from click.testing import Result

from feedpub import feeds
from feedpub import pages
from feedpub.cli import cli
from feedpub.web import create_app

REPO = Path(__file__).resolve().parent.parent
#: The base URL tests build and serve for unless they say otherwise.
BASE_URL = "https://feeds.example.org"

#: Read once at import time: the autouse fixture below clears every
#: ``FEEDPUB_*`` variable before each test runs.
REQUIRE_TOOLS = os.environ.get("FEEDPUB_REQUIRE_TOOLS") == "1"


@pytest.fixture(autouse=True, scope="session")
def _stores_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give the site stores a folder of the test run's own, never
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
            reason = f"{name} is not installed (see .ci/run for how to install it)"
            if REQUIRE_TOOLS:
                pytest.fail(f"{reason}, and FEEDPUB_REQUIRE_TOOLS=1 makes that a failure")
            pytest.skip(reason)
        return path

    return require


@pytest.fixture
def seeds_dir() -> Path:
    """The shipped ``seeds/`` folder: one draft article with three related
    items, and a ``feedpub.toml``."""
    return REPO / "seeds"


@pytest.fixture
def copy_seeds(tmp_path: Path) -> Callable[[], Path]:
    """``copy_seeds()`` copies ``seeds/`` into a new folder under ``tmp_path``
    (tests that edit content must not edit the repository's)."""
    count = 0

    def copy() -> Path:
        nonlocal count
        count += 1
        target = tmp_path / f"seeds-{count}"
        shutil.copytree(REPO / "seeds", target)
        return target

    return copy


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


def article_text(name: str, body: str = "", **fields: Any) -> str:
    """The text of an article file: YAML front matter (``yaml.safe_dump``)
    between ``---`` lines, then `body`. Missing fields get `DEFAULT_FIELDS`,
    and ``sourceUrl`` defaults to ``https://news.example.com/<name without
    suffix>``; a field given as None is left out."""
    stem = name.rsplit(".", 1)[0]
    merged = {"sourceUrl": f"https://news.example.com/{stem}", **DEFAULT_FIELDS, **fields}
    front_matter = {key: value for key, value in merged.items() if value is not None}
    return "---\n" + yaml.safe_dump(front_matter, allow_unicode=True, sort_keys=False) + "---\n" + body


@pytest.fixture
def write_article(content_dir: Path) -> Callable[..., Path]:
    """``write_article(name, body="", **fields)`` writes ``content_dir/name``
    (see `article_text`) and returns its path."""

    def write(name: str = "story.md", body: str = "", **fields: Any) -> Path:
        path = content_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_text(name, body, **fields), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    """Invokes the ``feedpub`` click group in-process."""
    return CliRunner()


@pytest.fixture
def build(runner: CliRunner, tmp_path: Path) -> Callable[..., Result]:
    """``build(content, *options, out=None, base_url=BASE_URL, ok=True)`` runs
    ``feedpub build`` in-process into `out` (default ``tmp_path/public``);
    with `ok`, asserts it succeeded. Returns click's result."""

    def run(content: Path, *options: str, out: Path | None = None, base_url: str | None = BASE_URL,
            ok: bool = True) -> Result:
        args = ["build", str(content), "--out", str(out or tmp_path / "public"), *options]
        if base_url is not None:
            args += ["--base-url", base_url]
        result = runner.invoke(cli, args, catch_exceptions=not ok)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def read_tree() -> Callable[[Path], dict[str, bytes]]:
    """``read_tree(folder)``: every file below `folder` by URL path
    (``/all.atom``; ``index.html`` is ``/``), skipping gzip forms."""

    def read(root: Path) -> dict[str, bytes]:
        found = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".gz"):
                relative = path.relative_to(root).as_posix()
                found["/" if relative == "index.html" else "/" + relative] = path.read_bytes()
        return found

    return read


@pytest.fixture
def make_app(content_dir: Path) -> Iterator[Callable[..., Any]]:
    """``make_app(**config)``: the app on `content_dir` (unless CONTENT_DIR is
    given), with BASE_URL and no live reload unless given; the apps made are
    stopped at the end of the test."""
    made = []

    def make(**config: Any) -> Any:
        settings = {"CONTENT_DIR": str(content_dir), "BASE_URL": BASE_URL, "RELOAD_INTERVAL": 0, **config}
        app = create_app({key: value for key, value in settings.items() if value is not None})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["feedpub"].stop()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """The app on `content_dir`, for BASE_URL, without live reload."""
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    """The Flask test client of `app`."""
    return app.test_client()


@pytest.fixture
def feedpub_script() -> Path:
    """The installed ``feedpub`` console script of the running interpreter."""
    script = Path(sys.executable).with_name("feedpub")
    assert script.exists(), f"console script missing: {script} (pip install -e .)"
    return script


@pytest.fixture
def rendered_entries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(entry id, format) of every entry rendered during the test, in any
    format: RSS and Atom elements, JSON Feed items, HTML articles."""
    rendered: list[tuple[str, str]] = []
    xml_entry, json_item, article = feeds._xml_entry, feeds._json_item, pages._article

    def xml(entry: Any, format: str, *args: Any) -> bytes:
        rendered.append((entry.id, format))
        return xml_entry(entry, format, *args)

    def json_(entry: Any, *args: Any) -> dict[str, object]:
        rendered.append((entry.id, "json"))
        return json_item(entry, *args)

    def html(entry: Any) -> bytes:
        rendered.append((entry.id, "html"))
        return article(entry)

    monkeypatch.setattr(feeds, "_xml_entry", xml)
    monkeypatch.setattr(feeds, "_json_item", json_)
    monkeypatch.setattr(pages, "_article", html)
    return rendered
