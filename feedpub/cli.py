"""The ``feedpub`` command: ``build``, ``check`` and ``serve``.

A thin shell: it parses arguments, calls the loader, the catalog and the
writer, prints problems and one summary line, and turns every `FeedpubError`
into a one-line message with a non-zero exit status.
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

from feedpub import builder
from feedpub import cache
from feedpub import catalog as catalogs
from feedpub import content
from feedpub import parallel
from feedpub.errors import FeedpubError
from feedpub.model import Problem
from feedpub.model import Site
from feedpub.urls import base_url as parse_base_url

#: Show a progress bar on a terminal from this many content files on.
PROGRESS_FROM = 1000


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Our errors become a one-line message and exit status 1, not a traceback."""
    try:
        yield
    except FeedpubError as exc:
        raise click.ClickException(str(exc)) from exc


def _content_argument(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument(
        "content_dir", metavar="[CONTENT]", default="seeds", type=click.Path(file_okay=False)
    )(function)


def _unpublished_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--unpublished",
        is_flag=True,
        help="Include articles marked 'published: false' (drafts), to preview them.",
    )(function)


def _max_file_size_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--max-file-size",
        type=click.IntRange(min=1),
        default=content.MAX_FILE_BYTES,
        show_default=True,
        help="Refuse content files larger than this many bytes.",
    )(function)


def _base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_base_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _text(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A command-line text as it may appear in a feed."""
    cleaned = content.clean_text(value).strip()
    if not cleaned:
        raise click.BadParameter("must not be empty")
    return cleaned


@click.group()
@click.version_option(package_name="feedpub")
def cli() -> None:
    """Publish RSS and Atom feeds from a folder of article files."""


#: What a build made, kept alive until `main` ends the process.
_KEPT_TO_EXIT: list[object] = []


def main() -> None:
    """The console script: `cli` without the cyclic garbage collector, then
    an immediate exit.

    A build of a large site holds a few hundred thousand objects; collecting
    them, and freeing them one by one at interpreter shutdown, would take
    half of a one-second rebuild, for nothing, as the process is ending.
    """
    # A build allocates a few hundred thousand objects that all live to the
    # end: the cyclic collector would only walk them again and again.
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
@_content_argument
@click.option(
    "--out",
    default="public",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write the URL space into.",
)
@click.option(
    "--base-url",
    required=True,
    callback=_base_url,
    help="Absolute http(s) URL the folder will be served at, e.g. https://feeds.example.org.",
)
@_unpublished_option
@click.option(
    "--max-items",
    type=click.IntRange(min=1),
    default=catalogs.DEFAULT_MAX_ITEMS,
    show_default=True,
    help="Most entries per feed, newest first.",
)
@click.option(
    "--title", default="feedpub", show_default=True, callback=_text, help="Site name in feed titles."
)
@click.option("--strict", is_flag=True, help="Write nothing and fail if any file has a problem.")
@_max_file_size_option
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=parallel.default_jobs(),
    show_default="one per CPU",
    help="Processes for parsing and rendering.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=lambda: str(cache.default_dir()),
    show_default="$XDG_CACHE_HOME/feedpub",
    help="Where to keep parse results and feed fingerprints between builds.",
)
@click.option("--no-cache", is_flag=True, help="Build from scratch and keep no cache.")
@click.option(
    "--gzip",
    "gzip_files",
    is_flag=True,
    help="Also write each file's gzip form beside it (FILE.gz), for nginx's gzip_static.",
)
def build(
    content_dir: str,
    out: str,
    base_url: str,
    unpublished: bool,
    max_items: int,
    title: str,
    strict: bool,
    max_file_size: int,
    jobs: int,
    cache_dir: str,
    no_cache: bool,
    gzip_files: bool,
) -> None:
    """Write every feed of CONTENT (default: seeds) into --out as static files.

    Only files whose bytes changed are rewritten, each atomically, so the
    folder can be served while it is being built. A rebuild parses only the
    content files that changed and renders only the feeds that changed.

    Example: feedpub build seeds --out public --base-url https://feeds.example.org
    """
    options = builder.Options(
        include_unpublished=unpublished,
        max_items=max_items,
        max_bytes=max_file_size,
        strict=strict,
        jobs=jobs,
        cache_dir=None if no_cache else Path(cache_dir),
        gzip=gzip_files,
    )
    site = Site(base_url=base_url, title=title)
    with _user_errors(), _progress(content_dir) as progress:
        report = builder.build(
            content_dir, out, site, options, progress=progress, on_problems=lambda p: _report(content_dir, p)
        )
    _KEPT_TO_EXIT.append(report)
    catalog = report.catalog
    withheld = (
        f", {_count(catalog.withheld, 'entry', 'entries')} withheld as drafts (--unpublished includes them)"
        if catalog.withheld
        else ""
    )
    click.echo(
        f"{_count(len(report.content.articles), 'article')}, "
        f"{_count(catalog.entry_count, 'entry', 'entries')}"
        f"{withheld}; {_count(len(catalog.feeds), 'feed')} in {out}: "
        f"{_count(report.written, 'file')} written, {report.unchanged} unchanged"
        + (f", {report.removed} removed" if report.removed else "")
        + f"; {_problem_summary(report.problems)}"
    )


@cli.command()
@_content_argument
@_max_file_size_option
def check(content_dir: str, max_file_size: int) -> None:
    """Check every file of CONTENT (default: seeds) and list each problem as
    path:line: message. Exits with status 1 if any file has an error.

    Example: feedpub check seeds
    """
    with _user_errors():
        with _progress(content_dir) as progress:
            loader = content.Loader(content_dir, max_bytes=max_file_size, jobs=parallel.default_jobs())
            loaded = loader.load(progress)
        catalog = catalogs.build(loaded.articles, include_unpublished=True)
        problems = loaded.problems + catalog.problems
        _report(content_dir, problems)
    click.echo(f"{_count(loaded.files, 'file')} checked; {_problem_summary(problems)}")
    if any(problem.is_error for problem in problems):
        sys.exit(1)


@contextlib.contextmanager
def _progress(root: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar's update function on a terminal with much content; else None."""
    if not sys.stderr.isatty() or not Path(root).is_dir():
        yield None
        return
    total = content.count_files(root)
    if total < PROGRESS_FROM:
        yield None
        return
    with click.progressbar(length=total, label="Reading content", file=sys.stderr) as bar:
        yield bar.update


def _report(root: str, problems: tuple[Problem, ...]) -> None:
    """Print every problem to standard error, errors and warnings alike."""
    for problem in problems:
        click.echo(problem.format(root), err=True)


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
@_content_argument
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option(
    "--base-url",
    callback=_base_url,
    help="Absolute URL for self links; default: the host each request came to.",
)
@_unpublished_option
def serve(content_dir: str, host: str, port: int, base_url: str | None, unpublished: bool) -> None:
    """Serve the feeds of CONTENT (default: seeds) over HTTP for local use;
    edits to the content show up without a restart.

    For production, run `gunicorn wsgi:app` with FEEDPUB_* settings instead.

    Example: feedpub serve seeds --port 8000 --unpublished
    """
    from feedpub.web import create_app

    with _user_errors():
        app = create_app({"CONTENT_DIR": content_dir, "UNPUBLISHED": unpublished, "BASE_URL": base_url})
    app.run(host=host, port=port, threaded=True, use_reloader=False)
