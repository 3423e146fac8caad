"""The offline build: content folder → files of the URL space.

Load (parsing only what changed since the cached state), build the catalog,
render what changed, write it. A feed whose fingerprint (its data, the site
settings and the rendering code) matches the one recorded for the file
already in the output folder, with that file's size and modification time
unchanged, is neither rendered nor written again.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from feedgen import version as feedgen_version  # a tiny module: feedgen itself is not imported

from feedpub import cache
from feedpub import catalog as catalogs
from feedpub import content
from feedpub import documents
from feedpub import output
from feedpub import parallel
from feedpub.catalog import Catalog
from feedpub.errors import StrictModeError
from feedpub.model import Problem
from feedpub.model import Site

#: Below this many documents to render, forking workers costs more than it saves.
PARALLEL_RENDER_FROM = 64


@dataclass(frozen=True)
class Options:
    """How to build."""

    include_unpublished: bool = False
    max_items: int = catalogs.DEFAULT_MAX_ITEMS
    max_bytes: int = content.MAX_FILE_BYTES
    #: Write nothing if the content has any problem.
    strict: bool = False
    #: Processes for parsing and rendering.
    jobs: int = 1
    #: The cache folder, or None to build from scratch and keep nothing.
    cache_dir: Path | None = None
    #: Also write each file's gzip form beside it (``FILE.gz``).
    gzip: bool = False


@dataclass(frozen=True)
class Report:
    """What a build found and did."""

    content: content.Content
    catalog: Catalog
    problems: tuple[Problem, ...]
    written: int
    unchanged: int
    removed: int
    #: Files parsed (the others came from the cache).
    parsed: int
    #: Documents rendered (the others were known to be current).
    rendered: int


def build(
    content_dir: str | Path,
    out: str | Path,
    site: Site,
    options: Options,
    progress: Callable[[int], None] | None = None,
    on_problems: Callable[[tuple[Problem, ...]], None] | None = None,
) -> Report:
    """Build the URL space of `content_dir` into `out`."""
    content_dir, out = Path(content_dir), Path(out)
    build_cache = (
        cache.BuildCache(options.cache_dir, content_dir, options.max_bytes) if options.cache_dir else None
    )
    known = build_cache.load_files() if build_cache else {}
    loader = content.Loader(content_dir, max_bytes=options.max_bytes, jobs=options.jobs, state=known)
    loaded = loader.load(progress)
    saving = None
    changed = {path for path, state in loader.state.items() if known.get(path) is not state}
    changed |= known.keys() - loader.state.keys()
    if build_cache is not None and changed:
        # Saving the parse results takes half a second on a large site after
        # a cold build: a forked child does it while this process renders.
        saving = parallel.Background(build_cache.save_files, loader.state, changed)
    try:
        return _publish(loaded, loader, out, site, options, build_cache, on_problems)
    finally:
        if saving is not None:
            saving.wait()


def _publish(
    loaded: content.Content,
    loader: content.Loader,
    out: Path,
    site: Site,
    options: Options,
    build_cache: cache.BuildCache | None,
    on_problems: Callable[[tuple[Problem, ...]], None] | None,
) -> Report:
    catalog = catalogs.build(
        loaded.articles, include_unpublished=options.include_unpublished, max_items=options.max_items
    )
    problems = loaded.problems + catalog.problems
    if on_problems is not None:
        on_problems(problems)
    if options.strict and problems:
        raise StrictModeError(f"{len(problems)} problems in the content; nothing was written (--strict)")

    recorded = build_cache.load_manifest(out) if build_cache else {}
    digests = {relpath: state[1] for relpath, state in loader.state.items()}
    fingerprints = {
        path: _fingerprint(catalog, path, site, digests, options.gzip) for path in documents.paths(catalog)
    }
    current = {
        path
        for path, print_ in fingerprints.items()
        if _is_current(out, path, print_, recorded, options.gzip)
    }
    to_render = [path for path in fingerprints if path not in current]
    rendered = parallel.map_chunks(
        _render_paths,
        to_render,
        options.jobs if len(to_render) >= PARALLEL_RENDER_FROM else 1,
        (catalog, site),
    )
    written = output.write(out, rendered, [documents.file_name(path) for path in current], options.gzip)

    if build_cache is not None:
        build_cache.save_manifest(
            out,
            {path: (fingerprints[path], *_stat(out / documents.file_name(path))) for path in fingerprints},
        )
    return Report(
        content=loaded,
        catalog=catalog,
        problems=problems,
        written=written.written,
        unchanged=written.unchanged + len(current),
        removed=written.removed,
        parsed=loader.parsed_last,
        rendered=len(to_render),
    )


def _render_paths(paths: list[str], shared: tuple[Catalog, Site]) -> list[documents.Document]:
    catalog, site = shared
    return [documents.render(catalog, path, site) for path in paths]


# Rendered bytes depend on feedpub's own code (every module, to be safe: a
# change to parsing changes articles whose files did not change) and feedgen's.
_CODE = hashlib.blake2b(
    b"".join(path.read_bytes() for path in sorted(Path(__file__).parent.glob("*.py")))
    + feedgen_version.version_str.encode(),
    digest_size=16,
).digest()


def _fingerprint(catalog: Catalog, path: str, site: Site, digests: dict[str, bytes], gzipped: bool) -> bytes:
    """What a document's bytes depend on: for a feed, its entries' sources;
    for the index and the OPML list, what they show of every feed."""
    key = path.lstrip("/").rpartition(".")[0]
    data = catalog.fingerprint(key, digests) if key in catalog.feeds else catalog.overview_fingerprint()
    settings = pickle.dumps((path, site, gzipped), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.blake2b(settings + data + _CODE, digest_size=16).digest()


def _is_current(
    out: Path, path: str, fingerprint: bytes, recorded: dict[str, tuple[bytes, int, int]], gzipped: bool
) -> bool:
    """Whether the file for `path` is known to hold what it would be
    rendered to now (and its gzip form is there when asked for)."""
    if path not in recorded:
        return False
    known_print, size, mtime_ns = recorded[path]
    target = out / documents.file_name(path)
    packed = target.with_name(target.name + output.GZIP_SUFFIX).exists()
    return known_print == fingerprint and _stat(target) == (size, mtime_ns) and packed == gzipped


def _stat(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)
