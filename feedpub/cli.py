"""The ``feedpub`` command: ``build``, ``check``, ``serve`` and ``ids``.

A thin shell: it parses arguments into settings, runs the pipeline
(`feedpub.site`), prints problems and one summary line, and turns every
`FeedpubError` into a one-line message with a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from feedpub import build as build_step
from feedpub import ledger
from feedpub import settings as settings_module
from feedpub import site
from feedpub.errors import ConfigError
from feedpub.errors import FeedpubError
from feedpub.errors import StrictModeError
from feedpub.model import Problem
from feedpub.model import escape_controls
from feedpub.settings import Settings
from feedpub.urls import canonical_url
from feedpub.urls import http_url


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Our errors become a one-line message and exit status 1, not a traceback."""
    try:
        yield
    except FeedpubError as exc:
        raise click.ClickException(escape_controls(str(exc))) from exc


def _options(*decorators: Callable[..., Any]) -> Callable[..., Any]:
    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


# Options shared by the commands. Each defaults to None, "not given", so that
# FEEDPUB_* variables and feedpub.toml can supply the value (settings.py).
_content = click.argument(
    "content_dir", metavar="[CONTENT]", required=False, type=click.Path(file_okay=False)
)
_config = click.option(
    "--config", type=click.Path(dir_okay=False), help="Settings file (default: CONTENT/feedpub.toml)."
)
_unpublished = click.option(
    "--unpublished", is_flag=True, default=None, help="Include drafts ('published: false'), to preview them."
)
_future = click.option(
    "--future", is_flag=True, default=None, help="Publish future-dated articles now instead of at their time."
)
_now = click.option(
    "--now", metavar="TIMESTAMP", help="Build as at this ISO 8601 instant (reproducible builds)."
)
_max_file_size = click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    help="Refuse content files larger than this many bytes [1 MiB].",
)
_store = _options(
    click.option("--store", type=click.Path(dir_okay=False), help="The site store's file."),
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        help="Folder of site stores [$XDG_CACHE_HOME/feedpub].",
    ),
    click.option("--no-cache", is_flag=True, default=None, help="Keep no store: start from scratch."),
    click.option(
        "--jobs", type=click.IntRange(min=1), help="Processes for parsing and rendering [one per CPU]."
    ),
)


def _settings(**given: Any) -> Settings:
    """Settings from the options given (None: not given), FEEDPUB_*, the file."""
    options = {name: value for name, value in given.items() if value is not None}
    return settings_module.load(options)


@click.group()
@click.version_option(package_name="feedpub")
def cli() -> None:
    """Publish RSS, Atom and JSON feeds from a folder of article files."""


def main() -> None:
    """The console script: `cli` without the cyclic garbage collector, then
    an immediate exit.

    A build of a large site holds a few hundred thousand objects; collecting
    them, and freeing them one by one at interpreter shutdown, would take a
    good part of a short rebuild, for nothing, as the process is ending.
    """
    gc.disable()
    try:
        cli()
        code: int | str | None = 0
    except SystemExit as exit_:
        code = exit_.code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


@cli.command()
@_content
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="public",
    show_default=True,
    help="Folder to write the URL space into.",
)
@click.option(
    "--base-url", help="Absolute http(s) URL the folder will be served at, e.g. https://feeds.example.org."
)
@click.option("--title", help="Site name in feed titles.")
@click.option("--max-items", type=click.IntRange(min=1), help="Entries per feed document, newest first [50].")
@_config
@_unpublished
@_future
@_now
@click.option("--strict", is_flag=True, help="Write nothing and fail if any file has a problem.")
@click.option(
    "--gzip",
    "gzip_files",
    is_flag=True,
    help="Also write each file's gzip form beside it (FILE.gz), for nginx's gzip_static.",
)
@click.option(
    "--ping", is_flag=True, help="Ping the configured WebSub hubs for every feed whose bytes changed."
)
@_max_file_size
@_store
def build(out: str, strict: bool, gzip_files: bool, ping: bool, **given: Any) -> None:
    """Write every feed of CONTENT (default: seeds) into --out as static files.

    Only files whose bytes changed are rewritten, each atomically, so the
    folder can be served while it is being built. A rebuild parses only the
    content files that changed and renders only the documents showing them.

    Example: feedpub build seeds --out public --base-url https://feeds.example.org
    """
    with _user_errors():
        settings = _settings(**given)
        if settings.base_url is None:
            raise ConfigError(
                "a base URL is needed: --base-url, FEEDPUB_BASE_URL or base_url in feedpub.toml"
            )
        build_step.refuse_store_inside(settings, Path(out))
        pipeline = site.Pipeline(settings)
        try:
            # With --strict, nothing is written (the ledger neither) until
            # the content is known to have no problem.
            pipeline.refresh(write_ledger=not strict)
            problems = pipeline.problems()
            _report(settings, problems)
            if strict and problems:
                raise StrictModeError(
                    f"{_count(len(problems), 'problem')} in the content; nothing was written (--strict)"
                )
            written = build_step.publish(pipeline, Path(out), gzipped=gzip_files)
            pipeline.write_ledger()
            overview = pipeline.overview()
            articles = pipeline.store.items.articles()
        finally:
            pipeline.close()  # also folds the store's log back in: the store is one file again
    withheld = ""
    if overview.drafts:
        drafts = _count(overview.drafts, "entry", "entries")
        withheld += f", {drafts} withheld as drafts (--unpublished includes them)"
    if overview.scheduled:
        withheld += f", {overview.scheduled} scheduled for later (--future includes them)"
    click.echo(
        f"{_count(articles, 'article')}, {_count(overview.entries, 'entry', 'entries')}{withheld}; "
        f"{_count(len(overview.feeds), 'feed')} in {out}: {_count(written.written, 'file')} written, "
        f"{written.unchanged} unchanged"
        + (f", {written.removed} removed" if written.removed else "")
        + f"; {_problem_summary(problems)}"
    )
    if ping:
        _ping(settings, written.changed_feeds)


def _ping(settings: Settings, paths: list[str]) -> None:
    if not settings.hubs:
        click.echo("--ping: no WebSub hubs configured (hubs in feedpub.toml); nothing pinged")
        return
    from feedpub import websub  # its HTTP client is imported only when pinging (start-up time)

    urls = [f"{settings.base_url}{path}" for path in paths]
    failures = websub.ping_all(settings.hubs, urls)
    for failure in failures:
        click.echo(str(failure), err=True)
    click.echo(
        f"pinged {_count(len(settings.hubs), 'hub')} for {_count(len(urls), 'changed feed')}"
        + (f"; {_count(len(failures), 'ping')} failed" if failures else "")
    )


@cli.command()
@_content
@_config
@_now
@_max_file_size
@_store
def check(**given: Any) -> None:
    """Check every file of CONTENT (default: seeds) and feedpub.toml; list each
    problem as path:line: message. Exits with status 1 if any has an error.

    Drafts and scheduled articles are checked too.

    Example: feedpub check seeds
    """
    try:
        settings = _settings(**given, unpublished=True, future=True)
    except ConfigError as exc:
        if exc.path is None:
            raise click.ClickException(escape_controls(str(exc))) from exc
        click.echo(Problem(exc.path, exc.line, str(exc.args[0])).format(), err=True)
        click.echo(
            f"settings file checked; {_problem_summary((Problem(exc.path, exc.line, str(exc.args[0])),))}"
        )
        sys.exit(1)
    with _user_errors():
        pipeline = site.Pipeline(settings)
        try:
            pipeline.refresh()
            problems = pipeline.problems()
            files = pipeline.files()
        finally:
            pipeline.close()
    _report(settings, problems)
    click.echo(f"{_count(files, 'file')} checked; {_problem_summary(problems)}")
    if any(problem.is_error for problem in problems):
        sys.exit(1)


def _report(settings: Settings, problems: tuple[Problem, ...]) -> None:
    """Print every problem to standard error, errors and warnings alike."""
    root = str(settings.content_dir)
    for problem in problems:
        click.echo(problem.format("" if problem.path == str(settings.config) else root), err=True)


def _problem_summary(problems: tuple[Problem, ...]) -> str:
    if not problems:
        return "no problems"
    errors = sum(problem.is_error for problem in problems)
    files = len({problem.path for problem in problems})
    return (
        f"{_count(files, 'file')} with problems "
        f"({_count(errors, 'error')}, {_count(len(problems) - errors, 'warning')})"
    )


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


@cli.command()
@_content
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option(
    "--base-url", help="Absolute URL for self links; default: the (trusted) host each request came to."
)
@click.option(
    "--static",
    "static_dir",
    type=click.Path(file_okay=False, exists=True),
    help="Serve this folder of built files instead, with the media types production sends.",
)
@_config
@_unpublished
@_future
def serve(host: str, port: int, static_dir: str | None, **given: Any) -> None:
    """Serve the feeds of CONTENT (default: seeds) over HTTP for local use;
    edits to the content show up without a restart.

    For production, run gunicorn (see the README) with FEEDPUB_* settings.

    Example: feedpub serve seeds --port 8000 --unpublished
    """
    from feedpub.web import create_app
    from feedpub.web import create_static_app

    if static_dir is not None:
        app = create_static_app(static_dir)
    else:
        with _user_errors():
            options = {name: value for name, value in given.items() if value is not None}
            settings = _settings(**options)
            if not settings.content_dir.is_dir():
                raise ConfigError(
                    f"content folder {str(settings.content_dir)!r} does not exist or is not a folder"
                )
            app = create_app(options)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@cli.command()
@_content
@_config
@click.option(
    "--reset",
    "reset_url",
    metavar="URL",
    required=True,
    help="Give the entry linking to URL a new id: URL's canonical form.",
)
def ids(reset_url: str, **given: Any) -> None:
    """Manage the id ledger, which keeps each entry's id across URL edits.

    --reset URL accepts a new id on purpose for the entry that now links to
    URL: readers will show it as a new entry.

    Example: feedpub ids seeds --reset https://example.com/story
    """
    with _user_errors():
        settings = _settings(**given)
        url = http_url(reset_url)
        if url is None:
            raise ConfigError(f"--reset: {reset_url!r} is not an absolute http(s) URL")
        wanted = canonical_url(url)
        path = settings.ledger_path
        rows = ledger.read(path)
        found = [row for row in rows if row.canonical == wanted and row.origin != ledger.STORY]
        if not found:
            raise ConfigError(f"no entry of the id ledger {path} links to {wanted}")
        row = found[0]
        if row.id == wanted:
            click.echo(f"{wanted} already is the id of that entry; nothing to do")
            return
        if any(other.id == wanted for other in rows):
            raise ConfigError(f"{wanted} is already the id of another entry")
        ledger.write(
            path, [other._replace(id=wanted, updated="-") if other is row else other for other in rows]
        )
    click.echo(
        f"the entry linking to {wanted} now has the id {wanted} (it was {row.id}); rebuild to publish it"
    )
